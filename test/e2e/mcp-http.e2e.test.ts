/**
 * The hive's MCP tools come from the harness's own HTTP endpoint: a real core, a real agent and
 * real `claude` turns against the scripted model. The first model request of a turn lists the
 * hive's tools while no `hive mcp` process runs for the hive's server (an extra server from
 * agent.toml still runs as configured); the endpoint refuses requests without its token; it keeps
 * to the Streamable HTTP transport's rules and JSON-RPC's, as `hive mcp` does on stdio; and a
 * waiting `recv` whose HTTP request goes away does not take the next message with it.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { isMainTurn, lastUserPrompt, toolNames, type CapturedRequest, type ModelServer, startModelServer } from '../support/model-server.ts';
import { ctlJson, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('mcp http e2e', 'git');

// Each test drives real claude turns.
setDefaultTimeout(120_000);

let model: ModelServer;
let dir: string;
let layout: DataLayout;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
/** Runs when the scripted model gets a main-turn request, before it answers. */
let onMainTurn: ((req: CapturedRequest) => void) | null = null;

/** Every running `hive mcp` process (this project's entry with the argument `mcp`) on `socket`: pid and environment. */
function hiveMcpProcesses(socket: string): { pid: number; env: string[] }[] {
  const out: { pid: number; env: string[] }[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv.includes(ENTRY) || argv.at(-1) !== 'mcp') continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`HIVE_SOCKET=${socket}`)) out.push({ pid: Number(pid), env });
    } catch {
      // the process ended while we looked: it is not running
    }
  }
  return out;
}

beforeAll(async () => {
  model = await startModelServer((req) => {
    if (isMainTurn(req.body)) onMainTurn?.(req);
    return [{ type: 'text', text: 'noted' }];
  });
  dir = tempDir('hv-mh-');
  layout = new DataLayout(dir);
  core = await startCoreProcess(dir, ['--no-manager'], model.env);
  ctlJson(dir, 'spawn', 'alice');
  // an extra stdio server that is `hive mcp` itself, marked so the process scan can tell it apart
  writeFileSync(
    layout.agent('alice').configFile,
    `[extraMcpServers.extra]
command = "${process.execPath}"
args = ["${ENTRY}", "mcp"]
env = { HIVE_SOCKET = "${layout.agent('alice').socket}", HIVE_ROLE = "agent", HIVE_TEST_MARK = "extra" }
`,
  );
  ctlJson(dir, 'restart', 'alice');
  await waitFor('alice idle', () => ctlJson(dir, 'list').agents.find((a: any) => a.name === 'alice' && a.status === 'idle'));
}, 60_000);

afterAll(async () => {
  await core?.stop();
  await model?.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

const mcpJson = () => JSON.parse(readFileSync(join(layout.agent('alice').state, '.hive', 'mcp.json'), 'utf8'));

describe('the hive MCP endpoint', () => {
  test("a turn's first model request lists the hive's tools, and no hive mcp process serves them", async () => {
    for (const round of [1, 2]) {
      const marker = `MARK-${round}-${crypto.randomUUID()}`;
      let seen: { tools: string[]; mcp: { pid: number; env: string[] }[] } | null = null;
      onMainTurn = (req) => {
        // claude has connected every MCP server before its first request, and a stdio server lives
        // as long as claude: whatever runs now is all that serves this turn
        if (!seen && lastUserPrompt(req.body).includes(marker)) seen = { tools: toolNames(req.body), mcp: hiveMcpProcesses(layout.agent('alice').socket) };
      };
      const { id } = ctlJson(dir, 'send', 'alice', `${marker} hello`);
      expect((await turnFor(dir, 'alice', id)).status).toBe('ok');
      onMainTurn = null;
      const s = seen as { tools: string[]; mcp: { pid: number; env: string[] }[] } | null;
      expect(s).not.toBeNull();
      for (const t of ['send', 'recv', 'ask', 'answer', 'questions', 'remind', 'reminders', 'cancel_reminder']) expect(s!.tools).toContain(`mcp__hyperhive__${t}`);
      expect(s!.tools).not.toContain('mcp__hyperhive__kill');
      expect(s!.tools).toContain('mcp__extra__send');
      // the extra server runs, as configured; nothing else of ours does
      expect(s!.mcp.map((p) => p.env.includes('HIVE_TEST_MARK=extra'))).toEqual([true]);
    }
    const cfg = mcpJson();
    expect(cfg.mcpServers.hyperhive).toMatchObject({ type: 'http', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/) });
    expect(cfg.mcpServers.extra).toMatchObject({ type: 'stdio', command: process.execPath, args: [ENTRY, 'mcp'] });
    expect(statSync(join(layout.agent('alice').state, '.hive', 'mcp.json')).mode & 0o777).toBe(0o600);
  });

  test('the endpoint refuses a request without the token, or with another one', async () => {
    const { url, headers } = mcpJson().mcpServers.hyperhive;
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const post = (extra: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra }, body: init });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post({ authorization: headers.Authorization.slice(0, -1) })).status).toBe(401);
    expect((await fetch(url, { headers })).status).toBe(405);
    expect((await fetch(url.replace(/\/mcp$/, '/other'), { method: 'POST', headers, body: init })).status).toBe(404);
    const ok = await post(headers);
    expect(ok.status).toBe(200);
    expect((await ok.json()).result.serverInfo.name).toBe('hyperhive');

    // an MCP client with the token gets the tools and can call them, as alice
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('send');
      const r: any = await client.callTool({ name: 'send', arguments: { to: 'operator', body: 'through the endpoint' } });
      expect(r.content[0].text).toMatch(/^sent message #\d+ to operator$/);
      const sent = ctlJson(dir, 'messages').messages.filter((x: any) => x.body === 'through the endpoint');
      expect(sent).toEqual([expect.objectContaining({ from: 'alice', to: 'operator' })]);
    } finally {
      await client.close();
    }
  });

  test('a waiting recv whose request goes away leaves the next message for the turn loop', async () => {
    const { url, headers } = mcpJson().mcpServers.hyperhive;
    const abort = new AbortController();
    const call = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'recv', arguments: { wait_seconds: 60 } } });
    let settled = false;
    const pending = fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: call,
      signal: abort.signal,
    })
      .catch(() => null)
      .finally(() => (settled = true));
    // the call is parked in the core: nothing answers it while the inbox is empty
    await waitFor('alice idle', () => ctlJson(dir, 'list').agents.find((a: any) => a.name === 'alice' && a.status === 'idle'));
    expect(settled).toBe(false);
    abort.abort();
    await pending;
    // The loop's own recv was parked first and takes the first message; a recv left waiting in the
    // core would take the second, which then would never start a turn.
    const ids = [ctlJson(dir, 'send', 'alice', 'after the abort, 1').id, ctlJson(dir, 'send', 'alice', 'after the abort, 2').id];
    for (const id of ids) expect((await turnFor(dir, 'alice', id)).status).toBe('ok');
  });

  test("the endpoint keeps to the transport's rules and JSON-RPC's", async () => {
    const { url, headers } = mcpJson().mcpServers.hyperhive;
    const base = { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { ...base, ...extra }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

    // the transport: what the client accepts and sends, the protocol revision, the size
    expect((await post(ping, { accept: 'application/json' })).status).toBe(406);
    expect((await post(ping, { 'content-type': 'text/plain' })).status).toBe(415);
    const newer = await post(ping, { 'mcp-protocol-version': '2099-01-01' });
    expect(newer.status).toBe(400);
    expect((await newer.json()).error.message).toContain('Unsupported protocol version: 2099-01-01 (supported versions: 2025-11-25, 2025-06-18');
    expect((await post(ping, { 'mcp-protocol-version': '2025-06-18' })).status).toBe(200);
    expect((await post(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(4 * 1024 * 1024)}"}}`)).status).toBe(413);
    const garbled = await post('{"jsonrpc":');
    expect(garbled.status).toBe(400);
    expect((await garbled.json()).error.code).toBe(-32700);

    // messages: a notification needs no answer; a batch gets one answer per request, in order
    const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(note.status).toBe(202);
    expect(await note.text()).toBe('');
    const batch = await post([ping, { jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 'b', method: 'tools/list' }]);
    const answers = (await batch.json()) as any[];
    expect(answers.map((a) => a.id)).toEqual([1, 'b']);
    expect(answers[0].result).toEqual({});
    expect(answers[1].result.tools.map((t: any) => t.name)).toContain('send');

    // errors name what was wrong
    const invalid = await post({ id: 1, method: 'ping' });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error).toMatchObject({ code: -32600, message: expect.stringContaining('jsonrpc') });
    expect((await (await post({ jsonrpc: '2.0', id: 2, method: 'resources/list' })).json()).error).toEqual({ code: -32601, message: 'Method not found: resources/list' });
    const badParams = await (await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { arguments: {} } })).json();
    expect(badParams.error).toMatchObject({ code: -32602, message: expect.stringContaining('Invalid params for tools/call: name') });
    const noTool = await (await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'rm', arguments: {} } })).json();
    expect(noTool.result.isError).toBe(true);
    expect(noTool.result.content[0].text).toContain('error (not_found): no tool named "rm"');

    // the handshake settles on the client's revision when it is one of ours, else on the newest
    const init = (protocolVersion: string) =>
      post({ jsonrpc: '2.0', id: 5, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } } }).then((r) => r.json() as Promise<any>);
    expect((await init('2024-11-05')).result).toMatchObject({ protocolVersion: '2024-11-05', capabilities: { tools: {} }, serverInfo: { name: 'hyperhive' } });
    expect((await init('2099-01-01')).result.protocolVersion).toBe('2025-11-25');
    // an initialize that already names a newer revision in the header is negotiated, not refused
    const early = await post(
      { jsonrpc: '2.0', id: 6, method: 'initialize', params: { protocolVersion: '2099-01-01', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
      { 'mcp-protocol-version': '2099-01-01' },
    );
    expect(early.status).toBe(200);
    expect(((await early.json()) as any).result.protocolVersion).toBe('2025-11-25');
    // MCP's params are objects
    expect((await (await post({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: [] })).json()).error).toEqual({
      code: -32602,
      message: 'Invalid params for tools/list: params must be an object',
    });
  });

  test('hive mcp on stdio answers line by line, a line that is not JSON or too long included', async () => {
    const { proc, lines, reading } = stdioMcp();
    proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping', params: { pad: 'x'.repeat(4 * 1024 * 1024) } })}\n`);
    proc.stdin.write('not json\n');
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send', arguments: { to: 'operator', body: 'through stdio' } } }) + '\n');
    proc.stdin.write(JSON.stringify([{ jsonrpc: '2.0', id: 2, method: 'ping' }]) + '\n');
    await waitFor('four answers', () => lines.length >= 4);
    proc.stdin.end();
    await proc.exited;
    await reading;
    expect(proc.exitCode).toBe(0);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: a line of more than 4194304 characters' } });
    expect(lines).toContainEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: a line that is not JSON' } });
    expect(lines).toContainEqual([{ jsonrpc: '2.0', id: 2, result: {} }]);
    const sent = lines.find((l) => l.id === 1);
    expect(sent.result.content[0].text).toMatch(/^sent message #\d+ to operator$/);
    expect(ctlJson(dir, 'messages').messages.filter((x: any) => x.body === 'through stdio')).toEqual([expect.objectContaining({ from: 'alice', to: 'operator' })]);
  });

  test("a waiting recv on hive mcp's stdio is dropped when stdin closes, and takes no message with it", async () => {
    const { proc, lines, reading } = stdioMcp();
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'recv', arguments: { wait_seconds: 60 } } }) + '\n');
    // a call after it on the same connection: once that is answered, the core has read the recv
    // (it reads a connection's lines in order) and parked it, as alice's inbox is empty
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'agents', arguments: {} } }) + '\n');
    await waitFor('the call after the recv', () => lines.some((l) => l.id === 2));
    proc.stdin.end();
    await proc.exited;
    await reading;
    expect(proc.exitCode).toBe(0);
    expect(lines.map((l) => l.id)).toEqual([2]);
    // as over HTTP: a recv left waiting would take the second message, which then never starts a turn
    const ids = [ctlJson(dir, 'send', 'alice', 'after stdin closed, 1').id, ctlJson(dir, 'send', 'alice', 'after stdin closed, 2').id];
    for (const id of ids) expect((await turnFor(dir, 'alice', id)).status).toBe('ok');
  });
});

/** `hive mcp` on alice's socket, with its answers collected from stdout as they come. */
function stdioMcp() {
  const proc = Bun.spawn([process.execPath, ENTRY, 'mcp'], {
    env: { PATH: process.env.PATH!, HIVE_SOCKET: layout.agent('alice').socket, HIVE_ROLE: 'agent' },
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'ignore',
  });
  const lines: any[] = [];
  const reading = (async () => {
    let buf = '';
    const reader = proc.stdout.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      buf += new TextDecoder().decode(r.value);
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) lines.push(JSON.parse(buf.slice(0, nl)));
    }
  })();
  return { proc, lines, reading };
}
