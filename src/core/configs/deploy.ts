/**
 * @module core/configs/deploy
 * Carrying out approved changes, and rebuilding agents so people can watch.
 *
 * A **rebuild** stops the agent's sandbox, starts a fresh one through the runtime with the applied
 * config, and waits until the harness says hello. Every step, and every line the sandbox prints
 * meanwhile, goes out as a `build` event (the dashboard streams it) and into the core's log, so a
 * slow start is told apart from a stuck one.
 *
 * A **deploy** of an approval walks the applied repo's tags (see `configs/repos.ts`):
 * `approved/<id>` → the proposal becomes the applied head → `building/<id>` → rebuild →
 * `deployed/<id>`, or on any error `failed/<id>` with the error in the tag message, the applied head
 * moved back to where it was, and the agent rebuilt on its previous config. Each outcome is one
 * commit in the meta repo. Work on one agent is serial ({@link KeyedQueue}), so two approvals for
 * the same agent never deploy at once; different agents deploy in parallel.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DataLayout } from '../../shared/paths.ts';
import { VERSION } from '../../shared/version.ts';
import type { AgentRecord, ApprovalRecord } from '../../shared/wire.ts';
import type { Alerts } from '../alerts.ts';
import type { Approvals } from '../approvals/store.ts';
import { KeyedQueue } from './git.ts';
import type { ConfigRepos, MetaRepo } from './repos.ts';
import type { AgentConfigs } from './agent-configs.ts';
import type { EventBus } from '../bus.ts';
import type { Registry } from '../agents/registry.ts';
import type { Supervisor } from '../agents/supervisor.ts';

/** How long a rebuilt agent has to say hello, ms. */
export const READY_TIMEOUT_MS = 60_000;
/** How long the sandbox's output is still followed after hello, ms. */
const TAIL_AFTER_READY_MS = 1000;
/** Longest build line passed on, characters. */
const MAX_LINE = 2000;

/** What the deployer needs from the rest of the core. */
export interface DeployerDeps {
  registry: Registry;
  supervisor: Supervisor;
  approvals: Approvals;
  configs: AgentConfigs;
  repos: ConfigRepos;
  meta: MetaRepo;
  layout: DataLayout;
  bus: EventBus;
  runtimeName: string;
  /** Registers a new agent: its row, dirs and socket (not started). */
  createAgent: (name: string) => Promise<void>;
  /** Copies a draft's staged `/state` files into the new agent's state dir. */
  seedState: (name: string) => void;
  /** Failed deploys are raised here; a deploy that succeeds closes them. */
  alerts: Alerts;
  log: (line: string) => void;
  readyTimeoutMs?: number;
}

/** Rebuilds agents and carries out approvals. */
export class Deployer {
  private queue = new KeyedQueue();

  constructor(private readonly deps: DeployerDeps) {}

  /** Runs `task` in `name`'s queue, so it never overlaps a rebuild or deploy of that agent. */
  exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(name, task);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Rebuilds `name` (queued behind any deploy of it) and records the outcome in the meta repo.
   * @throws the reason it did not come up (start failure, crash, stop, or no hello in time).
   */
  rebuild(name: string, reason: string): Promise<void> {
    return this.queue.run(name, async () => {
      const commit = await this.deps.repos.head(name);
      try {
        await this.rebuildNow(name, reason, null);
        await this.recordMeta(name, { what: reason, outcome: 'deployed', commit, approval: null, error: null });
      } catch (err) {
        await this.recordMeta(name, { what: reason, outcome: 'failed', commit, approval: null, error: (err as Error).message });
        throw err;
      }
    });
  }

  /**
   * Carries out an approval that is `building` (approved, or recorded by the operator): a spawn or
   * an apply. Never throws: the outcome is the returned record, `deployed` or `failed`.
   */
  carryOut(a: ApprovalRecord): Promise<ApprovalRecord> {
    return this.queue.run(a.agent, () => (a.kind === 'spawn' ? this.spawn(a) : this.apply(a)));
  }

  /**
   * Ends approvals a stopped core left `building`: each becomes `failed`, and its agent's applied
   * head goes back to the commit it had before the deploy began. Run before any agent starts.
   */
  async recover(): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    for (const a of this.deps.approvals.inFlight()) {
      const { repos } = this.deps;
      const head = await repos.head(a.agent).catch(() => null);
      if (a.base_commit && head && head !== a.base_commit) await repos.resetTo(a.agent, a.base_commit);
      const why = `the core stopped during the deploy; ${a.base_commit ? `the previous config (${a.base_commit.slice(0, 12)}) is back in place` : 'nothing was applied'}`;
      const on = a.applied_commit ?? (await repos.tagCommit(a.agent, `proposal/${a.id}`));
      if (on) await repos.tag(a.agent, 'failed', a.id, on, `approval #${a.id} failed: ${why}`).catch(() => {});
      await this.recordMeta(a.agent, { what: `approval #${a.id}`, outcome: 'failed', commit: a.applied_commit, approval: a.id, error: why }).catch(() => {});
      out.push(this.deps.approvals.finish(a.id, 'failed', why));
      this.deps.log(`approval #${a.id} (${a.kind} ${a.agent}): ${why}`);
    }
    return out;
  }

  /**
   * Whether `agent`'s sandbox last came up with a different applied commit or hive version than
   * now, and so needs a rebuild (auto-update).
   * @returns the reason, or null when it is current.
   */
  async staleness(agent: AgentRecord): Promise<string | null> {
    if (agent.built_version === null) return null; // never came up yet: a plain first start
    if (agent.built_version !== VERSION) return `auto-update: hive ${agent.built_version} → ${VERSION}`;
    const head = await this.deps.repos.head(agent.name);
    if (agent.built_commit !== head) return `auto-update: config ${agent.built_commit?.slice(0, 12) ?? '(none)'} → ${head?.slice(0, 12) ?? '(none)'}`;
    return null;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async spawn(a: ApprovalRecord): Promise<ApprovalRecord> {
    const { repos, approvals, registry } = this.deps;
    const name = a.agent;
    let commit: string | null = null;
    try {
      if (!registry.has(name)) await this.deps.createAgent(name);
      if (a.sha) {
        const checked = await repos.checkProposal(name, a.sha);
        await repos.stage(name, a.id, checked, a.requested_by);
        const applied = await repos.apply(name, a.id);
        commit = applied.commit;
        approvals.setCommits(a.id, applied.base, commit);
        this.deps.seedState(name);
      } else {
        commit = await repos.ensureApplied(name);
        approvals.setCommits(a.id, null, commit);
      }
      // the manager's copy is not needed to start the agent: made while it builds
      const proposed = repos.ensureProposed(name);
      proposed.catch(() => {});
      await Promise.all([
        a.sha ? null : repos.tag(name, 'proposal', a.id, commit, `approval #${a.id}: ${a.requested_by} asks to spawn ${name} with the default config`),
        repos.tag(name, 'approved', a.id, commit, `approval #${a.id}: approved by the operator`),
        repos.tag(name, 'building', a.id, commit, `approval #${a.id}: building`),
      ]);
      registry.setDesired(name, 'running');
      registry.setLive(name, { restarts: 0 });
      await this.rebuildNow(name, `spawn (approval #${a.id})`, a.id);
      await proposed;
      await repos.tag(name, 'deployed', a.id, commit, `approval #${a.id}: deployed`);
      await this.recordMeta(name, { what: `spawn, approval #${a.id}`, outcome: 'deployed', commit, approval: a.id, error: null });
      return approvals.finish(a.id, 'deployed');
    } catch (err) {
      const error = (err as Error).message;
      if (commit) await repos.tag(name, 'failed', a.id, commit, `approval #${a.id} failed: ${error}`).catch(() => {});
      await this.recordMeta(name, { what: `spawn, approval #${a.id}`, outcome: 'failed', commit, approval: a.id, error }).catch(() => {});
      return approvals.finish(a.id, 'failed', error);
    }
  }

  private async apply(a: ApprovalRecord): Promise<ApprovalRecord> {
    const { repos, approvals, registry } = this.deps;
    const name = a.agent;
    if (!registry.has(name)) return approvals.finish(a.id, 'failed', `agent "${name}" no longer exists`);
    let base: string | null = null;
    let commit: string | null = null;
    const running = registry.require(name).desired === 'running';
    try {
      const staged = await repos.tagCommit(name, `proposal/${a.id}`);
      if (!staged) throw new Error(`the proposal/${a.id} tag is missing from ${name}'s applied repo`);
      await repos.tag(name, 'approved', a.id, staged, `approval #${a.id}: approved by the operator`);
      base = await repos.head(name);
      approvals.setCommits(a.id, base, null); // recorded before the head moves, for crash recovery
      ({ commit } = await repos.apply(name, a.id));
      approvals.setCommits(a.id, base, commit);
      await repos.tag(name, 'building', a.id, commit, `approval #${a.id}: building`);
      if (running) await this.rebuildNow(name, `approval #${a.id}`, a.id);
      else this.deps.configs.load(name); // a stopped agent takes it at its next start; the config must still read
      await repos.tag(name, 'deployed', a.id, commit, `approval #${a.id}: deployed${running ? '' : ' (agent stopped; takes effect at its next start)'}`);
      await this.recordMeta(name, { what: `approval #${a.id}`, outcome: 'deployed', commit, approval: a.id, error: null });
      return approvals.finish(a.id, 'deployed', running ? null : 'the agent is stopped; the config takes effect at its next start');
    } catch (err) {
      const error = (err as Error).message;
      if (commit) await repos.tag(name, 'failed', a.id, commit, `approval #${a.id} failed: ${error}`).catch(() => {});
      if (base && commit) {
        await repos.resetTo(name, base).catch((e) => this.deps.log(`agent ${name}: cannot restore ${base}: ${(e as Error).message}`));
        if (running && registry.has(name)) {
          await this.rebuildNow(name, `back to ${base.slice(0, 12)} after approval #${a.id} failed`, a.id).catch((e) =>
            this.deps.log(`agent ${name}: the previous config did not come back up either: ${(e as Error).message}`),
          );
        }
      }
      await this.recordMeta(name, { what: `approval #${a.id}`, outcome: 'failed', commit, approval: a.id, error }).catch(() => {});
      return approvals.finish(a.id, 'failed', error);
    }
  }

  /** Stop, start fresh, stream output, wait for hello. Caller holds the agent's queue. */
  private async rebuildNow(name: string, reason: string, approval: number | null): Promise<void> {
    const { registry, supervisor, layout } = this.deps;
    const say = (line: string) => this.line(name, approval, line);
    say(`rebuild of ${name} (${reason}) in the ${this.deps.runtimeName} runtime`);
    registry.setLive(name, { status: 'building' });
    if (supervisor.isRunning(name)) {
      say('stopping the running sandbox');
      await supervisor.stop(name);
      registry.setLive(name, { status: 'building' });
    }
    const log = layout.agent(name).log;
    const tail = tailLines(log, existsSync(log) ? statSync(log).size : 0, (l) => say(`| ${l}`));
    const timeout = this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const ready = waitReady(this.deps.bus, name, timeout);
    ready.promise.catch(() => {}); // awaited below; a start failure may come first
    try {
      say('checking the applied config');
      const loaded = this.deps.configs.load(name);
      for (const w of loaded.warnings) say(`warning: ${w}`);
      for (const [key, server] of Object.entries(loaded.config.extraMcpServers)) {
        const found = findExecutable(server.command, process.env.PATH ?? '');
        if (!found) throw new Error(`extraMcpServers.${key}.command: "${server.command}" is not an executable file${server.command.includes('/') ? '' : ' on PATH'}`);
        say(`extra MCP server ${key}: ${found}`);
      }
      say('starting a fresh sandbox with the applied config');
      await supervisor.start(name, 'building');
      say(`waiting for the harness to say hello (up to ${Math.round(timeout / 1000)} s)`);
      await ready.promise;
      say('up: the harness said hello');
      // the harness's first lines follow its hello: keep following a little longer, without waiting
      setTimeout(() => tail.stop(), TAIL_AFTER_READY_MS).unref?.();
    } catch (err) {
      tail.stop();
      say(`failed: ${(err as Error).message}`);
      throw err;
    } finally {
      ready.cancel();
    }
  }

  private line(agent: string, approval: number | null, line: string): void {
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    this.deps.bus.emit({ type: 'build', agent, approval, line: text, at: Date.now() });
    this.deps.log(`build ${agent}: ${text}`);
  }

  private async recordMeta(
    name: string,
    last: { what: string; outcome: 'deployed' | 'failed'; commit: string | null; approval: number | null; error: string | null },
  ): Promise<void> {
    const { meta, alerts } = this.deps;
    if (last.outcome === 'failed') alerts.raise('deploy_failed', name, `${name}: ${last.what} failed: ${last.error ?? 'unknown error'}`);
    else alerts.clear(name, ['deploy_failed']);
    await this.queue.run('\0meta', async () => {
      const prev = meta.entry(name);
      const at = new Date().toISOString();
      const ok = last.outcome === 'deployed';
      await meta.record(
        {
          agent: name,
          commit: ok ? last.commit : (prev?.commit ?? null),
          approval: ok ? last.approval : (prev?.approval ?? null),
          since: ok ? at : (prev?.since ?? null),
          hive_version: VERSION,
          runtime: this.deps.runtimeName,
          last: { what: last.what, outcome: last.outcome, at, commit: last.commit, error: last.error },
        },
        `${name}: ${last.what} ${ok ? 'deployed' : 'failed'}${last.commit ? ` (${last.commit.slice(0, 12)})` : ''}${last.error ? `\n\n${last.error}` : ''}`,
      );
    });
  }
}

/**
 * A promise that resolves when `name` says hello (idle or thinking) and rejects when it crashes,
 * cannot start, is stopped or removed, or after `timeoutMs`; `cancel` stops listening.
 */
function waitReady(bus: EventBus, name: string, timeoutMs: number): { promise: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    cancel = () => {
      off();
      clearTimeout(timer);
    };
    const done = (err?: Error) => {
      off();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`the agent did not come up within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const off = bus.on((e) => {
      if (e.type === 'agent_removed' && e.name === name) done(new Error('the agent was destroyed during the rebuild'));
      if (e.type !== 'agent' || e.agent.name !== name) return;
      const a = e.agent;
      if (a.status === 'idle' || a.status === 'thinking') done();
      else if (a.status === 'crashed') done(new Error(`the agent exited during start-up (${a.last_exit ?? 'unknown'}); see its log`));
      else if (a.status === 'failed') done(new Error(a.problem ?? 'the agent cannot start'));
      else if (a.status === 'offline') done(new Error('the agent was stopped during the rebuild'));
    });
  });
  return { promise, cancel };
}

/**
 * Where `command` resolves: itself when it holds a slash (and is an absolute path to an executable
 * file), else the first executable `<dir>/<command>` on `PATH`. Null when it does not resolve.
 */
export function findExecutable(command: string, PATH: string): string | null {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return isAbsolute(command) && ok(command) ? command : null;
  for (const dir of PATH.split(':')) if (dir && ok(join(dir, command))) return join(dir, command);
  return null;
}

/** Follows `path` from byte `from`, calling `onLine` for each complete line, until stopped. */
function tailLines(path: string, from: number, onLine: (line: string) => void): { stop(): void } {
  let pos = from;
  let partial = '';
  const buf = Buffer.alloc(64 * 1024);
  const pump = () => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        partial += buf.subarray(0, n).toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop()!;
        for (const l of lines) if (l.trim()) onLine(l);
      }
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, 100);
  return {
    stop() {
      clearInterval(timer);
      pump();
      if (partial.trim()) onLine(partial);
      partial = '';
    },
  };
}
