/**
 * @module runtime/nspawn
 * The `nspawn` runtime: each agent in a `systemd-nspawn` container named `h-<name>` with a
 * throwaway tmpfs root (`-D <image> --volatile=yes`: the image's `/usr` read-only and nothing else
 * of its tree, or of the host's with `--host-root` and `-D /`) plus the bind mounts of `sandbox.ts`, and a private network (`--private-network`:
 * a loopback interface of its own and nothing else). Needs root. The container runs as a child of
 * the core (`--register=no --keep-unit`), so it works where systemd is not the init; the agent's
 * stdin pipe (passed through by `--console=pipe`) ends it when the core dies.
 *
 * Root inside is not root on the host when the host allows it: the container gets its own user
 * namespace (`--private-users=pick`: 65536 host uids picked from the container name, container
 * root mapped to the first), and the writable bind mounts are id-mapped (`:idmap`, kernel ≥ 5.12
 * and a filesystem that supports it), so files the agent writes to `/state` are owned by host root
 * as before while the agent itself runs as an unprivileged host uid. {@link probeUserNamespaces}
 * finds out at start-up; where it fails the containers run without a user namespace and the
 * dashboard shows them as privileged.
 *
 * Flags per systemd-nspawn(1).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLogged } from './child.ts';
import type { RunningSandbox, Runtime, SandboxSpec } from './runtime.ts';
import { sandboxLayout, type SandboxLayout } from './sandbox.ts';
import type { SandboxRuntimeOptions } from './bwrap.ts';
import { imageEtc } from '../images/images.ts';

/** Container name of agent `name`: `h-` plus the name, 11 characters at most (see `names.ts`). */
export function containerName(name: string): string {
  return `h-${name}`;
}

/** The user-namespace flags: a private uid range, no chown of the (throwaway) root. */
const USERNS_ARGS = ['--private-users=pick', '--private-users-ownership=off'];

/**
 * The systemd-nspawn argv for a layout (without the command).
 * @param userns run in a private user namespace with id-mapped binds (see the module comment).
 */
export function nspawnArgs(name: string, layout: SandboxLayout, userns = false): string[] {
  const args = [
    '--quiet',
    '--register=no',
    '--keep-unit',
    `--directory=${layout.root}`,
    '--volatile=yes',
    `--machine=${containerName(name)}`,
    '--as-pid2',
    '--console=pipe',
    '--private-network',
    '--kill-signal=SIGTERM',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    ...(userns ? USERNS_ARGS : []),
  ];
  const image = layout.root !== '/';
  // nspawn touches a file's mount point even where one exists, which the image's read-only /etc
  // refuses: the generated files go on top of it as an overlay instead (the last lower dir wins)
  if (image) args.push(`--overlay-ro=${imageEtc(layout.root)}:${layout.etc}:/etc`);
  for (const m of layout.mounts) {
    if (m.dst === '/usr') continue; // --volatile=yes mounts the root's /usr read-only
    if (image && (m.dst === '/etc' || m.src.startsWith(layout.etc + '/'))) continue;
    // the writable binds (all under the data dir, whose filesystem the probe tried) are id-mapped so
    // what the agent writes stays the host root's; read-only ones show their files as nobody's,
    // readable as they are for everyone on the host
    args.push(`${m.rw ? '--bind' : '--bind-ro'}=${m.src}:${m.dst}${userns && m.rw ? ':idmap' : ''}`);
  }
  for (const [k, v] of Object.entries({ ...layout.env, ...layout.configEnv })) args.push(`--setenv=${k}=${v}`);
  args.push(`--chdir=${layout.cwd}`);
  return args;
}

/**
 * Whether containers can run in a private user namespace with id-mapped binds of `dir`'s
 * filesystem: runs a test container that writes through an id-mapped bind and reads its own uid
 * map, then checks on the host that the file is owned by root and that container root was a
 * different host uid.
 * @returns null when it works, else why not (for the operator).
 */
export function probeUserNamespaces(bin: string, dir: string): string | null {
  let probe: string;
  try {
    probe = mkdtempSync(join(dir, 'userns-'));
  } catch (err) {
    return `cannot make a probe dir in ${dir}: ${(err as Error).message}`;
  }
  try {
    const r = Bun.spawnSync(
      [bin, '--quiet', '--register=no', '--keep-unit', '--directory=/', '--volatile=yes', '--as-pid2', '--console=pipe', ...USERNS_ARGS, `--bind=${probe}:/probe:idmap`, '--', '/bin/sh', '-c', 'cat /proc/self/uid_map > /probe/map'],
      { stdout: 'ignore', stderr: 'pipe', stdin: 'ignore', timeout: 15_000 },
    );
    if (r.exitCode !== 0) return `a test container with --private-users and an id-mapped bind failed (exit ${r.exitCode ?? 'timeout'}): ${r.stderr.toString().trim().split('\n').slice(-1)[0] ?? ''}`;
    const map = join(probe, 'map');
    const [inside, outside] = readFileSync(map, 'utf8').trim().split(/\s+/).map(Number);
    if (inside !== 0 || !outside) return `the test container's root was host uid ${outside ?? '?'}, not a private range`;
    if (statSync(map).uid !== process.getuid?.()) return `a file the test container wrote is owned by uid ${statSync(map).uid} on the host, not by the core's`;
    return null;
  } catch (err) {
    return `the user-namespace probe failed: ${(err as Error).message}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Options of {@link NspawnRuntime}: those of every sandbox runtime, and whether to map users. */
export interface NspawnOptions extends SandboxRuntimeOptions {
  /** Run containers in a private user namespace (see {@link probeUserNamespaces}). */
  userns: boolean;
}

/** Agents in systemd-nspawn containers. */
export class NspawnRuntime implements Runtime {
  readonly name = 'nspawn';
  readonly sandboxed = true;
  readonly privileged: boolean;
  readonly networkIsolated = true;
  readonly rootFromImage = true;

  constructor(private readonly opts: NspawnOptions) {
    this.privileged = !opts.userns;
  }

  async start(spec: SandboxSpec): Promise<RunningSandbox> {
    const layout = sandboxLayout(spec, { ...this.opts, runDir: this.opts.sandboxDir(spec.name) });
    const argv = [this.opts.bin, ...nspawnArgs(spec.name, layout, this.opts.userns), '--', ...layout.command];
    return spawnLogged(argv, { cwd: '/', env: { PATH: layout.env.PATH ?? '/usr/bin:/bin' }, logPath: spec.paths.log });
  }
}
