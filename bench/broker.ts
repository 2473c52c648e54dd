/**
 * Broker benchmark over the real unix sockets and a real sqlite file (synchronous = FULL).
 *
 *   bun bench/broker.ts [--agents 100] [--rounds 2000] [--sends 5000]
 *
 * 1. Wake latency: N agents each hold a `recv` long-poll on their own socket; the operator sends
 *    over host.sock to one agent at a time; latency is from just before the send request is
 *    written to the moment that agent's long-poll reply is parsed. p50/p99/max in ms.
 * 2. Durable send throughput: messages/s acknowledged over one socket, one at a time and with 32
 *    requests in flight. Every acknowledged message is committed.
 * The core runs in this process (no agent processes are started); clients share its event loop.
 */
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { JsonLineClient } from '../src/shared/jsonl.ts';
import { DataLayout } from '../src/shared/paths.ts';
import { AgentOps, HostOps } from '../src/shared/wire.ts';
import { openTestHive } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { agents: { type: 'string' }, rounds: { type: 'string' }, sends: { type: 'string' } } });
const AGENTS = Number(values.agents ?? 100);
const ROUNDS = Number(values.rounds ?? 2000);
const SENDS = Number(values.sends ?? 5000);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const t = await openTestHive();
const layout = new DataLayout(t.dir);
try {
  const names = Array.from({ length: AGENTS }, (_, i) => `a${i}`);
  for (const n of names) await t.hive.lifecycle.spawn(n, { start: false });
  const host = new JsonLineClient(layout.hostSocket, HostOps);
  const clients = names.map((n) => new JsonLineClient(layout.agent(n).socket, AgentOps));

  // 1. wake latency with every agent long-polling
  const wakers = new Map<string, (id: number) => void>();
  const arm = (i: number) => {
    void clients[i]!.call('recv', { wait_seconds: 180 }).then(({ message }) => {
      if (message) wakers.get(names[i]!)?.(message.id);
      arm(i);
    });
  };
  names.forEach((_, i) => arm(i));
  await Bun.sleep(200);
  if (t.hive.broker.waiting('a0') !== 1) throw new Error('long-polls not parked');
  const lat: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const name = names[r % AGENTS]!;
    const woke = new Promise<number>((resolve) => wakers.set(name, resolve));
    const t0 = performance.now();
    await host.call('send', { to: name, body: `round ${r}` });
    await woke;
    lat.push(performance.now() - t0);
    wakers.delete(name);
  }
  lat.sort((a, b) => a - b);
  console.log(`wake latency, ${AGENTS} agents long-polling, ${ROUNDS} rounds: p50 ${pct(lat, 50).toFixed(3)} ms  p99 ${pct(lat, 99).toFixed(3)} ms  max ${lat.at(-1)!.toFixed(3)} ms`);

  // 2. durable send throughput (to the operator's inbox, which nobody drains)
  let t0 = performance.now();
  for (let i = 0; i < SENDS; i++) await host.call('send', { to: 'operator', body: `m${i}` });
  let secs = (performance.now() - t0) / 1000;
  console.log(`durable send, 1 in flight: ${Math.round(SENDS / secs)} msg/s (${SENDS} in ${secs.toFixed(2)} s)`);

  t0 = performance.now();
  const inflight = 32;
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < SENDS) {
        next++;
        await host.call('send', { to: 'operator', body: `p${next}` });
      }
    }),
  );
  secs = (performance.now() - t0) / 1000;
  console.log(`durable send, ${inflight} in flight: ${Math.round(SENDS / secs)} msg/s (${SENDS} in ${secs.toFixed(2)} s)`);

  host.close();
  for (const c of clients) c.close();
} finally {
  await t.close();
  rmSync(t.dir, { recursive: true, force: true });
}
process.exit(0);
