/**
 * @module runtime/process
 * The `process` runtime: the agent is a plain child process of the core, with no isolation at all.
 * It is for development and for hosts where no sandbox is available, and the dashboard and
 * `hive ctl list` say so: such an agent shares the host's network and files, so it can reach the
 * dashboard, the admin socket and `hive.db`, and can act as the operator. It still reaches the
 * model through the gateway (no credentials in its environment), but nothing stops it from
 * reading them from the core's process. Agent locations are passed by environment (`HIVE_SOCKET`,
 * `HIVE_STATE_DIR`, `CLAUDE_CONFIG_DIR`); output goes to the agent's log (see `child.ts`). It
 * binds nothing: the core refuses a config with `mounts` under this runtime, and names `/shared`
 * and the logs by their host paths instead.
 */
import { spawnLogged } from './child.ts';
import type { RunningSandbox, Runtime, SandboxSpec } from './runtime.ts';

/** Unsandboxed child processes. */
export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  readonly sandboxed = false;
  readonly privileged = false;
  readonly networkIsolated = false;
  readonly rootFromImage = false;

  /** @throws Error when the spec asks for binds, which a plain process cannot have. */
  async start(spec: SandboxSpec): Promise<RunningSandbox> {
    if (spec.binds?.length) throw new Error(`the process runtime cannot bind ${spec.binds.map((b) => b.dst).join(', ')}`);
    // its own session: what the harness started dies with it (see child.ts)
    return spawnLogged(spec.command, {
      cwd: spec.paths.state,
      logPath: spec.paths.log,
      group: true,
      env: {
        ...spec.env,
        ...spec.configEnv,
        HIVE_SOCKET: spec.paths.socket,
        HIVE_STATE_DIR: spec.paths.state,
        CLAUDE_CONFIG_DIR: spec.paths.claude,
        HOME: spec.paths.state,
        HIVE_EXIT_WITH_CORE: '1',
      },
    });
  }
}
