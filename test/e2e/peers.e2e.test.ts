/**
 * Peers end to end: the real `hive core serve` (the `process` runtime) and `hive ctl`, a real agent
 * whose claude turns run against the scripted Messages API on loopback, and on the peer's side a
 * separate `hive mcp` process driven by the MCP SDK's client (on this host, and inside a bwrap
 * sandbox the test makes, with only the peer's socket dir bound in), or a `hive agent serve` the
 * test starts by hand, as a peer's owner would.
 */
import { expect } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { ctlJson, processAlive, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { isMainTurn, lastUserPrompt, startModelServer, toolResults, type ModelServer } from '../support/model-server.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('peers e2e', 'git');
const boxed = requires('a peer in a bwrap sandbox', 'git', 'bwrap');

let model: ModelServer;
let dir: string;
let layout: DataLayout;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
const clients: Client[] = [];
const procs: Bun.Subprocess[] = [];

/** An MCP client on a `hive mcp` started by `command` (directly, or inside a sandbox). */
async function mcpClient(command: string, args: string[], env: Record<string, string>): Promise<Client> {
  const c = new Client({ name: 'peer-e2e', version: '1' });
  await c.connect(new StdioClientTransport({ command, args, env: { PATH: process.env.PATH!, ...env }, stderr: 'ignore' }));
  clients.push(c);
  return c;
}

async function tool(c: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const r = (await c.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as { content: Array<{ text: string }>; isError?: boolean };
  return { text: r.content.map((x) => x.text).join(''), isError: !!r.isError };
}

const agent = (name: string) => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === name);

beforeAll(async () => {
  // The scripted model: a PING is answered by sending PONG back to whoever sent it; anything else
  // gets a text naming what it saw.
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const results = toolResults(req.body);
    if (results.length) return [{ type: 'text', text: `done: ${results[0]!.content.split('\n')[0]}` }];
    const prompt = lastUserPrompt(req.body);
    const from = /New message #\d+ from ([a-z][a-z0-9-]*)/.exec(prompt)?.[1];
    if (prompt.includes('PING') && from) return [{ type: 'tool_use', name: 'mcp__hyperhive__send', input: { to: from, body: `PONG to ${from}` } }];
    return [{ type: 'text', text: `seen: ${prompt.includes('LAB WORK') ? 'lab work' : 'something else'}` }];
  });
  dir = tempDir('hv-peer-');
  layout = new DataLayout(dir);
  core = await startCoreProcess(dir, ['--no-manager'], model.env);
  ctlJson(dir, 'spawn', 'alice');
  await waitFor('alice idle', () => agent('alice')?.status === 'idle');
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await core?.stop();
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('peers and agents talk through the broker', () => {
  test("a peer's MCP client sends to a running agent, whose claude turn replies to the peer", async () => {
    expect(ctlJson(dir, 'peer', 'add', 'dmc').agent).toMatchObject({ role: 'peer', status: 'away' });
    const peer = await mcpClient(process.execPath, [ENTRY, 'mcp'], { HIVE_SOCKET: layout.agent('dmc').socket });
    const sent = await tool(peer, 'send', { to: 'alice', body: 'PING from the peer' });
    expect(sent.isError).toBe(false);
    const reply = await tool(peer, 'recv', { wait_seconds: 90 });
    expect(reply.text).toContain('from alice');
    expect(reply.text).toContain('PONG to dmc');

    const id = Number(/#(\d+)/.exec(sent.text)![1]);
    const turn = await turnFor(dir, 'alice', id);
    expect(turn).toMatchObject({ status: 'ok', tools: ['mcp__hyperhive__send'] });
    const msgs = ctlJson(dir, 'messages', '--agent', 'dmc').messages as any[];
    expect(msgs.map((m) => `${m.from}>${m.to}:${m.body}`)).toEqual(['dmc>alice:PING from the peer', 'alice>dmc:PONG to dmc']);
  });

  test('a peer running hive agent serve takes turns, its model through its own model.sock', async () => {
    ctlJson(dir, 'peer', 'add', 'lab');
    const home = join(dir, 'lab-home');
    for (const d of ['state', 'claude']) mkdirSync(join(home, d), { recursive: true });
    const harness = Bun.spawn([process.execPath, ENTRY, 'agent', 'serve'], {
      env: { PATH: process.env.PATH!, HOME: home, HIVE_SOCKET: layout.agent('lab').socket, HIVE_STATE_DIR: join(home, 'state'), CLAUDE_CONFIG_DIR: join(home, 'claude') },
      stdout: Bun.file(join(home, 'out.log')),
      stderr: Bun.file(join(home, 'err.log')),
    });
    procs.push(harness);
    await waitFor('lab connected', () => agent('lab')?.status === 'connected');
    const sent = ctlJson(dir, 'send', 'lab', 'LAB WORK for the peer');
    const turn = await turnFor(dir, 'lab', sent.id);
    expect(turn).toMatchObject({ status: 'ok', result: 'seen: lab work' });
    // the gateway served it with the operator's credentials and recorded it as the peer's
    const costs = ctlJson(dir, 'costs', '--agent', 'lab').totals as any[];
    expect(costs[0]).toMatchObject({ agent: 'lab' });
    expect(costs[0].requests).toBeGreaterThan(0);
    expect(model.requests.some((r) => r.headers['x-api-key'] === model.env.ANTHROPIC_API_KEY && lastUserPrompt(r.body).includes('LAB WORK'))).toBe(true);
    await waitFor('lab connected after its turn', () => agent('lab')?.status === 'connected');
    // a peer's harness serves no page or terminal, and the core no egress proxy
    expect(readdirSync(layout.agent('lab').socketDir).sort()).toEqual(['mcp.sock', 'model.sock']);

    // its owner stops it; the hive does not restart it
    harness.kill('SIGTERM');
    await harness.exited;
    await waitFor('lab away', () => agent('lab')?.status === 'away');
    expect(processAlive(harness.pid)).toBe(false);
    expect(agent('lab')).toMatchObject({ pid: null, restarts: 0 });
    const out = await Bun.file(join(home, 'out.log')).text();
    expect(out).toContain('agent lab (peer) up');
    expect(out).not.toContain('WARN');
  });

  boxed.test('a peer inside a bwrap sandbox, with only its socket dir bound in, reaches an agent and hears back', async () => {
    const peer = ctlJson(dir, 'peer', 'add', 'box').peer;
    // the host read-only, but a fresh /tmp (where the data dir is) and /run with the peer's socket dir
    // as /run/hive, in new pid, ipc, uts and network namespaces
    const sandbox = [
      '--ro-bind', '/', '/',
      '--dev', '/dev',
      '--proc', '/proc',
      '--tmpfs', '/tmp',
      '--tmpfs', '/run',
      '--bind', peer.socket_dir, '/run/hive',
      '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net',
      '--die-with-parent',
      '--',
    ];
    const inside = (...cmd: string[]) => Bun.spawnSync(['bwrap', ...sandbox, ...cmd], { stdout: 'pipe', stderr: 'pipe' });
    expect(inside('test', '-S', '/run/hive/mcp.sock').exitCode).toBe(0);
    expect(inside('test', '-e', layout.hostSocket).exitCode).toBe(1);
    expect(inside('test', '-e', layout.agent('alice').socket).exitCode).toBe(1);

    const c = await mcpClient('bwrap', [...sandbox, process.execPath, ENTRY, 'mcp'], { HIVE_SOCKET: '/run/hive/mcp.sock' });
    const sent = await tool(c, 'send', { to: 'alice', body: 'PING from inside the box' });
    expect(sent.isError).toBe(false);
    const reply = await tool(c, 'recv', { wait_seconds: 90 });
    expect(reply.text).toContain('PONG to box');
    expect((ctlJson(dir, 'messages', '--agent', 'box').messages as any[])[0]).toMatchObject({ from: 'box', to: 'alice' });

    // revoked: the dir bound into the box is gone, and the client's next call fails
    ctlJson(dir, 'peer', 'remove', 'box');
    expect(existsSync(peer.socket_dir)).toBe(false);
    expect(await tool(c, 'send', { to: 'alice', body: 'anyone?' })).toMatchObject({ isError: true, text: expect.stringContaining('unavailable') });
  });
});
