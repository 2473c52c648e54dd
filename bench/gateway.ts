/**
 * What the model gateway adds to a model request: time to first byte through an agent's gateway
 * socket against the same request sent straight to the upstream, and many streams at once.
 *
 *   bun bench/gateway.ts [--requests 500] [--concurrent 50] [--body-kb 1,100] [--history 20000]
 *
 * Everything runs in this process: a loopback stand-in upstream (Bun.serve on 127.0.0.1) that
 * answers each `POST /v1/messages` with an SSE stream whose `message_start` goes out at once, the
 * gateway on a unix socket with a real `hive.db` (sqlite file, WAL, `synchronous = FULL`), and the
 * client (`fetch`, over the unix socket or straight to the upstream). The agent has a model
 * allow-list and daily and monthly budgets, and `--history` earlier requests this month, so each
 * request pays for the policy checks as it would in the core. Time to first byte runs from just
 * before `fetch` until the first chunk of the response body has been read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openCoreDb } from '../src/core/db.ts';
import { ModelGateway } from '../src/core/gateway/model-gateway.ts';
import { UsageStore } from '../src/core/gateway/usage.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string' },
    concurrent: { type: 'string' },
    'body-kb': { type: 'string' },
    history: { type: 'string' },
  },
});
const N = Number(values.requests ?? 500);
const CONCURRENT = Number(values.concurrent ?? 50);
const BODY_KB = (values['body-kb'] ?? '1,100').split(',').map(Number);
const HISTORY = Number(values.history ?? 20_000);
const AGENT = 'bench';
const MODEL = 'claude-haiku-4-5';

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const enc = new TextEncoder();
const START = enc.encode(
  sse('message_start', {
    type: 'message_start',
    message: { id: 'msg_bench', type: 'message', role: 'assistant', model: MODEL, content: [], usage: { input_tokens: 1200, cache_creation_input_tokens: 0, cache_read_input_tokens: 30_000, output_tokens: 1 } },
  }),
);
const REST = enc.encode(
  sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
    sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hello' } }) +
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }) +
    sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 12 } }) +
    sse('message_stop', { type: 'message_stop' }),
);

// the stand-in upstream: message_start at once, the rest on the next tick
const upstream = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  idleTimeout: 0,
  async fetch(req) {
    await req.arrayBuffer();
    return new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(START);
          setImmediate(() => {
            c.enqueue(REST);
            c.close();
          });
        },
      }),
      { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': 'req_bench' } },
    );
  },
});
const upstreamUrl = `http://127.0.0.1:${upstream.port}`;

const dir = mkdtempSync('/tmp/gwb-');
const db = openCoreDb(join(dir, 'hive.db'));
const usage = new UsageStore(db);
// earlier requests this month, so the budget sums have rows to go through
const now = Date.now();
const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
db.transaction(() => {
  for (let i = 0; i < HISTORY; i++) {
    usage.record({
      agent: AGENT, turn_id: `t${i >> 4}`, model: MODEL, status: 200, error: null, input_tokens: 1000, output_tokens: 100,
      cache_write_tokens: 0, cache_read_tokens: 0, cost_usd: 0.0000001, started_at: monthStart + Math.floor(((now - monthStart) * i) / HISTORY),
      first_byte_ms: 500, duration_ms: 2000,
    });
  }
})();

const gateway = new ModelGateway({
  upstream: upstreamUrl,
  credentials: { apiKey: 'sk-bench' },
  usage,
  policyFor: () => ({ upstream: null, models: ['haiku', 'sonnet'], budget: { dailyUsd: 1000, monthlyUsd: 10_000 } }),
  turnOf: () => 'bench-turn',
  onRefused: (_agent, _reason, message) => {
    throw new Error(`refused: ${message}`);
  },
  log: (line) => console.error(line),
});
const socket = join(dir, 'model.sock');
await gateway.listen(AGENT, socket);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** A Messages request body of about `kb` KiB (a long first user message, as a big system prompt would be). */
function body(kb: number): string {
  return JSON.stringify({ model: MODEL, max_tokens: 32000, stream: true, messages: [{ role: 'user', content: 'x'.repeat(Math.max(1, kb * 1024 - 100)) }] });
}

const HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'hive-gateway' };

/** One streamed request; @returns the time to the first body chunk (ms). Drains the rest. */
async function once(via: 'gateway' | 'direct', payload: string): Promise<number> {
  const t0 = performance.now();
  const res =
    via === 'gateway'
      ? await fetch('http://localhost/v1/messages?beta=true', { method: 'POST', headers: HEADERS, body: payload, unix: socket })
      : await fetch(`${upstreamUrl}/v1/messages?beta=true`, { method: 'POST', headers: HEADERS, body: payload });
  const reader = res.body!.getReader();
  const first = await reader.read();
  const ttfb = performance.now() - t0;
  if (first.done || res.status !== 200) throw new Error(`${via}: status ${res.status}, no body`);
  while (!(await reader.read()).done) {
    /* drain */
  }
  return ttfb;
}

async function sequential(via: 'gateway' | 'direct', payload: string): Promise<number[]> {
  for (let i = 0; i < 50; i++) await once(via, payload); // warm-up
  const out: number[] = [];
  for (let i = 0; i < N; i++) out.push(await once(via, payload));
  return out;
}

try {
  console.log(`${N} sequential streamed requests each way; ${HISTORY} earlier requests this month in hive.db\n`);
  console.log('| body | direct TTFB p50 / p99 | gateway TTFB p50 / p99 | added p50 / p99 | ratio p50 |');
  console.log('|---|---|---|---|---|');
  for (const kb of BODY_KB) {
    const payload = body(kb);
    const direct = await sequential('direct', payload);
    const through = await sequential('gateway', payload);
    const [d50, d99, g50, g99] = [pct(direct, 50), pct(direct, 99), pct(through, 50), pct(through, 99)];
    console.log(`| ${kb} KiB | ${ms(d50)} / ${ms(d99)} | ${ms(g50)} / ${ms(g99)} | ${ms(g50 - d50)} / ${ms(g99 - d99)} | ${(g50 / d50).toFixed(2)}× |`);
  }

  const payload = body(BODY_KB.at(-1)!);
  console.log(`\n| ${CONCURRENT} concurrent streams, ${BODY_KB.at(-1)} KiB each | completed | recorded | total time | TTFB p50 / p99 |`);
  console.log('|---|---|---|---|---|');
  for (const via of ['direct', 'gateway'] as const) {
    const before = usage.totals({ agent: AGENT })[0]!.requests;
    const t0 = performance.now();
    const ttfbs = await Promise.all(Array.from({ length: CONCURRENT }, () => once(via, payload)));
    const total = performance.now() - t0;
    const recorded = via === 'gateway' ? String(usage.totals({ agent: AGENT })[0]!.requests - before) : '–';
    console.log(`| ${via === 'gateway' ? 'through the gateway' : 'direct'} | ${ttfbs.length}/${CONCURRENT} | ${recorded} | ${ms(total)} | ${ms(pct(ttfbs, 50))} / ${ms(pct(ttfbs, 99))} |`);
  }
} finally {
  await gateway.closeAll();
  await upstream.stop(true);
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
