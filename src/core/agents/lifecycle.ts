/**
 * @module core/agents/lifecycle
 * An agent's life: spawn, start, stop, restart, rebuild, model switch and destroy, as the operator
 * and the manager ask for them, and what its harness reports back (hello, a turn's start and end).
 * The supervisor (`supervisor.ts`) keeps each sandbox running; the deployer (`configs/deploy.ts`)
 * rebuilds and carries out approvals; this module decides what is wanted and keeps the registry,
 * the sockets and the alerts in step with it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, OPERATOR, validateAgentName } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';
import { VERSION } from '../../shared/version.ts';
import type { AgentRecord, TurnRecord } from '../../shared/wire.ts';
import type { LoadedAgentConfig } from '../../shared/agent-config.ts';
import type { Alerts } from '../alerts.ts';
import type { Approvals } from '../approvals/store.ts';
import type { EventBus } from '../bus.ts';
import type { AgentConfigs } from '../configs/agent-configs.ts';
import type { Deployer } from '../configs/deploy.ts';
import type { ConfigRepos, MetaRepo } from '../configs/repos.ts';
import { NO_MOUNTS, resolveMounts, type MountPolicy } from '../configs/mounts.ts';
import { INSIDE } from '../runtime/sandbox.ts';
import type { Runtime, SandboxSpec } from '../runtime/runtime.ts';
import type { Images } from '../images/images.ts';
import type { Registry } from './registry.ts';
import type { Supervisor } from './supervisor.ts';
import type { TurnEnd, Turns } from './turns.ts';
import { HARNESS_JIT_OFF, HARNESS_JIT_VAR, jitOffWorks } from './harness-jit.ts';

/**
 * Period of Bun's idle GC timer in a harness, ms (Bun's default is 1,000). The core passes its own
 * `BUN_GC_TIMER_INTERVAL` or `BUN_GC_TIMER_DISABLE` on instead when it has one.
 */
export const HARNESS_GC_TIMER_MS = '30000';

/**
 * How long Bun's allocator (mimalloc) waits before it gives freed memory back to the system in a
 * harness, ms (`MIMALLOC_PURGE_DELAY`; Bun's mimalloc waits a few ms, and its `mi-scavenger`
 * thread then wakes 1.6 times a second for good). At 0 it gives memory back as it is freed and
 * the thread never wakes: an idle harness wakes 2 times a second instead of 4, with the same
 * memory and CPU per turn (docs/performance.md, "Idle CPU"; mimalloc's options:
 * github.com/microsoft/mimalloc, `include/mimalloc.h`). The core passes its own on instead when
 * it has one.
 */
export const HARNESS_PURGE_DELAY_MS = '0';

/** An agent's sockets (its JSON-lines socket, model gateway and egress proxy), opened and closed together. */
export interface AgentEndpoints {
  /** Opens `name`'s sockets (no-op when open). @throws when a socket path is taken by a non-socket. */
  open(name: string): Promise<void>;
  /** Closes `name`'s sockets. */
  close(name: string): Promise<void>;
}

/** What the lifecycle reads and changes. */
export interface LifecycleDeps {
  registry: Registry;
  supervisor: Supervisor;
  deployer: Deployer;
  approvals: Approvals;
  configs: AgentConfigs;
  repos: ConfigRepos;
  meta: MetaRepo;
  turns: Turns;
  alerts: Alerts;
  bus: EventBus;
  layout: DataLayout;
  endpoints: AgentEndpoints;
  runtime: Pick<Runtime, 'name' | 'sandboxed' | 'rootFromImage' | 'destroy'>;
  /** The claude binary every agent runs. */
  claudeBin: string;
  /** The model of an agent whose config names none. */
  defaultModel: string;
  /** How long each harness keeps a claude started ahead of its next turn, seconds (`--standby-seconds`). */
  standbySeconds: number;
  /** What this host allows of an agent's `mounts` (default: none). */
  mounts?: MountPolicy;
  /**
   * Agents' root filesystems, or null when sandboxes show the host's `/usr` (`--host-root`, or a
   * runtime without images: `process`, `nixos-container`).
   */
  images: Pick<Images, 'ensure'> | null;
  log: (line: string) => void;
}

/** What an agent's sandbox adds to the runtime's own layout (see {@link Lifecycle.sandboxExtras}). */
export type SandboxExtras = Required<Pick<SandboxSpec, 'binds' | 'configEnv' | 'root' | 'packages'>>;

/** Agent lifecycle and harness reports. */
export class Lifecycle {
  /** The running turn of each agent (from `turn_start` to `turn_end`), for the gateway's records. */
  private runningTurn = new Map<string, string>();
  /** The applied config commit each agent's current sandbox was started with. */
  private startedCommit = new Map<string, string | null>();
  /** What each agent's next sandbox adds, worked out by {@link prepare}. */
  private extras = new Map<string, SandboxExtras>();

  constructor(private readonly deps: LifecycleDeps) {}

  /**
   * The operator creates an agent directly. It is recorded like an approved spawn (an approval
   * record, the applied repo's tags, a meta commit) and carried out the same way: the agent is
   * built and started, and this resolves once it said hello. With `start: false` it is only
   * registered (its repos and dirs made), not recorded or started.
   * @throws HiveError `bad_name`, `exists`, or `unavailable` with the reason when it did not come
   *   up (the failed approval says the same).
   */
  async spawn(name: string, opts: { start?: boolean; by?: string } = {}): Promise<AgentRecord> {
    const { registry, repos, approvals, deployer } = this.deps;
    registry.requireFree(name);
    if (opts.start === false) {
      await this.create(name);
      await repos.ensureProposed(name);
      return registry.require(name);
    }
    const done = await deployer.carryOut(approvals.record('spawn', name, opts.by ?? OPERATOR));
    if (done.status === 'failed') throw new HiveError('unavailable', `agent "${name}" did not come up: ${done.note}`);
    return registry.require(name);
  }

  /** Registers agent `name` (stopped) with its dirs, applied config repo and sockets. */
  async create(name: string): Promise<void> {
    const { registry, layout, repos, endpoints, bus, runtime, defaultModel } = this.deps;
    registry.create({ name, role: 'agent', runtime: runtime.name, model: defaultModel });
    const paths = layout.agent(name);
    for (const d of [paths.state, paths.claude]) mkdirSync(d, { recursive: true });
    await repos.ensureApplied(name);
    await endpoints.open(name);
    bus.emit({ type: 'kept' });
  }

  /** On first start of a core with a manager: registers the manager, wanted running. */
  ensureManager(): void {
    const { registry, runtime, defaultModel, log } = this.deps;
    if (registry.has(MANAGER)) return;
    registry.create({ name: MANAGER, role: 'manager', runtime: runtime.name, model: defaultModel });
    registry.setDesired(MANAGER, 'running');
    log('created the manager agent');
  }

  /** At start-up: every registered agent's sockets and config repos. */
  async openAll(): Promise<void> {
    const { registry, endpoints, repos } = this.deps;
    for (const a of registry.list()) {
      // a peer has no config repos, and its sockets are opened by `peers.ts`
      if (a.role === 'peer') continue;
      await endpoints.open(a.name);
      await repos.ensureApplied(a.name);
      await repos.ensureProposed(a.name);
    }
  }

  /**
   * At start-up: starts every agent the operator left running (the manager only when `withManager`).
   * One whose code or config is newer than its sandbox is rebuilt in the background instead
   * (auto-update), so the dashboard is up to show it happening. A failure is logged per agent;
   * the agent's status and alerts show it.
   */
  async startWanted(withManager: boolean): Promise<void> {
    const { registry, deployer, supervisor, log } = this.deps;
    for (const a of registry.list()) {
      if (a.desired !== 'running' || a.role === 'peer' || (a.role === 'manager' && !withManager)) continue;
      const stale = await deployer.staleness(a);
      if (stale) void deployer.rebuild(a.name, stale).catch((e) => log(`agent ${a.name}: ${stale} failed: ${(e as Error).message}`));
      else await supervisor.start(a.name).catch((e) => log(`agent ${a.name}: ${(e as Error).message}`));
    }
  }

  /**
   * Rebuilds the agent (stop, a fresh sandbox with the applied config, wait for hello), streaming
   * its output as `build` events; recorded in the meta repo.
   * @throws HiveError `not_found`; `unavailable` with the reason when it did not come up.
   */
  async rebuild(name: string, by = OPERATOR): Promise<AgentRecord> {
    this.wantRunning(name, 'rebuilt');
    try {
      await this.deps.deployer.rebuild(name, `rebuild by ${by}`);
    } catch (err) {
      throw new HiveError('unavailable', `agent "${name}" did not come back up: ${(err as Error).message}`);
    }
    return this.deps.registry.require(name);
  }

  /**
   * Marks the agent wanted and starts it (the crash count starts over).
   * @throws HiveError `not_found`; `forbidden` for a peer.
   */
  async start(name: string): Promise<AgentRecord> {
    this.wantRunning(name, 'started');
    await this.deps.supervisor.start(name);
    return this.deps.registry.require(name);
  }

  /**
   * Stops and starts the agent: a fresh process that re-reads its config and resumes its session.
   * @throws HiveError `not_found`, `forbidden` for a peer, or `bad_config` when its config is now
   *   invalid (it stays stopped).
   */
  async restart(name: string): Promise<AgentRecord> {
    this.deps.registry.requireManaged(name, 'restarted');
    await this.deps.supervisor.stop(name);
    return this.start(name);
  }

  /**
   * Switches the agent's model from its next turn on, until its config next changes; `null`
   * returns to the configured model.
   * @throws HiveError `not_found`.
   */
  setModel(name: string, model: string | null): AgentRecord {
    return this.deps.registry.setModelOverride(name, model);
  }

  /** Marks the agent unwanted and stops it. @throws HiveError `not_found`; `forbidden` for a peer. */
  async stop(name: string): Promise<AgentRecord> {
    const { registry, supervisor, alerts } = this.deps;
    registry.requireManaged(name, 'stopped');
    registry.setDesired(name, 'stopped');
    await supervisor.stop(name);
    alerts.clear(name, ['crash_loop'], OPERATOR);
    return registry.require(name);
  }

  /**
   * Stops the agent and removes its sandbox, its runtime files and its sockets. Its state, claude
   * and config dirs are kept (see `kept.ts`), and can be purged.
   * @throws HiveError `bad_name`, `not_found`, or `forbidden` for the manager and for a peer.
   */
  async destroy(name: string): Promise<void> {
    const { registry, supervisor, configs, endpoints, layout, alerts, bus, meta } = this.deps;
    if (name === MANAGER) throw new HiveError('forbidden', 'the manager cannot be destroyed; stop it instead');
    validateAgentName(name);
    registry.requireManaged(name, 'destroyed');
    registry.setDesired(name, 'stopped');
    await supervisor.stop(name);
    supervisor.forget(name);
    // the agent is destroyed either way; what the runtime kept and could not remove is named below
    let leftover: string | null = null;
    try {
      await this.deps.runtime.destroy?.(name, layout.agent(name).log);
    } catch (e) {
      leftover = `${name} was destroyed, but its ${this.deps.runtime.name} sandbox could not be removed: ${(e as Error).message}`;
      this.deps.log(leftover);
    }
    configs.forget(name);
    this.extras.delete(name);
    await endpoints.close(name);
    rmSync(layout.agent(name).socketDir, { recursive: true, force: true });
    rmSync(layout.sandboxDir(name), { recursive: true, force: true });
    registry.remove(name);
    alerts.clear(name, [], OPERATOR);
    if (leftover) alerts.raise('deploy_failed', name, leftover);
    bus.emit({ type: 'kept' });
    try {
      await meta.remove(name, `${name}: destroyed (state kept)`);
    } catch (e) {
      const text = `${name} was destroyed, but the deploy log could not record it: ${(e as Error).message}`;
      this.deps.log(text);
      alerts.raise('audit_failed', name, text);
    }
  }

  // ── harness reports ────────────────────────────────────────────────────────

  /**
   * The harness of `name` is up and waiting for messages. A peer's harness runs where the hive
   * cannot see: it is `connected`, with no pid and no built commit.
   * @returns its record and config.
   */
  hello(name: string, pid: number): { agent: AgentRecord; config: LoadedAgentConfig } {
    const { registry, configs } = this.deps;
    if (registry.require(name).role === 'peer') return { agent: registry.setLive(name, { status: 'connected', pid: null }), config: configs.get(name) };
    // a hello read after the agent's sandbox was stopped (or from a harness this core did not
    // start) must not make a stopped agent look up
    if (!this.reportsCount(name)) throw new HiveError('conflict', `${name} is not running here; its harness should exit`);
    registry.setBuilt(name, this.startedCommit.get(name) ?? null, VERSION);
    const agent = registry.setLive(name, { status: 'idle', pid: registry.require(name).pid ?? pid });
    return { agent, config: configs.get(name) };
  }

  /**
   * Whether a report from `name`'s harness may set its status: a peer's always (the hive does not
   * run it), another agent's while its sandbox exists or is starting. A line its harness wrote
   * just before a stop can be read after it, and must leave the agent as the stop left it.
   */
  private reportsCount(name: string): boolean {
    return this.deps.registry.require(name).role === 'peer' || this.deps.supervisor.isLive(name);
  }

  /** A turn of `name` began. @returns the turn record and the model the turn must use. */
  turnStart(name: string, id: string, trigger: number | null): { turn: TurnRecord; model: string } {
    const { registry } = this.deps;
    const agent = this.reportsCount(name) ? registry.setLive(name, { status: 'thinking' }) : registry.require(name);
    this.runningTurn.set(name, id);
    return { turn: this.deps.turns.start(name, id, trigger), model: agent.model };
  }

  /** A turn of `name` ended; the agent is idle again (a peer: connected). @returns the finished turn record. */
  turnEnd(name: string, turn: TurnEnd): TurnRecord {
    const rec = this.deps.turns.end(name, turn);
    if (this.runningTurn.get(name) === turn.id) this.runningTurn.delete(name);
    const peer = this.deps.registry.require(name).role === 'peer';
    if (this.reportsCount(name)) this.deps.registry.setLive(name, { status: peer ? 'connected' : 'idle' });
    return rec;
  }

  /** Forgets `name`'s running turn, if it is `id` (a peer's harness went away mid-turn). */
  dropTurn(name: string, id: string): void {
    if (this.runningTurn.get(name) === id) this.runningTurn.delete(name);
  }

  /** The id of `name`'s running turn, or null between turns. */
  turnOf(name: string): string | null {
    return this.runningTurn.get(name) ?? null;
  }

  // ── what the supervisor asks before a start ────────────────────────────────

  /**
   * Before every start: the applied repo exists, its head is remembered, the config is read and
   * the agent's model and config warnings recorded.
   * @throws HiveError `bad_config` naming the file and field when the config is invalid.
   */
  async prepare(name: string): Promise<void> {
    const { repos, configs, registry, runtime, defaultModel, images, bus, log } = this.deps;
    this.startedCommit.set(name, await repos.ensureApplied(name));
    const loaded = configs.load(name);
    registry.setRuntime(name, runtime.name);
    if (registry.applyConfig(name, loaded.config.model ?? defaultModel, loaded.hash)) log(`agent ${name}: config changed; runtime model override cleared`);
    for (const w of loaded.warnings) log(`agent ${name}: config warning: ${w}`);
    registry.setLive(name, { config_warnings: loaded.warnings });
    const extras = this.workOutExtras(name, loaded.config);
    if (images) {
      // a rebuild has made it already (configs/deploy.ts); a plain start builds it here when it is
      // missing (a first start, a pruned image, a new image recipe), in the rebuild panel's view
      const say = (line: string) => {
        bus.emit({ type: 'build', agent: name, approval: null, line, at: Date.now() });
        log(`build ${name}: ${line}`);
      };
      extras.root = (await images.ensure(loaded.config.packages, say)).root;
    } else if (loaded.config.packages.length && runtime.name !== 'nixos-container') {
      log(`agent ${name}: config warning: ${packagesIgnored(loaded.config.packages, runtime)}`);
    }
    this.extras.set(name, extras);
  }

  /**
   * What `name`'s next sandbox adds to the runtime's layout, as {@link prepare} worked it out from
   * the config it read: the config's `mounts` (host paths resolved then), `/shared` read-write
   * unless `shared = false`, the manager's read-only `/logs`, and the config's `env`. The process
   * runtime gets no binds; {@link env} names those places by their host paths instead.
   */
  sandboxExtras(name: string): SandboxExtras {
    return this.extras.get(name) ?? { binds: [], configEnv: {}, root: null, packages: [] };
  }

  /**
   * @throws HiveError `bad_config` naming the config file and the mount when a mount is not allowed
   *   now (see `configs/mounts.ts`).
   */
  private workOutExtras(name: string, config: LoadedAgentConfig['config']): SandboxExtras {
    const { layout, runtime, registry } = this.deps;
    const source = relative(layout.dataDir, layout.agent(name).configFile);
    const mounts = resolveMounts(config, this.deps.mounts ?? NO_MOUNTS, source);
    mkdirSync(layout.sharedDir, { recursive: true });
    mkdirSync(layout.logsDir, { recursive: true });
    const packages = [...config.packages];
    if (!runtime.sandboxed) return { binds: [], configEnv: { ...config.env }, root: null, packages };
    const binds: SandboxExtras['binds'] = [...mounts];
    if (config.shared) binds.push({ src: layout.sharedDir, dst: INSIDE.shared, rw: true });
    if (registry.require(name).role === 'manager') binds.push({ src: layout.logsDir, dst: INSIDE.logs, rw: false });
    return { binds, configEnv: { ...config.env }, root: null, packages };
  }

  /**
   * The environment `name`'s harness starts with: a few of the core's variables (with Bun's GC timer
   * at {@link HARNESS_GC_TIMER_MS}, the allocator's purge delay at {@link HARNESS_PURGE_DELAY_MS}
   * and the JIT off, `harness-jit.ts`, unless the core sets them),
   * who it is, and where its shared places
   * are: `HIVE_SHARED_DIR` (unless `shared = false`), the manager's `HIVE_LOGS_DIR`, as the sandbox
   * shows them or, under the process runtime, as host paths; `HIVE_CONFIG_ENV` lists the names of
   * the config's `env` (set by the runtime, see {@link sandboxExtras}) for the harness to pass on to claude.
   * No credential: claude reaches the model through the gateway socket (see `agent/env.ts`).
   * @throws HiveError `not_found`.
   */
  env(name: string): Record<string, string> {
    const { registry, runtime, layout, claudeBin } = this.deps;
    const a = registry.require(name);
    const extras = this.sandboxExtras(name);
    const shared = runtime.sandboxed ? extras.binds.some((b) => b.dst === INSIDE.shared) : this.deps.configs.get(name).config.shared;
    const configEnv = Object.keys(extras.configEnv);
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'LANG', 'TZ', 'TMPDIR', 'BUN_GC_TIMER_DISABLE', 'BUN_GC_TIMER_INTERVAL', 'MIMALLOC_PURGE_DELAY', HARNESS_JIT_VAR])
      if (process.env[k]) base[k] = process.env[k]!;
    return {
      // Bun's idle GC timer wakes every process once a second; an idle harness allocates nothing, so
      // every 30 s is enough (docs/performance.md, "Idle CPU"); the core's own setting wins
      BUN_GC_TIMER_INTERVAL: HARNESS_GC_TIMER_MS,
      MIMALLOC_PURGE_DELAY: HARNESS_PURGE_DELAY_MS,
      ...(jitOffWorks(this.deps.log) ? { [HARNESS_JIT_VAR]: HARNESS_JIT_OFF } : {}),
      ...base,
      HIVE_AGENT_NAME: name,
      HIVE_ROLE: a.role,
      HIVE_CLAUDE_BIN: claudeBin,
      HIVE_STANDBY_SECONDS: String(this.deps.standbySeconds),
      ...(a.role === 'manager' ? { HIVE_AGENTS_DIR: runtime.sandboxed ? '/agents' : layout.proposedDir } : {}),
      ...(a.role === 'manager' ? { HIVE_LOGS_DIR: runtime.sandboxed ? INSIDE.logs : layout.logsDir } : {}),
      ...(shared ? { HIVE_SHARED_DIR: runtime.sandboxed ? INSIDE.shared : layout.sharedDir } : {}),
      ...(configEnv.length ? { HIVE_CONFIG_ENV: configEnv.join(',') } : {}),
    };
  }

  /**
   * The operator wants `name` running: its crash count starts over and a crash-loop alert closes.
   * @param action what is being done, for the refusal of a peer.
   * @throws HiveError `not_found`; `forbidden` for a peer.
   */
  private wantRunning(name: string, action: string): void {
    const { registry, alerts } = this.deps;
    registry.requireManaged(name, action);
    registry.setDesired(name, 'running');
    registry.setLive(name, { restarts: 0 });
    alerts.clear(name, ['crash_loop'], OPERATOR);
  }
}

/**
 * The warning for a config whose `packages` this core does not install: the process runtime runs
 * on the host as it is, and `--host-root` shows the host's `/usr`.
 */
export function packagesIgnored(packages: readonly string[], runtime: Pick<Runtime, 'name' | 'rootFromImage'>): string {
  const why = runtime.rootFromImage ? 'the core runs with --host-root, so sandboxes show this host\'s /usr' : `the ${runtime.name} runtime runs agents on this host as it is`;
  return `packages (${packages.join(', ')}) are not installed: ${why}`;
}
