/**
 * @module runtime
 * How a sandbox is made. A runtime starts one agent's `hive agent serve` in isolation and reports
 * when it exits; the supervisor (`core/agents/supervisor.ts`) decides what to do about it.
 *
 * Every runtime exposes the same three places to the agent: its socket dir, its state dir and its
 * claude dir. Sandboxed runtimes (`bwrap.ts`, `nspawn.ts`) mount them at `/run/hive`, `/state` and
 * `/root/.claude` (see `sandbox.ts`); the `process` runtime passes the host paths in the
 * environment, so the harness never cares which runtime it runs in.
 */
import type { AgentPaths } from '../../shared/paths.ts';
import type { AgentRole } from '../../shared/wire.ts';

/** What a runtime needs to start one agent. */
export interface SandboxSpec {
  name: string;
  role: AgentRole;
  paths: AgentPaths;
  /** The command to run inside, e.g. `[bun, src/main.ts, agent, serve]`. */
  command: string[];
  /** Environment for the command, without the location variables the runtime adds. */
  env: Record<string, string>;
  /**
   * More host paths bound in after the agent's own places (`src` on the host at `dst` inside,
   * writable when `rw`): the config's `mounts` with their host paths resolved, `/shared`, the
   * manager's `/logs`. Sandboxed runtimes only: the process runtime refuses a spec that has any.
   */
  binds?: Array<{ src: string; dst: string; rw: boolean }>;
  /**
   * The variables of the agent's config (`env`), set for the command inside the sandbox only,
   * never in the environment of a host process the runtime starts (such as `bwrap` itself).
   */
  configEnv?: Record<string, string>;
  /**
   * The agent's root filesystem: an image's tree on the host (`core/images/`), whose `/usr` and
   * `/etc` the sandbox shows read-only. Absent or null: the host's `/usr` (the core's
   * `--host-root`). Sandboxed runtimes other than `nixos-container` only.
   */
  root?: string | null;
  /**
   * The config's `packages`: for `nixos-container`, nixpkgs attribute names built into the
   * container; the other sandboxed runtimes have them in {@link root} already.
   */
  packages?: readonly string[];
}

/** How a sandbox ended. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** A started sandbox. */
export interface RunningSandbox {
  /** Host pid of the sandbox's main process, when the runtime knows it. */
  pid: number | null;
  /** Resolves once, when the sandbox has exited for any reason. */
  exited: Promise<ExitInfo>;
  /**
   * Asks the sandbox to stop (SIGTERM), then kills it after `graceMs`.
   * Resolves when it has exited. Safe to call more than once.
   */
  stop(graceMs?: number): Promise<ExitInfo>;
}

/** One way of making sandboxes. */
export interface Runtime {
  /** Name shown to the operator (`process`, `nspawn`, `bwrap`). */
  readonly name: string;
  /** False for runtimes that give the agent the host's full view (the operator is warned). */
  readonly sandboxed: boolean;
  /** True when root inside the sandbox is root on the host (no user-namespace mapping to an unprivileged uid). */
  readonly privileged: boolean;
  /**
   * True when each agent has its own network namespace with only a loopback interface and no
   * route: it reaches the model and the outside only through the sockets in its socket dir.
   */
  readonly networkIsolated: boolean;
  /**
   * True when the runtime shows {@link SandboxSpec.root}, an image's tree (`core/images/`), as the
   * agent's system: nspawn and bwrap. The process runtime has the host's, and `nixos-container`
   * builds its own from the config's packages.
   */
  readonly rootFromImage: boolean;
  /**
   * Starts the agent.
   * @throws when the sandbox cannot be created (the message says why).
   */
  start(spec: SandboxSpec): Promise<RunningSandbox>;
  /**
   * Removes what the runtime keeps of agent `name` between starts, when the agent is destroyed
   * (`nixos-container` keeps a container per agent; the others keep nothing). Its output goes to
   * `logPath`.
   * @throws when the runtime's tool fails (the message says why).
   */
  destroy?(name: string, logPath: string): Promise<void>;
}

/** Formats an {@link ExitInfo} for people: `exit 3`, `signal SIGKILL`. */
export function describeExit(e: ExitInfo): string {
  return e.signal ? `signal ${e.signal}` : `exit ${e.code ?? '?'}`;
}
