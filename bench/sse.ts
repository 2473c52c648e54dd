/**
 * The dashboard's live stream under many open pages: how long until every connected client has an
 * event, for a message (its own frame, rendered once per event) and for an agent state change (the
 * swarm section, rendered once per change and shared), and what one stream costs to open.
 *
 *   bun bench/sse.ts [--clients 1,10,100,500] [--rounds 30]
 *
 * A core runs in this process on a temp data dir (`process` runtime, no agent started: the state
 * changes are the registry's own), with the dashboard on a loopback port. Clients are `fetch`
 * streams in a second process, so the server's work is not mixed with theirs; they report to the
 * parent over stdout when each event reached all of them.
 */
import { parseArgs } from 'node:util';
import { createDashboard } from '../src/core/dashboard/dashboard.tsx';
import { eachLine } from '../src/shared/lines.ts';
import { openTestHive } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { clients: { type: 'string' }, rounds: { type: 'string' }, child: { type: 'string' } } });

if (values.child) {
  // client side: open N streams, then for every marker `bench-<k>` print when all N have it
  const [url, n] = [values.child, Number(values.clients)];
  const seen = new Map<string, number>();
  let open = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(url);
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      const mine = new Set<string>();
      let first = true;
      let tail = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        if (first) {
          first = false;
          if (++open === n) console.log("open");
        }
        // a marker may be split across reads: look at the end of the previous read too
        const text = tail + dec.decode(value, { stream: true });
        tail = text.slice(-32);
        for (const m of text.matchAll(/bench-(\d+)-(msg|row)/g)) {
          const key = `${m[1]}-${m[2]}`;
          if (mine.has(key)) continue;
          mine.add(key);
          const c = (seen.get(key) ?? 0) + 1;
          seen.set(key, c);
          if (c === n) console.log(`all ${key}`);
        }
      }
    }),
  );
  process.exit(0);
}

const CLIENTS = (values.clients ?? '1,10,100,500').split(',').map(Number);
const ROUNDS = Number(values.rounds ?? 30);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (v: number) => `${v.toFixed(1)} ms`;

let round = 0;
const t = await openTestHive();
const app = createDashboard(t.hive);
app.listen({ hostname: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${app.server!.port}/events`;
await t.hive.lifecycle.spawn('bench', { start: false });
console.log(`| clients | open all streams | message → all clients p50 / p95 | agent change → all clients p50 / p95 |`);
console.log(`|---|---|---|---|`);
try {
  for (const n of CLIENTS) {
    const child = Bun.spawn([process.execPath, import.meta.path, '--child', url, '--clients', String(n)], {
      stdout: 'pipe',
      stderr: 'inherit',
      // Bun's fetch holds at most 256 connections open at once unless told otherwise
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(Math.max(256, n + 16)) },
    });
    // the client prints each line once ('open', 'all <marker>'); wait for the one wanted
    const seen = new Set<string>();
    let wake = () => {};
    let ended = false;
    void eachLine(child.stdout, (line) => {
      seen.add(line);
      wake();
    }).finally(() => {
      ended = true;
      wake();
    });
    const next = async (want: string) => {
      while (!seen.has(want)) {
        if (ended) throw new Error(`client process ended before "${want}"`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    let t0 = performance.now();
    await next('open');
    const openMs = performance.now() - t0;
    const message: number[] = [];
    const change: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = ++round; // markers never repeat, or a page that already shows one would not get it again
      t0 = performance.now();
      t.hive.policy.send('operator', 'bench', `bench-${r}-msg`);
      await next(`all ${r}-msg`);
      message.push(performance.now() - t0);
      // an agent change: the swarm row carries the problem text, so the marker rides in the section
      t0 = performance.now();
      t.hive.registry.setLive('bench', { problem: `bench-${r}-row` });
      await next(`all ${r}-row`);
      change.push(performance.now() - t0);
    }
    child.kill();
    await child.exited;
    console.log(`| ${n} | ${ms(openMs)} | ${ms(pct(message, 50))} / ${ms(pct(message, 95))} | ${ms(pct(change, 50))} / ${ms(pct(change, 95))} |`);
  }
} finally {
  await app.stop(true);
  await t.close();
}
