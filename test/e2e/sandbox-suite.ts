/**
 * What a sandbox hides and what survives what, per sandboxed runtime: the agent's real claude turn
 * runs shell commands through claude's Bash tool (scripted by the test's model) and reports what it
 * can see and reach, as a hostile agent would probe it (docs/security.md); then each row of
 * docs/persistence.md is exercised through `hive ctl`.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { allMessagesText, isMainTurn, lastUserPrompt, startModelServer, type ModelServer } from '../support/model-server.ts';
import { ctlJson, hive, startCoreProcess, startTestHost, tempDir, waitFor } from '../support/hive.ts';
import { requires, type Prereq } from '../support/prereq.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { allIdle, bashIn, probeModel } from '../support/sandbox-probe.ts';

/**
 * Registers the suite for one sandboxed runtime.
 */
export function sandboxSuite(runtime: 'bwrap' | 'nspawn'): void {
  // root: the probe file in /root and, under bwrap, a privileged sandbox; nspawn: a private user
  // namespace; curl: the network probes inside; ps: the host's view of the agent's uid; git: the config repos
  const needs: Prereq[] = runtime === 'nspawn' ? ['root', 'nspawn-userns', 'curl', 'ps', 'git'] : ['root', 'bwrap', 'curl', 'git'];
  const { describe, test, beforeAll, afterAll } = requires(`sandbox.${runtime} e2e`, ...needs);
  setDefaultTimeout(120_000);
  let model: ModelServer;
  let dir: string;
  let layout: DataLayout;
  let core: Awaited<ReturnType<typeof startCoreProcess>>;
  const hostProbe = `/root/.hive-isolation-probe-${runtime}`;
  /** The operator's key, as the core holds it: it must reach the model and nothing inside a sandbox. */
  const SECRET = `sk-ant-operator-secret-${runtime}-probe`;
  /** A host the operator lets agents reach (on this machine's loopback), and what it saw. */
  let target: ReturnType<typeof Bun.serve>;
  let targetHits: string[] = [];

  beforeAll(async () => {
    // The scripted model: `@@BASH <command>@@` in the wake prompt becomes a Bash tool call; its
    // output becomes the turn's result.
    model = await startModelServer(probeModel);
    ({ server: target, hits: targetHits } = startTestHost('hello from the allowed host'));
    dir = tempDir(`hv-${runtime}-`);
    layout = new DataLayout(dir);
    writeFileSync(hostProbe, 'host root secret');
    core = await startCoreProcess(dir, ['--runtime', runtime, '--egress-allow-internal', `127.0.0.1:${target.port}`], { ...model.env, ANTHROPIC_API_KEY: SECRET });
    ctlJson(dir, 'spawn', 'alice');
    ctlJson(dir, 'spawn', 'bob');
    writeFileSync(join(layout.agent('bob').state, 'notes.md'), 'bob secret');
    await allIdle(dir, ['manager', 'alice', 'bob']);
  }, 60_000);

  afterAll(async () => {
    await core?.stop();
    await model?.close();
    target?.stop(true);
    rmSync(hostProbe, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (name: string) => ctlJson(dir, 'list').agents.find((a: any) => a.name === name);

  /** Runs `command` in `name`'s sandbox through a real claude turn (the Bash tool); returns its output. */
  const bash = (name: string, command: string) => bashIn(dir, name, command);

  describe(`${runtime}: what an agent can see`, () => {
    // nspawn maps container root to a private host uid range; bwrap run as root keeps host root
    // (with every capability dropped)
    const privileged = runtime === 'bwrap';
    test('the core reports the runtime, sandboxed, and whether it is privileged', () => {
      const st = ctlJson(dir, 'status');
      expect(st).toMatchObject({ runtime, sandboxed: true, privileged });
      const list = hive(['ctl', 'list', '--data-dir', dir]).stdout;
      if (privileged) expect(list).toContain(`${runtime} (privileged)`);
      else expect(list).not.toContain('privileged');
    });

    if (!privileged)
      test('root inside is not root on the host, yet what it writes to /state is the host root\'s', async () => {
        const out = await bash('alice', "cat /proc/self/uid_map; echo made > /state/by-agent.txt && echo wrote;");
        const [inside, outside] = out.trim().split(/\s+/).map(Number);
        expect(inside).toBe(0);
        expect(outside).toBeGreaterThan(0);
        expect(out).toContain('wrote');
        const file = join(layout.agent('alice').state, 'by-agent.txt');
        expect(readFileSync(file, 'utf8')).toBe('made\n');
        expect(statSync(file).uid).toBe(0);
        // the agent's processes run as that host uid, as the host sees them
        const pid = agent('alice').pid as number;
        const uids = Bun.spawnSync(['ps', '-o', 'uid=', '--ppid', String(pid), '-p', String(pid)]).stdout.toString();
        expect(uids.trim().split(/\s+/).map(Number)).toContain(outside!);
      });

    test("not the core's data dir, not another agent's state, not the host's /root", async () => {
      const targets = [join(dir, 'hive.db'), join(layout.agent('bob').state, 'notes.md'), hostProbe, dir, '/root/.bash_history'];
      const script = targets.map((p) => `if [ -e '${p}' ]; then echo 'VISIBLE ${p}'; else echo 'HIDDEN ${p}'; fi`).join('; ');
      const out = await bash('alice', script);
      for (const p of targets) expect(out).toContain(`HIDDEN ${p}`);
      expect(out).not.toContain('VISIBLE');
    });

    test('its own places are where the docs say: /state, /run/hive, /root/.claude; the host /usr read-only', async () => {
      const out = await bash(
        'alice',
        "echo hostname=$(cat /etc/hostname); ls /state/.hive; [ -S /run/hive/mcp.sock ] && echo socket-ok; [ -d /root/.claude ] && echo claude-ok; touch /usr/x 2>/dev/null || echo usr-ro; echo whoami=$(id -un)",
      );
      expect(out).toContain('hostname=alice');
      expect(out).toContain('history.db');
      expect(out).toContain('socket-ok');
      expect(out).toContain('claude-ok');
      expect(out).toContain('usr-ro');
      expect(out).toContain('whoami=root');
    });
  });

  /** A shell test: true when a TCP socket listens on loopback port `port` in the caller's own netns. */
  const heldInside = (port: number) =>
    `grep -qiE '^ *[0-9]+: [0-9A-F]{8}:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A' /proc/net/tcp`;

  describe(`${runtime}: no way around the gate`, () => {
    test('the interfaces inside are lo only, with no route anywhere', async () => {
      const out = await bash('alice', "echo IFACES $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '); echo ROUTES $(tail -n +2 /proc/net/route | wc -l) $(grep -vc ' lo$' /proc/net/if_inet6)");
      expect(out).toContain('IFACES lo\n');
      expect(out).toContain('ROUTES 0 0');
    });

    test("the dashboard (GET and every POST), the model upstream and the host's loopback are out of reach", async () => {
      const dash = new URL(core.url);
      const up = new URL(model.url);
      const routes = ['GET /', 'POST /send', 'POST /approvals/1/approve', 'POST /agents/bob/stop', 'POST /agents/bob/destroy', 'POST /agents/bob/page/send', 'POST /alerts/1/dismiss', 'POST /kept/bob/purge'];
      const probes = [
        ...routes.map((r) => {
          const [method, path] = r.split(' ');
          return `curl -s -o /dev/null -m 3 -X ${method} -d 'to=bob&body=forged' http://127.0.0.1:${dash.port}${path}; echo "DASH ${r} $?"`;
        }),
        `curl -s -o /dev/null -m 3 -X POST -H 'x-hive-probe: reach' ${up.origin}/v1/messages; echo "MODEL $?"`,
        `curl -s -o /dev/null -m 3 http://localhost:${target.port}/; echo "TARGET $?"`,
        // the model stand-in and the test host listen on ephemeral ports, which a listener of the
        // agent's own (its harness's loopback endpoints) may by chance also hold inside its netns
        ...[up.port, String(target.port)].map((p) => `${heldInside(Number(p))} && echo "HELD ${p}"`),
      ];
      const out = await bash('alice', probes.join('; '));
      // curl exit 7: could not connect (nothing listens on the agent's own loopback); a port the
      // agent itself holds answers, but that is its own listener, and the upstream saw nothing
      for (const r of routes) expect(out).toContain(`DASH ${r} 7`);
      expect(out).toMatch(out.includes(`HELD ${up.port}`) ? /MODEL \d+/ : /MODEL 7/);
      expect(out).toMatch(out.includes(`HELD ${target.port}`) ? /TARGET \d+/ : /TARGET 7/);
      expect([...model.requests, ...model.misc].filter((r) => r.headers['x-hive-probe'])).toEqual([]);
      expect(targetHits).toEqual([]);
      // nothing the probes tried took effect
      expect(agent('bob').desired).toBe('running');
      expect(ctlJson(dir, 'messages', '--limit', '500').messages.some((m: any) => m.body === 'forged')).toBe(false);
    });

    test("no other agent's sockets, no admin socket, no hive.db, no stored credential; no key in the environment or in files", async () => {
      // the operator stores the same key on the dashboard's login page: <data>/credentials.json, in use from now on
      const tab = await DashboardClient.open({ handle: (req) => fetch(req) }, core.url);
      expect((await tab.post('/login', { secret: SECRET, kind: 'api_key' })).status).toBe(200);
      expect(statSync(layout.credentialsFile).mode & 0o777).toBe(0o600);
      const paths = [layout.hostSocket, layout.agent('bob').socket, layout.agent('bob').pageSocket, layout.agent('bob').modelSocket, layout.agent('manager').socket, layout.db, '/etc/shadow', layout.secretFile, layout.credentialsFile];
      // the key is spelled in two halves so that this command, kept in the agent's own transcript and
      // history, does not itself put it in a file
      const [head, tail] = [SECRET.slice(0, 10), SECRET.slice(10)];
      const script = [
        ...paths.map((p) => `if [ -e '${p}' ]; then echo 'VISIBLE ${p}'; else echo 'HIDDEN ${p}'; fi`),
        `K='${head}'"${tail}"`,
        // the key appears nowhere: not in any process's environment, not in a file it can read
        `cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c "$K" | sed 's/^/ENVHITS /'`,
        `grep -rl "$K" /state /root /run/hive /etc /tmp 2>/dev/null | wc -l | sed 's/^/FILEHITS /'`,
        // the same search finds what is there: the placeholder key in claude's environment
        `cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c 'ANTHROPIC_API_KEY=hive-gate'"way" | sed 's/^/CONTROL /'`,
        `echo KEYVAR "$ANTHROPIC_API_KEY" TOKENVAR "\${CLAUDE_CODE_OAUTH_TOKEN:-none}"`,
      ].join('; ');
      const out = await bash('alice', script);
      for (const p of paths) expect(out).toContain(`HIDDEN ${p}`);
      expect(out).toContain('ENVHITS 0');
      expect(out).toContain('FILEHITS 0');
      expect(Number(/CONTROL (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
      expect(out).toContain('KEYVAR hive-gateway TOKENVAR none');
      // ... while the gateway did hand the operator's key to the model, and never the placeholder
      const seen = model.requests.filter((r) => isMainTurn(r.body));
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r.headers['x-api-key'] === SECRET)).toBe(true);
    });

    test("no writes to the host outside /state and its own dirs: /usr, /etc/passwd and the hive code refuse; the sandbox's own /etc is a throwaway", async () => {
      const places = ['/usr/probe', `${PACKAGE_ROOT}/probe`, '/etc/passwd', '/etc/ssl/probe'];
      const out = await bash('alice', [...places, '/etc/probe'].map((p) => `(echo x >> '${p}') 2>/dev/null && echo "WROTE ${p}" || echo "REFUSED ${p}"`).join('; '));
      for (const p of places) expect(out).toContain(`REFUSED ${p}`);
      for (const p of [...places, '/etc/probe']) if (p !== '/etc/passwd') expect(existsSync(p)).toBe(false);
      expect(readFileSync('/etc/passwd', 'utf8')).not.toContain('x\n');
    });

    test('egress: an allowed host through the proxy; a host not allowed is refused naming the policy; nothing leaves otherwise', async () => {
      // alice's config allows the test host, through the gate like any change
      const proposedDir = join(dir, 'proposed', 'alice', 'config');
      writeFileSync(join(proposedDir, 'agent.toml'), '[network]\nallow = ["127.0.0.1"]\n');
      const git = (...args: string[]) => Bun.spawnSync(['git', '-C', proposedDir, ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'allow the test host');
      const a = ctlJson(dir, 'propose', 'alice', git('rev-parse', 'HEAD')).approval;
      expect(ctlJson(dir, 'approve', String(a.id)).approval.status).toBe('deployed');
      await waitFor('alice idle', () => agent('alice').status === 'idle');
      const out = await bash(
        'alice',
        [
          `curl -sS --noproxy '' -x "$HTTP_PROXY" -m 5 http://127.0.0.1:${target.port}/allowed; echo " ALLOWED_EXIT $?"`,
          `curl -sS --noproxy '' -x "$HTTP_PROXY" -m 5 http://not-allowed.example/; echo " DENIED_EXIT $?"`,
          `curl -sS -m 5 https://not-allowed.example/ 2>&1; echo " TLS_EXIT $?"`,
        ].join('; '),
      );
      expect(out).toContain('hello from the allowed host ALLOWED_EXIT 0');
      expect(targetHits).toEqual(['/allowed']);
      expect(out).toContain(`hive egress: "not-allowed.example" is not in alice's network.allow (127.0.0.1)`);
      expect(out).toMatch(/CONNECT tunnel failed, response 403[\s\S]*TLS_EXIT 56/);
      const log = readFileSync(join(dir, 'core.out'), 'utf8');
      expect(log).toMatch(/egress alice 127\.0\.0\.1:\d+ allowed/);
      expect(log).toContain('egress alice not-allowed.example:80 refused');
    });

    test('the gateway recorded what each agent spent, per request and turn', () => {
      const costs = ctlJson(dir, 'costs', '--since', '1h').totals as any[];
      const alice = costs.find((t) => t.agent === 'alice');
      expect(alice.requests).toBeGreaterThan(0);
      expect(alice.output_tokens).toBeGreaterThan(0);
    });
  });

  describe(`${runtime}: config repos`, () => {
    test('the manager sees every proposed config repo under /agents and commits there with git; an agent sees none', async () => {
      const out = await bash(
        'manager',
        "ls /agents; cd /agents/bob/config && printf 'model = \"claude-in-sandbox\"\\n' > agent.toml && git commit -qam 'from the sandbox' && echo PROPOSED=$(git rev-parse HEAD)",
      );
      expect(out).toContain('alice');
      expect(out).toContain('bob');
      const sha = /PROPOSED=([0-9a-f]{40})/.exec(out)?.[1];
      expect(sha).toBeDefined();
      // the commit made inside the sandbox is what the core checks and stages
      const a = ctlJson(dir, 'propose', 'bob', sha!).approval;
      expect(a).toMatchObject({ kind: 'apply_commit', agent: 'bob', sha, subject: 'from the sandbox' });
      expect(ctlJson(dir, 'approve', String(a.id)).approval.status).toBe('deployed');
      expect(agent('bob')).toMatchObject({ status: 'idle', model: 'claude-in-sandbox' });
      expect(await bash('alice', '[ -e /agents ] && echo VISIBLE || echo HIDDEN')).toContain('HIDDEN');
    });
  });

  describe(`${runtime}: what survives what (docs/persistence.md)`, () => {
    test('restart: a new sandbox; state, claude credentials and the conversation survive', async () => {
      // notes written from inside; a credential as a login would leave it in the claude dir
      expect(await bash('alice', 'echo remembered-1 > notes.md && echo written')).toContain('written');
      writeFileSync(join(layout.agent('alice').claude, 'credentials.probe'), 'secret-token');
      const before = agent('alice');
      ctlJson(dir, 'restart', 'alice');
      await waitFor('alice idle after restart', () => agent('alice').status === 'idle' && agent('alice').pid !== before.pid);
      const out = await bash('alice', 'cat /state/notes.md /root/.claude/credentials.probe; ls /tmp | wc -l');
      expect(out).toContain('remembered-1');
      expect(out).toContain('secret-token');
      // the resumed conversation carries the turn before the restart
      const req = model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('cat /state/notes.md')).at(-1)!;
      expect(allMessagesText(req.body)).toContain('echo remembered-1 > notes.md');
    });

    test('stop / start: the same without recreating anything by hand', async () => {
      ctlJson(dir, 'stop', 'alice');
      expect(agent('alice')).toMatchObject({ status: 'offline', pid: null });
      ctlJson(dir, 'start', 'alice');
      await waitFor('alice idle after start', () => agent('alice').status === 'idle');
      expect(await bash('alice', 'cat /state/notes.md')).toContain('remembered-1');
    });

    test('destroy: the sandbox and its runtime files go; state, credentials and config are kept and come back', async () => {
      expect(existsSync(layout.sandboxDir('alice'))).toBe(true);
      ctlJson(dir, 'destroy', 'alice');
      expect(existsSync(layout.sandboxDir('alice'))).toBe(false);
      expect(existsSync(layout.agent('alice').socketDir)).toBe(false);
      expect(ctlJson(dir, 'kept').kept.map((k: any) => k.name)).toEqual(['alice']);
      expect(readFileSync(join(layout.agent('alice').state, 'notes.md'), 'utf8')).toBe('remembered-1\n');
      expect(existsSync(join(layout.agent('alice').claude, 'credentials.probe'))).toBe(true);
      expect(existsSync(layout.agent('alice').configFile)).toBe(true);

      ctlJson(dir, 'spawn', 'alice');
      await waitFor('alice idle again', () => agent('alice')?.status === 'idle');
      expect(await bash('alice', 'cat /state/notes.md /root/.claude/credentials.probe')).toContain('remembered-1');
    });

    test('purge: after destroy, the kept state is gone too', async () => {
      ctlJson(dir, 'destroy', 'alice');
      const refused = hive(['ctl', 'purge', 'bob', '--data-dir', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('destroy it first');
      expect(ctlJson(dir, 'purge', 'alice')).toEqual({ name: 'alice' });
      expect(existsSync(layout.agent('alice').root)).toBe(false);
      expect(existsSync(layout.agent('alice').log)).toBe(false);
      expect(ctlJson(dir, 'kept').kept).toEqual([]);
      expect(existsSync(join(layout.agent('bob').state, 'notes.md'))).toBe(true);
    });
  });
}
