/**
 * @module runtime/sandbox
 * What every sandboxed runtime (bwrap, nspawn) shows an agent, computed once so the two render the
 * same layout: a throwaway root with the host's `/usr` read-only, a minimal `/etc`, and bind mounts
 * of exactly the agent's own directories. Nothing else of the host is visible: not the core's data
 * dir, not another agent's state, not the host's `/root` or `/home`.
 *
 * | inside              | from the host                         | mode |
 * |---------------------|---------------------------------------|------|
 * | /usr (+ /bin, /lib…)| /usr (merged-usr symlinks recreated)  | ro   |
 * | /etc/passwd, group  | generated: root with HOME=/root       | ro   |
 * | /etc/ssl, resolv.conf, hosts, nsswitch.conf, localtime, ca-certificates | the host's | ro |
 * | /run/hive           | <data>/run/agents/<name> (its socket) | rw   |
 * | /state              | <data>/agents/<name>/state            | rw   |
 * | /root/.claude       | <data>/agents/<name>/claude           | rw   |
 * | /agents             | <data>/proposed (manager only)        | rw   |
 * | /shared, /logs (manager), the config's mounts | `SandboxSpec.binds`, from the core | as given |
 * | the hive package, the bun and claude binaries | at their host paths | ro |
 * | /tmp, /root         | fresh tmpfs                           | rw   |
 */
import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { PACKAGE_ROOT } from '../../shared/version.ts';
import type { SandboxSpec } from './runtime.ts';

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
} as const;

/** Host files under /etc an agent needs to resolve names, verify TLS and know the time. */
const HOST_ETC = ['/etc/ssl', '/etc/ca-certificates', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/localtime'];
/** Top-level names that merged-usr hosts make symlinks into /usr. */
const USR_LINKS = ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/** The complete description of a sandbox, for a runtime to render into its own flags. */
export interface SandboxLayout {
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
}

/**
 * Host paths that must be visible read-only for the agent to run: the hive package (code,
 * prompts, node_modules with claude) and the real files of the bun executable and the claude
 * binary when they live elsewhere. Paths under `/usr` are visible already.
 */
export function codePaths(claudeBin: string): string[] {
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
    if (real.startsWith('/usr/') || real.startsWith(PACKAGE_ROOT + '/')) continue;
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
  const code = codePaths(opts.claudeBin);
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

  const symlinks: SandboxLayout['symlinks'] = [];
  const mounts: Mount[] = [{ src: '/usr', dst: '/usr', rw: false }];
  for (const p of USR_LINKS) {
    if (!existsSync(p)) continue;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) symlinks.push({ path: p, target: readlinkSync(p) });
    else mounts.push({ src: p, dst: p, rw: false });
  }
  for (const f of ['passwd', 'group', 'hostname']) mounts.push({ src: join(etc, f), dst: `/etc/${f}`, rw: false });
  for (const p of HOST_ETC) if (existsSync(p)) mounts.push({ src: realpathSync(p), dst: p, rw: false });
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
  mounts.push(...(spec.binds ?? []));
  return {
    symlinks,
    mounts,
    cwd: INSIDE.state,
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
