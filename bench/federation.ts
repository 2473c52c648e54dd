/**
 * What a send across hives costs, against bare JetStream on the same server in the same run.
 *
 *   bun bench/federation.ts [--rounds 500] [--sends 5000] [--senders 16]
 *
 * A real `nats-server -js` on loopback (its store in a temp dir) and two hives in this process
 * (`ha` and `hb`, each a real core on its own data dir, no agents running: `carol` on hb is
 * registered and stopped, and this process long-polls her inbox as her harness would).
 *
 * - **Wake latency**: `--rounds` sends one at a time from ha's operator to `carol@hb`, each timed
 *   from the call to the moment hb hands it to the parked `recv` (committed on ha, published,
 *   consumed, committed on hb, woken). Baseline: a JetStream publish (with a message id, awaiting
 *   the ack) to a stream of its own, timed to its arrival at a durable consumer.
 * - **Durable sends/s**: `--sends` sends from `--senders` concurrent senders on ha, timed until
 *   all are in carol's inbox on hb. Baseline: as many JetStream publishes, `--senders` at a time,
 *   timed until the consumer has them all.
 */
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { openTestHive, tempDir, waitFor } from '../test/support/hive.ts';
import { startNats } from '../test/support/nats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, sends: { type: 'string' }, senders: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 500);
const SENDS = Number(values.sends ?? 5000);
const SENDERS = Number(values.senders ?? 16);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${x.toFixed(2)} ms`;

const natsDir = tempDir('hv-bench-nats-');
const nats = await startNats(natsDir);
try {
  // ── baseline: bare JetStream ────────────────────────────────────────────────
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: StorageType.File });
  await jsm.consumers.add('BENCH', { durable_name: 'bench', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const js = jetstream(nc);
  const consumer = await js.consumers.get('BENCH', 'bench');
  const arrived = new Map<string, () => void>();
  let consumed = 0;
  const messages = await consumer.consume();
  void (async () => {
    for await (const m of messages) {
      consumed++;
      m.ack();
      arrived.get(m.string())?.();
    }
  })();
  const bareLatency: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const body = `l${i}`;
    const got = new Promise<void>((resolve) => arrived.set(body, resolve));
    const t0 = performance.now();
    await js.publish('bench.x', body, { msgID: `lat-${i}` });
    await got;
    bareLatency.push(performance.now() - t0);
    arrived.delete(body);
  }
  const before = consumed;
  let t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < SENDS) {
        const i = next++;
        await js.publish('bench.x', `t${i}`, { msgID: `tp-${i}` });
      }
    }),
  );
  await waitFor('the consumer to have them all', () => consumed - before >= SENDS, 120_000);
  const bareRate = SENDS / ((performance.now() - t0) / 1000);
  messages.stop();
  await nc.close();

  // ── two hives ───────────────────────────────────────────────────────────────
  const a = await openTestHive({ hive: 'ha', nats: nats.url });
  const b = await openTestHive({ hive: 'hb', nats: nats.url });
  try {
    await b.hive.lifecycle.spawn('carol', { start: false });
    await waitFor('both linked', () => a.hive.status().federation?.link === 'up' && b.hive.status().federation?.link === 'up');
    // the first send makes sure hb's consumer is in place before anything is timed
    const warm = b.hive.broker.recv('carol', 30);
    await a.hive.policy.sendGrouped('operator', 'carol@hb', 'warm-up');
    await warm;
    const latency: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const got = b.hive.broker.recv('carol', 30);
      const s = performance.now();
      await a.hive.policy.sendGrouped('operator', 'carol@hb', `l${i}`);
      const m = await got;
      if (m?.body !== `l${i}`) throw new Error(`round ${i}: carol got ${m?.body ?? 'nothing'}`);
      latency.push(performance.now() - s);
    }
    const depth = () => b.hive.broker.depth('carol');
    const start = depth();
    t0 = performance.now();
    next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (next < SENDS) {
          const i = next++;
          await a.hive.policy.sendGrouped('operator', 'carol@hb', `t${i}`);
        }
      }),
    );
    const acked = performance.now() - t0;
    await waitFor('all in carol\'s inbox on hb', () => depth() - start >= SENDS, 300_000);
    const rate = SENDS / ((performance.now() - t0) / 1000);

    console.log(`federation: one nats-server ${nats.url} (JetStream, file store), two hives in one process; Bun ${Bun.version}`);
    console.log(`send → remote wake, ${ROUNDS} rounds:   p50 ${ms(pct(latency, 50))}  p99 ${ms(pct(latency, 99))}`);
    console.log(`bare JetStream publish → consume:     p50 ${ms(pct(bareLatency, 50))}  p99 ${ms(pct(bareLatency, 99))}`);
    console.log(`ratio (hive / bare):                  p50 ${(pct(latency, 50) / pct(bareLatency, 50)).toFixed(2)}×  p99 ${(pct(latency, 99) / pct(bareLatency, 99)).toFixed(2)}×`);
    console.log(`durable cross-hive sends, ${SENDERS} senders:  ${rate.toFixed(0)}/s delivered (${SENDS} acknowledged on ha in ${(acked / 1000).toFixed(2)} s)`);
    console.log(`bare JetStream, ${SENDERS} publishers:      ${bareRate.toFixed(0)}/s consumed`);
    console.log(`ratio (hive / bare):                  ${(rate / bareRate).toFixed(2)}×`);
  } finally {
    await a.close();
    await b.close();
  }
} finally {
  await nats.stop();
  rmSync(natsDir, { recursive: true, force: true });
}
