/**
 * @module agent/loop
 * The turn loop. Long-poll the agent's inbox; for each message render the wake prompt and run one
 * claude turn; stream its events into history (and so to the page); report the turn to the core.
 * One turn at a time: messages that arrive meanwhile wait in the broker, and claude may take them
 * itself with `recv` during the turn.
 *
 * The claude conversation carries over between turns: the first turn starts a session with a fresh
 * id (`--session-id`), later turns `--resume` it. If a resume fails because the session is gone
 * (e.g. the claude dir was wiped), the next turn starts a new session.
 *
 * Besides turns, the harness runs claude for jobs the operator or the notes size asks for (a
 * session compaction, `session.ts`; a notes compaction, `notes.ts`). Turns, jobs and changes to the
 * stored session take turns on one queue ({@link TurnLoop.exclusive}), so a job never runs beside a
 * turn and a message that arrives meanwhile waits for it. After each turn the notes size is checked
 * (`notes.ts`).
 *
 * A turn's claude reads its wake prompt on stdin (`--input-format stream-json`), so after a turn the
 * loop starts the next turn's claude ahead of time and keeps it for `standbySeconds`
 * (`claude/standby.ts`): a turn within that window skips claude's start-up. Anything else on the
 * queue (a job, a session change) ends the standby first, and a turn whose claude would differ
 * (another model, prompt, session or transcript) ends it and starts its own.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { selfCommand } from '../shared/version.ts';
import { AgentOps, MAX_TURN_RESULT_CHARS, MAX_TURN_TOOLS, MAX_WAIT_SECONDS, type MessageRecord, type TurnStatus } from '../shared/wire.ts';
import { HIVE_MCP_KEY, type AgentConfig } from '../shared/agent-config-shape.ts';
import { allowedToolsFor, buildClaudeArgv, claudeEnv, renderMcpConfig, stdioHiveServer, type McpServerEntry } from './claude/argv.ts';
import { isInit, isResult, type ClaudeEvent, type ResultEvent } from '../shared/stream-json.ts';
import { toolCalls } from './claude/stream.ts';
import { runClaude, userMessageLine, type ClaudeExit, type ClaudeProcess, type ClaudeSpec } from './claude/run.ts';
import { Standby, standbyKey, transcriptStamp } from './claude/standby.ts';
import { workDirs, type AgentEnv } from './env.ts';
import type { History } from './history.ts';
import { renderPrompt, renderSystemPrompt, wakePromptVars } from './prompts.ts';
import { NotesCompactor } from './notes.ts';

/** Who the core says this agent is. */
export interface Identity {
  name: string;
  role: string;
  model: string;
  /** The agent's config as the core read it at start. */
  config: AgentConfig;
  config_warnings: string[];
}

/** A claude run outside a turn: a session compaction or a notes compaction. */
export type JobKind = 'compact' | 'notes';

/** How an operator's request ended: whether it did what was asked, and the answer to show. */
export interface Outcome {
  ok: boolean;
  text: string;
}

/** What one job's claude run gave. */
export interface JobRun {
  /** The job's id, the `turn_id` of its history rows: `<kind>-<uuid>`. */
  id: string;
  /** Every stream-json event it printed, in order (also in history). */
  events: ClaudeEvent[];
  result: ResultEvent | null;
  /** How the process ended; null when it could not be started. */
  exit: ClaudeExit | null;
  /** Why the run gave nothing to use: could not start, or cancelled. Null otherwise. */
  error: string | null;
}

/** The agent's turn loop. */
export class TurnLoop {
  private stopped = false;
  private current: AbortController | null = null;
  private job: { kind: JobKind; abort: AbortController } | null = null;
  /** The tail of the queue turns, jobs and session changes wait on. */
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;
  /** The agent's notes compaction: checked after each turn, and run when the operator asks. */
  readonly notes: NotesCompactor;
  /** The model of the current (or last) turn; the core names it at each turn start. */
  model: string;
  /** The loopback port of the egress forwarder (see `egress-forward.ts`), once it listens. */
  proxyPort: number | null = null;
  /** How claude reaches the hive's tools: the harness's HTTP endpoint; null starts `hive mcp` per turn. */
  hiveMcp: McpServerEntry | null = null;
  /** The claude started ahead of the next turn, if any (see {@link prepareStandby}). */
  readonly standby: Standby;
  /** The MCP config last written, so an unchanged one is not rewritten under a waiting standby. */
  private mcpWritten: string | null = null;

  constructor(
    readonly env: AgentEnv,
    readonly identity: Identity,
    readonly client: JsonLineClient<typeof AgentOps>,
    readonly history: History,
    readonly log: (line: string) => void = console.log,
  ) {
    this.model = identity.model;
    this.notes = new NotesCompactor(this);
    this.standby = new Standby(log);
  }

  /** True while a claude turn runs. */
  get busy(): boolean {
    return this.current !== null;
  }

  /** The job running now, if any. */
  get jobRunning(): JobKind | null {
    return this.job?.kind ?? null;
  }

  /** True while a turn or job runs or waits on the queue: something queued now waits its turn. */
  get occupied(): boolean {
    return this.current !== null || this.job !== null || this.queued > 0;
  }

  /**
   * Runs `fn` when every turn, job and session change queued before it has finished, and before
   * any queued after it. A failure of `fn` is its caller's; the queue goes on.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.enqueue(() => {
      // a job or a session change may rewrite the session a standby claude has loaded
      this.standby.discard();
      return fn();
    });
  }

  /** Puts `fn` on the queue (see {@link exclusive}); only turns use it directly. */
  private enqueue<T>(fn: () => Promise<T> | T): Promise<T> {
    this.queued++;
    const run = this.queue.then(async () => {
      this.queued--;
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs until {@link stop}. Socket failures are retried with backoff (1 s doubling to 30 s). */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let msg: MessageRecord | null;
      try {
        msg = (await this.client.call('recv', { wait_seconds: MAX_WAIT_SECONDS })).message;
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        failures++;
        const delay = Math.min(1000 * 2 ** (failures - 1), 30_000);
        this.log(`recv failed (${(err as Error).message}); retrying in ${delay / 1000}s`);
        await Bun.sleep(delay);
        continue;
      }
      if (msg && !this.stopped) {
        await this.turn(msg);
        if (!this.stopped) await this.notes.afterTurn().catch((err) => this.log(`notes size check: ${(err as Error).message}`));
        this.prepareStandby();
      }
    }
  }

  /** Ends the loop after the current turn; `cancel` also aborts a running turn or job. */
  stop(cancel = false): void {
    this.stopped = true;
    this.standby.discard();
    if (cancel) {
      this.current?.abort();
      this.job?.abort.abort();
    }
    this.client.close();
  }

  /** Aborts the running turn, if any. @returns whether one was running. */
  cancelTurn(): boolean {
    if (!this.current) return false;
    this.current.abort();
    return true;
  }

  /** Aborts the running job, if any. @returns its kind, or null when none was running. */
  cancelJob(): JobKind | null {
    if (!this.job) return null;
    this.job.abort.abort();
    return this.job.kind;
  }

  /**
   * Runs one claude turn for `msg`, once the queue is free (see {@link exclusive}). Never throws:
   * failures end the turn with status `error`.
   */
  turn(msg: MessageRecord): Promise<void> {
    return this.enqueue(() => this.runTurn(msg));
  }

  /**
   * Starts the next turn's claude now, to be handed the next wake prompt (see `claude/standby.ts`),
   * when standbys are on, the loop is not stopping and nothing waits on the queue, and the agent has
   * a session the next turn would resume (a new session's id is only made by the turn). Never throws.
   */
  prepareStandby(): void {
    if (this.env.standbySeconds <= 0 || this.stopped || this.occupied) return;
    try {
      const id = this.history.getKv('session');
      if (!id || this.history.getKv('session_prompt') !== this.promptHash()) return;
      const session = { id, resume: true };
      const { spec, key } = this.turnSpec(session);
      this.standby.start(spec, key, transcriptStamp(this.env.claudeDir, id), this.env.standbySeconds);
    } catch (err) {
      this.log(`standby claude not prepared: ${(err as Error).message}`);
    }
  }

  /** The spawn spec of a turn's claude in `session` (prompt on stdin), and its standby key. */
  private turnSpec(session: { id: string; resume: boolean }): { spec: ClaudeSpec; key: string } {
    const spec: ClaudeSpec = { argv: this.sessionArgv(null, session), env: this.claudeEnvironment(), cwd: this.env.stateDir };
    return { spec, key: standbyKey(spec, this.mcpWritten ?? '') };
  }

  private async runTurn(msg: MessageRecord): Promise<void> {
    const turnId = crypto.randomUUID();
    const started = Date.now();
    const abort = new AbortController();
    this.current = abort;
    const h = this.history;
    h.startTurn({ id: turnId, trigger_message_id: msg.id, trigger_from: msg.from });
    h.append(turnId, 'wake', msg);
    const begun = await this.report('turn_start', { turn_id: turnId, trigger_message_id: msg.id });
    if (begun) this.model = begun.model;

    const tools: string[] = [];
    let result: ResultEvent | null = null;
    let sessionId: string | null = null;
    let exitCode: number | null = null;
    let error: string | null = null;
    let cost: number | null = null;
    let standbyMs: number | null = null;
    try {
      const session = this.session();
      const { spec, key } = this.turnSpec(session);
      const taken = this.standby.take(key, session.resume ? transcriptStamp(this.env.claudeDir, session.id) : null);
      let proc: ClaudeProcess | undefined;
      if ('proc' in taken) {
        proc = taken.proc;
        standbyMs = taken.waitedMs;
      } else if (taken.miss !== 'none') this.log(`turn ${turnId}: the standby claude was not used (${taken.miss}); starting one`);
      const exit = await runClaude({
        ...spec,
        proc,
        stdin: userMessageLine(this.wakePrompt(msg)),
        signal: abort.signal,
        onEvent: (e: ClaudeEvent) => {
          h.append(turnId, 'claude', e);
          if (isInit(e)) {
            sessionId = e.session_id;
            for (const s of e.mcp_servers ?? []) {
              if (s.status === 'connected') continue;
              const core = s.name === HIVE_MCP_KEY;
              h.append(turnId, 'note', {
                level: core ? 'error' : 'warn',
                text: `the ${s.name} MCP server is ${s.status}: ${core ? 'hive tools' : 'its tools are'} unavailable this turn`,
              });
            }
          }
          tools.push(...toolCalls(e));
          if (isResult(e)) result = e;
        },
        onRaw: (line, stream) => h.append(turnId, 'raw', { stream, line }),
      });
      exitCode = exit.exitCode;
      const r = result as ResultEvent | null;
      if (r?.session_id) sessionId = r.session_id;
      if (abort.signal.aborted) error = 'cancelled by the operator';
      else if (exit.exitCode !== 0 || !r || r.is_error) {
        error = r?.result || exit.stderrTail.trim() || `claude ${exit.signal ? `killed by ${exit.signal}` : `exited ${exit.exitCode}`} without a result`;
        // A resume that failed before any session began: start afresh next turn.
        if (session.resume && !r) this.history.setKv('session', '');
      } else if (sessionId) {
        this.history.setKv('session', sessionId);
      }
      cost = this.turnCost(session.resume, r?.total_cost_usd);
    } catch (err) {
      error = `could not run claude: ${(err as Error).message}`;
    } finally {
      this.current = null;
    }

    const r = result as ResultEvent | null;
    const summary = {
      id: turnId,
      ended_at: Date.now(),
      status: (error ? 'error' : 'ok') as Exclude<TurnStatus, 'running'>,
      exit_code: exitCode,
      duration_ms: Date.now() - started,
      cost_usd: cost,
      input_tokens: r?.usage?.input_tokens ?? null,
      output_tokens: r?.usage?.output_tokens ?? null,
      session_id: sessionId,
      result: (error ?? r?.result ?? '').slice(0, MAX_TURN_RESULT_CHARS) || null,
    };
    h.endTurn(summary);
    h.append(turnId, 'turn_end', { ...summary, tools, standby_ms: standbyMs });
    const { session_id: _s, id, ...rest } = summary;
    await this.report('turn_end', { ...rest, turn_id: id, trigger_message_id: msg.id, tools: tools.slice(0, MAX_TURN_TOOLS) });
    if (error) this.log(`turn ${turnId} failed: ${error.slice(0, 500)}`);
  }

  /**
   * This turn's cost in USD. Claude reports `total_cost_usd` for the whole session, accumulating
   * across `--resume`, so the turn's share is the difference from the previous turn's total.
   */
  private turnCost(resumed: boolean, total: number | undefined): number | null {
    if (total === undefined) return null;
    const before = resumed ? Number(this.history.getKv('session_cost') ?? 0) || 0 : 0;
    this.history.setKv('session_cost', String(total));
    return Math.max(0, total - before);
  }

  /**
   * Records `total` (USD) as the session's running cost, as claude reported it after a run outside
   * a turn (a compaction), so the next turn's cost does not include that run's.
   */
  recordSessionCost(total: number): void {
    this.history.setKv('session_cost', String(total));
  }

  /**
   * The session the next turn runs in: the stored one, resumed, or a new one. Claude keeps a
   * session's first system prompt when it resumes it (docs/pitfalls.md), so when the system prompt
   * differs from the one the stored session began with (the agent's config or the hive changed), a
   * new session starts, and a `session` row `{action: 'renewed', session_id, text}` says why.
   */
  private session(): { id: string; resume: boolean } {
    const id = this.history.getKv('session');
    const prompt = this.promptHash();
    const began = this.history.getKv('session_prompt');
    if (id && began && began !== prompt) {
      this.history.setKv('session', '');
      this.history.append(null, 'session', {
        action: 'renewed',
        session_id: id,
        text: `new session: the system prompt changed since session ${id} began (its config or the hive changed), and claude keeps a resumed session's first prompt`,
      });
      this.history.setKv('session_prompt', prompt);
      return { id: crypto.randomUUID(), resume: false };
    }
    if (began !== prompt) this.history.setKv('session_prompt', prompt);
    return id ? { id, resume: true } : { id: crypto.randomUUID(), resume: false };
  }

  /**
   * Runs one claude process as job `kind` (call it inside {@link exclusive}): a `job` history row
   * `{job, phase: 'start', text}` first, then its events under the job's id, as a turn's are; the
   * caller writes the `end` row ({@link endJob}). {@link cancelJob} aborts it. Never throws.
   * @param argv the whole command line, claude binary first.
   * @param o.text what the start row says; o.env is added to {@link claudeEnvironment}; o.stdin
   *   is written to claude's stdin.
   */
  async runJob(kind: JobKind, argv: string[], o: { text: string; env?: Record<string, string>; stdin?: string }): Promise<JobRun> {
    const id = `${kind}-${crypto.randomUUID()}`;
    if (this.stopped) return { id, events: [], result: null, exit: null, error: 'the agent is stopping' };
    const abort = new AbortController();
    this.job = { kind, abort };
    this.history.append(id, 'job', { job: kind, phase: 'start', text: o.text });
    const run: JobRun = { id, events: [], result: null, exit: null, error: null };
    try {
      run.exit = await runClaude({
        argv,
        env: { ...this.claudeEnvironment(), ...o.env },
        cwd: this.env.stateDir,
        signal: abort.signal,
        stdin: o.stdin,
        onEvent: (e) => {
          this.history.append(id, 'claude', e);
          run.events.push(e);
          if (isResult(e)) run.result = e;
        },
        onRaw: (line, stream) => this.history.append(id, 'raw', { stream, line }),
      });
      if (abort.signal.aborted) run.error = 'cancelled by the operator';
    } catch (err) {
      run.error = `could not run claude: ${(err as Error).message}`;
    } finally {
      this.job = null;
    }
    return run;
  }

  /** Writes the `end` row of job `run`: `{job, phase: 'end', ok, text, duration_ms}` plus `extra`. */
  endJob(kind: JobKind, run: JobRun, ok: boolean, text: string, started: number, extra: Record<string, unknown> = {}): void {
    this.history.append(run.id, 'job', { job: kind, phase: 'end', ok, text, duration_ms: Date.now() - started, ...extra });
    if (!ok) this.log(`${kind} job failed: ${text.slice(0, 500)}`);
  }

  /** A hash of the system prompt, kept with the session it began (`session_prompt`). */
  private promptHash(): string {
    return Bun.hash(this.systemPrompt()).toString(36);
  }

  /**
   * The argv of a claude run in the agent's own session, as its turns run it: same model, tools,
   * MCP servers and system prompt. `prompt` null: the prompt comes on stdin, as a turn's does. (The
   * MCP config file is written when it changed.)
   */
  sessionArgv(prompt: string | null, session: { id: string; resume: boolean }): string[] {
    return buildClaudeArgv({
      claudeBin: this.env.claudeBin,
      model: this.model,
      prompt,
      systemPrompt: this.systemPrompt(),
      mcpConfigPath: this.writeMcpConfig(),
      allowedTools: allowedToolsFor(this.identity.config),
      session,
      addDirs: workDirs(this.identity.role, this.env),
    });
  }

  /** The environment every claude run of this agent gets (see `claudeEnv`). */
  claudeEnvironment(): Record<string, string> {
    return claudeEnv(this.env.passEnv, this.env.claudeDir, { modelSocket: this.env.modelSocket, proxyPort: this.proxyPort });
  }

  private wakePrompt(msg: MessageRecord): string {
    return renderPrompt('wake', wakePromptVars(msg));
  }

  private systemPrompt(): string {
    const { name, role, config } = this.identity;
    return renderSystemPrompt({ name, role, config, stateDir: this.env.stateDir, agentsDir: this.env.agentsDir ?? '/agents', logsDir: this.env.logsDir, sharedDir: this.env.sharedDir });
  }

  private writeMcpConfig(): string {
    const dir = join(this.env.stateDir, '.hive');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'mcp.json');
    const hive = this.hiveMcp ?? stdioHiveServer(selfCommand(), this.env.socket, this.identity.role);
    const { config } = renderMcpConfig(hive, this.identity.config.extraMcpServers);
    const text = JSON.stringify(config, null, 2);
    // A standby claude may be about to read it: rewrite it only when it changed (or is not as written).
    if (text === this.mcpWritten && readIfExists(path) === text) return path;
    // it holds the endpoint's bearer token
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
    this.mcpWritten = text;
    return path;
  }

  /** Reports to the core; a failure is logged, never thrown. @returns the reply, or null on failure. */
  private async report<K extends 'turn_start' | 'turn_end'>(
    op: K,
    args: Parameters<typeof this.client.call<K>>[1],
  ): Promise<Awaited<ReturnType<typeof this.client.call<K>>> | null> {
    try {
      return await this.client.call(op, args);
    } catch (err) {
      if (!(err instanceof HiveError && err.code === 'unavailable')) this.log(`${op} report refused: ${(err as Error).message}`);
      return null;
    }
  }
}

/** A file's text, or null when it cannot be read. */
function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // absent or unreadable: the caller writes it
  }
}
