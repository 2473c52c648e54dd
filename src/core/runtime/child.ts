/**
 * @module runtime/child
 * Starting the one host process behind a sandbox (the agent itself, `bwrap`, or `systemd-nspawn`)
 * the same way for every runtime: output appended to the agent's log, stdin a pipe the core never
 * writes to, and a stop that closes that stdin and sends SIGTERM, then SIGKILL after a grace period.
 *
 * The stdin pipe ties the agent's life to the core's: when the core dies, however it dies, the
 * kernel closes the pipe and the agent (told by `HIVE_EXIT_WITH_CORE=1`) exits, so a restarted core
 * never finds a second, orphaned harness on an agent's socket. bwrap and nspawn pass stdin through.
 *
 * With `group`, the child leads a session of its own, and when it ends, however it ends, whatever
 * is left in that session is killed: a harness killed with SIGKILL cannot end its claude (a turn's,
 * or the standby waiting for the next turn) itself. bwrap and nspawn need no such help: the
 * sandbox's processes die with it.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExitInfo, RunningSandbox } from './runtime.ts';

/**
 * Spawns `argv` with its output appended to `logPath`.
 * @throws when the executable cannot be started.
 */
export function spawnLogged(argv: string[], opts: { cwd: string; env: Record<string, string>; logPath: string; group?: boolean }): RunningSandbox {
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const logFd = openSync(opts.logPath, 'a');
  let child;
  try {
    child = Bun.spawn(argv, { cwd: opts.cwd, env: opts.env, stdin: 'pipe', stdout: logFd, stderr: logFd, detached: !!opts.group });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  const exited: Promise<ExitInfo> = child.exited.then(() => {
    if (opts.group) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing was left in the session
      }
    }
    return { code: child.signalCode ? null : child.exitCode, signal: child.signalCode == null ? null : String(child.signalCode) };
  });
  let stopping: Promise<ExitInfo> | null = null;
  return {
    pid: child.pid,
    exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        // Closing stdin is the agent's cue to finish (it passes through bwrap and nspawn alike;
        // nspawn answers a first SIGTERM only by asking the container's init to halt).
        try {
          child.stdin.end();
        } catch {
          // stdin already closed (the child exited first): the signals below still apply
        }
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          child.kill('SIGTERM'); // a second SIGTERM makes nspawn terminate the container at once
          setTimeout(() => child.kill('SIGKILL'), 1000).unref();
        }, graceMs);
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
