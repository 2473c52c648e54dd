/**
 * @module runtime/sandbox
 * What every sandboxed runtime (bwrap, nspawn) shows an agent, computed once so the two render the
 * same layout: a throwaway root with the agent's image (`core/images/`) read-only, a generated
 * `/etc/passwd`, and bind mounts of exactly the agent's own directories. Nothing else of the host
 * is visible: not its `/usr`, not the core's data dir, not another agent's state, not the host's
 * `/root` or `/home`. A core started with `--host-root` shows the host's `/usr` and a few of its
 * `/etc` files instead of an image.
 *
 * | inside              | from the host                         | mode |
 * |---------------------|---------------------------------------|------|
 * | /usr (+ /bin, /lib…)| the image's /usr (merged-usr symlinks recreated); with --host-root the host's | ro |
 * | /etc                | the image's /etc (`<key>/etc`, beside its tree); with --host-root only ssl, ca-certificates, resolv.conf, hosts, nsswitch.conf, localtime of the host's | ro |
 * | /etc/passwd, group, hostname | generated: root with HOME=/root | ro   |
 * | /run/hive           | <data>/run/agents/<name> (its socket) | rw   |
 * | /state              | <data>/agents/<name>/state            | rw   |
 * | /root/.claude       | <data>/agents/<name>/claude           | rw   |
 * | /agents             | <data>/proposed (manager only)        | rw   |
 * | /shared, /logs (manager), the config's mounts | `SandboxSpec.binds`, from the core | as given |
 * | the hive package, the bun and claude binaries | at their host paths | ro |
 * | /tmp, /root         | fresh tmpfs                           | rw   |
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { DataLayout } from '../../shared/paths.ts';
import { PACKAGE_ROOT } from '../../shared/version.ts';
import type { SandboxSpec } from './runtime.ts';
import { imageEtc } from '../images/images.ts';

/** One bind mount: host `src` at `dst` inside. */
export interface Mount {
  src: string;
  dst: string;
  rw: boolean;
}

/** Where the agent's own directories appear inside every sandbox. */
export const INSIDE = {
  socketDir: '/run/hive',
  socket: '/run/hive/mcp.sock',
  state: '/state',
  home: '/root',
  claude: '/root/.claude',
  agents: '/agents',
  /** The hive-wide directory (`<data>/shared`), unless the agent's config says `shared = false`. */
  shared: '/shared',
  /** Every agent's log and last build output (`<data>/logs`), read-only, in the manager's sandbox. */
  logs: '/logs',
  /** The harness bundle the agent runs (`<data>/harness/<code id>-<build>`, see `agents/harness-bundle.ts`), read-only. */
  harness: '/run/hive-harness',
} as const;

/** Host files under /etc an agent needs to resolve names, verify TLS and know the time. */
const HOST_ETC = ['/etc/ssl', '/etc/ca-certificates', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/localtime'];
/** Top-level names that merged-usr hosts make symlinks into /usr. */
const USR_LINKS = ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/** The complete description of a sandbox, for a runtime to render into its own flags. */
export interface SandboxLayout {
  /** The tree whose `/usr` the sandbox shows: an image's root, or `/` for the host's. */
  root: string;
  /** The directory of the generated `/etc` files (`passwd`, `group`, `hostname`), bound over the image's. */
  etc: string;
  /** Top-level symlinks to recreate (`/bin -> usr/bin`). */
  symlinks: Array<{ path: string; target: string }>;
  /** Bind mounts, parents before children. */
  mounts: Mount[];
  /** Environment of the agent inside. */
  env: Record<string, string>;
  /** The config's variables: set inside only (bwrap `--setenv`), after {@link env}, so they win. */
  configEnv: Record<string, string>;
  /** Working directory inside. */
  cwd: string;
  /** The command to run inside: the spec's, with a harness bundle's path as the sandbox sees it. */
  command: string[];
}

/**
 * Host paths that must be visible read-only for the agent to run: the hive package (code,
 * prompts, node_modules with claude) and the real files of the bun executable and the claude
 * binary when they live elsewhere. With `hostUsr`, paths under the host's `/usr` are left out
 * (visible already); an image's `/usr` is not the host's, so without it they are bound in too.
 */
export function codePaths(claudeBin: string, hostUsr = true): string[] {
  const out = new Set<string>([PACKAGE_ROOT]);
  for (const p of [process.execPath, claudeBin]) {
    if (!p.includes('/')) continue;
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      // a binary that does not resolve is not bound in; the runtime's start reports it missing
      continue;
    }
    if ((hostUsr && real.startsWith('/usr/')) || real.startsWith(PACKAGE_ROOT + '/')) continue;
    out.add(real);
    // a symlinked entry point (node_modules/.bin/claude) must resolve inside too
    if (real !== p) out.add(p);
  }
  return [...out];
}

/**
 * Computes the sandbox of one agent and writes its generated `/etc` files under `runDir`.
 * @param runDir a directory the core owns for this sandbox's generated files.
 * @param proposedDir the manager's `/agents` source; ignored for other agents.
 * @throws HiveError `conflict` when the data dir lies inside the hive package (the package is
 *   mounted into every sandbox, so the data dir would be too).
 */
export function sandboxLayout(spec: SandboxSpec, opts: { runDir: string; dataDir: string; claudeBin: string; proposedDir: string }): SandboxLayout {
  const image = spec.root ?? null;
  const code = codePaths(opts.claudeBin, image === null);
  for (const c of code) {
    if (opts.dataDir === c || opts.dataDir.startsWith(c + '/'))
      throw new HiveError('conflict', `the data dir ${opts.dataDir} is inside ${c}, which every sandbox sees; use a data dir outside the hive package`);
  }
  const etc = join(opts.runDir, 'etc');
  mkdirSync(etc, { recursive: true });
  // the login shell is what the operator's terminal runs (agent/terminal.ts)
  const shell = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
  writeFileSync(join(etc, 'passwd'), `root:x:0:0:hive agent ${spec.name}:${INSIDE.home}:${shell}\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(join(etc, 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(etc, 'hostname'), `${spec.name}\n`);

  const root = image ?? '/';
  const symlinks: SandboxLayout['symlinks'] = [];
  const mounts: Mount[] = [{ src: join(root, 'usr'), dst: '/usr', rw: false }];
  for (const p of USR_LINKS) {
    const at = join(root, p);
    if (!existsSync(at)) continue;
    const st = lstatSync(at);
    if (st.isSymbolicLink()) symlinks.push({ path: p, target: readlinkSync(at) });
    else mounts.push({ src: at, dst: p, rw: false });
  }
  if (image) mounts.push({ src: imageEtc(image), dst: '/etc', rw: false });
  for (const f of ['passwd', 'group', 'hostname']) mounts.push({ src: join(etc, f), dst: `/etc/${f}`, rw: false });
  if (!image) for (const p of HOST_ETC) if (existsSync(p)) mounts.push({ src: realpathSync(p), dst: p, rw: false });
  mounts.push(
    { src: spec.paths.socketDir, dst: INSIDE.socketDir, rw: true },
    { src: spec.paths.state, dst: INSIDE.state, rw: true },
    { src: spec.paths.claude, dst: INSIDE.claude, rw: true },
  );
  if (spec.role === 'manager') {
    mkdirSync(opts.proposedDir, { recursive: true });
    mounts.push({ src: opts.proposedDir, dst: INSIDE.agents, rw: true });
  }
  for (const c of code) mounts.push({ src: c, dst: c, rw: false });
  // a harness bundle (`bun <data>/harness/<code id>-<build>/main.js …`) is shown at INSIDE.harness, so the
  // sandbox sees no path of the data dir
  const command = [...spec.command];
  const script = command[1];
  if (script && dirname(dirname(script)) === new DataLayout(opts.dataDir).harnessDir) {
    mounts.push({ src: dirname(script), dst: INSIDE.harness, rw: false });
    command[1] = join(INSIDE.harness, basename(script));
  }
  mounts.push(...(spec.binds ?? []));
  if (image) for (const m of mounts) if (m.dst !== '/usr' && m.dst !== '/etc') ensureMountPoint(image, m);
  return {
    root,
    etc,
    symlinks,
    mounts,
    cwd: INSIDE.state,
    command,
    env: {
      ...spec.env,
      HIVE_SOCKET: INSIDE.socket,
      HIVE_STATE_DIR: INSIDE.state,
      CLAUDE_CONFIG_DIR: INSIDE.claude,
      HOME: INSIDE.home,
      USER: 'root',
      HIVE_EXIT_WITH_CORE: '1',
    },
    configEnv: { ...spec.configEnv },
  };
}

/**
 * Makes the mount point of `m` in the image when it falls inside the image's read-only `/usr` or
 * `/etc` (an empty directory, or an empty file for a file), where the sandbox could not make it:
 * the hive's own binaries under `/usr/local`, say. Everything else is mounted on the sandbox's
 * throwaway root, where the runtime makes its own mount points. These empty entries are the only
 * change an image ever sees after its build, and they are the same for every agent of one host.
 */
function ensureMountPoint(image: string, m: Mount): void {
  let at: string;
  if (m.dst.startsWith('/usr/')) at = join(image, m.dst);
  else if (m.dst.startsWith('/etc/')) at = join(imageEtc(image), m.dst.slice('/etc/'.length));
  else return;
  if (existsSync(at)) return;
  const dir = statSync(m.src).isDirectory();
  mkdirSync(dir ? at : dirname(at), { recursive: true });
  if (!dir) closeSync(openSync(at, 'a'));
}
