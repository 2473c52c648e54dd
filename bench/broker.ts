/**
 * Broker benchmark over the real unix sockets and a real sqlite file (synchronous = FULL).
 *
 *   bun bench/broker.ts [--agents 100] [--rounds 2000] [--sends 5000]
 *
 * 1. Wake latency: N agents each hold a `recv` long-poll on their own socket; the operator sends
 *    over host.sock to one agent at a time; latency is from just before the send request is
 *    written to the moment that agent's long-poll reply is parsed. p50/p99/max in ms.
 * 2. Durable send throughput: messages/s acknowledged with 1 sender and with 16 senders, each on
 *    its own agent socket, one request in flight each, to an inbox nobody drains. Every
 *    acknowledged message is committed (group commit gathers what arrives together). Baselines on
 *    the same disk and settings: raw sqlite with one row per commit, and 16 rows per commit.
 * 3. Wake latency again, while the 16 senders keep the broker saturated.
 * The core runs in this process (no agent processes are started); clients share its event loop.
 */
import { parseArgs } from 'node:util';
import { Database } from 'bun:sqlite';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
  for (const deadline = Date.now() + 10_000; names.some((n) => t.hive.broker.waiting(n) !== 1); await Bun.sleep(5))
    if (Date.now() > deadline) throw new Error('long-polls not parked');
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

  // 2. durable send throughput: senders on their own agent sockets, to an inbox nobody drains
  const SENDERS = 16;
  const sink = 'sink';
  await t.hive.lifecycle.spawn(sink, { start: false });
  const senders = names.slice(0, SENDERS).map((n) => new JsonLineClient(layout.agent(n).socket, AgentOps));
  const throughput = async (label: string, count: number) => {
    const per = Math.ceil(SENDS / count);
    const t0 = performance.now();
    await Promise.all(
      senders.slice(0, count).map(async (c, s) => {
        for (let i = 0; i < per; i++) await c.call('send', { to: sink, body: `${label}-${s}-${i}` });
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    return (per * count) / secs;
  };
  const one = await throughput('one', 1);
  const many = await throughput('many', SENDERS);

  // 3. wake latency while the senders saturate the broker
  let saturating = true;
  const load = Promise.all(
    senders.map(async (c, s) => {
      for (let i = 0; saturating; i++) await c.call('send', { to: sink, body: `load-${s}-${i}` });
    }),
  );
  const loaded: number[] = [];
  for (let r = 0; r < Math.min(ROUNDS, 1000); r++) {
    const name = names[SENDERS + (r % (AGENTS - SENDERS))]!;
    const woke = new Promise<number>((resolve) => wakers.set(name, resolve));
    const t0 = performance.now();
    await host.call('send', { to: name, body: `loaded round ${r}` });
    await woke;
    loaded.push(performance.now() - t0);
    wakers.delete(name);
  }
  saturating = false;
  await load;
  loaded.sort((a, b) => a - b);

  // baselines on the same disk and settings: one insert per commit, and 16 inserts per commit
  const raw = new Database(join(t.dir, 'baseline.db'));
  raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = FULL');
  raw.exec('CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const ins = raw.query('INSERT INTO m (body) VALUES (?)');
  const rowsPerSec = (perCommit: number) => {
    const commits = Math.ceil(2000 / perCommit);
    const t0 = performance.now();
    for (let c = 0; c < commits; c++) raw.transaction(() => { for (let i = 0; i < perCommit; i++) ins.run(`b${c}-${i}`); })();
    return (commits * perCommit) / ((performance.now() - t0) / 1000);
  };
  const rawOne = rowsPerSec(1);
  const rawGroup = rowsPerSec(SENDERS);
  raw.close();

  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`durable send, 1 sender:        ${f(one)} msg/s  (${(one / rawOne).toFixed(2)}× one sqlite commit per row: ${f(rawOne)} rows/s)`);
  console.log(`durable send, ${SENDERS} senders:       ${f(many)} msg/s  (${(many / rawGroup).toFixed(2)}× ${SENDERS} rows per sqlite commit: ${f(rawGroup)} rows/s)`);
  console.log(`wake latency while ${SENDERS} senders saturate, ${AGENTS - SENDERS} agents: p50 ${pct(loaded, 50).toFixed(3)} ms  p99 ${pct(loaded, 99).toFixed(3)} ms  max ${loaded.at(-1)!.toFixed(3)} ms`);
  for (const c of senders) c.close();

  host.close();
  for (const c of clients) c.close();
} finally {
  await t.close();
  rmSync(t.dir, { recursive: true, force: true });
}
process.exit(0);
