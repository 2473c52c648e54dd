/**
 * What `env`, `mounts` and `shared` in agent.toml, and the manager's `/logs`, give an agent inside a
 * real sandbox, per sandboxed runtime: a real core (`hive core serve --allow-mount DIR`), changes
 * proposed and approved through `hive ctl` as the operator would, and the agents' real claude
 * running shell commands through its Bash tool (and its Read tool), scripted by the test's model.
 * The refusals are checked the same way: `hive ctl propose` is answered `bad_config` naming the
 * field, and nothing waits for approval.
 */
import { expect } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { isMainTurn, lastUserPrompt, startModelServer, systemText, type ModelServer } from '../support/model-server.ts';
import { ctlJson, hive, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { allIdle, bashIn, probeModel } from '../support/sandbox-probe.ts';
import { requires, type Prereq } from '../support/prereq.ts';

/** Registers the suite for one sandboxed runtime. */
export function agentOptionsSuite(runtime: 'bwrap' | 'nspawn'): void {
  // root: bwrap and nspawn binds of root-owned dirs; git: the config repos
  const needs: Prereq[] = runtime === 'nspawn' ? ['root', 'nspawn', 'git'] : ['root', 'bwrap', 'git'];
  const { describe, test, beforeAll, afterAll } = requires(`agent options (env, mounts, /shared, /logs) under ${runtime}`, ...needs);
  let model: ModelServer;
  let dir: string;
  let allowed: string;
  let layout: DataLayout;
  let core: Awaited<ReturnType<typeof startCoreProcess>>;

  beforeAll(async () => {
    // `@@BASH <command>@@` in the wake prompt becomes a Bash tool call, `@@READ <path>@@` a Read
    // tool call; the tool's output becomes the turn's result.
    model = await startModelServer(probeModel);
    dir = tempDir(`hv-opt-${runtime}-`);
    layout = new DataLayout(dir);
    allowed = tempDir(`hv-allow-${runtime}-`);
    mkdirSync(join(allowed, 'ro'));
    writeFileSync(join(allowed, 'ro', 'readme.txt'), 'read me, do not change me\n');
    mkdirSync(join(allowed, 'rw'));
    symlinkSync('/etc', join(allowed, 'escape'));
    core = await startCoreProcess(dir, ['--runtime', runtime, '--allow-mount', allowed], { ...model.env, ANTHROPIC_API_KEY: 'sk-ant-test-key' });
    ctlJson(dir, 'spawn', 'alice');
    ctlJson(dir, 'spawn', 'bob');
    await allIdle(dir, ['manager', 'alice', 'bob']);
  }, 90_000);

  afterAll(async () => {
    await core?.stop();
    await model?.close();
    for (const d of [dir, allowed]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const agent = (name: string) => ctlJson(dir, 'list').agents.find((a: any) => a.name === name);
  const pending = () => (ctlJson(dir, 'approvals').approvals as any[]).filter((a) => a.status === 'pending');

  /** Runs `command` in `name`'s sandbox through a real claude turn (the Bash tool); returns its output. */
  const bash = (name: string, command: string) => bashIn(dir, name, command);

  /** Commits `toml` in `name`'s proposed repo and proposes it with `hive ctl propose`. */
  function propose(name: string, toml: string) {
    const repo = join(dir, 'proposed', name, 'config');
    writeFileSync(join(repo, 'agent.toml'), toml);
    const git = (...args: string[]) => Bun.spawnSync(['git', '-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
    git('commit', '-qam', 'change from the test');
    const r = hive(['ctl', 'propose', name, git('rev-parse', 'HEAD'), '--json', '--data-dir', dir]);
    return { code: r.code, reply: JSON.parse(r.stdout) };
  }

  /** Proposes `toml` for `name`, approves it, and waits for the agent to be idle on it. */
  async function apply(name: string, toml: string): Promise<void> {
    const p = propose(name, toml);
    expect(p.code).toBe(0);
    expect(ctlJson(dir, 'approve', String(p.reply.approval.id)).approval.status).toBe('deployed');
    await waitFor(`${name} idle`, () => agent(name).status === 'idle');
  }

  describe(`${runtime}: env and mounts, through the gate`, () => {
    test('the Bash tool sees the env and the mounts; a read-only mount refuses a write, a writable one keeps it', async () => {
      await apply(
        'alice',
        [
          'env = { GREETING = "hello from agent.toml", TZ = "UTC" }',
          `mounts = [{ host = "${join(allowed, 'ro')}", at = "/data" }, { host = "${join(allowed, 'rw')}", at = "/srv/out", readOnly = false }]`,
        ].join('\n'),
      );
      const out = await bash(
        'alice',
        [
          'echo "G=$GREETING TZ=$TZ"',
          'cat /data/readme.txt',
          "(echo changed > /data/readme.txt) 2>/dev/null && echo RO-WROTE || echo RO-REFUSED",
          "(echo new > /data/new.txt) 2>/dev/null && echo RO-CREATED || echo RO-CREATE-REFUSED",
          'echo from-alice > /srv/out/made.txt && echo RW-OK',
        ].join('; '),
      );
      expect(out).toContain('G=hello from agent.toml TZ=UTC');
      expect(out).toContain('read me, do not change me');
      expect(out).toContain('RO-REFUSED');
      expect(out).toContain('RO-CREATE-REFUSED');
      expect(out).toContain('RW-OK');
      expect(readFileSync(join(allowed, 'ro', 'readme.txt'), 'utf8')).toBe('read me, do not change me\n');
      expect(existsSync(join(allowed, 'ro', 'new.txt'))).toBe(false);
      expect(readFileSync(join(allowed, 'rw', 'made.txt'), 'utf8')).toBe('from-alice\n');
      // the variables are set inside only, never in the host process the runtime starts
      const environ = readFileSync(`/proc/${agent('alice').pid}/environ`, 'utf8').split('\0');
      expect(environ.filter((e) => e.startsWith('GREETING=') || e.startsWith('TZ='))).toEqual([]);
      // the rebuild said what it bound
      const build = readFileSync(layout.agent('alice').buildLog, 'utf8');
      expect(build).toContain(`mount ${join(allowed, 'ro')} at /data (read-only)`);
      expect(build).toContain(`mount ${join(allowed, 'rw')} at /srv/out (read-write)`);
    });

    test('refused when proposed, naming the field: a reserved env name, a path outside, a symlink out, a place over a hive bind', () => {
      const before = pending().length;
      const cases: Array<[string, string]> = [
        ['env = { HTTPS_PROXY = "http://elsewhere:3128" }', 'env.HTTPS_PROXY: "HTTPS_PROXY" is reserved for the hive'],
        ['env = { ANTHROPIC_BASE_URL = "http://elsewhere" }', 'env.ANTHROPIC_BASE_URL: "ANTHROPIC_BASE_URL" is reserved for the hive'],
        ['mounts = [{ host = "/etc", at = "/data" }]', 'mounts.0.host: "/etc" is not under a directory the operator allows for mounts'],
        [`mounts = [{ host = "${join(allowed, 'escape')}", at = "/data" }]`, `mounts.0.host: "${join(allowed, 'escape')}" resolves to /etc through a symlink`],
        [`mounts = [{ host = "${join(allowed, 'ro')}", at = "/run/hive" }]`, 'mounts.0.at: "/run/hive" would cover the hive\'s own /run'],
        [`mounts = [{ host = "${join(allowed, 'ro')}", at = "/logs" }]`, 'mounts.0.at: "/logs" would cover the hive\'s own /logs'],
        [`mounts = [{ host = "${join(allowed, 'ro')}", at = "/state/data" }]`, 'mounts.0.at: "/state/data" would cover the hive\'s own /state'],
        [`mounts = [{ host = "${join(allowed, 'ro')}", at = "/proc" }]`, 'mounts.0.at: "/proc" would cover the hive\'s own /proc'],
        ['mounts = [{ host = "ro", at = "/data" }]', 'mounts.0.host: "ro" is a relative path'],
      ];
      for (const [toml, why] of cases) {
        const r = propose('alice', toml);
        expect(r.code).toBe(1);
        expect(r.reply.error.code).toBe('bad_config');
        expect(r.reply.error.message).toContain(why);
      }
      expect(pending().length).toBe(before);
    });

    test('a mount whose host path turned into a symlink out after approval keeps the agent from starting', async () => {
      const ro = join(allowed, 'ro');
      renameSync(ro, `${ro}.real`);
      symlinkSync('/etc', ro);
      try {
        const r = hive(['ctl', 'restart', 'alice', '--json', '--data-dir', dir]);
        expect(r.code).toBe(1);
        expect(JSON.parse(r.stdout).error.message).toContain(`mounts.0.host: "${ro}" resolves to /etc through a symlink`);
        expect(agent('alice')).toMatchObject({ status: 'failed' });
        expect(agent('alice').problem).toContain('mounts.0.host');
      } finally {
        rmSync(ro);
        renameSync(`${ro}.real`, ro);
      }
      ctlJson(dir, 'start', 'alice');
      await waitFor('alice idle again', () => agent('alice').status === 'idle');
    });
  });

  describe(`${runtime}: /shared`, () => {
    test('one agent writes, another reads; both prompts name it; the dashboard lists it', async () => {
      expect(await bash('alice', 'mkdir -p /shared/alice && echo note-from-alice > /shared/alice/hello.txt && echo WROTE')).toContain('WROTE');
      expect(await bash('bob', 'cat /shared/alice/hello.txt')).toContain('note-from-alice');
      expect(readFileSync(join(layout.sharedDir, 'alice', 'hello.txt'), 'utf8')).toBe('note-from-alice\n');
      const bobTurn = model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('cat /shared/alice/hello.txt')).at(-1)!;
      expect(systemText(bobTurn.body)).toContain("`/shared` is the hive's shared directory");
      const page = await fetch(`${core.url}/shared/alice`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<a href="/shared/alice/hello.txt">hello.txt</a>');
    });

    test('shared = false: no /shared in the sandbox, none in the prompt', async () => {
      // a new agent, so that its first turn starts a session (claude keeps a session's first system
      // prompt when it resumes one; docs/pitfalls.md)
      ctlJson(dir, 'spawn', 'carol');
      await waitFor('carol idle', () => agent('carol')?.status === 'idle');
      await apply('carol', 'shared = false\n');
      expect(await bash('carol', '[ -e /shared ] && echo SHARED-VISIBLE || echo SHARED-ABSENT')).toContain('SHARED-ABSENT');
      const turn = model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('SHARED-VISIBLE')).at(-1)!;
      expect(systemText(turn.body)).not.toContain("shared directory");
    });

    test('kept across destroy and purge of the agent that wrote it', async () => {
      ctlJson(dir, 'destroy', 'alice');
      expect(ctlJson(dir, 'purge', 'alice')).toEqual({ name: 'alice' });
      expect(existsSync(layout.agent('alice').root)).toBe(false);
      expect(readFileSync(join(layout.sharedDir, 'alice', 'hello.txt'), 'utf8')).toBe('note-from-alice\n');
      ctlJson(dir, 'spawn', 'alice');
      await waitFor('alice idle again', () => agent('alice')?.status === 'idle');
      expect(await bash('alice', 'cat /shared/alice/hello.txt')).toContain('note-from-alice');
    });
  });

  describe(`${runtime}: the manager sees what it must fix`, () => {
    test("the manager reads every agent's log and last rebuild output at /logs, read-only; other agents have no /logs", async () => {
      const hostHead = readFileSync(layout.agent('alice').log, 'utf8').split('\n')[0]!;
      expect(hostHead.length).toBeGreaterThan(0);
      const out = await bash(
        'manager',
        "head -n 1 /logs/alice.log; grep -c 'rebuild of alice' /logs/alice.build.log | sed 's/^/BUILD-LINES /'; (echo forged >> /logs/alice.log) 2>/dev/null && echo LOG-WROTE || echo LOG-RO",
      );
      expect(out).toContain(hostHead.slice(0, 60));
      expect(Number(/BUILD-LINES (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
      expect(out).toContain('LOG-RO');
      expect(readFileSync(layout.agent('alice').log, 'utf8')).not.toContain('forged');
      // claude's Read tool reaches it too
      const { id } = ctlJson(dir, 'send', 'manager', '@@READ /logs/alice.build.log@@');
      const read = await turnFor(dir, 'manager', id);
      expect(read).toMatchObject({ status: 'ok', tools: ['Read'] });
      expect(String(read.result)).toContain('rebuild of alice');
      expect(await bash('bob', '[ -e /logs ] && echo LOGS-VISIBLE || echo LOGS-HIDDEN')).toContain('LOGS-HIDDEN');
      const sys = model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('LOG-RO')).at(-1)!;
      expect(systemText(sys.body)).toContain('`/logs/<name>.log`');
    });

    test('a crash notice names /logs/<name>.log, which the manager can read', async () => {
      const before = agent('alice').pid;
      // the harness is killed a few seconds after this turn has ended (`agen[t]` keeps the script
      // from matching its own command line)
      const scheduled = await bash(
        'alice',
        `setsid sh -c 'sleep 4; for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null | grep -q " agen[t] serve" && kill -9 \${p#/proc/}; done' >/dev/null 2>&1 < /dev/null & echo SCHEDULED`,
      );
      expect(scheduled).toContain('SCHEDULED');
      const notice = await waitFor(
        'the crash notice to the manager',
        () => (ctlJson(dir, 'messages', '--agent', 'manager', '--limit', '200').messages as any[]).find((m) => m.from === 'hive' && m.to === 'manager' && m.body.includes('agent alice crashed')),
        60_000,
      );
      expect(notice.body).toContain(`Log: /logs/alice.log (on the host ${layout.agent('alice').log}); last rebuild's output: /logs/alice.build.log`);
      await waitFor('alice restarted', () => agent('alice').status === 'idle' && agent('alice').pid !== before, 60_000);
      const out = await bash('manager', "test -r /logs/alice.log && echo READABLE; wc -l < /logs/alice.log | sed 's/^/LINES /'");
      expect(out).toContain('READABLE');
      expect(Number(/LINES (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
    });
  });
}
