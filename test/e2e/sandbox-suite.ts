/**
 * What a sandbox hides and what survives what, per sandboxed runtime: the agent's real claude turn
 * runs shell commands through claude's Bash tool (scripted by the test's model) and reports what it
 * can see; then each row of docs/persistence.md is exercised through `hive ctl`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { allMessagesText, isMainTurn, lastUserPrompt, toolResults, startModelServer, type ModelServer } from '../support/model-server.ts';
import { ctlJson, hive, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';

/**
 * Registers the suite for one sandboxed runtime.
 * @param ports page-port range, distinct per runtime.
 */
export function sandboxSuite(runtime: 'bwrap' | 'nspawn', ports: string): void {
  setDefaultTimeout(120_000);
  let model: ModelServer;
  let dir: string;
  let layout: DataLayout;
  let core: Awaited<ReturnType<typeof startCoreProcess>>;
  const hostProbe = `/root/.hive-isolation-probe-${runtime}`;

  beforeAll(async () => {
    // The scripted model: `@@BASH <command>@@` in the wake prompt becomes a Bash tool call; its
    // output becomes the turn's result.
    model = await startModelServer((req) => {
      if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
      const results = toolResults(req.body);
      if (results.length) return [{ type: 'text', text: `OUT: ${results.at(-1)!.content.split('<system-reminder>')[0]!.trim()}` }];
      const m = /@@BASH (.*)@@/s.exec(lastUserPrompt(req.body));
      if (m) return [{ type: 'tool_use', name: 'Bash', input: { command: m[1], description: 'probe the sandbox' } }];
      return [{ type: 'text', text: 'noted' }];
    });
    dir = tempDir(`hv-${runtime}-`);
    layout = new DataLayout(dir);
    writeFileSync(hostProbe, 'host root secret');
    core = await startCoreProcess(dir, ['--runtime', runtime, '--page-ports', ports], model.env);
    ctlJson(dir, 'spawn', 'alice');
    ctlJson(dir, 'spawn', 'bob');
    writeFileSync(join(layout.agent('bob').state, 'notes.md'), 'bob secret');
    await waitFor('the manager, alice and bob idle', () => {
      const idle = ctlJson(dir, 'list').agents.filter((a: any) => a.status === 'idle').map((a: any) => a.name);
      return idle.includes('alice') && idle.includes('bob') && idle.includes('manager');
    });
  }, 60_000);

  afterAll(async () => {
    await core?.stop();
    await model?.close();
    rmSync(hostProbe, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (name: string) => ctlJson(dir, 'list').agents.find((a: any) => a.name === name);

  /** Runs `command` in alice's sandbox through a real claude turn; returns the output. */
  async function bash(name: string, command: string): Promise<string> {
    const { id } = ctlJson(dir, 'send', name, `@@BASH ${command}@@`);
    const turn = await turnFor(dir, name, id);
    expect(turn).toMatchObject({ status: 'ok', tools: ['Bash'] });
    return String(turn.result).replace(/^OUT: /, '');
  }

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

  describe(`${runtime}: page ports`, () => {
    test('a spawn whose page port another process holds is refused, naming the port', async () => {
      // find a name whose hashed port we can hold
      const { agentPort, parsePortRange } = await import('../../src/shared/ports.ts');
      const port = agentPort('carol', parsePortRange(ports));
      const holder = Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } });
      try {
        const r = hive(['ctl', 'spawn', 'carol', '--data-dir', dir]);
        expect(r.code).toBe(1);
        // the holder is this test process: the refusal names it
        expect(r.stderr).toContain(`conflict: agent "carol" would take page port ${port}, which `);
        expect(r.stderr).toContain(`(pid ${process.pid}) is using`);
        expect(agent('carol')).toBeUndefined();
      } finally {
        holder.stop(true);
      }
      expect(ctlJson(dir, 'spawn', 'carol').agent.port).toBe(port);
    });
  });
}
