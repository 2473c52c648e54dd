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
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { selfCommand } from '../shared/version.ts';
import { AgentOps, MAX_TURN_RESULT_CHARS, MAX_TURN_TOOLS, MAX_WAIT_SECONDS, type MessageRecord, type TurnStatus } from '../shared/wire.ts';
import { HIVE_MCP_KEY, type AgentConfig } from '../shared/agent-config.ts';
import { allowedToolsFor, buildClaudeArgv, claudeEnv, renderMcpConfig, stdioHiveServer, type McpServerEntry } from './claude/argv.ts';
import { isInit, isResult, type ClaudeEvent, type ResultEvent } from '../shared/stream-json.ts';
import { toolCalls } from './claude/stream.ts';
import { runClaude } from './claude/run.ts';
import type { AgentEnv } from './env.ts';
import type { History } from './history.ts';
import { renderPrompt, renderSystemPrompt, wakePromptVars } from './prompts.ts';

/** Who the core says this agent is. */
export interface Identity {
  name: string;
  role: string;
  model: string;
  /** The agent's config as the core read it at start. */
  config: AgentConfig;
  config_warnings: string[];
}

/** The agent's turn loop. */
export class TurnLoop {
  private stopped = false;
  private current: AbortController | null = null;
  /** The model of the current (or last) turn; the core names it at each turn start. */
  model: string;
  /** The loopback port of the egress forwarder (see `egress-forward.ts`), once it listens. */
  proxyPort: number | null = null;
  /** How claude reaches the hive's tools: the harness's HTTP endpoint; null starts `hive mcp` per turn. */
  hiveMcp: McpServerEntry | null = null;

  constructor(
    readonly env: AgentEnv,
    readonly identity: Identity,
    readonly client: JsonLineClient<typeof AgentOps>,
    readonly history: History,
    private readonly log: (line: string) => void = console.log,
  ) {
    this.model = identity.model;
  }

  /** True while a claude turn runs. */
  get busy(): boolean {
    return this.current !== null;
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
      if (msg && !this.stopped) await this.turn(msg);
    }
  }

  /** Ends the loop after the current turn; `cancel` also aborts a running turn. */
  stop(cancel = false): void {
    this.stopped = true;
    if (cancel) this.current?.abort();
    this.client.close();
  }

  /** Aborts the running turn, if any. @returns whether one was running. */
  cancelTurn(): boolean {
    if (!this.current) return false;
    this.current.abort();
    return true;
  }

  /** Runs one claude turn for `msg`. Never throws: failures end the turn with status `error`. */
  async turn(msg: MessageRecord): Promise<void> {
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
    try {
      const session = this.session();
      const argv = buildClaudeArgv({
        claudeBin: this.env.claudeBin,
        model: this.model,
        prompt: this.wakePrompt(msg),
        systemPrompt: this.systemPrompt(),
        mcpConfigPath: this.writeMcpConfig(),
        allowedTools: allowedToolsFor(this.identity.config),
        session,
        addDirs: this.identity.role === 'manager' && this.env.agentsDir ? [this.env.agentsDir] : [],
      });
      const exit = await runClaude({
        argv,
        env: claudeEnv(this.env.passEnv, this.env.claudeDir, { modelSocket: this.env.modelSocket, proxyPort: this.proxyPort }),
        cwd: this.env.stateDir,
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
    h.append(turnId, 'turn_end', { ...summary, tools });
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

  private session(): { id: string; resume: boolean } {
    const id = this.history.getKv('session');
    return id ? { id, resume: true } : { id: crypto.randomUUID(), resume: false };
  }

  private wakePrompt(msg: MessageRecord): string {
    return renderPrompt('wake', wakePromptVars(msg));
  }

  private systemPrompt(): string {
    const { name, role, config } = this.identity;
    return renderSystemPrompt({ name, role, config, stateDir: this.env.stateDir, agentsDir: this.env.agentsDir ?? '/agents' });
  }

  private writeMcpConfig(): string {
    const dir = join(this.env.stateDir, '.hive');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'mcp.json');
    const hive = this.hiveMcp ?? stdioHiveServer(selfCommand(), this.env.socket, this.identity.role);
    const { config } = renderMcpConfig(hive, this.identity.config.extraMcpServers);
    // it holds the endpoint's bearer token
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    chmodSync(path, 0o600);
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
