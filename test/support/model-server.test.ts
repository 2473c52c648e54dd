/**
 * Proves the model stand-in against the REAL `claude` CLI: a plain text turn,
 * an MCP tool round trip through a throwaway stdio MCP server, and a
 * `--session-id` / `--resume` pair that carries the conversation over.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  allMessagesText,
  isMainTurn,
  lastUserPrompt,
  lastUserText,
  startModelServer,
  systemText,
  toolNames,
  toolResults,
  type ModelServer,
} from './model-server';

const ROOT = resolve(import.meta.dir, '../..');
const CLAUDE = join(ROOT, 'node_modules/.bin/claude');
const BUN = process.execPath;
const MODEL = 'claude-haiku-4-5';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      /* best effort */
    }
  }
});

/** A fresh temp dir removed in afterAll. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Env that points the CLI at the stand-in and isolates its config in `home`. */
function claudeEnv(server: ModelServer, home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...server.env,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ENABLE_TOOL_SEARCH: 'false',
    CLAUDE_CONFIG_DIR: home,
    HOME: home,
  };
}

interface RunResult {
  code: number;
  events: any[];
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `claude -p --output-format stream-json --verbose --model MODEL <args>` and parses stdout lines. */
async function runClaude(args: string[], env: Record<string, string>, cwd: string): Promise<RunResult> {
  const t0 = performance.now();
  const proc = Bun.spawn([CLAUDE, '-p', '--output-format', 'stream-json', '--verbose', '--model', MODEL, ...args], {
    env,
    cwd,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const killer = setTimeout(() => proc.kill(), 50_000);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const events = stdout
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l));
    return { code, events, stdout, stderr, ms: performance.now() - t0 };
  } finally {
    clearTimeout(killer);
  }
}

function initEvent(r: RunResult): any {
  return r.events.find((e) => e.type === 'system' && e.subtype === 'init');
}
function resultEvent(r: RunResult): any {
  return r.events.find((e) => e.type === 'result');
}

/** Writes a stdio MCP server exposing `echo(text)` and an --mcp-config file naming it `t`; returns the config path. */
function writeEchoMcp(dir: string): string {
  const url = (m: string) => JSON.stringify(Bun.pathToFileURL(Bun.resolveSync(`@modelcontextprotocol/sdk/${m}`, ROOT)).href);
  const script = join(dir, 'echo-mcp.ts');
  writeFileSync(
    script,
    `import { Server } from ${url('server/index.js')};
import { StdioServerTransport } from ${url('server/stdio.js')};
import { CallToolRequestSchema, ListToolsRequestSchema } from ${url('types.js')};
const server = new Server({ name: 'echo-test', version: '0.0.1' }, { capabilities: { tools: {} } });
const inputSchema = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: 'echo', description: 'Echo the text back', inputSchema }] }));
server.setRequestHandler(CallToolRequestSchema, (req) => ({ content: [{ type: 'text', text: 'echo: ' + req.params.arguments?.text }] }));
await server.connect(new StdioServerTransport());
`,
  );
  const config = join(dir, 'mcp.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { t: { type: 'stdio', command: BUN, args: [script] } } }));
  return config;
}

/** Parses an SSE transcript into [event, data] pairs. */
function parseSse(text: string): Array<[string, any]> {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim())
    .map((frame) => {
      const event = /^event: (.*)$/m.exec(frame)![1]!;
      const data = JSON.parse(/^data: (.*)$/m.exec(frame)![1]!);
      return [event, data] as [string, any];
    });
}

describe('model stand-in protocol (no CLI)', () => {
  test('streaming, non-streaming, count_tokens, unknown paths, responder errors', async () => {
    const longText = 'a fairly long text that spans more than one delta chunk';
    const script = [
      { type: 'text' as const, text: longText },
      { type: 'tool_use' as const, name: 'mcp__t__echo', input: { text: 'ping', n: 1 } },
    ];
    const server = await startModelServer((req) => {
      if (req.body.messages?.[0]?.content === 'boom') throw new Error('scripted failure');
      return script;
    });
    try {
      const post = (path: string, body: unknown) =>
        fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const base = { model: MODEL, max_tokens: 100, tools: [{ name: 'x', input_schema: { type: 'object' } }] };

      // streaming
      const sres = await post('/v1/messages?beta=true', { ...base, stream: true, messages: [{ role: 'user', content: 'hi' }] });
      expect(sres.headers.get('content-type')).toContain('text/event-stream');
      const events = parseSse(await sres.text());
      expect(events.map(([e]) => e)[0]).toBe('message_start');
      expect(events.every(([e, d]) => e === d.type)).toBe(true);
      expect(events.at(-1)![0]).toBe('message_stop');
      const text = events
        .filter(([, d]) => d.type === 'content_block_delta' && d.index === 0)
        .map(([, d]) => d.delta.text)
        .join('');
      expect(text).toBe(longText);
      const json = events
        .filter(([, d]) => d.type === 'content_block_delta' && d.index === 1)
        .map(([, d]) => d.delta.partial_json)
        .join('');
      expect(JSON.parse(json)).toEqual({ text: 'ping', n: 1 });
      const start = events.find(([, d]) => d.type === 'content_block_start' && d.index === 1)![1];
      expect(start.content_block.id).toMatch(/^toolu_[A-Za-z0-9]+$/);
      const delta = events.find(([e]) => e === 'message_delta')![1];
      expect(delta.delta.stop_reason).toBe('tool_use');
      expect(delta.usage.output_tokens).toBeGreaterThan(0);

      // non-streaming
      const jres = await post('/v1/messages', { ...base, messages: [{ role: 'user', content: 'hi' }] });
      const msg: any = await jres.json();
      expect(msg.type).toBe('message');
      expect(msg.stop_reason).toBe('tool_use');
      expect(msg.content[1]).toMatchObject({ type: 'tool_use', name: 'mcp__t__echo', input: { text: 'ping', n: 1 } });
      expect(msg.usage.input_tokens).toBeGreaterThan(0);

      // count_tokens, unknown path, responder error, bad JSON
      const ct: any = await (await post('/v1/messages/count_tokens', { ...base, messages: [] })).json();
      expect(ct.input_tokens).toBeGreaterThan(0);
      expect((await fetch(server.url + '/api/hello', { method: 'HEAD' })).status).toBe(404);
      const err = await post('/v1/messages', { ...base, messages: [{ role: 'user', content: 'boom' }] });
      expect(err.status).toBe(500);
      expect(((await err.json()) as any).error.type).toBe('api_error');
      const bad = await fetch(server.url + '/v1/messages', { method: 'POST', body: '{nope' });
      expect(bad.status).toBe(400);

      expect(server.requests.length).toBe(3);
      expect(server.countTokens.length).toBe(1);
      expect(server.misc).toEqual([expect.objectContaining({ method: 'HEAD', path: '/api/hello' })]);
      expect(server.errors.map((e) => e.message)).toContain('scripted failure');
    } finally {
      await server.close();
    }
  });

  test('helpers', () => {
    const body = {
      system: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }],
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: [{ type: 'text', text: 'reply' }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'out' }] },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'bad', is_error: true },
            { type: 'text', text: 'more' },
            { type: 'text', text: '<system-reminder>x</system-reminder>' },
          ],
        },
      ],
    };
    expect(systemText(body)).toBe('a\nb');
    expect(systemText({ system: 'plain' })).toBe('plain');
    expect(lastUserText(body)).toBe('more\n<system-reminder>x</system-reminder>');
    expect(lastUserPrompt(body)).toBe('more');
    expect(toolResults(body)).toEqual([
      { tool_use_id: 'toolu_1', content: 'out', is_error: false },
      { tool_use_id: 'toolu_2', content: 'bad', is_error: true },
    ]);
    expect(allMessagesText(body)).toContain('reply');
    expect(isMainTurn(body)).toBe(false);
    expect(isMainTurn({ tools: [{ name: 'x' }], max_tokens: 1 })).toBe(false);
    expect(isMainTurn({ tools: [{ name: 'x' }], max_tokens: 32000 })).toBe(true);
    expect(lastUserText({})).toBe('');
    expect(toolResults(null)).toEqual([]);
  });
});

describe('model stand-in with the real claude CLI', () => {
  test('plain text reply', async () => {
    const server = await startModelServer((req) =>
      isMainTurn(req.body) ? [{ type: 'text', text: 'scripted hello from the stand-in' }] : [{ type: 'text', text: 'side' }],
    );
    const home = tempDir('ms-plain-');
    try {
      const r = await runClaude(['--', 'hello'], claudeEnv(server, home), home);
      expect(r.code).toBe(0);
      const init = initEvent(r);
      expect(init).toBeDefined();
      expect(init.model).toBe(MODEL);
      expect(typeof init.session_id).toBe('string');
      const result = resultEvent(r);
      expect(result.subtype).toBe('success');
      expect(result.is_error).toBe(false);
      expect(result.result).toBe('scripted hello from the stand-in');
      expect(result.session_id).toBe(init.session_id);

      const main = server.requests.filter((q) => isMainTurn(q.body));
      expect(main.length).toBe(1);
      expect(main[0]!.body.model).toBe(MODEL);
      expect(main[0]!.body.stream).toBe(true);
      expect(lastUserPrompt(main[0]!.body)).toBe('hello');
      expect(lastUserText(main[0]!.body)).toContain('hello');
      expect(systemText(main[0]!.body).length).toBeGreaterThan(1000);
      expect(main[0]!.headers['x-api-key']).toBe('test-key');
      expect(server.errors).toEqual([]);
    } finally {
      await server.close();
    }
  }, 60_000);

  test('MCP tool round trip', async () => {
    const server = await startModelServer((req) => {
      if (!isMainTurn(req.body)) return [{ type: 'text', text: 'side' }];
      if (toolResults(req.body).length > 0) return [{ type: 'text', text: 'done' }];
      return [{ type: 'tool_use', name: 'mcp__t__echo', input: { text: 'ping' } }];
    });
    const home = tempDir('ms-mcp-');
    try {
      const config = writeEchoMcp(home);
      const r = await runClaude(
        [
          '--mcp-config',
          config,
          '--strict-mcp-config',
          '--allowedTools',
          'mcp__t__*',
          '--permission-mode',
          'dontAsk',
          '--',
          'call the echo tool',
        ],
        claudeEnv(server, home),
        home,
      );
      expect(r.code).toBe(0);
      const init = initEvent(r);
      expect(init.mcp_servers.find((m: any) => m.name === 't')?.status).toBe('connected');
      expect(init.tools).toContain('mcp__t__echo');

      const main = server.requests.filter((q) => isMainTurn(q.body));
      expect(main.length).toBe(2);
      expect(toolNames(main[0]!.body)).toContain('mcp__t__echo');
      const results = toolResults(main[1]!.body);
      expect(results.length).toBe(1);
      expect(results[0]!.content).toContain('ping');
      expect(results[0]!.is_error).toBe(false);
      expect(results[0]!.tool_use_id).toMatch(/^toolu_/);

      // the CLI echoes the tool call and result as assistant/user events
      const toolUse = r.events.find(
        (e) => e.type === 'assistant' && e.message.content.some((b: any) => b.type === 'tool_use'),
      );
      expect(toolUse.message.content.find((b: any) => b.type === 'tool_use').name).toBe('mcp__t__echo');
      expect(r.events.some((e) => e.type === 'user' && JSON.stringify(e.message).includes('echo: ping'))).toBe(true);

      const result = resultEvent(r);
      expect(result.subtype).toBe('success');
      expect(result.is_error).toBe(false);
      expect(result.result).toBe('done');
      expect(result.num_turns).toBe(2);
      expect(server.errors).toEqual([]);
    } finally {
      await server.close();
    }
  }, 60_000);

  test('--session-id then --resume carries the conversation over', async () => {
    let turn = 0;
    const server = await startModelServer((req) => {
      if (!isMainTurn(req.body)) return [{ type: 'text', text: 'side' }];
      turn++;
      return [{ type: 'text', text: turn === 1 ? 'first answer: blue-octopus' : 'second answer' }];
    });
    const home = tempDir('ms-resume-');
    const sessionId = crypto.randomUUID();
    try {
      const config = writeEchoMcp(home);
      const common = ['--mcp-config', config, '--strict-mcp-config', '--allowedTools', 'mcp__t__*', '--permission-mode', 'dontAsk'];
      const env = claudeEnv(server, home);

      const first = await runClaude([...common, '--session-id', sessionId, '--', 'remember the magic word'], env, home);
      expect(first.code).toBe(0);
      expect(resultEvent(first).session_id).toBe(sessionId);
      expect(resultEvent(first).result).toBe('first answer: blue-octopus');

      const second = await runClaude([...common, '--resume', sessionId, '--', 'what was it?'], env, home);
      expect(second.code).toBe(0);
      expect(resultEvent(second).subtype).toBe('success');
      expect(resultEvent(second).result).toBe('second answer');
      expect(resultEvent(second).session_id).toBe(sessionId);

      const main = server.requests.filter((q) => isMainTurn(q.body));
      expect(main.length).toBe(2);
      const resumed = main[1]!.body;
      expect(lastUserPrompt(resumed)).toBe('what was it?');
      const history = allMessagesText(resumed);
      expect(history).toContain('remember the magic word');
      expect(history).toContain('first answer: blue-octopus');
      expect(resumed.messages.some((m: any) => m.role === 'assistant')).toBe(true);
    } finally {
      await server.close();
    }
  }, 60_000);
});
