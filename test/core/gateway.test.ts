/**
 * The model gateway over real unix sockets, a real `hive.db` (sqlite on a temp file) and real
 * upstream servers on 127.0.0.1: streams pass through chunk by chunk and are recorded with their
 * tokens and cost, the operator's credentials go only to the core's upstream, upstream errors keep
 * their status and headers, a client that goes away cancels the upstream request, and the policy
 * (model allow-list, daily and monthly budgets, a broken agent config) refuses before anything is
 * forwarded. Last, the real `claude` CLI completes a turn through a gateway socket.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'bun:sqlite';
import { openCoreDb } from '../../src/core/db.ts';
import {
  ModelGateway,
  modelAllowed,
  type GatewayCredentials,
  type GatewayPolicy,
  type ModelGatewayOptions,
} from '../../src/core/gateway/model-gateway.ts';
import { costOf, familyOf, priceOf } from '../../src/core/gateway/prices.ts';
import { UsageStore, type ModelRequestRecord } from '../../src/core/gateway/usage.ts';
import { HiveError } from '../../src/shared/errors.ts';
import { defaultClaudeBin } from '../../src/shared/version.ts';
import { startModelServer, type ModelServer } from '../support/model-server.ts';
import { waitFor } from '../support/hive.ts';

setDefaultTimeout(60_000);

const REAL_KEY = 'sk-test-real';
const PLACEHOLDER = 'hive-gateway';
const DAY = 86_400_000;

let dir: string;
let db: Database;
let usage: UsageStore;
let stand: ModelServer;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  // short: unix socket paths hold at most 107 bytes
  dir = mkdtempSync('/tmp/gw-');
  db = openCoreDb(join(dir, 'hive.db'));
  usage = new UsageStore(db);
  stand = await startModelServer(() => [{ type: 'text', text: 'hello from the stand-in' }]);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      /* best effort */
    }
  }
  await stand?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `p`, or a rejection naming `what` after `ms` (so a hang fails with a reason, not the test timeout). */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** What an upstream saw of one request. */
interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A loopback upstream answering with `respond`; records every request it gets. */
function startUpstream(respond: (req: Request, seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      const s: Seen = { method: req.method, path: url.pathname + url.search, headers, body: await req.text() };
      seen.push(s);
      return respond(req, s);
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, seen };
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const enc = new TextEncoder();

/** A gateway serving `agent` on a socket in the temp dir, with everything the test wants to see. */
async function openGateway(
  agent: string,
  opts: {
    upstream: string;
    credentials?: GatewayCredentials;
    policy?: Partial<GatewayPolicy> | (() => GatewayPolicy);
    turn?: string | null;
    now?: () => number;
  },
) {
  const refused: Array<{ agent: string; reason: string; message: string }> = [];
  const recorded: ModelRequestRecord[] = [];
  const logs: string[] = [];
  const policy = opts.policy;
  const gwOpts: ModelGatewayOptions = {
    upstream: opts.upstream,
    credentials: opts.credentials ?? { apiKey: REAL_KEY },
    usage,
    policyFor: typeof policy === 'function' ? policy : () => ({ upstream: null, models: null, budget: {}, ...policy }),
    turnOf: () => opts.turn ?? null,
    onRefused: (a, reason, message) => refused.push({ agent: a, reason, message }),
    onRecorded: (rec) => recorded.push(rec),
    log: (line) => logs.push(line),
    now: opts.now,
  };
  const gateway = new ModelGateway(gwOpts);
  const socket = join(dir, `${agent}.sock`);
  await gateway.listen(agent, socket);
  cleanups.push(() => gateway.closeAll());
  /** fetch through the agent's socket, as claude does with ANTHROPIC_UNIX_SOCKET */
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`http://localhost${path}`, { ...init, unix: socket } as RequestInit);
  return { gateway, socket, call, refused, recorded, logs };
}

/** The headers claude sends, placeholder key included. */
const CLIENT_HEADERS = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': PLACEHOLDER,
  authorization: `Bearer ${PLACEHOLDER}`,
};

const messagesBody = (model = 'claude-haiku-4-5', stream = true) =>
  JSON.stringify({ model, max_tokens: 64, stream, messages: [{ role: 'user', content: 'hi' }] });

describe('model gateway', () => {
  test('a streamed request through the unix socket reaches the client whole and is recorded with its tokens and cost', async () => {
    const g = await openGateway('streamer', { upstream: stand.url, turn: 'turn-s1' });
    const before = stand.requests.length;
    const res = await g.call('/v1/messages?beta=true', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text).toContain('event: message_stop');
    const said = text
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.includes('text_delta'))
      .map((l) => JSON.parse(l.slice(6)).delta.text)
      .join('');
    expect(said).toBe('hello from the stand-in');
    expect(stand.requests.length).toBe(before + 1);

    const rec = await waitFor('the record', () => g.recorded[0]);
    const start = JSON.parse(text.split('\n').find((l) => l.startsWith('data: {"type":"message_start"'))!.slice(6));
    const delta = JSON.parse(text.split('\n').find((l) => l.startsWith('data: {"type":"message_delta"'))!.slice(6));
    expect(rec).toMatchObject({
      agent: 'streamer',
      turn_id: 'turn-s1',
      model: 'claude-haiku-4-5',
      status: 200,
      error: null,
      input_tokens: start.message.usage.input_tokens,
      // message_delta's count is cumulative: it replaces message_start's
      output_tokens: delta.usage.output_tokens,
      cache_write_tokens: 0,
      cache_read_tokens: 0,
    });
    expect(rec.output_tokens).toBeGreaterThan(1);
    expect(rec.cost_usd).toBeCloseTo((rec.input_tokens * 1 + rec.output_tokens * 5) / 1e6, 12);
    expect(rec.first_byte_ms).toBeGreaterThan(0);
    expect(rec.duration_ms!).toBeGreaterThanOrEqual(rec.first_byte_ms!);

    // the store answers with the same row
    expect(usage.recent({ agent: 'streamer' })).toEqual([rec]);
    expect(usage.byTurn(['turn-s1', 'nope']).get('turn-s1')).toEqual({
      requests: 1,
      cost_usd: rec.cost_usd!,
      input_tokens: rec.input_tokens,
      output_tokens: rec.output_tokens,
    });
    expect(usage.totals({ agent: 'streamer' })).toEqual([
      {
        agent: 'streamer',
        requests: 1,
        input_tokens: rec.input_tokens,
        output_tokens: rec.output_tokens,
        cache_write_tokens: 0,
        cache_read_tokens: 0,
        cost_usd: rec.cost_usd!,
        unpriced: 0,
      },
    ]);
    expect(usage.spent('streamer', rec.started_at)).toBeCloseTo(rec.cost_usd!, 12);
    expect(usage.spent('streamer', rec.started_at + 1)).toBe(0);
  });

  test('a non-stream reply and count_tokens pass through; only the message is billed', async () => {
    const g = await openGateway('jsonly', { upstream: stand.url });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody('claude-sonnet-4-5-20250929', false) });
    expect(res.status).toBe(200);
    const msg: any = await res.json();
    expect(msg.content[0].text).toBe('hello from the stand-in');
    const count = await g.call('/v1/messages/count_tokens', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(((await count.json()) as any).input_tokens).toBeGreaterThan(0);
    await waitFor('two records', () => g.recorded.length === 2);
    expect(g.recorded[0]).toMatchObject({
      model: 'claude-sonnet-4-5-20250929',
      status: 200,
      input_tokens: msg.usage.input_tokens,
      output_tokens: msg.usage.output_tokens,
    });
    expect(g.recorded[0]!.cost_usd).toBeCloseTo((msg.usage.input_tokens * 3 + msg.usage.output_tokens * 15) / 1e6, 12);
    expect(g.recorded[1]).toMatchObject({ model: 'claude-haiku-4-5', status: 200, input_tokens: 0, output_tokens: 0, cost_usd: 0 });
  });

  test('the operator key is injected and the placeholder stripped; oauth adds its beta; a base path prefix is kept', async () => {
    const up = startUpstream(() => Response.json({ ok: true }));
    const g = await openGateway('creds', { upstream: `${up.url}/prefix/` });
    const res = await g.call('/v1/messages?beta=true', {
      method: 'POST',
      headers: { ...CLIENT_HEADERS, 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14', 'accept-encoding': 'gzip, br' },
      body: messagesBody(),
    });
    expect(res.status).toBe(200);
    const seen = up.seen[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/prefix/v1/messages?beta=true');
    expect(seen.headers['x-api-key']).toBe(REAL_KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.headers['anthropic-beta']).toBe('fine-grained-tool-streaming-2025-05-14');
    expect(Object.values(seen.headers).join('\n')).not.toContain(PLACEHOLDER);
    expect(JSON.parse(seen.body)).toEqual(JSON.parse(messagesBody()));

    const o = await openGateway('oauth', { upstream: up.url, credentials: { oauthToken: 'oat-real' } });
    await o.call('/v1/models', { headers: { ...CLIENT_HEADERS, 'anthropic-beta': 'a-1,b-2' } });
    const seenO = up.seen[1]!;
    expect(seenO.method).toBe('GET');
    expect(seenO.path).toBe('/v1/models');
    expect(seenO.headers.authorization).toBe('Bearer oat-real');
    expect(seenO.headers['x-api-key']).toBeUndefined();
    expect(seenO.headers['anthropic-beta']).toBe('a-1,b-2,oauth-2025-04-20');
  });

  test("an agent's own upstream gets no credentials at all", async () => {
    const core = startUpstream(() => Response.json({ core: true }));
    const own = startUpstream(() => Response.json({ own: true }));
    const g = await openGateway('selfhost', {
      upstream: core.url,
      credentials: { apiKey: REAL_KEY, authToken: 'tok-real' },
      policy: { upstream: `${own.url}/anthropic` },
    });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody('claude-haiku-4-5', false) });
    expect(await res.json()).toEqual({ own: true });
    expect(core.seen).toHaveLength(0);
    const seen = own.seen[0]!;
    expect(seen.path).toBe('/anthropic/v1/messages');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    const all = Object.values(seen.headers).join('\n');
    expect(all).not.toContain(REAL_KEY);
    expect(all).not.toContain('tok-real');
    expect(all).not.toContain(PLACEHOLDER);
  });

  test('a 429 passes through with its body and rate-limit headers and is recorded', async () => {
    const body = { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } };
    const up = startUpstream(() =>
      Response.json(body, {
        status: 429,
        headers: {
          'retry-after': '7',
          'anthropic-ratelimit-requests-remaining': '0',
          'x-should-retry': 'true',
          'request-id': 'req_429',
        },
      }),
    );
    const g = await openGateway('limited', { upstream: up.url });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(res.headers.get('x-should-retry')).toBe('true');
    expect(res.headers.get('request-id')).toBe('req_429');
    expect(await res.json()).toEqual(body);
    const rec = await waitFor('the record', () => g.recorded[0]);
    expect(rec).toMatchObject({ status: 429, error: 'upstream 429: rate_limit_error: slow down', model: 'claude-haiku-4-5', cost_usd: 0 });
  });

  test('a stream passes through as it arrives: the first event reaches the client before the upstream sends the rest', async () => {
    let release!: () => void;
    const rest = new Promise<void>((r) => (release = r));
    let released = false;
    const up = startUpstream(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(c) {
              c.enqueue(
                enc.encode(
                  sse('message_start', {
                    type: 'message_start',
                    message: { id: 'msg_1', model: 'claude-opus-4-5-20251101', usage: { input_tokens: 1000, cache_creation_input_tokens: 2000, cache_read_input_tokens: 3000, output_tokens: 1 } },
                  }),
                ),
              );
              await rest;
              // the next event arrives split across three chunks, mid-line
              const tail = sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 400 } }) + sse('message_stop', { type: 'message_stop' });
              c.enqueue(enc.encode(tail.slice(0, 20)));
              c.enqueue(enc.encode(tail.slice(20, 41)));
              c.enqueue(enc.encode(tail.slice(41)));
              c.close();
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    );
    const g = await openGateway('trickle', { upstream: up.url });
    const res = await within(5_000, 'response headers', g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody('claude-opus-4-5') }));
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let got = '';
    while (!got.includes('\n\n')) {
      // a gateway that buffered would never get here: the upstream holds the rest until released
      const { value, done } = await within(5_000, 'the first event before the rest is released', reader.read());
      if (done) break;
      got += dec.decode(value, { stream: true });
    }
    expect(got).toContain('event: message_start');
    expect(released).toBe(false);
    expect(g.recorded).toHaveLength(0);
    released = true;
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got += dec.decode(value, { stream: true });
    }
    expect(got).toContain('event: message_stop');
    const rec = await waitFor('the record', () => g.recorded[0]);
    expect(rec).toMatchObject({
      model: 'claude-opus-4-5-20251101',
      status: 200,
      input_tokens: 1000,
      cache_write_tokens: 2000,
      cache_read_tokens: 3000,
      output_tokens: 400,
    });
    // Opus 4.5: $5 in, $25 out, writes 1.25×, reads 0.1×
    expect(rec.cost_usd).toBeCloseTo((1000 * 5 + 2000 * 6.25 + 3000 * 0.5 + 400 * 25) / 1e6, 12);
  });

  test('a client that goes away cancels the upstream request, recorded as "client went away"', async () => {
    let upstreamAborted = false;
    const up = startUpstream(
      (req) =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(enc.encode(sse('message_start', { type: 'message_start', message: { model: 'claude-haiku-4-5', usage: { input_tokens: 10, output_tokens: 1 } } })));
              req.signal.addEventListener('abort', () => {
                upstreamAborted = true;
              });
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    );
    const g = await openGateway('quitter', { upstream: up.url });
    const abort = new AbortController();
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody(), signal: abort.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('message_start');
    abort.abort();
    await waitFor('the upstream to see the abort', () => upstreamAborted);
    const rec = await waitFor('the record', () => g.recorded[0]);
    expect(rec).toMatchObject({ status: 200, error: 'client went away', input_tokens: 10, output_tokens: 1 });
  });

  test('an unreachable upstream is a 502 with an Anthropic-shaped error', async () => {
    const gone = startUpstream(() => new Response('x'));
    const url = gone.url;
    await cleanups.pop()!(); // stop it: nothing listens on its port now
    const g = await openGateway('stranded', { upstream: url });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(502);
    const body: any = await res.json();
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toStartWith(`hive gateway: upstream ${url} unreachable: `);
    const rec = await waitFor('the record', () => g.recorded[0]);
    expect(rec).toMatchObject({ status: 502, first_byte_ms: null });
    expect(g.logs.join('\n')).toContain('unreachable');
  });

  test('with no credentials in the core, a request for its upstream is refused with 401 and not sent; an own upstream still works', async () => {
    let hits = 0;
    const up = startUpstream(() => {
      hits++;
      return Response.json({ ok: true });
    });
    const g = await openGateway('nocreds', { upstream: up.url, credentials: {} });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain('the hive core has no Anthropic credentials');
    expect(hits).toBe(0);
    const own = await openGateway('ownup', { upstream: 'http://127.0.0.1:9', credentials: {}, policy: { upstream: up.url } });
    expect((await own.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() })).status).toBe(200);
    expect(hits).toBe(1);
  });

  test('an exhausted budget refuses with 403 before anything is forwarded, per UTC day and per UTC month', async () => {
    const up = startUpstream(() => Response.json({ ok: true }));
    let now = Date.UTC(2026, 10, 21, 12, 0, 0);
    // $3 spent yesterday (same month) and $1.50 today
    usage.record({ agent: 'spender', turn_id: null, model: 'claude-opus-4-1', status: 200, error: null, input_tokens: 0, output_tokens: 0, cache_write_tokens: 0, cache_read_tokens: 0, cost_usd: 3, started_at: now - DAY, first_byte_ms: 1, duration_ms: 2 });
    usage.record({ agent: 'spender', turn_id: null, model: 'claude-opus-4-1', status: 200, error: null, input_tokens: 0, output_tokens: 0, cache_write_tokens: 0, cache_read_tokens: 0, cost_usd: 1.5, started_at: now - 60_000, first_byte_ms: 1, duration_ms: 2 });
    let budget: GatewayPolicy['budget'] = { dailyUsd: 2 };
    const g = await openGateway('spender', { upstream: up.url, policy: () => ({ upstream: null, models: null, budget }), now: () => now });

    // daily: $1.50 of $2 spent today, so this one goes through
    expect((await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() })).status).toBe(200);
    expect(up.seen).toHaveLength(1);

    budget = { dailyUsd: 1.5 };
    let res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-should-retry')).toBe('false');
    let body: any = await res.json();
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toStartWith('hive gateway: ');
    expect(body.error.message).toContain('"spender"');
    expect(body.error.message).toContain('$1.50 today');
    expect(body.error.message).toContain('daily budget of $1.50');
    expect(body.error.message).toContain('budget.dailyUsd');
    expect(body.error.message).toContain('through the manager');
    expect(up.seen).toHaveLength(1);
    expect(g.refused).toEqual([{ agent: 'spender', reason: 'budget', message: body.error.message.replace('hive gateway: ', '') }]);
    expect(g.recorded.at(-1)).toMatchObject({ status: 403, error: body.error.message, first_byte_ms: null, cost_usd: 0 });

    // the next UTC day starts afresh
    now += DAY;
    expect((await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() })).status).toBe(200);
    expect(up.seen).toHaveLength(2);

    // monthly: $4.50 spent in November
    budget = { dailyUsd: 100, monthlyUsd: 4.5 };
    res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(403);
    body = await res.json();
    expect(body.error.message).toContain('$4.50 this month');
    expect(body.error.message).toContain('monthly budget of $4.50');
    expect(body.error.message).toContain('budget.monthlyUsd');
    expect(up.seen).toHaveLength(2);
    expect(g.refused).toHaveLength(2);

    // December is a new month
    now = Date.UTC(2026, 11, 1, 0, 0, 1);
    expect((await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() })).status).toBe(200);
    expect(up.seen).toHaveLength(3);
  });

  test('a model off the allow-list is refused with 403; aliases and dated snapshots are allowed', async () => {
    const up = startUpstream(() => Response.json({ ok: true }));
    const g = await openGateway('picky', { upstream: up.url, policy: { models: ['haiku', 'claude-sonnet-4-5'] } });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody('claude-opus-4-5') });
    expect(res.status).toBe(403);
    const body: any = await res.json();
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toContain('"picky"');
    expect(body.error.message).toContain('"claude-opus-4-5"');
    expect(body.error.message).toContain('"haiku", "claude-sonnet-4-5"');
    expect(body.error.message).toContain('agent.toml through the manager');
    expect(up.seen).toHaveLength(0);
    expect(g.refused).toMatchObject([{ agent: 'picky', reason: 'model' }]);
    expect(g.recorded[0]).toMatchObject({ status: 403, model: 'claude-opus-4-5' });

    for (const model of ['claude-haiku-4-5-20251001', 'claude-sonnet-4-5', 'claude-sonnet-4-5-20250929']) {
      expect((await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody(model) })).status).toBe(200);
    }
    expect(up.seen).toHaveLength(3);
    expect(modelAllowed('claude-sonnet-4-5-20250929', ['claude-sonnet-4'])).toBe(false);
    expect(modelAllowed('claude-opus-4-1', ['opus'])).toBe(true);
  });

  test('a broken agent config (policyFor throws bad_config) is a 400 naming the field; a body without a model is a 400', async () => {
    const up = startUpstream(() => Response.json({ ok: true }));
    const g = await openGateway('broken', {
      upstream: up.url,
      policy: () => {
        throw new HiveError('bad_config', 'agent.toml: budget.dailyUsd must be a number, got "lots"');
      },
    });
    const res = await g.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: messagesBody() });
    expect(res.status).toBe(400);
    const body: any = await res.json();
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('budget.dailyUsd');
    expect(up.seen).toHaveLength(0);
    expect(g.recorded[0]).toMatchObject({ status: 400, error: body.error.message });

    const ok = await openGateway('sloppy', { upstream: up.url });
    for (const bad of ['not json', '[]', '{"model": 3}', '']) {
      const r = await ok.call('/v1/messages', { method: 'POST', headers: CLIENT_HEADERS, body: bad });
      expect(r.status).toBe(400);
      expect(((await r.json()) as any).error.type).toBe('invalid_request_error');
    }
    expect(up.seen).toHaveLength(0);
  });

  test('usage store: spent keeps up with rows recorded after it was first asked, of any agent', () => {
    const row = (agent: string, cost: number | null, started_at: number) =>
      usage.record({ agent, turn_id: null, model: 'claude-haiku-4-5', status: 200, error: null, input_tokens: 1, output_tokens: 1, cache_write_tokens: 0, cache_read_tokens: 0, cost_usd: cost, started_at, first_byte_ms: 1, duration_ms: 1 });
    const since = Date.UTC(2030, 0, 1);
    expect(usage.spent('sum-a', since)).toBe(0);
    row('sum-a', 0.25, since + 10);
    row('sum-b', 7, since + 10);
    row('sum-a', 0.5, since - 1); // before the period
    row('sum-a', null, since + 20); // unpriced
    expect(usage.spent('sum-a', since)).toBeCloseTo(0.25, 12);
    row('sum-a', 1, since + 30);
    expect(usage.spent('sum-a', since)).toBeCloseTo(1.25, 12);
    expect(usage.spent('sum-a', since - 1)).toBeCloseTo(1.75, 12);
    expect(usage.spent('sum-b', since)).toBe(7);
    // a second store over the same file (no cache yet) agrees
    expect(new UsageStore(db).spent('sum-a', since)).toBeCloseTo(1.25, 12);
    expect(usage.totals({ since })).toMatchObject([
      { agent: 'sum-a', requests: 3, cost_usd: 1.25, unpriced: 1 },
      { agent: 'sum-b', requests: 1, cost_usd: 7, unpriced: 0 },
    ]);
    expect(usage.recent({ agent: 'sum-a', limit: 2 }).map((r) => r.cost_usd)).toEqual([1, null]);
  });

  test('prices: families, dated and cloud ids, aliases, unknown models', () => {
    expect(priceOf('claude-opus-4-5-20251101')).toMatchObject({ input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 });
    expect(priceOf('claude-opus-4-6')).toMatchObject({ input: 5, output: 25 });
    expect(priceOf('claude-opus-4-1-20250805')).toMatchObject({ input: 15, output: 75 });
    expect(priceOf('claude-opus-4-20250514')).toMatchObject({ input: 15, output: 75 });
    expect(priceOf('claude-sonnet-4-5')).toMatchObject({ input: 3, output: 15 });
    expect(priceOf('claude-sonnet-4-0')).toMatchObject({ input: 3, output: 15 });
    expect(priceOf('claude-haiku-4-5-20251001')).toMatchObject({ input: 1, output: 5, cacheWrite: 1.25 });
    expect(priceOf('claude-3-5-haiku-latest')).toMatchObject({ input: 0.8, output: 4 });
    expect(priceOf('claude-3-haiku-20240307')).toMatchObject({ input: 0.25, output: 1.25 });
    expect(priceOf('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toMatchObject({ input: 3 });
    expect(priceOf('claude-opus-4-5@20251101')).toMatchObject({ input: 5 });
    expect(priceOf('haiku')).toMatchObject({ input: 1 });
    expect(priceOf('sonnet')).toMatchObject({ input: 3 });
    expect(priceOf('opus')).toMatchObject({ input: 5 });
    // newer than the table: the newest listed model of the family (what the pinned claude sends for `haiku`)
    expect(priceOf('claude-haiku-5-5')).toMatchObject({ input: 1, output: 5 });
    expect(priceOf('claude-opus-5-5')).toMatchObject({ input: 5, output: 25 });
    expect(priceOf('claude-sonnet-5-5')).toMatchObject({ input: 3, output: 15 });
    expect(priceOf('gpt-5')).toBeNull();
    expect(priceOf('claude-2.1')).toBeNull();
    expect(familyOf('claude-3-5-haiku-20241022')).toBe('haiku');
    const u = { input_tokens: 1_000_000, output_tokens: 1_000_000, cache_write_tokens: 1_000_000, cache_read_tokens: 1_000_000 };
    expect(costOf('claude-sonnet-4-5', u)).toBeCloseTo(3 + 15 + 3.75 + 0.3, 9);
    expect(costOf('claude-sonnet-4-5', { ...u, cache_write_1h_tokens: 1_000_000 })).toBeCloseTo(3 + 15 + 6 + 0.3, 9);
    expect(costOf('mystery', u)).toBeNull();
    expect(costOf('mystery', { input_tokens: 0, output_tokens: 0, cache_write_tokens: 0, cache_read_tokens: 0 })).toBe(0);
    // an unpriced request is counted as such in the totals
    usage.record({ agent: 'odd', turn_id: 't-odd', model: 'mystery', status: 200, error: null, input_tokens: 5, output_tokens: 5, cache_write_tokens: 0, cache_read_tokens: 0, cost_usd: null, started_at: 1, first_byte_ms: 1, duration_ms: 1 });
    expect(usage.totals({ agent: 'odd' })).toMatchObject([{ requests: 1, cost_usd: 0, unpriced: 1 }]);
  });

  test('the real claude CLI completes a turn through the gateway socket; the stand-in sees the real key only', async () => {
    const home = mkdtempSync(join(tmpdir(), 'gw-home-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    writeFileSync(join(home, '.keep'), '');
    const g = await openGateway('cli', { upstream: stand.url, turn: 'turn-cli' });
    const before = { requests: stand.requests.length, other: stand.countTokens.length + stand.misc.length };
    const proc = Bun.spawn([defaultClaudeBin(), '-p', '--output-format', 'stream-json', '--verbose', '--model', 'haiku', '--', 'hi'], {
      cwd: home,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ANTHROPIC_UNIX_SOCKET: g.socket,
        ANTHROPIC_BASE_URL: 'http://localhost',
        ANTHROPIC_API_KEY: PLACEHOLDER,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        ENABLE_TOOL_SEARCH: 'false',
        CLAUDE_CONFIG_DIR: home,
        HOME: home,
      },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const killer = setTimeout(() => proc.kill(), 50_000);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(killer);
    const events = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const result = events.find((e) => e.type === 'result');
    if (code !== 0 || !result || result.is_error) throw new Error(`claude failed (${code}): ${stderr}\n${stdout}`);
    expect(result.result).toContain('hello from the stand-in');

    const mine = stand.requests.slice(before.requests);
    expect(mine.length).toBeGreaterThanOrEqual(1);
    for (const r of mine) {
      expect(r.headers['x-api-key']).toBe(REAL_KEY);
      expect(Object.values(r.headers).join('\n')).not.toContain(PLACEHOLDER);
    }
    const rows = usage.recent({ agent: 'cli' });
    expect(rows.length).toBe(mine.length + stand.countTokens.length + stand.misc.length - before.other);
    const main = rows.find((r) => r.output_tokens > 0)!;
    expect(main).toMatchObject({ status: 200, turn_id: 'turn-cli', error: null });
    // the pinned claude resolves `haiku` itself; the row has what the upstream reported
    expect(main.model).toStartWith('claude-haiku-');
    expect(main.cost_usd).toBe(costOf(main.model, main));
  });
});
