/**
 * @module runtime/bwrap
 * The `bwrap` runtime: each agent in a bubblewrap sandbox with the layout of `sandbox.ts`. New
 * mount, pid, ipc, uts and user namespaces, no capabilities, a fresh session, and
 * `--die-with-parent`, so the sandbox ends with the core. The network is unshared too
 * (`--unshare-net`): the agent has its own loopback and no route anywhere, and reaches the model,
 * allowed hosts and the operator only through the sockets in `/run/hive`. Works without root where the kernel
 * allows unprivileged user namespaces; run as root, root inside is root on the host with every
 * capability dropped, which the dashboard shows as privileged.
 *
 * Flags per bubblewrap(1).
 */
import { spawnLogged } from './child.ts';
import type { RunningSandbox, Runtime, SandboxSpec } from './runtime.ts';
import { INSIDE, sandboxLayout, type SandboxLayout } from './sandbox.ts';

/** Settings every sandbox of this runtime shares. */
export interface SandboxRuntimeOptions {
  dataDir: string;
  claudeBin: string;
  proposedDir: string;
  /** Where generated files of agent `name` go. */
  sandboxDir: (name: string) => string;
  /** The `bwrap` / `systemd-nspawn` executable. */
  bin: string;
}

/** The bwrap argv for a layout (without the command). */
export function bwrapArgs(name: string, layout: SandboxLayout): string[] {
  const args = [
    '--die-with-parent',
    '--new-session',
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup-try',
    '--hostname',
    name,
    '--cap-drop',
    'ALL',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    INSIDE.home,
    '--tmpfs',
    '/run',
  ];
  for (const m of layout.mounts) args.push(m.rw ? '--bind' : '--ro-bind', m.src, m.dst);
  for (const l of layout.symlinks) args.push('--symlink', l.target, l.path);
  for (const [k, v] of Object.entries(layout.configEnv)) args.push('--setenv', k, v);
  args.push('--chdir', layout.cwd);
  return args;
}

/** Agents in bubblewrap sandboxes. */
export class BwrapRuntime implements Runtime {
  readonly name = 'bwrap';
  readonly sandboxed = true;
  readonly privileged = process.getuid?.() === 0;
  readonly networkIsolated = true;
  readonly rootFromImage = true;

  constructor(private readonly opts: SandboxRuntimeOptions) {}

  async start(spec: SandboxSpec): Promise<RunningSandbox> {
    const layout = sandboxLayout(spec, { ...this.opts, runDir: this.opts.sandboxDir(spec.name) });
    const argv = [this.opts.bin, ...bwrapArgs(spec.name, layout), '--', ...layout.command];
    return spawnLogged(argv, { cwd: '/', env: layout.env, logPath: spec.paths.log });
  }
}
