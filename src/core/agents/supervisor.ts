/**
 * @module core/agents/supervisor
 * Keeps each agent's sandbox in the state the operator asked for. `start` launches it through the
 * runtime; when it exits on its own, the supervisor marks it `crashed`, tells the manager, and
 * starts it again after a backoff (1 s doubling to 60 s; the count resets once a run lasts 60 s).
 * From the third crash in a row it raises a `crash_loop` alert for the operator, which closes by
 * itself once a run lasts a minute.
 * `stop` ends it without a restart. Only the entry point handles signals; it calls `stopAll`.
 */
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import type { DataLayout } from '../../shared/paths.ts';
import { MANAGER, SYSTEM } from '../../shared/names.ts';
import { CRASH_LOOP_AFTER, type Alerts } from '../alerts.ts';
import type { Broker } from '../broker/store.ts';
import type { Registry } from './registry.ts';
import { describeExit, type ExitInfo, type RunningSandbox, type Runtime, type SandboxSpec } from '../runtime/runtime.ts';
import { INSIDE } from '../runtime/sandbox.ts';
import type { Turns } from './turns.ts';

/** First crash-restart delay, ms. */
export const BACKOFF_FIRST_MS = 1000;
/** Longest crash-restart delay, ms. */
export const BACKOFF_MAX_MS = 60_000;
/** A run at least this long resets the crash count, ms. */
export const STABLE_RUN_MS = 60_000;

/** What the supervisor needs from the rest of the core. */
export interface SupervisorDeps {
  registry: Registry;
  runtime: Runtime;
  broker: Broker;
  turns: Turns;
  layout: DataLayout;
  /** The command that runs the hive's harness, before `agent serve` (see `harness-bundle.ts`). */
  harnessCommand: () => Promise<string[]>;
  /** Environment every agent gets (passthrough credentials, claude binary, ports…). */
  agentEnv: (name: string) => Record<string, string>;
  /** Runs before every start (reads the agent's config); a throw keeps the agent from starting. */
  prepare: (name: string) => Promise<void>;
  /** What the agent's sandbox adds to the runtime's layout (binds, the config's env), as `prepare` worked it out. */
  sandboxExtras?: (name: string) => Pick<SandboxSpec, 'binds' | 'configEnv'>;
  alerts: Alerts;
  log: (line: string) => void;
  now?: () => number;
}

interface Slot {
  sandbox: RunningSandbox | null;
  startedAt: number;
  /** Set while an operator stop is in progress: the exit is not a crash. */
  stopping: boolean;
  restartTimer: ReturnType<typeof setTimeout> | null;
  /** Fires once the current run has lasted {@link STABLE_RUN_MS}. */
  stableTimer: ReturnType<typeof setTimeout> | null;
  /** Set while a start is in progress. */
  starting: Promise<void> | null;
}

/** Drops a pending crash restart, if any. */
function cancelRestart(slot: Slot): void {
  if (slot.restartTimer) clearTimeout(slot.restartTimer);
  slot.restartTimer = null;
}

/** Crash-restarting owner of every agent's sandbox. */
export class Supervisor {
  private slots = new Map<string, Slot>();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly deps: SupervisorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** True while the agent's sandbox process exists. */
  isRunning(name: string): boolean {
    return !!this.slots.get(name)?.sandbox;
  }

  /**
   * True while the agent's sandbox exists or is being started: when a report from its harness
   * (hello, a turn's start or end) can be current. A line its harness wrote just before it was
   * stopped can still be read after the stop; the agent is neither then.
   */
  isLive(name: string): boolean {
    const slot = this.slots.get(name);
    return !!slot && (!!slot.sandbox || !!slot.starting);
  }

  /**
   * Starts the agent's sandbox if it is not running (a pending crash restart happens now).
   * `status` is what the agent shows until its harness says hello (`building` during a rebuild).
   * @throws HiveError `bad_config` when its config is invalid (the agent is marked `failed` with the
   *   reason); whatever the runtime throws when it cannot start it (the agent is marked `crashed`);
   *   `forbidden` for a peer, whose process is not the hive's to run.
   */
  async start(name: string, status: 'starting' | 'building' = 'starting'): Promise<void> {
    if (this.deps.registry.get(name)?.role === 'peer') this.deps.registry.requireManaged(name, 'started');
    const slot = this.slot(name);
    cancelRestart(slot);
    if (slot.sandbox || this.closed) return;
    // a start already under way (reading the config, creating the sandbox) is the one to wait for
    slot.starting ??= this.launch(name, slot, status).finally(() => {
      slot.starting = null;
    });
    return slot.starting;
  }

  private async launch(name: string, slot: Slot, status: 'starting' | 'building'): Promise<void> {
    const { registry, runtime, layout } = this.deps;
    const agent = registry.require(name);
    const paths = layout.agent(name);
    for (const dir of [paths.state, paths.claude, paths.socketDir]) mkdirSync(dir, { recursive: true });
    try {
      await this.deps.prepare(name);
    } catch (err) {
      registry.setLive(name, { status: 'failed', pid: null, problem: (err as Error).message });
      throw err;
    }
    // never throws: a harness that could not be bundled runs from the source tree
    const harness = await this.deps.harnessCommand();
    if (this.closed) return;
    registry.setLive(name, { status, pid: null, problem: null });
    let sandbox: RunningSandbox;
    try {
      sandbox = await runtime.start({
        name,
        role: agent.role,
        paths,
        command: [...harness, 'agent', 'serve'],
        env: this.deps.agentEnv(name),
        ...this.deps.sandboxExtras?.(name),
      });
    } catch (err) {
      registry.setLive(name, { status: 'crashed', last_exit: `start failed: ${(err as Error).message}` });
      throw err;
    }
    slot.sandbox = sandbox;
    slot.startedAt = this.now();
    slot.stopping = false;
    registry.setLive(name, { pid: sandbox.pid });
    this.deps.log(`agent ${name}: started (${runtime.name}, pid ${sandbox.pid ?? '?'})`);
    slot.stableTimer = setTimeout(() => {
      slot.stableTimer = null;
      if (slot.sandbox === sandbox && registry.has(name)) this.deps.alerts.clear(name, ['crash_loop']);
    }, STABLE_RUN_MS);
    slot.stableTimer.unref?.();
    void sandbox.exited.then((exit) => this.onExit(name, sandbox, exit));
  }

  /** Stops the agent's sandbox (no restart) and waits for it to exit. */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    cancelRestart(slot);
    // a start under way settles first; its failure was already recorded on the agent by launch()
    await slot.starting?.catch(() => undefined);
    cancelRestart(slot);
    const sb = slot.sandbox;
    if (sb) {
      slot.stopping = true;
      await sb.stop(graceMs);
    }
    if (this.deps.registry.has(name)) this.deps.registry.setLive(name, { status: 'offline', pid: null });
  }

  /** Stops every sandbox; no restarts happen afterwards. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.keys()].map((n) => this.stop(n, graceMs)));
  }

  /** Forgets an agent (after destroy). */
  forget(name: string): void {
    const slot = this.slots.get(name);
    if (slot) cancelRestart(slot);
    this.slots.delete(name);
  }

  /**
   * Where the manager reads `name`'s log and last build output: `/logs` in its sandbox (with the
   * host path for the operator), or the host paths under the process runtime.
   */
  private whereLogs(name: string): string {
    const p = this.deps.layout.agent(name);
    if (!this.deps.runtime.sandboxed) return `Log: ${p.log}; last rebuild's output: ${p.buildLog}`;
    return `Log: ${INSIDE.logs}/${basename(p.log)} (on the host ${p.log}); last rebuild's output: ${INSIDE.logs}/${basename(p.buildLog)}`;
  }

  private slot(name: string): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = { sandbox: null, startedAt: 0, stopping: false, restartTimer: null, stableTimer: null, starting: null };
      this.slots.set(name, s);
    }
    return s;
  }

  private onExit(name: string, sandbox: RunningSandbox, exit: ExitInfo): void {
    const slot = this.slots.get(name);
    if (!slot || slot.sandbox !== sandbox) return;
    slot.sandbox = null;
    if (slot.stableTimer) clearTimeout(slot.stableTimer);
    slot.stableTimer = null;
    const { registry, turns, broker, log } = this.deps;
    // an operator's stop cancels the turn in flight; any other exit (a crash, a kill, the core
    // shutting down) interrupts it, and its message is handed out again
    if (slot.stopping && !this.closed) turns.interrupt(name, `cancelled: agent stopped (${describeExit(exit)})`, 'cancel');
    else turns.interrupt(name, `interrupted: agent ${describeExit(exit)}`, 'rerun');
    if (!registry.has(name)) return;
    const desired = registry.get(name)?.desired;
    if (slot.stopping || this.closed || desired !== 'running') {
      registry.setLive(name, { status: 'offline', pid: null, last_exit: describeExit(exit) });
      return;
    }
    const ranFor = this.now() - slot.startedAt;
    const prev = registry.require(name).restarts;
    const restarts = ranFor >= STABLE_RUN_MS ? 1 : prev + 1;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (restarts - 1), BACKOFF_MAX_MS);
    registry.setLive(name, { status: 'crashed', pid: null, restarts, last_exit: describeExit(exit) });
    const notice =
      `agent ${name} crashed (${describeExit(exit)}) after ${Math.round(ranFor / 1000)}s; ` +
      `restart #${restarts} in ${Math.round(delay / 1000)}s. ${this.whereLogs(name)}`;
    log(notice);
    if (restarts >= CRASH_LOOP_AFTER)
      this.deps.alerts.raise(
        'crash_loop',
        name,
        `${name} crashed ${restarts} times in a row, last ${describeExit(exit)} after ${Math.round(ranFor / 1000)} s; ` +
          `the core restarts it in ${Math.round(delay / 1000)} s. Read its log (${this.deps.layout.agent(name).log}), then stop or rebuild it.`,
      );
    if (registry.has(MANAGER)) broker.send(SYSTEM, MANAGER, notice, { kind: 'notice' });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      this.start(name).catch((err) => log(`agent ${name}: restart failed: ${(err as Error).message}`));
    }, delay);
  }
}
