/**
 * The nixos-container runtime's command lines and generated files, checked against what
 * `nixos-container` and `container@.service` expect (the script's usage and its argument parsing,
 * the unit's environment file; see the module comment of src/core/runtime/nixos-container.ts).
 * The files come from a sample agent.toml through the real config parser, mount resolution and
 * sandbox layout; the configuration is parsed by Nix and evaluated with a stub `lib` and `pkgs`
 * (test/nix/stub-lib.nix), the `.conf` is word-split by bash as the unit's start script splits it.
 * No NixOS here: nothing runs `nixos-container` itself (docs/nixos.md says what was not run).
 */
import { afterAll, describe as plainDescribe, expect, test as plainTest } from 'bun:test';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveMounts } from '../../src/core/configs/mounts.ts';
import { createRuntime, probeRuntime } from '../../src/core/runtime/detect.ts';
import {
  AGENT_UNIT,
  BASE_PACKAGES,
  buildSteps,
  CONTAINER_LOG,
  configurationDirectoryOf,
  containerFiles,
  createArgs,
  DEFAULT_CONFIGURATION_DIRECTORY,
  destroyArgs,
  followArgs,
  MAX_CONTAINER_NAME,
  nixString,
  startArgs,
  stopArgs,
  terminateArgs,
  toolEnv,
  updateArgs,
  type NixosSandboxSpec,
} from '../../src/core/runtime/nixos-container.ts';
import { containerName } from '../../src/core/runtime/nspawn.ts';
import { codePaths, INSIDE, sandboxLayout } from '../../src/core/runtime/sandbox.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { parseAgentConfig } from '../../src/shared/agent-config.ts';
import { MANAGER, MAX_NAME_LENGTH } from '../../src/shared/names.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { PACKAGE_ROOT, selfCommand } from '../../src/shared/version.ts';
import { tempDir } from '../support/hive.ts';
import { nixEval, nixParseError, nixPath } from '../support/nix.ts';
import { requires } from '../support/prereq.ts';

const withNix = requires('nixos-container files through nix-instantiate', 'nix-instantiate');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An env value with everything Nix, systemd or a shell would read specially. */
const TRICKY = 'say "hi" to ${USER} at 100% \\ done $HOME `id` \'q\'';

/** A data dir with a sample agent: its agent.toml, parsed, its mounts resolved, its spec and layout. */
function sample(role: 'agent' | 'manager' = 'agent') {
  const dir = tempDir('hv-nc-');
  dirs.push(dir);
  const allowed = join(dir, 'allowed');
  for (const d of ['data', 'docs']) mkdirSync(join(allowed, d), { recursive: true });
  const data = join(dir, 'data');
  const layout = new DataLayout(data);
  const name = role === 'manager' ? MANAGER : 'alice';
  const paths = layout.agent(name);
  for (const d of [paths.state, paths.claude, paths.socketDir, layout.sharedDir, layout.logsDir]) mkdirSync(d, { recursive: true });
  const toml = [
    'model = "sonnet"',
    `env = { LANG = "C.UTF-8", GREETING = ${JSON.stringify(TRICKY)}, MULTI = "line one\\nline two" }`,
    'mounts = [',
    `  { host = "${allowed}/data", at = "/data", readOnly = false },`,
    `  { host = "${allowed}/docs", at = "/docs" },`,
    ']',
  ].join('\n');
  const { config } = parseAgentConfig(toml);
  const claudeBin = join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude');
  const mounts = resolveMounts(config, { allowed: [allowed], dataDir: data, codePaths: codePaths(claudeBin), sandboxed: true });
  // the binds the lifecycle adds (core/agents/lifecycle.ts): the config's mounts, /shared, the manager's /logs
  const binds = [...mounts, { src: layout.sharedDir, dst: INSIDE.shared, rw: true }, ...(role === 'manager' ? [{ src: layout.logsDir, dst: INSIDE.logs, rw: false }] : [])];
  const spec: NixosSandboxSpec = {
    name,
    role,
    paths,
    command: [...selfCommand(), 'agent', 'serve'],
    env: { PATH: '/usr/bin:/bin', LANG: 'en_US.UTF-8', HIVE_AGENT_NAME: name, HIVE_ROLE: role, HIVE_CLAUDE_BIN: claudeBin, HIVE_CONFIG_ENV: 'LANG,GREETING,MULTI' },
    binds,
    configEnv: config.env,
    packages: ['jq', 'python3Packages.requests'],
  };
  const l = sandboxLayout(spec, { runDir: layout.sandboxDir(name), dataDir: data, claudeBin, proposedDir: layout.proposedDir });
  return { dir, data, allowed, layout, paths, spec, sandbox: l, files: containerFiles(spec, l) };
}

/** The flags of EXTRA_NSPAWN_FLAGS as container@.service's start script gets them: bash word splitting of the unit's environment file. */
function splitFlags(conf: string, dir: string): string[] {
  const file = join(dir, 'h-test.conf');
  writeFileSync(file, conf);
  const r = Bun.spawnSync(['bash', '-c', 'set -a; . "$1"; set +a; for f in ${EXTRA_NSPAWN_FLAGS-}; do printf "%s\\n" "$f"; done', '_', file], { env: {} });
  expect(r.exitCode).toBe(0);
  return r.stdout.toString().trim().split('\n');
}

/** The variables of the unit's environment file, as bash reads them. */
function confVars(conf: string, dir: string): Record<string, string> {
  const file = join(dir, 'vars.conf');
  writeFileSync(file, conf);
  const r = Bun.spawnSync(['bash', '-c', 'set -a; . "$1"; set +a; env -0', '_', file], { env: {} });
  return Object.fromEntries(
    r.stdout
      .toString()
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

plainDescribe('nixos-container: names and command lines', () => {
  plainTest('container names fit nixos-container create (11 characters, [a-zA-Z0-9_-], no underscore for declarative ones)', () => {
    expect(MAX_CONTAINER_NAME).toBe(11);
    const longest = 'a'.repeat(MAX_NAME_LENGTH);
    expect(containerName(longest).length).toBeLessThanOrEqual(MAX_CONTAINER_NAME);
    for (const n of [longest, 'alice', 'a-1', MANAGER]) {
      expect(containerName(n)).toMatch(/^[a-zA-Z0-9-]+$/);
      expect(containerName(n).length).toBeLessThanOrEqual(MAX_CONTAINER_NAME);
    }
  });

  plainTest('each action is `nixos-container ACTION NAME [options]`, as its usage gives them', () => {
    expect(createArgs('h-alice', '/d/run/sandboxes/alice/container.nix')).toEqual(['create', 'h-alice', '--config-file', '/d/run/sandboxes/alice/container.nix']);
    expect(updateArgs('h-alice', '/d/c.nix')).toEqual(['update', 'h-alice', '--config-file', '/d/c.nix']);
    expect(startArgs('h-alice')).toEqual(['start', 'h-alice']);
    expect(stopArgs('h-alice')).toEqual(['stop', 'h-alice']);
    expect(terminateArgs('h-alice')).toEqual(['terminate', 'h-alice']);
    expect(destroyArgs('h-alice')).toEqual(['destroy', 'h-alice']);
  });

  plainTest('before a start: create the first time; else stop, and update only when the configuration changed', () => {
    const file = '/d/run/sandboxes/alice/container.nix';
    expect(buildSteps('h-alice', file, { exists: false, changed: true })).toEqual([['create', 'h-alice', '--config-file', file]]);
    expect(buildSteps('h-alice', file, { exists: true, changed: false })).toEqual([['stop', 'h-alice']]);
    expect(buildSteps('h-alice', file, { exists: true, changed: true })).toEqual([
      ['stop', 'h-alice'],
      ['update', 'h-alice', '--config-file', file],
    ]);
  });

  plainTest('the follower is `run NAME -- command`: the -- keeps its options from the script\'s option parser', () => {
    const args = followArgs('h-alice');
    expect(args.slice(0, 3)).toEqual(['run', 'h-alice', '--']);
    expect(args[3]).toBe('journalctl');
    expect(args).toContain(`--unit=${AGENT_UNIT}`);
    expect(args).toContain('--follow');
    // every option comes after the --, so Getopt::Long (gnu_getopt) leaves them to the command
    expect(args.findIndex((a) => a.startsWith('-') && a !== '--')).toBeGreaterThan(args.indexOf('--'));
  });

  plainTest("the configuration directory is read from the script's own setting", () => {
    expect(configurationDirectoryOf('use strict;\nmy $configurationDirectory = "/etc/nixos-containers";\nmy $stateDirectory = "/var/lib/nixos-containers";\n')).toBe('/etc/nixos-containers');
    expect(configurationDirectoryOf('my $configurationDirectory = "/etc/containers";\n')).toBe('/etc/containers');
    expect(configurationDirectoryOf('#!/bin/sh\nexec real-nixos-container "$@"\n')).toBe(DEFAULT_CONFIGURATION_DIRECTORY);
  });

  plainTest('the tools get the nix variables of the core, nothing else', () => {
    expect(toolEnv({ PATH: '/run/current-system/sw/bin', NIX_PATH: 'nixpkgs=/nix/store/x', NIX_REMOTE: 'daemon', ANTHROPIC_API_KEY: 'sk-ant-secret', HIVE_OPERATOR_TOKEN: 't' })).toEqual({
      PATH: '/run/current-system/sw/bin',
      NIX_PATH: 'nixpkgs=/nix/store/x',
      NIX_REMOTE: 'daemon',
    });
  });
});

plainDescribe('nixos-container: the files of a sample agent', () => {
  plainTest('the .conf: loopback-only network, private users, no autostart, the binds of every sandbox', () => {
    const s = sample();
    const vars = confVars(s.files.conf, s.dir);
    expect(vars.PRIVATE_NETWORK).toBe('1');
    expect(vars.PRIVATE_USERS).toBe('pick');
    expect(vars.AUTO_START).toBe('0');
    // no veth: without these container@.service passes only --private-network
    for (const k of ['HOST_ADDRESS', 'LOCAL_ADDRESS', 'HOST_ADDRESS6', 'LOCAL_ADDRESS6', 'HOST_BRIDGE', 'HOST_PORT', 'LOCAL_MAC_ADDRESS']) expect(vars[k]).toBeUndefined();
    const flags = splitFlags(s.files.conf, s.dir);
    const rw = (src: string, dst: string) => `--bind=${src}:${dst}:idmap`;
    expect(flags).toEqual(
      expect.arrayContaining([
        '--tmpfs=/root:mode=0700',
        rw(s.paths.socketDir, '/run/hive'),
        rw(s.paths.state, '/state'),
        rw(s.paths.claude, '/root/.claude'),
        rw(s.layout.sharedDir, '/shared'),
        rw(join(s.allowed, 'data'), '/data'),
        `--bind-ro=${join(s.allowed, 'docs')}:/docs`,
        `--bind-ro=${PACKAGE_ROOT}:${PACKAGE_ROOT}`,
        rw(s.paths.log, CONTAINER_LOG),
      ]),
    );
    // the host's system stays out: the container has its own
    expect(flags.filter((f) => /[=:](\/usr|\/etc\/|\/bin:|\/lib)/.test(f))).toEqual([]);
    expect(flags.some((f) => f.includes(':/agents') || f.includes(':/logs'))).toBe(false);
    // parents before children: /root's tmpfs before /root/.claude
    expect(flags.indexOf('--tmpfs=/root:mode=0700')).toBeLessThan(flags.indexOf(rw(s.paths.claude, '/root/.claude')));
  });

  plainTest("the manager's .conf adds /agents read-write and /logs read-only", () => {
    const s = sample('manager');
    const flags = splitFlags(s.files.conf, s.dir);
    expect(flags).toContain(`--bind=${s.layout.proposedDir}:/agents:idmap`);
    expect(flags).toContain(`--bind-ro=${s.layout.logsDir}:/logs`);
  });

  plainTest('a path the environment file cannot carry, or a package that is no attribute name, is refused', () => {
    const s = sample();
    const spaced = join(s.allowed, 'with space');
    mkdirSync(spaced);
    const spec = { ...s.spec, binds: [...(s.spec.binds ?? []), { src: spaced, dst: '/spaced', rw: false }] };
    expect(() => containerFiles(spec, { ...s.sandbox, mounts: [...s.sandbox.mounts, { src: spaced, dst: '/spaced', rw: false }] })).toThrow(/cannot bind ".*with space"/);
    expect(() => containerFiles({ ...s.spec, packages: ['jq; rm -rf /'] }, s.sandbox)).toThrow(/not a nixpkgs attribute name/);
    expect(() => containerFiles({ ...s.spec, packages: ['"quoted"'] }, s.sandbox)).toThrow(/not a nixpkgs attribute name/);
  });
});

withNix.describe('nixos-container: the configuration, through nix-instantiate', () => {
  withNix.test('nixString gives a Nix string of exactly its text', () => {
    const texts = [TRICKY, 'a${b}c', '$${x}', '\\${x}', 'tab\there\nnew line\r', 'unicode: ✓ ü', '', '"', '\\'];
    const got = nixEval<string[]>(`[ ${texts.map(nixString).join(' ')} ]`);
    expect(got).toEqual(texts);
    expect(() => nixString('nul\0')).toThrow(/NUL/);
  });

  withNix.test('it parses, and evaluates to the harness service with its environment, packages and power-off', () => {
    const s = sample();
    const file = join(s.dir, 'container.nix');
    writeFileSync(file, s.files.config);
    expect(nixParseError(file)).toBeNull();
    const c = nixEval<any>(`
      let
        lib = import ${nixPath('test/nix/stub-lib.nix')};
        pkgs = { git = "pkg:git"; ripgrep = "pkg:ripgrep"; jq = "pkg:jq"; python3Packages.requests = "pkg:requests"; };
        # the command line as a list: nixpkgs' utils.escapeSystemdExecArgs quotes it for ExecStart
        utils = { escapeSystemdExecArgs = args: args; };
        c = import ${nixPath(file)} { config = { }; inherit lib pkgs utils; };
      in { inherit (c) networking programs documentation environment; svc = c.systemd.services.hyperhive-agent; }`);
    expect(c.networking).toEqual({ hostName: 'alice', firewall: { enable: false } });
    expect(c.programs['nix-ld'].enable).toBe(true);
    expect(c.environment.systemPackages).toEqual(['pkg:git', 'pkg:ripgrep', 'pkg:jq', 'pkg:requests']);
    expect(BASE_PACKAGES).toEqual(['git', 'ripgrep']);
    const svc = c.svc;
    expect(svc.wantedBy).toEqual(['multi-user.target']);
    expect(svc.path).toEqual(['/run/wrappers', '/run/current-system/sw']);
    expect(svc.serviceConfig).toEqual({
      ExecStart: s.spec.command,
      WorkingDirectory: '/state',
      StandardOutput: `append:${CONTAINER_LOG}`,
      StandardError: 'inherit',
      Restart: 'no',
    });
    expect(svc.unitConfig).toEqual({ SuccessAction: 'poweroff', FailureAction: 'poweroff' });
    // every variable of the sandbox and of the config, with % doubled for systemd; no PATH, no pipe to the core
    const env = svc.environment as Record<string, string>;
    expect(env).toMatchObject({
      HIVE_SOCKET: '/run/hive/mcp.sock',
      HIVE_STATE_DIR: '/state',
      CLAUDE_CONFIG_DIR: '/root/.claude',
      HOME: '/root',
      HIVE_AGENT_NAME: 'alice',
      HIVE_CONFIG_ENV: 'LANG,GREETING,MULTI',
      LANG: 'C.UTF-8',
      GREETING: TRICKY.replaceAll('%', '%%'),
      MULTI: 'line one\nline two',
    });
    expect(env.PATH).toBeUndefined();
    expect(env.HIVE_EXIT_WITH_CORE).toBeUndefined();
  });
});

plainDescribe('nixos-container: detection on this host', () => {
  plainTest('without nixos-container on PATH the runtime is not offered, and naming it says why', () => {
    const probe = probeRuntime('nixos-container', { PATH: '/nonexistent' });
    expect(probe).toMatchObject({ name: 'nixos-container', available: false, bin: null });
    expect(probe.reason).toContain('nixos-container not found');
    const dir = tempDir('hv-ncd-');
    dirs.push(dir);
    const config = loadCoreConfig({ 'data-dir': join(dir, 'd'), runtime: 'nixos-container' }, { PATH: process.env.PATH });
    expect(config.runtime).toBe('nixos-container');
    if (!Bun.which('nixos-container')) expect(() => createRuntime('nixos-container', { dataDir: config.dataDir, claudeBin: 'claude' })).toThrow(/runtime nixos-container does not work here: nixos-container not found/);
  });
});
