/**
 * @module runtime/nspawn
 * The `nspawn` runtime: each agent in a `systemd-nspawn` container named `h-<name>` with a
 * throwaway tmpfs root (`-D / --volatile=yes`: the host's `/usr` read-only and nothing else of the
 * host's tree) plus the bind mounts of `sandbox.ts`. Needs root. The container runs as a child of
 * the core (`--register=no --keep-unit`), so it works where systemd is not the init; the agent's
 * stdin pipe (passed through by `--console=pipe`) ends it when the core dies. Root inside is root on
 * the host (no `--private-users`: bind-mounted state would need id-mapped mounts), which the
 * dashboard shows as privileged.
 *
 * Flags per systemd-nspawn(1).
 */
import { spawnLogged } from './child.ts';
import type { RunningSandbox, Runtime, SandboxSpec } from './runtime.ts';
import { sandboxLayout, type SandboxLayout } from './sandbox.ts';
import type { SandboxRuntimeOptions } from './bwrap.ts';

/** Container name of agent `name`: `h-` plus the name, 11 characters at most (see `names.ts`). */
export function containerName(name: string): string {
  return `h-${name}`;
}

/** The systemd-nspawn argv for a layout (without the command). */
export function nspawnArgs(name: string, layout: SandboxLayout): string[] {
  const args = [
    '--quiet',
    '--register=no',
    '--keep-unit',
    '--directory=/',
    '--volatile=yes',
    `--machine=${containerName(name)}`,
    '--as-pid2',
    '--console=pipe',
    '--kill-signal=SIGTERM',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
  ];
  for (const m of layout.mounts) {
    if (m.src === '/usr' && m.dst === '/usr') continue; // --volatile=yes mounts the host's /usr read-only
    args.push(`${m.rw ? '--bind' : '--bind-ro'}=${m.src}:${m.dst}`);
  }
  for (const [k, v] of Object.entries(layout.env)) args.push(`--setenv=${k}=${v}`);
  args.push(`--chdir=${layout.cwd}`);
  return args;
}

/** Agents in systemd-nspawn containers. */
export class NspawnRuntime implements Runtime {
  readonly name = 'nspawn';
  readonly sandboxed = true;
  readonly privileged = true;

  constructor(private readonly opts: SandboxRuntimeOptions) {}

  async start(spec: SandboxSpec): Promise<RunningSandbox> {
    const layout = sandboxLayout(spec, { ...this.opts, runDir: this.opts.sandboxDir(spec.name) });
    const argv = [this.opts.bin, ...nspawnArgs(spec.name, layout), '--', ...spec.command];
    return spawnLogged(argv, { cwd: '/', env: { PATH: layout.env.PATH ?? '/usr/bin:/bin' }, logPath: spec.paths.log });
  }
}
