/**
 * @module runtime/process
 * The `process` runtime: the agent is a plain child process of the core, with no isolation at all.
 * It is for development and for hosts where no sandbox is available, and the dashboard and
 * `hive ctl list` say so. Its output goes to the agent's log file; agent locations are passed by
 * environment (`HIVE_SOCKET`, `HIVE_STATE_DIR`, `CLAUDE_CONFIG_DIR`).
 *
 * The child's stdin is a pipe the core never writes to. When the core dies, however it dies, the
 * kernel closes that pipe and the agent (told by `HIVE_EXIT_WITH_CORE=1`) exits, so a restarted
 * core never finds a second, orphaned harness on an agent's socket.
 */
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExitInfo, RunningSandbox, Runtime, SandboxSpec } from './runtime.ts';

/** Unsandboxed child processes. */
export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  readonly sandboxed = false;

  async start(spec: SandboxSpec): Promise<RunningSandbox> {
    mkdirSync(dirname(spec.paths.log), { recursive: true });
    const logFd = openSync(spec.paths.log, 'a');
    let child;
    try {
      child = Bun.spawn(spec.command, {
        cwd: spec.paths.state,
        env: {
          ...spec.env,
          HIVE_SOCKET: spec.paths.socket,
          HIVE_STATE_DIR: spec.paths.state,
          CLAUDE_CONFIG_DIR: spec.paths.claude,
          HOME: spec.paths.state,
          HIVE_EXIT_WITH_CORE: '1',
        },
        stdin: 'pipe',
        stdout: logFd,
        stderr: logFd,
      });
    } finally {
      closeSync(logFd);
    }
    const exited: Promise<ExitInfo> = child.exited.then(() => ({
      code: child.signalCode ? null : child.exitCode,
      signal: child.signalCode == null ? null : String(child.signalCode),
    }));
    let stopping: Promise<ExitInfo> | null = null;
    return {
      pid: child.pid,
      exited,
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
        })();
        return stopping;
      },
    };
  }
}
