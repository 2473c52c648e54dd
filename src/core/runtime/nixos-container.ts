/**
 * @module runtime/nixos-container
 * The `nixos-container` runtime, for NixOS hosts: each agent is an imperative NixOS container
 * named `h-<name>` (the nspawn runtime's {@link containerName}), whose configuration the hive
 * generates from the agent's sandbox spec: the harness as the container's main service, the
 * agent's packages from nixpkgs, and the places every sandbox shows (`sandbox.ts`) bound in from
 * the host.
 *
 * One start, in the commands of `nixos-container` (its `--help`; the script is nixpkgs'
 * `pkgs/by-name/ni/nixos-container/nixos-container.pl`, the unit `container@.service` comes from
 * `nixos/modules/virtualisation/nixos-containers.nix`):
 *
 * 1. writes `<data>/run/sandboxes/<name>/container.nix` ({@link containerConfig});
 * 2. `nixos-container stop h-<name>` when the container exists (one an earlier run or core left);
 * 3. `nixos-container create h-<name> --config-file FILE` the first time, `update` when the file
 *    changed since the last successful build; both build the container's system with nix, and
 *    their output goes to the agent's log;
 * 4. rewrites `/etc/nixos-containers/h-<name>.conf` ({@link containerConf}), the environment file
 *    of `container@h-<name>.service`: a private network with loopback only (`create` gives the
 *    container a veth pair with addresses on 10.233.x.x and a route to the host; the rewrite drops
 *    them), a private user range, no start at boot, and the bind mounts as `EXTRA_NSPAWN_FLAGS`;
 * 5. `nixos-container start h-<name>`, which returns once the container's systemd is up;
 * 6. follows the harness unit's journal inside the container ({@link followArgs}): that process
 *    ends when the container does, which is how the core learns that the agent exited.
 *
 * The harness appends its output to the agent's log, bound in at {@link CONTAINER_LOG}. When it
 * exits, for whatever reason, the container powers off (`SuccessAction=`/`FailureAction=poweroff`,
 * which `container@.service` counts as a clean stop and does not restart), so the container lives
 * exactly as long as the harness and the supervisor's crash restarts stay the only ones. A stop
 * runs `nixos-container stop` (a clean shutdown: the harness gets SIGTERM), then `terminate`
 * after the grace period.
 *
 * Containers are units of the host's systemd, not children of the core: one outlives a core that
 * dies, until the agent's next start stops it. The harness has no pipe from the core to watch, so
 * `HIVE_EXIT_WITH_CORE` is not set.
 */
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { spawnLogged } from './child.ts';
import type { SandboxRuntimeOptions } from './bwrap.ts';
import { containerName } from './nspawn.ts';
import { describeExit, type ExitInfo, type RunningSandbox, type Runtime, type SandboxSpec } from './runtime.ts';
import { INSIDE, sandboxLayout, type Mount, type SandboxLayout } from './sandbox.ts';

/**
 * Longest container name `nixos-container create` accepts: 11 characters, because the host side
 * of the container's veth pair is named `ve-<name>` and Linux interface names stop at 15. Agent
 * names (9 characters at most, see `names.ts`) with the `h-` prefix fit exactly.
 */
export const MAX_CONTAINER_NAME = 11;

/** Where `nixos-container` keeps each container's `.conf` on NixOS 22.05 and later. */
export const DEFAULT_CONFIGURATION_DIRECTORY = '/etc/nixos-containers';

/** The unit inside the container that runs the harness. */
export const AGENT_UNIT = 'hyperhive-agent.service';

/** Where the agent's log (`<data>/logs/<name>.log`) is bound inside the container; the harness appends to it. */
export const CONTAINER_LOG = '/run/hyperhive-agent.log';

/** The generated configuration, in the agent's sandbox dir. */
export const CONFIG_FILE = 'container.nix';

/** The hash of the configuration the container was last built from, beside it. */
const BUILT_FILE = 'container.built';

/**
 * nixpkgs attribute names every container gets besides the agent's own packages. NixOS's required
 * packages already give a shell, coreutils, curl, procps, grep, sed and less.
 */
export const BASE_PACKAGES: readonly string[] = ['git', 'ripgrep'];

/** A nixpkgs attribute path: identifiers joined by dots (`python3`, `python3Packages.requests`). */
const ATTR_PATH = /^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$/;

/**
 * What a bind path may hold: `EXTRA_NSPAWN_FLAGS` is split on whitespace (and globbed) by the
 * unit's start script, and systemd-nspawn's `--bind=SRC:DST` separates with `:`.
 */
const BIND_PATH = /^\/[A-Za-z0-9._+/@,=~-]*$/;

/** What the config file's path may hold: `nixos-container` writes it into a Nix path literal. */
const NIX_PATH_LITERAL = /^\/[A-Za-z0-9._+/-]*$/;

/**
 * A sandbox spec as this runtime reads it: `packages` (the config's) are nixpkgs attribute names,
 * e.g. `["ripgrep", "python3Packages.requests"]`, and `root` is ignored (the container is built
 * from its configuration, not from an image).
 */
export type NixosSandboxSpec = SandboxSpec;

/**
 * A Nix double-quoted string literal whose value is exactly `s` (escapes per the Nix manual,
 * "String literals": `\\`, `\"`, `\${`, `\n`, `\r`, `\t`).
 * @throws HiveError `bad_config` when `s` holds a NUL, which no Nix string can.
 * @example nixString('a "b" ${c}') // "a \"b\" \${c}" (as Nix source)
 */
export function nixString(s: string): string {
  if (s.includes('\0')) throw new HiveError('bad_config', `a value for the container's configuration holds a NUL character: ${JSON.stringify(s.slice(0, 80))}`);
  const body = s
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('${', '\\${')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t');
  return `"${body}"`;
}

/** What {@link containerConfig} renders. */
export interface ContainerConfigInput {
  /** The agent's name: the container's host name and the unit's description. */
  name: string;
  /** The harness command, with absolute paths (`[bun, …/src/main.ts, agent, serve]`). */
  command: readonly string[];
  /** The harness's environment, without `PATH` (the unit's `path` gives the container's own). */
  env: Readonly<Record<string, string>>;
  /** The harness's working directory inside. */
  cwd: string;
  /** nixpkgs attribute names to install in the container. */
  packages: readonly string[];
}

/**
 * The harness's environment inside a container, from the sandbox layout: the variables of every
 * sandbox and the config's own, less `PATH` (the container has its own system path) and
 * `HIVE_EXIT_WITH_CORE` (no pipe from the core reaches the harness).
 */
export function containerEnv(layout: SandboxLayout): Record<string, string> {
  const env: Record<string, string> = { ...layout.env, ...layout.configEnv };
  delete env.PATH;
  delete env.HIVE_EXIT_WITH_CORE;
  return env;
}

/**
 * The NixOS configuration of one agent's container (a NixOS module), for `nixos-container create`
 * or `update --config-file`: its packages, the harness as the unit {@link AGENT_UNIT} with its
 * environment and output, and a power-off when the harness ends.
 *
 * Environment values pass through systemd's `Environment=` (which NixOS writes from
 * `systemd.services.*.environment`), where `%` starts a specifier, so each `%` is doubled here.
 * The values end up in the Nix store, readable by every user of the host, like everything in a
 * NixOS configuration: the config's `env` is not for secrets (`sandbox-options.ts`).
 * @throws HiveError `bad_config` naming a package that is not a nixpkgs attribute path.
 */
export function containerConfig(input: ContainerConfigInput): string {
  for (const p of input.packages)
    if (!ATTR_PATH.test(p)) throw new HiveError('bad_config', `packages: "${p}" is not a nixpkgs attribute name (like ripgrep or python3Packages.requests)`);
  const list = (items: readonly string[]) => items.map(nixString).join(' ');
  const env = Object.entries(input.env)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `      ${nixString(k)} = ${nixString(v.replaceAll('%', '%%'))};`)
    .join('\n');
  return `# The NixOS configuration of hyperhive agent ${input.name}'s container, made by the hive's
# nixos-container runtime (src/core/runtime/nixos-container.ts) at each start of the agent;
# \`nixos-container create/update --config-file\` imports it. Edits here are overwritten.
{ lib, pkgs, utils, ... }:
let
  # nixpkgs attribute names: the hive's base set, then the agent's own
  packages = [ ${list(input.packages)} ];
in
{
  system.stateVersion = lib.trivial.release;
  networking.hostName = ${nixString(input.name)};
  # the container's network is loopback alone
  networking.firewall.enable = false;
  documentation.enable = false;
  # the hive's pinned claude is the upstream binary, run through nix-ld (nix/package.nix)
  programs.nix-ld.enable = true;
  environment.systemPackages = map (attr: lib.getAttrFromPath (lib.splitString "." attr) pkgs) packages;

  systemd.services.hyperhive-agent = {
    description = ${nixString(`hyperhive agent ${input.name}`)};
    wantedBy = [ "multi-user.target" ];
    path = [ "/run/wrappers" "/run/current-system/sw" ];
    environment = {
${env}
    };
    serviceConfig = {
      ExecStart = utils.escapeSystemdExecArgs [ ${list(input.command)} ];
      WorkingDirectory = ${nixString(input.cwd)};
      StandardOutput = ${nixString(`append:${CONTAINER_LOG}`)};
      StandardError = "inherit";
      Restart = "no";
    };
    # the container lives as long as the harness: when it ends, the container shuts down
    unitConfig.SuccessAction = "poweroff";
    unitConfig.FailureAction = "poweroff";
  };
}
`;
}

/**
 * The binds of a container, from the sandbox layout: the agent's own places, the hive's code and
 * the spec's binds. The host's `/usr`, its top-level links into it and its `/etc` files stay out
 * (a NixOS container has its own system), and so do read-only paths in `/nix/store`, which
 * `container@.service` binds whole.
 */
export function containerMounts(layout: SandboxLayout): Mount[] {
  const hostSystem = /^\/(usr|bin|sbin|lib|lib32|lib64|libx32)$/;
  return layout.mounts.filter((m) => {
    if (hostSystem.test(m.dst) && m.src === m.dst) return false;
    if (m.dst.startsWith('/etc/')) return false;
    return m.rw || !m.src.startsWith('/nix/store/');
  });
}

/** What {@link containerConf} renders. */
export interface ContainerConfInput {
  /** The agent's name (for the comment). */
  name: string;
  /** Bind mounts, parents before children. */
  mounts: readonly Mount[];
  /** The agent's log on the host, bound at {@link CONTAINER_LOG}. */
  logFile: string;
}

/**
 * The systemd-nspawn flags for the container's binds: writable ones id-mapped (`:idmap`) as under
 * the nspawn runtime, so what the agent writes is owned by host root while it runs as a host uid
 * of its private range; then the log; `/root` a fresh tmpfs per start as in every sandbox.
 * @throws HiveError `bad_config` naming a path that the environment file cannot carry.
 */
export function nspawnBindFlags(mounts: readonly Mount[], logFile: string): string[] {
  const flags: string[] = [`--tmpfs=${INSIDE.home}:mode=0700`];
  for (const m of [...mounts, { src: logFile, dst: CONTAINER_LOG, rw: true }]) {
    for (const p of [m.src, m.dst])
      if (!BIND_PATH.test(p))
        throw new HiveError(
          'bad_config',
          `the nixos-container runtime cannot bind "${p}": its binds pass through a systemd environment file, so a path may hold only letters, digits and . _ + / @ , = ~ - (no spaces, quotes or colons)`,
        );
    flags.push(m.rw ? `--bind=${m.src}:${m.dst}:idmap` : `--bind-ro=${m.src}:${m.dst}`);
  }
  return flags;
}

/**
 * The text of `/etc/nixos-containers/h-<name>.conf`, the environment file `container@.service`
 * reads (`nixos-containers.nix`: `EnvironmentFile=-/etc/nixos-containers/%i.conf`):
 * `PRIVATE_NETWORK=1` with no addresses makes `systemd-nspawn --private-network` without a veth,
 * so the container has `lo` alone; `PRIVATE_USERS=pick` gives it a private uid range (its root is
 * not host root); `AUTO_START=0` leaves it down at boot; `EXTRA_NSPAWN_FLAGS` carries the binds.
 * @throws HiveError `bad_config` as {@link nspawnBindFlags}.
 */
export function containerConf(input: ContainerConfInput): string {
  const flags = nspawnBindFlags(input.mounts, input.logFile);
  return [
    `# hyperhive agent ${input.name}: made by \`nixos-container create\`, rewritten by the hive at each`,
    '# start of the agent (src/core/runtime/nixos-container.ts). Edits here are overwritten.',
    'PRIVATE_NETWORK=1',
    'PRIVATE_USERS=pick',
    'AUTO_START=0',
    'INTERFACES=""',
    'MACVLANS=""',
    `EXTRA_NSPAWN_FLAGS="${flags.join(' ')}"`,
    '',
  ].join('\n');
}

/**
 * The two files of one agent's container, from its spec and sandbox layout: the configuration
 * ({@link containerConfig}: the harness with the layout's environment and working directory, the
 * base packages and the spec's) and the `.conf` ({@link containerConf}: the layout's binds, the log).
 * @throws HiveError `bad_config` as those two.
 */
export function containerFiles(spec: NixosSandboxSpec, layout: SandboxLayout): { config: string; conf: string } {
  return {
    config: containerConfig({ name: spec.name, command: layout.command, env: containerEnv(layout), cwd: layout.cwd, packages: [...BASE_PACKAGES, ...(spec.packages ?? [])] }),
    conf: containerConf({ name: spec.name, mounts: containerMounts(layout), logFile: spec.paths.log }),
  };
}

/** `nixos-container create NAME --config-file FILE`: registers the container and builds its system. */
export function createArgs(container: string, configFile: string): string[] {
  return ['create', container, '--config-file', configFile];
}

/** `nixos-container update NAME --config-file FILE`: rebuilds its system from the file. */
export function updateArgs(container: string, configFile: string): string[] {
  return ['update', container, '--config-file', configFile];
}

/** `nixos-container start NAME`: `systemctl start container@NAME`, which returns once it is up. */
export function startArgs(container: string): string[] {
  return ['start', container];
}

/** `nixos-container stop NAME`: `systemctl stop container@NAME`, a clean shutdown. */
export function stopArgs(container: string): string[] {
  return ['stop', container];
}

/** `nixos-container terminate NAME`: `machinectl terminate`, for a container that does not stop. */
export function terminateArgs(container: string): string[] {
  return ['terminate', container];
}

/** `nixos-container destroy NAME`: stops it and removes its root, profile and `.conf`. */
export function destroyArgs(container: string): string[] {
  return ['destroy', container];
}

/**
 * The `nixos-container` commands that come before a start, in order: a container that exists is
 * stopped (an earlier run or core may have left it up, and `update` would otherwise switch it
 * live), then rebuilt when its configuration changed; one that does not exist is created.
 * @param found `exists`: its `.conf` is there; `changed`: its configuration differs from the one
 *   it was last built from (or that is not known).
 */
export function buildSteps(container: string, configFile: string, found: { exists: boolean; changed: boolean }): string[][] {
  if (!found.exists) return [createArgs(container, configFile)];
  return [stopArgs(container), ...(found.changed ? [updateArgs(container, configFile)] : [])];
}

/**
 * `nixos-container run NAME -- journalctl …`: systemd's lines about the harness unit since the
 * container booted, then as they come. It runs inside the container's pid namespace, so it ends
 * when the container does (and fails at once when the container is already gone).
 */
export function followArgs(container: string): string[] {
  return ['run', container, '--', 'journalctl', '--follow', '--boot', '--lines=all', '--output=short-iso', `--unit=${AGENT_UNIT}`];
}

/**
 * The configuration directory a `nixos-container` script was built with (its line
 * `my $configurationDirectory = "…";`), or {@link DEFAULT_CONFIGURATION_DIRECTORY} when the text
 * has none (NixOS before 22.05 used `/etc/containers`).
 */
export function configurationDirectoryOf(script: string): string {
  return /^my \$configurationDirectory = "([^"\n]+)";$/m.exec(script)?.[1] ?? DEFAULT_CONFIGURATION_DIRECTORY;
}

/** The configuration directory of the `nixos-container` at `bin`; the default when it cannot be read. */
export function readConfigurationDirectory(bin: string): string {
  try {
    return configurationDirectoryOf(readFileSync(bin, 'utf8'));
  } catch {
    // not readable as text (a wrapper binary, say): NixOS's default since 22.05
    return DEFAULT_CONFIGURATION_DIRECTORY;
  }
}

/** The core's variables the `nixos-container` commands need (nix finds nixpkgs by `NIX_PATH`). */
const TOOL_ENV = ['PATH', 'NIX_PATH', 'NIX_REMOTE', 'NIX_SSL_CERT_FILE', 'LOCALE_ARCHIVE', 'HOME', 'XDG_CACHE_HOME', 'LANG', 'TZ'];

/** The environment of the `nixos-container` commands: {@link TOOL_ENV} from `env`, when set. */
export function toolEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of TOOL_ENV) if (env[k]) out[k] = env[k]!;
  return out;
}

/** Options of {@link NixosContainerRuntime}. */
export interface NixosContainerOptions extends SandboxRuntimeOptions {
  /** Where `nixos-container` keeps the containers' `.conf` files ({@link readConfigurationDirectory}). */
  configurationDirectory: string;
  /** Environment of the `nixos-container` commands ({@link toolEnv}). */
  env: Record<string, string>;
}

/** The last line of `file` that has text, for an error message. */
function lastLine(file: string): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-4096).trim().split('\n').at(-1) ?? '';
  } catch {
    return ''; // the message still names the command and the log
  }
}

/** Agents in NixOS containers. */
export class NixosContainerRuntime implements Runtime {
  readonly name = 'nixos-container';
  readonly sandboxed = true;
  readonly privileged = false;
  readonly networkIsolated = true;
  readonly rootFromImage = false;

  constructor(private readonly opts: NixosContainerOptions) {}

  /**
   * Builds (when its configuration changed) and starts the agent's container.
   * @throws HiveError `bad_config` when a bind path or a package name cannot be used;
   *   `unavailable` when a `nixos-container` command fails (the message has its last line; the
   *   agent's log has its whole output).
   */
  async start(spec: NixosSandboxSpec): Promise<RunningSandbox> {
    const dir = this.opts.sandboxDir(spec.name);
    const layout = sandboxLayout({ ...spec, root: null }, { ...this.opts, runDir: dir });
    const container = containerName(spec.name);
    const log = spec.paths.log;
    const configFile = join(dir, CONFIG_FILE);
    if (!NIX_PATH_LITERAL.test(configFile))
      throw new HiveError('bad_config', `the nixos-container runtime needs a data dir whose path holds only letters, digits and . _ + / - (it becomes a Nix path): ${configFile}`);
    const { config, conf } = containerFiles(spec, layout);
    writeFileSync(configFile, config);
    closeSync(openSync(log, 'a')); // the bind needs the file
    const confPath = join(this.opts.configurationDirectory, `${container}.conf`);
    const builtPath = join(dir, BUILT_FILE);
    const hash = new Bun.CryptoHasher('sha256').update(config).digest('hex');
    const exists = existsSync(confPath);
    const changed = !existsSync(builtPath) || readFileSync(builtPath, 'utf8') !== hash;
    for (const args of buildSteps(container, configFile, { exists, changed })) await this.tool(args, log);
    writeFileSync(builtPath, hash);
    try {
      writeFileSync(`${confPath}.tmp`, conf);
      renameSync(`${confPath}.tmp`, confPath);
    } catch (err) {
      throw new HiveError('unavailable', `cannot write ${confPath} (a declarative container of that name, or a read-only /etc?): ${(err as Error).message}`);
    }
    await this.tool(startArgs(container), log);
    const follower = spawnLogged([this.opts.bin, ...followArgs(container)], { cwd: '/', env: this.opts.env, logPath: log });
    let stopping: Promise<ExitInfo> | null = null;
    return {
      pid: follower.pid,
      exited: follower.exited,
      stop: (graceMs = 10_000) => {
        stopping ??= (async () => {
          await this.tool(stopArgs(container), log, graceMs).catch(async () => {
            // stop failed or took longer than the grace period (its output is in the log)
            await this.tool(terminateArgs(container), log, 10_000).catch((err) => appendFileSync(log, `hive: ${(err as Error).message}\n`));
          });
          // the follower ends with the container; one still there after that is ended here
          const timer = setTimeout(() => void follower.stop(1000), 5000);
          try {
            return await follower.exited;
          } finally {
            clearTimeout(timer);
          }
        })();
        return stopping;
      },
    };
  }

  /**
   * Removes the agent's container (`nixos-container destroy`): its root, its system profile and its
   * `.conf`. Its state, which lives in the data dir, is untouched.
   * @throws HiveError `unavailable` when the command fails.
   */
  async destroy(name: string, logPath: string): Promise<void> {
    await this.tool(destroyArgs(containerName(name)), logPath);
  }

  /**
   * Runs `nixos-container ARGS` with its output appended to `logPath`, ended after `timeoutMs`.
   * @throws HiveError `unavailable` when it does not exit 0.
   */
  private async tool(args: string[], logPath: string, timeoutMs?: number): Promise<void> {
    const fd = openSync(logPath, 'a');
    let child;
    try {
      writeSync(fd, `hive: nixos-container ${args.join(' ')}\n`);
      child = Bun.spawn([this.opts.bin, ...args], { cwd: '/', env: this.opts.env, stdin: 'ignore', stdout: fd, stderr: fd, ...(timeoutMs ? { timeout: timeoutMs } : {}) });
    } finally {
      closeSync(fd);
    }
    await child.exited;
    if (child.exitCode === 0) return;
    const how = describeExit({ code: child.signalCode ? null : child.exitCode, signal: child.signalCode == null ? null : String(child.signalCode) });
    throw new HiveError('unavailable', `nixos-container ${args.slice(0, 2).join(' ')} failed (${how}): ${lastLine(logPath)} (the whole output is in ${logPath})`);
  }
}
