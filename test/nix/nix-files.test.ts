/**
 * The Nix files, checked where nixpkgs cannot be reached: every `.nix` file parses; the pins
 * belong to this bun.lock and this Bun; the NixOS module's options are the core's flags with the
 * core's defaults (read through a stub `lib`, test/nix/stub-lib.nix); and the command line the
 * module gives the core (nix/args.nix, evaluated by Nix) is one the real `hive core serve` starts
 * with. Building the package and evaluating the module in NixOS need nixpkgs: see docs/nixos.md.
 */
import { expect } from 'bun:test';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCoreConfig, parseListen, RUNTIMES } from '../../src/core/settings.ts';
import { MAX_RETENTION_DAYS } from '../../src/shared/wire.ts';
import { ENTRY, PACKAGE_ROOT } from '../../src/shared/version.ts';
import { hive, tempDir, waitFor } from '../support/hive.ts';
import { nixEval, nixParseError, nixPath } from '../support/nix.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, afterAll } = requires('nix files', 'nix-instantiate', 'git');

/** Every `.nix` file of the repository (not under node_modules or dot-directories). */
function nixFiles(dir = PACKAGE_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.') || e.name === 'node_modules') return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return nixFiles(p);
    return e.name.endsWith('.nix') ? [relative(PACKAGE_ROOT, p)] : [];
  });
}

/** The flags `hive core serve` takes: the keys of `CoreFlags` in src/core/settings.ts. */
function coreFlags(): string[] {
  const text = readFileSync(join(PACKAGE_ROOT, 'src/core/settings.ts'), 'utf8');
  const body = /export interface CoreFlags \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  return [...body.matchAll(/^\s+'?([a-z][a-z-]*)'?\?:/gm)].map((m) => m[1]!).sort();
}

/** Each option of services.hyperhive that is a flag of the core, by its path under the module. */
const FLAG_OF: Record<string, string> = {
  dataDir: 'data-dir',
  listen: 'listen',
  runtime: 'runtime',
  defaultModel: 'model',
  claudeBin: 'claude',
  manager: 'no-manager',
  tagRetentionDays: 'tag-retention-days',
  tokenFile: 'token-file',
  allowedHosts: 'allowed-hosts',
  egressAllowInternal: 'egress-allow-internal',
  'notify.url': 'notify-url',
  'notify.tokenFile': 'notify-token-file',
  'stuck.turnMinutes': 'stuck-turn-minutes',
  'stuck.inboxMinutes': 'stuck-inbox-minutes',
  statsRawDays: 'stats-raw-days',
  allowMounts: 'allow-mount',
  imagesDir: 'images-dir',
  hostRoot: 'host-root',
  hive: 'hive',
  'nats.servers': 'nats',
  'nats.credsFile': 'nats-creds',
  'nats.replicas': 'nats-replicas',
  hiveUnreachableMinutes: 'hive-unreachable-minutes',
  standbySeconds: 'standby-seconds',
};

/** One option's declaration as the stub `lib` returns it. */
interface Declared {
  type: string;
  default: unknown;
  described: boolean;
}

/** The options of services.hyperhive by dotted path, read through test/nix/stub-lib.nix. */
function moduleOptions(): Record<string, Declared> {
  const tree = nixEval<Record<string, unknown>>(`
    let
      lib = import ${nixPath('test/nix/stub-lib.nix')};
      module = import ${nixPath('nix/module.nix')} {
        config = { };
        inherit lib;
        pkgs = { callPackage = _: _: "<package>"; path = "<nixpkgs>"; };
        utils = { };
      };
      walk = o: if o ? _option
        then { type = o.type; default = o.default or null; described = o ? description; }
        else builtins.mapAttrs (_: walk) o;
    in walk module.options.services.hyperhive`);
  const out: Record<string, Declared> = {};
  const flatten = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && 'described' in v) out[path] = v as Declared;
      else flatten(v as Record<string, unknown>, path);
    }
  };
  flatten(tree, '');
  return out;
}

/** services.hyperhive settings with every option set, for nix/args.nix. */
function sampleSettings(dir: string, port: number, runtime = 'process') {
  return {
    dataDir: join(dir, 'data'),
    listen: `127.0.0.1:${port}`,
    runtime,
    defaultModel: 'sonnet',
    claudeBin: join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude'),
    manager: false,
    tagRetentionDays: 12,
    tokenFile: '/run/secrets/hive-token',
    allowedHosts: ['hive.example.org', 'hive'],
    egressAllowInternal: ['127.0.0.1:8080'],
    notify: { url: 'http://127.0.0.1:9/hive%20alerts', tokenFile: '/run/secrets/ntfy' },
    stuck: { turnMinutes: 45, inboxMinutes: 3 },
    statsRawDays: 9,
    allowMounts: [join(dir, 'mounts-a'), join(dir, 'mounts-b')],
    imagesDir: join(dir, 'images'),
    hostRoot: true,
    hive: 'lab',
    nats: { servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'], credsFile: '/run/secrets/nats.creds', replicas: 3 },
    hiveUnreachableMinutes: 2,
    standbySeconds: 5,
    extraArgs: [],
  };
}

type Arg = string | { credential: string };

/** nix/args.nix applied to `settings` (as JSON, which Nix reads as the same attribute set). */
function renderArgs(settings: object): Arg[] {
  return nixEval<Arg[]>(`import ${nixPath('nix/args.nix')} (builtins.fromJSON ${JSON.stringify(JSON.stringify(settings))})`);
}

describe('nix files', () => {
  test('every .nix file parses (nix-instantiate --parse)', () => {
    const files = nixFiles();
    expect(files).toEqual(expect.arrayContaining(['flake.nix', 'nix/module.nix', 'nix/package.nix', 'nix/args.nix', 'nix/pins.nix', 'test/nix/stub-lib.nix']));
    expect(files.map((f) => [f, nixParseError(f)]).filter(([, err]) => err !== null)).toEqual([]);
  });

  test('a broken file is caught: a syntax error and an undefined variable', () => {
    const dir = tempDir('hv-nix-');
    try {
      writeFileSync(join(dir, 'syntax.nix'), '{ a = 1 }');
      writeFileSync(join(dir, 'undefined.nix'), '{ lib }: { a = lib.x; b = pkgs.hello; }');
      expect(nixParseError(join(dir, 'syntax.nix'))).toContain('syntax error');
      expect(nixParseError(join(dir, 'undefined.nix'))).toContain("undefined variable 'pkgs'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("nix/pins.nix belongs to this bun.lock and to the README's Bun", () => {
    const pins = nixEval<any>(`import ${nixPath('nix/pins.nix')}`);
    const lock = new Bun.CryptoHasher('sha256').update(readFileSync(join(PACKAGE_ROOT, 'bun.lock'))).digest('hex');
    expect(pins.bunLock).toBe(lock);
    expect(nixEval(`builtins.hashFile "sha256" ${nixPath('bun.lock')}`)).toBe(lock);
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect([...readme.matchAll(/bun@(\d+\.\d+\.\d+)/g)].map((m) => m[1])).toEqual(expect.arrayContaining([pins.bun.version]));
    for (const system of ['x86_64-linux', 'aarch64-linux']) {
      expect(pins.bun[system].hash).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
      expect(pins.bun[system].npm).toMatch(/^@oven\/bun-linux-(x64|aarch64)$/);
      expect(pins.nodeModules[system].hash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    }
  });

  test("the module's options are the core's flags, with the core's defaults", () => {
    const options = moduleOptions();
    for (const [path, o] of Object.entries(options)) expect({ path, described: o.described }).toEqual({ path, described: true });
    // every flag of the core has its option, and no option names a flag the core lacks
    expect(Object.values(FLAG_OF).sort()).toEqual(coreFlags());
    for (const path of Object.keys(FLAG_OF)) expect(options[path]).toBeDefined();
    const runtimeType = options.runtime!.type;
    expect(runtimeType.replace('one of ', '').split(', ').sort()).toEqual([...RUNTIMES].sort());
    expect(options.runtime!.default).toBe('nixos-container');

    const core = loadCoreConfig({ 'data-dir': '/var/lib/hyperhive', runtime: 'process' }, { PATH: process.env.PATH });
    expect(options.dataDir!.default).toBe('/var/lib/hyperhive');
    expect(parseListen(options.listen!.default as string)).toEqual(core.listen);
    expect(options.defaultModel!.default).toBe(core.defaultModel);
    expect(options.manager!.default).toBe(core.manager);
    expect(options.hostRoot!.default).toBe(core.hostRoot);
    expect(options.hiveUnreachableMinutes!.default).toBe(core.hiveUnreachableMs / 60_000);
    expect(options.standbySeconds!.default).toBe(core.standbySeconds);
    expect(options.imagesDir!.default).toBeNull(); // the core's default, <dataDir>/images
    expect(options.tagRetentionDays!.default).toBe(core.tagRetentionDays);
    expect(options['stuck.turnMinutes']!.default).toBe(core.stuck.turnMs / 60_000);
    expect(options['stuck.inboxMinutes']!.default).toBe(core.stuck.inboxMs / 60_000);
    expect(options.statsRawDays!.default).toBe(core.statsRawDays);
    for (const p of ['tokenFile', 'claudeBin', 'notify.url', 'notify.tokenFile']) expect(options[p]!.default).toBeNull();
    for (const p of ['allowedHosts', 'egressAllowInternal', 'allowMounts']) expect(options[p]!.default).toEqual([]);
    expect(options.secretFiles!.type).toBe('attribute set of str');
    // the bounds the core checks (settings.ts)
    expect(options.tagRetentionDays!.type).toBe(`integer between 0 and ${MAX_RETENTION_DAYS}`);
    expect(options.statsRawDays!.type).toBe('integer between 1 and 365');
    for (const p of ['stuck.turnMinutes', 'stuck.inboxMinutes']) expect(options[p]!.type).toBe('integer between 1 and 10000');
  });

  test('nix/args.nix gives every flag, files as credentials, lists comma-separated, one --allow-mount each', () => {
    const dir = '/srv/hv';
    const args = renderArgs(sampleSettings(dir, 7100, 'nixos-container'));
    expect(args).toEqual([
      'core', 'serve',
      '--data-dir', '/srv/hv/data',
      '--listen', '127.0.0.1:7100',
      '--runtime', 'nixos-container',
      '--model', 'sonnet',
      '--claude', join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude'),
      '--no-manager',
      '--tag-retention-days', '12',
      '--token-file', { credential: 'operator-token' },
      '--allowed-hosts', 'hive.example.org,hive',
      '--egress-allow-internal', '127.0.0.1:8080',
      '--notify-url', 'http://127.0.0.1:9/hive%20alerts',
      '--notify-token-file', { credential: 'notify-token' },
      '--stuck-turn-minutes', '45',
      '--stuck-inbox-minutes', '3',
      '--stats-raw-days', '9',
      '--standby-seconds', '5',
      '--allow-mount', '/srv/hv/mounts-a',
      '--allow-mount', '/srv/hv/mounts-b',
      '--images-dir', '/srv/hv/images',
      '--host-root',
      '--hive', 'lab',
      '--nats', 'nats://127.0.0.1:4222,nats://127.0.0.1:4223',
      '--nats-creds', { credential: 'nats-creds' },
      '--nats-replicas', '3',
      '--hive-unreachable-minutes', '2',
    ]);
    const flags = args.filter((a): a is string => typeof a === 'string' && a.startsWith('--')).map((a) => a.slice(2));
    expect([...new Set(flags)].sort()).toEqual(coreFlags());
    // the defaults give only what has a value
    const minimal = renderArgs({ ...sampleSettings(dir, 7000), claudeBin: null, manager: true, tokenFile: null, allowedHosts: [], egressAllowInternal: [], notify: { url: null, tokenFile: null }, allowMounts: [], imagesDir: null, hostRoot: false, hive: null, nats: { servers: [], credsFile: null, replicas: 1 } });
    expect(minimal.filter((a) => typeof a === 'string' && a.startsWith('--'))).toEqual(['--data-dir', '--listen', '--runtime', '--model', '--tag-retention-days', '--stuck-turn-minutes', '--stuck-inbox-minutes', '--stats-raw-days', '--standby-seconds']);
  });

  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the real hive core serve starts with the command line nix/args.nix gives', async () => {
    const dir = tempDir('hv-nixargs-');
    dirs.push(dir);
    for (const m of ['mounts-a', 'mounts-b']) mkdirSync(join(dir, m));
    writeFileSync(join(dir, 'token'), 'a-token-of-thirty-two-characters\n');
    writeFileSync(join(dir, 'ntfy'), 'ntfy-token\n');
    writeFileSync(join(dir, 'nats.creds'), '-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.x\n------END NATS USER JWT------\n');
    const port = 17000 + Math.floor(Math.random() * 2000);
    // as systemd would: each credential is a file the service can read
    const files: Record<string, string> = { 'operator-token': join(dir, 'token'), 'notify-token': join(dir, 'ntfy'), 'nats-creds': join(dir, 'nats.creds') };
    const argv = renderArgs(sampleSettings(dir, port)).map((a) => (typeof a === 'string' ? a : files[a.credential]!));
    const data = join(dir, 'data');
    const proc = Bun.spawn([process.execPath, ENTRY, ...argv], { env: { PATH: process.env.PATH!, HOME: dir }, stdout: 'pipe', stderr: 'pipe' });
    try {
      await waitFor('the core to answer', () => hive(['ctl', 'status', '--json', '--data-dir', data]).code === 0, 20_000);
      const status = JSON.parse(hive(['ctl', 'status', '--json', '--data-dir', data]).stdout);
      expect(status).toMatchObject({ data_dir: data, runtime: 'process', hive: 'lab', federation: { hive: 'lab', servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'] } });
      // the token file is in force: the dashboard asks for it
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: 'Bearer a-token-of-thirty-two-characters' } })).status).toBe(200);
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
    }
    const err = await new Response(proc.stderr).text();
    expect(err).not.toContain('bad_request');
  });
});
