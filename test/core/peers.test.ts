/**
 * Peers, on a real core (in this process, the `process` runtime) with real sockets: `hive ctl peer`
 * as a subprocess, the peer's side as a separate `hive mcp` process driven by the MCP SDK's client
 * over stdio, agents' sockets driven directly, and the real dashboard app.
 */
import { expect } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, lstatSync, rmSync } from 'node:fs';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { Hive } from '../../src/core/hive.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { AgentOps } from '../../src/shared/wire.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { ctlJsonAsync, openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('peers', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
let layout: DataLayout;
const clients: Client[] = [];
const sockets: JsonLineClient<typeof AgentOps>[] = [];
const ORIGIN = 'http://localhost';

/** `hive ctl <args> --data-dir <dir>` without blocking the core in this process. */
async function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([process.execPath, ENTRY, 'ctl', ...args, '--data-dir', t.dir], { stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** A separate `hive mcp` process on `socket`, as an MCP client such as Claude Code starts it. */
async function mcpOver(socket: string, role?: string): Promise<Client> {
  const c = new Client({ name: 'peer-test', version: '1' });
  const env: Record<string, string> = { PATH: process.env.PATH!, HIVE_SOCKET: socket, ...(role ? { HIVE_ROLE: role } : {}) };
  await c.connect(new StdioClientTransport({ command: process.execPath, args: [ENTRY, 'mcp'], env, stderr: 'ignore' }));
  clients.push(c);
  return c;
}

/** Calls an MCP tool; its text and whether it is an error. */
async function tool(c: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const r = (await c.callTool({ name, arguments: args })) as { content: Array<{ text: string }>; isError?: boolean };
  return { text: r.content.map((x) => x.text).join(''), isError: !!r.isError };
}

/** A socket client acting as agent `name` (registered, not running). */
function socketOf(name: string): JsonLineClient<typeof AgentOps> {
  const s = new JsonLineClient(layout.agent(name).socket, AgentOps);
  sockets.push(s);
  return s;
}

const status = (name: string) => t.hive.registry.get(name)?.status;
const row = (html: string, name: string) => {
  const at = html.indexOf(`id="agent-${name}"`);
  return at < 0 ? '' : html.slice(at, html.indexOf('</tr>', at));
};
const fragment = async (name: string) => (await app.handle(new Request(`${ORIGIN}/fragments/${name}`))).text();

beforeAll(async () => {
  // the manager is registered (its socket serves its tools) but not running
  t = await openTestHive({ 'no-manager': false });
  layout = new DataLayout(t.dir);
  await t.hive.lifecycle.stop('manager');
  for (const n of ['alice', 'bob']) await t.hive.lifecycle.spawn(n, { start: false });
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of sockets) s.close();
  await t?.close();
});

describe('hive ctl peer add', () => {
  test('gives a name a socket dir with mcp.sock and model.sock, registered as a peer that is away', async () => {
    const r = await ctlJsonAsync(t.dir, 'peer', 'add', 'dmc');
    const dir = layout.agent('dmc').socketDir;
    expect(r.peer).toMatchObject({ name: 'dmc', socket_dir: dir, allowed_recipients: null, model_access: true, owner_uid: process.getuid!() });
    expect(r.agent).toMatchObject({ name: 'dmc', role: 'peer', runtime: 'external', desired: 'stopped', status: 'away', pid: null });
    expect(lstatSync(`${dir}/mcp.sock`).isSocket()).toBe(true);
    expect(lstatSync(`${dir}/model.sock`).isSocket()).toBe(true);
    // its own network, its own page: the core serves it no egress proxy, and nothing serves a page
    expect(existsSync(`${dir}/proxy.sock`)).toBe(false);
    expect(existsSync(`${dir}/page.sock`)).toBe(false);
    // no config repo, no state dir: nothing of it under agents/
    expect(existsSync(layout.agent('dmc').root)).toBe(false);
  });

  test('prints how to bind the socket dir into a container and what to run there', async () => {
    const r = await ctl('peer', 'add', 'lab', '--allow-recipients', 'bob', '--no-model');
    expect(r.code).toBe(0);
    const dir = layout.agent('lab').socketDir;
    for (const line of [
      `--bind ${dir} /run/hive`,
      `--bind=${dir}:/run/hive`,
      `docker run … -v ${dir}:/run/hive`,
      `podman run … -v ${dir}:/run/hive`,
      `containers.lab.bindMounts."/run/hive" = { hostPath = "${dir}"; isReadOnly = false; };`,
      `claude mcp add hyperhive -e HIVE_SOCKET=/run/hive/mcp.sock -- ${process.execPath} ${ENTRY} mcp`,
      'it may send to bob, the manager',
      `connects as uid ${process.getuid!()}`,
    ])
      expect(r.stdout).toContain(line);
    // without the gateway, the turn loop is not offered
    expect(r.stdout).toContain('needs model.sock');
    expect(existsSync(`${dir}/model.sock`)).toBe(false);
    expect(t.hive.peers.get('lab')).toMatchObject({ allowed_recipients: ['bob'], model_access: false });
  });

  test('names follow the agent-name rules; a name an agent, peer, draft or kept state has is refused', async () => {
    for (const [name, code] of [
      ['alice', 'exists'],
      ['dmc', 'exists'],
      ['manager', 'bad_name'],
      ['Bad_Name', 'bad_name'],
      ['much-too-long', 'bad_name'],
    ] as const) {
      const r = await ctl('peer', 'add', name);
      expect({ name, code: r.code, err: r.stderr }).toMatchObject({ name, code: 1, err: expect.stringContaining(code) });
    }
    expect((await ctl('peer', 'add', 'eve', '--allow-recipients', 'Nope!')).stderr).toContain('bad_name');
    await t.hive.lifecycle.spawn('gone', { start: false });
    await t.hive.lifecycle.destroy('gone');
    const kept = await ctl('peer', 'add', 'gone');
    expect(kept.stderr).toContain('conflict');
    expect(kept.stderr).toContain('hive ctl purge gone');
    expect(t.hive.registry.has('eve')).toBe(false);
  });
});

describe('a peer on the broker', () => {
  test('is connected while a recv waits on its socket, and away once that connection closes', async () => {
    expect(status('dmc')).toBe('away');
    const c = await mcpOver(layout.agent('dmc').socket);
    const waiting = tool(c, 'recv', { wait_seconds: 120 }).catch((e: Error) => ({ text: e.message, isError: true }));
    await waitFor('a recv waiting on dmc', () => t.hive.broker.waiting('dmc') === 1);
    expect(status('dmc')).toBe('connected');
    await c.close();
    await waitFor('dmc away', () => status('dmc') === 'away');
    expect(t.hive.broker.waiting('dmc')).toBe(0);
    expect((await waiting).isError).toBe(true);
  });

  test("a separate hive mcp process over the peer's socket sends to an agent and receives its reply", async () => {
    const peer = await mcpOver(layout.agent('dmc').socket);
    const names = (await peer.listTools()).tools.map((x) => x.name).sort();
    expect(names).toEqual(['answer', 'ask', 'cancel_reminder', 'questions', 'recv', 'remind', 'reminders', 'send']);
    const sent = await tool(peer, 'send', { to: 'alice', body: 'hello alice, dmc here' });
    expect(sent).toMatchObject({ isError: false, text: expect.stringContaining('sent message #') });

    const alice = socketOf('alice');
    const got = (await alice.call('recv', { wait_seconds: 5 })).message;
    expect(got).toMatchObject({ from: 'dmc', to: 'alice', body: 'hello alice, dmc here' });
    await alice.call('send', { to: 'dmc', body: 'hi dmc, alice answering' });

    const reply = await tool(peer, 'recv', { wait_seconds: 5 });
    expect(reply.isError).toBe(false);
    expect(reply.text).toContain('from alice');
    expect(reply.text).toContain('hi dmc, alice answering');
    expect(status('dmc')).toBe('connected');
  });

  test('sends under its send policy: only the recipients it was added with, and always the manager', async () => {
    const lab = await mcpOver(layout.agent('lab').socket);
    const refused = await tool(lab, 'send', { to: 'alice', body: 'not allowed' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('forbidden');
    expect(refused.text).toContain("lab's allowedRecipients (bob)");
    expect((await tool(lab, 'send', { to: 'bob', body: 'allowed' })).isError).toBe(false);
    expect((await tool(lab, 'send', { to: 'manager', body: 'always reachable' })).isError).toBe(false);
    expect(t.hive.broker.list({ agent: 'lab' }).map((m) => `${m.from}>${m.to}`)).toEqual(['lab>bob', 'lab>manager']);
    // the policy binds the peer as a sender, not those who write to it
    expect((await socketOf('alice').call('send', { to: 'lab', body: 'alice to lab' })).id).toBeGreaterThan(0);
  });
});

describe("a peer's harness", () => {
  test('says hello, thinks through a turn, and a turn cut off by its hang-up is handed out again', async () => {
    const sent = await socketOf('alice').call('send', { to: 'dmc', body: 'work for the harness' });
    const harness = new JsonLineClient(layout.agent('dmc').socket, AgentOps);
    const hello = await harness.call('hello', { pid: 4242 });
    expect(hello).toMatchObject({ name: 'dmc', role: 'peer', model: 'haiku' });
    expect(hello.config).toMatchObject({ allowedRecipients: null, shared: false });
    expect(t.hive.registry.get('dmc')).toMatchObject({ status: 'connected', pid: null });

    const msg = (await harness.call('recv', { wait_seconds: 5 })).message!;
    expect(msg.id).toBe(sent.id);
    await harness.call('turn_start', { turn_id: 'peer-turn-1', trigger_message_id: msg.id });
    expect(status('dmc')).toBe('thinking');
    harness.close();
    await waitFor('dmc away', () => status('dmc') === 'away');
    expect(t.hive.turns.list({ agent: 'dmc' })[0]).toMatchObject({ id: 'peer-turn-1', status: 'interrupted' });
    const again = socketOf('dmc');
    expect((await again.call('recv', {})).message).toMatchObject({ id: msg.id, attempt: 2 });
  });
});

describe('a peer is listed as a peer, with no lifecycle', () => {
  test('in the manager\'s agents tool and in hive ctl list and peer list', async () => {
    const manager = await mcpOver(layout.agent('manager').socket, 'manager');
    const agents = await tool(manager, 'agents', {});
    expect(agents.text).toContain('dmc (peer: runs outside the hive, which cannot start or stop it): connected');
    expect(agents.text).toContain('alice (agent)');

    const list = await ctlJsonAsync(t.dir, 'list');
    expect(list.agents.find((a: any) => a.name === 'lab')).toMatchObject({ role: 'peer', status: 'away' });
    const human = await ctl('list');
    expect(human.stdout).toMatch(/^dmc\s+connected\s+-\s+haiku\s+peer \(not run here\)\s+its own$/m);
    const peers = await ctl('peer', 'list');
    expect(peers.stdout).toMatch(new RegExp(`^lab\\s+away\\s+no\\s+bob,manager\\s+${layout.agent('lab').socketDir}$`, 'm'));
    expect((await ctlJsonAsync(t.dir, 'peer')).peers.map((p: any) => p.name)).toEqual(['dmc', 'lab']);
  });

  test('on the dashboard: a peer badge, how to connect it, remove, and no lifecycle buttons or links', async () => {
    const dmc = row(await fragment('agents'), 'dmc');
    expect(dmc).toContain('data-role="peer"');
    expect(dmc).toContain('<span class="badge peer"');
    expect(dmc).toContain('<span class="badge connected">connected</span>');
    expect(dmc).toContain(`--bind ${layout.agent('dmc').socketDir} /run/hive`);
    expect(dmc).toContain('hx-post="/peers/dmc/remove"');
    for (const gone of ['/agents/dmc/start', '/agents/dmc/stop', '/agents/dmc/restart', '/agents/dmc/rebuild', '/agents/dmc/destroy', '/repos/dmc', '/agents/dmc/page/'])
      expect(dmc).not.toContain(gone);
    expect(row(await fragment('agents'), 'alice')).toContain('hx-post="/agents/alice/destroy"');
    const page = await (await tab.get('/')).text();
    expect(page).toContain('hx-post="/peers"');
    expect(row(page, 'lab')).toContain('<span class="badge away">away</span>');
  });

  test('lifecycle ops on a peer are refused from hive ctl, the manager, the dashboard and the supervisor', async () => {
    for (const args of [['start', 'dmc'], ['stop', 'dmc'], ['restart', 'dmc'], ['rebuild', 'dmc'], ['destroy', 'dmc'], ['repo', 'dmc'], ['propose', 'dmc', 'abcdef1'], ['rollback', 'dmc', '1']]) {
      const r = await ctl(...args);
      expect({ args, code: r.code, err: r.stderr }).toMatchObject({ args, code: 1, err: expect.stringContaining('forbidden: dmc is a peer: the hive does not run it') });
    }
    const manager = await mcpOver(layout.agent('manager').socket, 'manager');
    for (const op of ['kill', 'start', 'restart']) {
      const r = await tool(manager, op, { name: 'dmc' });
      expect({ op, ...r }).toMatchObject({ op, isError: true, text: expect.stringContaining('error (forbidden): dmc is a peer') });
    }
    const apply = await tool(manager, 'request_apply_commit', { agent: 'dmc', sha: 'abcdef1' });
    expect(apply.text).toContain('dmc is a peer: the hive does not run it and keeps no config for it, so it cannot be given a config');
    for (const [path, form] of [['/agents/dmc/start', {}], ['/agents/dmc/rebuild', {}], ['/agents/dmc/destroy', { confirm: '1' }]] as const) {
      const res = await tab.post(path, form);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    expect((await tab.get('/agents/dmc/page/')).status).toBe(404);
    await expect(t.hive.supervisor.start('dmc')).rejects.toThrow('dmc is a peer');
    expect(t.hive.registry.get('dmc')).toMatchObject({ role: 'peer', status: 'connected', pid: null });
    expect(t.hive.approvals.list()).toEqual([]);
  });

  test("purge on a peer's name says it is a peer and how to remove it, and leaves the peer in place", async () => {
    const r = await ctl('purge', 'dmc');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('forbidden: dmc is a peer, not a destroyed agent');
    expect(r.stderr).toContain('`hive ctl peer remove dmc`');
    expect(r.stderr).not.toContain('destroy it first');
    expect(t.hive.registry.get('dmc')).toMatchObject({ role: 'peer' });
    expect(lstatSync(layout.agent('dmc').socketDir).isDirectory()).toBe(true);
  });
});

describe('adding and removing peers', () => {
  test('the dashboard adds a peer, and removes it with two clicks', async () => {
    const added = await tab.post('/peers', { name: 'web', allow: 'alice, bob', no_model: '1' });
    expect(added.status).toBe(204);
    expect(JSON.parse(added.headers.get('hx-trigger')!).toast.text).toContain(`added peer web: bind ${layout.agent('web').socketDir}`);
    expect(t.hive.peers.get('web')).toMatchObject({ allowed_recipients: ['alice', 'bob'], model_access: false });
    expect((await tab.post('/peers', { name: 'alice' })).status).toBe(409);

    const first = await tab.post('/peers/web/remove', {});
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('remove web? click to confirm');
    expect(t.hive.registry.has('web')).toBe(true);
    const second = await tab.post('/peers/web/remove', { confirm: '1' });
    expect(second.status).toBe(204);
    expect(t.hive.registry.has('web')).toBe(false);
    expect(existsSync(layout.agent('web').socketDir)).toBe(false);
    expect(row(await fragment('agents'), 'web')).toBe('');
  });

  test('remove revokes the socket: a connected client gets an error, the dir is gone, queued messages stay', async () => {
    const peer = await mcpOver(layout.agent('dmc').socket);
    const waiting = tool(peer, 'recv', { wait_seconds: 120 });
    await waitFor('a recv waiting on dmc', () => t.hive.broker.waiting('dmc') === 1);
    // alice writes to lab, which nobody reads
    const queued = await socketOf('alice').call('send', { to: 'lab', body: 'for lab, later' });

    expect(await ctlJsonAsync(t.dir, 'peer', 'remove', 'dmc')).toEqual({ name: 'dmc' });
    const cut = await waiting;
    expect(cut.isError).toBe(true);
    expect(cut.text).toContain('error (unavailable)');
    expect(existsSync(layout.agent('dmc').socketDir)).toBe(false);
    const after = await tool(peer, 'send', { to: 'alice', body: 'still here?' });
    expect(after).toMatchObject({ isError: true, text: expect.stringContaining('error (unavailable)') });
    expect(t.hive.registry.has('dmc')).toBe(false);
    const gone = await socketOf('alice').call('send', { to: 'dmc', body: 'x' }).catch((e: Error) => e.message);
    expect(gone).toContain('no agent named "dmc"');

    const removed = await ctl('peer', 'remove', 'lab');
    expect(removed.stdout).toContain('messages queued for it stay in the broker');
    expect(t.hive.broker.message(queued.id)).toMatchObject({ to: 'lab', delivered_at: null });
    // the same name added again finds its inbox as it was
    await ctlJsonAsync(t.dir, 'peer', 'add', 'lab');
    const lab = socketOf('lab');
    const inbox = [(await lab.call('recv', {})).message?.body, (await lab.call('recv', {})).message?.body];
    expect(inbox).toEqual(['alice to lab', 'for lab, later']);

    expect((await ctl('peer', 'remove', 'alice')).stderr).toContain('not_found: alice is an agent, not a peer');
    expect((await ctl('peer', 'remove', 'nobody')).stderr).toContain('not_found: no peer named "nobody"');
  });

  test('a restarted core opens its peers again, with their policy', async () => {
    await ctlJsonAsync(t.dir, 'peer', 'add', 'box', '--allow-recipients', 'bob');
    await t.hive.close();
    const again = await Hive.open(loadCoreConfig({ 'no-manager': false, runtime: 'process', 'data-dir': t.dir }, { PATH: process.env.PATH }), () => {});
    try {
      expect(again.registry.get('box')).toMatchObject({ role: 'peer', status: 'away' });
      expect(lstatSync(layout.agent('box').socket).isSocket()).toBe(true);
      expect(lstatSync(layout.agent('box').modelSocket).isSocket()).toBe(true);
      const box = new JsonLineClient(layout.agent('box').socket, AgentOps);
      try {
        await expect(box.call('send', { to: 'alice', body: 'x' })).rejects.toThrow("box's allowedRecipients (bob)");
        expect((await box.call('send', { to: 'bob', body: 'y' })).id).toBeGreaterThan(0);
      } finally {
        box.close();
      }
      // nothing started it: a peer is never the supervisor's
      expect(again.supervisor.isRunning('box')).toBe(false);
    } finally {
      await again.close();
      // the first core is closed already; t.close() would close it twice
      rmSync(t.dir, { recursive: true, force: true });
      t = undefined as never;
    }
  });
});
