/**
 * `env`, `mounts` and `shared` in agent.toml, and what the manager reads when something breaks, on
 * the core's side: the config's rules, the host checks against real directories and symlinks, the
 * operator's `--allow-mount`, and a real core (the `process` runtime, real agent processes, real
 * git) refusing at request time, handing the config's variables to the harness, naming the host
 * paths of `/shared` and the logs, keeping the last rebuild's output, and keeping `/shared` through
 * destroy and purge. What a sandbox shows is `test/e2e/agent-options-suite.ts`.
 */
import { expect } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_AGENT_CONFIG, parseAgentConfig } from '../../src/shared/agent-config.ts';
import { renderSystemPrompt } from '../../src/agent/prompts.ts';
import { loadAgentEnv, workDirs } from '../../src/agent/env.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { MAX_ENV_VALUE, MAX_ENV_VARS, RESERVED_TARGETS } from '../../src/shared/sandbox-options.ts';
import { resolveMounts, type MountPolicy } from '../../src/core/configs/mounts.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { jitPools, openTestHive, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('agent env, mounts and /shared (core)', 'git');

const parse = (toml: string) => parseAgentConfig(toml, 'agent.toml').config;
const refusal = (toml: string): string => {
  try {
    parse(toml);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted: ${toml}`);
};

describe('env in agent.toml', () => {
  test('variables are kept as written; LANG, TZ and TMPDIR may be set', () => {
    expect(parse('env = { GREETING = "hello", TZ = "Europe/Berlin", LANG = "C.UTF-8", TMPDIR = "/tmp/x", _x1 = "" }').env).toEqual({
      GREETING: 'hello',
      TZ: 'Europe/Berlin',
      LANG: 'C.UTF-8',
      TMPDIR: '/tmp/x',
      _x1: '',
    });
    expect(parse('').env).toEqual({});
  });

  test.each([
    'PATH',
    'HOME',
    'USER',
    'HIVE_SOCKET',
    'hive_whatever',
    'ANTHROPIC_API_KEY',
    'ANTHROPIC_BASE_URL',
    'CLAUDE_CONFIG_DIR',
    'CLAUDE_CODE_OAUTH_TOKEN',
    'HTTPS_PROXY',
    'http_proxy',
    'NO_PROXY',
    'ALL_PROXY',
    'LD_PRELOAD',
    'BUN_GC_TIMER_INTERVAL',
    'MIMALLOC_PURGE_DELAY',
    'NODE_OPTIONS',
    'DISABLE_AUTOUPDATER',
    'ENABLE_TOOL_SEARCH',
  ])('%s, which the hive sets or runs by, is refused naming the field', (name) => {
    expect(refusal(`env = { ${name} = "x" }`)).toMatch(new RegExp(`^agent\\.toml: env\\.${name}: "${name}" is reserved for the hive`));
  });

  test('names must be variable names; values and counts are bounded; no NUL', () => {
    expect(refusal('env = { "1X" = "x" }')).toContain('env.1X: "1X" is not a variable name');
    expect(refusal('env = { "A-B" = "x" }')).toContain('env.A-B: "A-B" is not a variable name');
    expect(refusal(`env = { ${'A'.repeat(129)} = "x" }`)).toContain('longer than 128 characters');
    expect(refusal(`env = { A = "${'x'.repeat(MAX_ENV_VALUE + 1)}" }`)).toMatch(/env\.A: expected string length less or equal to 4096/);
    const many = Array.from({ length: MAX_ENV_VARS + 1 }, (_, i) => `V${i} = "x"`).join(', ');
    expect(refusal(`env = { ${many} }`)).toContain(`env: ${MAX_ENV_VARS + 1} variables; the limit is ${MAX_ENV_VARS}`);
    const big = Array.from({ length: 10 }, (_, i) => `V${i} = "${'x'.repeat(4000)}"`).join(', ');
    expect(refusal(`env = { ${big} }`)).toContain('the limit is 32768');
    expect(refusal('env = { A = "a\\u0000b" }')).toContain('env.A: holds a NUL character');
    expect(refusal('env = { A = 1 }')).toContain('env.A: expected string');
  });
});

describe('mounts in agent.toml: what the text alone decides', () => {
  test('readOnly defaults to true', () => {
    expect(parse('mounts = [{ host = "/srv/a", at = "/data" }, { host = "/srv/b", at = "/srv/b", readOnly = false }]').mounts).toEqual([
      { host: '/srv/a', at: '/data', readOnly: true },
      { host: '/srv/b', at: '/srv/b', readOnly: false },
    ]);
  });

  test('paths must be absolute and in normal form', () => {
    expect(refusal('mounts = [{ host = "srv/a", at = "/data" }]')).toContain('mounts.0.host: "srv/a" is a relative path');
    expect(refusal('mounts = [{ host = "/srv/../etc", at = "/data" }]')).toContain('mounts.0.host: "/srv/../etc" is not in normal form');
    expect(refusal('mounts = [{ host = "/srv/a/", at = "/data" }]')).toContain('mounts.0.host: "/srv/a/" is not in normal form');
    expect(refusal('mounts = [{ host = "/", at = "/data" }]')).toContain('mounts.0.host: cannot be "/"');
    expect(refusal('mounts = [{ host = "/srv/a", at = "data" }]')).toContain('mounts.0.at: "data" is a relative path');
    expect(refusal('mounts = [{ host = "/srv/a", at = "/data/./x" }]')).toContain('mounts.0.at: "/data/./x" is not in normal form');
    expect(refusal('mounts = [{ host = "/srv/a", at = "/" }]')).toContain('mounts.0.at: cannot be "/"');
  });

  test("a target on, inside or above the hive's own places is refused", () => {
    for (const at of ['/state', '/state/x', '/run', '/run/hive', '/shared', '/shared/x', '/logs', '/agents', '/root/.claude', '/proc', '/dev/shm', '/etc', '/etc/ssl', '/usr/local/x', '/tmp', '/sys'])
      expect(refusal(`mounts = [{ host = "/srv/a", at = "${at}" }]`)).toMatch(/mounts\.0\.at: ".*" would cover the hive's own \/\w+/);
    expect(refusal(`mounts = [{ host = "/srv/a", at = "${PACKAGE_ROOT}/x" }]`)).toContain(`would cover the hive's own ${PACKAGE_ROOT}`);
    const above = PACKAGE_ROOT.split('/').slice(0, 2).join('/');
    if (above !== PACKAGE_ROOT && !RESERVED_TARGETS.includes(above))
      expect(refusal(`mounts = [{ host = "/srv/a", at = "${above}" }]`)).toContain(`would cover the hive's own ${PACKAGE_ROOT}`);
  });

  test('two mounts may not share a place or nest; unknown keys are refused', () => {
    expect(refusal('mounts = [{ host = "/srv/a", at = "/data" }, { host = "/srv/b", at = "/data" }]')).toContain('mounts.1.at: "/data" is mounts.0.at');
    expect(refusal('mounts = [{ host = "/srv/a", at = "/data" }, { host = "/srv/b", at = "/data/b" }]')).toContain('mounts.1.at: "/data/b" overlaps mounts.0.at');
    expect(refusal('mounts = [{ host = "/srv/a", at = "/data", rw = true }]')).toContain('mounts.0.rw: is not a known option');
    expect(refusal('shared = "no"')).toContain('shared: expected boolean');
  });
});

describe('mounts against this host (realpath, --allow-mount)', () => {
  let base: string;
  let allowed: string;
  let outside: string;
  let policy: MountPolicy;
  beforeAll(() => {
    base = tempDir('hv-mnt-');
    allowed = join(base, 'allowed');
    outside = join(base, 'outside');
    mkdirSync(join(allowed, 'data', 'sub'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(allowed, 'escape'));
    symlinkSync(join(allowed, 'data', 'sub'), join(allowed, 'inner'));
    mkdirSync(join(base, 'data-dir'));
    policy = { allowed: [allowed], dataDir: join(base, 'data-dir'), codePaths: [PACKAGE_ROOT, '/opt/hive-bin/claude'], sandboxed: true };
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const m = (host: string, at = '/data', readOnly = true) => ({ mounts: [{ host, at, readOnly }] });
  const why = (mounts: ReturnType<typeof m>, p = policy) => {
    try {
      resolveMounts(mounts, p, 'agents/alice/config/agent.toml');
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  test('a path under an allowed dir resolves, and is bound by its real path', () => {
    expect(resolveMounts(m(join(allowed, 'data'), '/data', false), policy)).toEqual([{ src: join(allowed, 'data'), dst: '/data', rw: true }]);
    expect(resolveMounts(m(allowed), policy)).toEqual([{ src: allowed, dst: '/data', rw: false }]);
    // a link that stays inside is fine, and what is bound is where it leads
    expect(resolveMounts(m(join(allowed, 'inner')), policy)).toEqual([{ src: join(allowed, 'data', 'sub'), dst: '/data', rw: false }]);
  });

  test('outside every allowed dir, through a symlink out, or missing: refused naming the field', () => {
    expect(why(m(outside))).toBe(
      `agents/alice/config/agent.toml: mounts.0.host: "${outside}" is not under a directory the operator allows for mounts (${allowed}); the operator adds one with hive core serve --allow-mount DIR`,
    );
    expect(why(m(join(allowed, 'escape')))).toContain(`mounts.0.host: "${join(allowed, 'escape')}" resolves to ${outside} through a symlink, outside the directories the operator allows`);
    expect(why(m(join(allowed, 'nothing')))).toContain('mounts.0.host: ');
    expect(why(m(join(allowed, 'nothing')))).toContain('does not exist on this host');
    expect(why(m('/etc'))).toContain('mounts.0.host: "/etc" is not under a directory the operator allows');
    expect(why(m(join(allowed, 'data')), { ...policy, allowed: [] })).toContain('(none: the core was started without --allow-mount)');
  });

  test("the data dir is never shown; the hive's code is never writable nor covered", () => {
    const p = { ...policy, allowed: [base] };
    expect(why(m(join(base, 'data-dir')), p)).toContain("overlaps the hive's data dir");
    expect(why(m(base), p)).toContain("overlaps the hive's data dir");
    expect(why(m(PACKAGE_ROOT, '/data', false), { ...policy, allowed: [PACKAGE_ROOT] })).toContain("holds the hive's own code, which no agent may write");
    expect(resolveMounts(m(PACKAGE_ROOT, '/data', true), { ...policy, allowed: [PACKAGE_ROOT] })).toHaveLength(1);
    expect(why(m(join(allowed, 'data'), '/opt/hive-bin'))).toContain(`mounts.0.at: "/opt/hive-bin" would cover the hive's own /opt/hive-bin/claude`);
  });

  test('the process runtime binds nothing, so any mount is refused there', () => {
    expect(why(m(join(allowed, 'data')), { ...policy, sandboxed: false })).toContain('mounts: the core runs agents with the process runtime, which cannot bind mounts');
    expect(resolveMounts({ mounts: [] }, { ...policy, sandboxed: false })).toEqual([]);
  });

  test('--allow-mount: repeated, comma-separated, or HIVE_ALLOW_MOUNTS; each must be an existing directory', () => {
    const second = join(allowed, 'data');
    const load = (flags: object, env: Record<string, string> = {}) => loadCoreConfig({ 'data-dir': join(base, 'data-dir'), ...flags }, env).allowMounts;
    expect(load({ 'allow-mount': [allowed, `${second},${allowed}`] })).toEqual([allowed, second]);
    expect(load({}, { HIVE_ALLOW_MOUNTS: `${allowed}, ${second}` })).toEqual([allowed, second]);
    expect(load({})).toEqual([]);
    expect(() => load({ 'allow-mount': [join(base, 'missing')] })).toThrow(/--allow-mount .*missing: .*no such file/i);
    writeFileSync(join(base, 'file'), 'x');
    expect(() => load({ 'allow-mount': [join(base, 'file')] })).toThrow('is not a directory');
    expect(() => load({ 'allow-mount': ['/'] })).toThrow('would let agents mount any path of this host');
    mkdirSync(join(base, 'data-dir', 'inside'));
    expect(() => load({ 'allow-mount': [join(base, 'data-dir', 'inside')] })).toThrow('lies inside the data dir');
  });
});

describe('a real core (process runtime): request-time refusals, env, /shared, logs', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let layout: DataLayout;
  let allowed: string;

  function git(cwd: string, ...args: string[]): string {
    const r = Bun.spawnSync(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdout: 'pipe', stderr: 'pipe' });
    if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString().trim();
  }
  /** Commits `toml` in `name`'s proposed repo and asks to apply it, as the operator. */
  async function request(name: string, toml: string) {
    const dir = join(t.dir, 'proposed', name, 'config');
    writeFileSync(join(dir, 'agent.toml'), toml);
    git(dir, 'commit', '-qam', 'change');
    return t.hive.gate.requestApplyCommit('operator', name, git(dir, 'rev-parse', 'HEAD'));
  }
  const pending = () => t.hive.approvals.list().filter((a) => a.status === 'pending');

  beforeAll(async () => {
    allowed = tempDir('hv-allow-');
    // the manager is registered (crash notices go to its inbox) but kept stopped: no claude turn runs
    t = await openTestHive({ 'no-manager': false, 'allow-mount': [allowed] }, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' });
    layout = new DataLayout(t.dir);
    await t.hive.lifecycle.stop('manager');
    await t.hive.lifecycle.spawn('alice');
  });
  afterAll(async () => {
    await t.close();
    rmSync(allowed, { recursive: true, force: true });
  });

  test('a reserved env name is refused when the change is requested, naming the field; nothing is queued', async () => {
    await expect(request('alice', 'env = { HTTPS_PROXY = "http://elsewhere:8080" }')).rejects.toThrow(
      /^\/agents\/alice\/config@[0-9a-f]{12}:agent\.toml: env\.HTTPS_PROXY: "HTTPS_PROXY" is reserved for the hive/,
    );
    await expect(request('alice', 'env = { HTTPS_PROXY = "x" }')).rejects.toMatchObject({ code: 'bad_config' });
    expect(pending()).toEqual([]);
  });

  test('a mount is refused at request time under the process runtime, which cannot bind it', async () => {
    mkdirSync(join(allowed, 'data'), { recursive: true });
    await expect(request('alice', `mounts = [{ host = "${join(allowed, 'data')}", at = "/data" }]`)).rejects.toThrow(
      /agent\.toml: mounts: the core runs agents with the process runtime, which cannot bind mounts/,
    );
    expect(pending()).toEqual([]);
  });

  test("the config's env reaches the harness; /shared and the logs are named by their host paths", async () => {
    const a = await request('alice', 'env = { GREETING = "hello from agent.toml", TZ = "UTC" }');
    expect((await t.hive.gate.approve(a.id)).status).toBe('deployed');
    const pid = t.hive.registry.require('alice').pid!;
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('GREETING=hello from agent.toml');
    expect(environ).toContain('TZ=UTC');
    expect(environ).toContain('HIVE_CONFIG_ENV=GREETING,TZ');
    expect(environ).toContain(`HIVE_SHARED_DIR=${layout.sharedDir}`);
    // the harness runs without the JIT, with a slow idle GC timer and no allocator scavenger wake-ups (claude does not inherit them: below)
    expect(environ).toContain('BUN_JSC_useJIT=0');
    expect(environ).toContain('BUN_GC_TIMER_INTERVAL=30000');
    expect(environ).toContain('MIMALLOC_PURGE_DELAY=0');
    expect(jitPools(pid)).toBe(0);
    expect(environ.some((e) => e.startsWith('HIVE_LOGS_DIR='))).toBe(false);
    expect(t.hive.lifecycle.env('manager').HIVE_LOGS_DIR).toBe(layout.logsDir);
    expect(t.hive.lifecycle.sandboxExtras('alice')).toEqual({ binds: [], configEnv: { GREETING: 'hello from agent.toml', TZ: 'UTC' }, root: null, packages: [] });
  });

  test("the last rebuild's output is kept in logs/<name>.build.log, started afresh by each", async () => {
    const build = readFileSync(layout.agent('alice').buildLog, 'utf8');
    expect(build).toMatch(/rebuild of alice \(approval #\d+\) in the process runtime/);
    expect(build).toContain('up: the harness said hello');
    await t.hive.lifecycle.rebuild('alice');
    const again = readFileSync(layout.agent('alice').buildLog, 'utf8');
    expect(again).toContain('rebuild of alice (rebuild by operator)');
    expect(again).not.toContain('approval #');
  });

  test('shared = false takes /shared away', async () => {
    const a = await request('alice', 'shared = false\n');
    expect((await t.hive.gate.approve(a.id)).status).toBe('deployed');
    expect(t.hive.lifecycle.env('alice').HIVE_SHARED_DIR).toBeUndefined();
    const b = await request('alice', '');
    expect((await t.hive.gate.approve(b.id)).status).toBe('deployed');
    expect(t.hive.lifecycle.env('alice').HIVE_SHARED_DIR).toBe(layout.sharedDir);
  });

  test("a crash notice names the log and the last rebuild's output where the manager reads them", async () => {
    const pid = t.hive.registry.require('alice').pid!;
    process.kill(pid, 'SIGKILL');
    const notice = await waitFor('the crash notice', () => t.hive.broker.list({ limit: 100 }).find((m) => m.to === 'manager' && m.body.includes('alice crashed')));
    expect(notice.body).toContain(`Log: ${layout.agent('alice').log}; last rebuild's output: ${layout.agent('alice').buildLog}`);
    await waitFor('alice back', () => t.hive.registry.get('alice')?.status === 'idle');
  });

  test("the harness passes the config's variables on to claude, and names the shared dir and the logs in its prompt and working dirs", () => {
    const env = loadAgentEnv({
      PATH: '/usr/bin',
      GREETING: 'hi',
      OTHER: 'not from the config',
      BUN_JSC_useJIT: '0',
      BUN_GC_TIMER_INTERVAL: '30000',
      MIMALLOC_PURGE_DELAY: '0',
      HIVE_CONFIG_ENV: 'GREETING',
      HIVE_SHARED_DIR: layout.sharedDir,
      HIVE_LOGS_DIR: layout.logsDir,
      HIVE_AGENTS_DIR: layout.proposedDir,
    });
    expect(env.passEnv).toEqual({ PATH: '/usr/bin', GREETING: 'hi' });
    expect(workDirs('manager', env)).toEqual([layout.proposedDir, layout.logsDir, layout.sharedDir]);
    expect(workDirs('agent', { ...env, agentsDir: null, logsDir: null })).toEqual([layout.sharedDir]);
    const manager = renderSystemPrompt({ name: 'manager', role: 'manager', stateDir: '/s', config: DEFAULT_AGENT_CONFIG, logsDir: env.logsDir, sharedDir: env.sharedDir });
    expect(manager).toContain(`\`${layout.logsDir}/<name>.log\``);
    expect(manager).toContain(`\`${layout.logsDir}/<name>.build.log\``);
    expect(manager).toContain(`\`${layout.sharedDir}\` is the hive's shared directory`);
    const alone = renderSystemPrompt({ name: 'alice', role: 'agent', stateDir: '/s', config: DEFAULT_AGENT_CONFIG, sharedDir: null });
    expect(alone).not.toContain('shared directory');
  });

  test('/shared is kept across destroy and purge of an agent; its logs go', async () => {
    writeFileSync(join(layout.sharedDir, 'from-alice.txt'), 'kept for everyone');
    await t.hive.lifecycle.destroy('alice');
    t.hive.kept.purge('alice');
    expect(existsSync(layout.agent('alice').root)).toBe(false);
    expect(existsSync(layout.agent('alice').log)).toBe(false);
    expect(existsSync(layout.agent('alice').buildLog)).toBe(false);
    expect(readFileSync(join(layout.sharedDir, 'from-alice.txt'), 'utf8')).toBe('kept for everyone');
  });
});
