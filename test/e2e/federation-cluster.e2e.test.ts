/**
 * Three hives on three test hosts, over a NATS JetStream cluster of three servers: each host a
 * network namespace this test makes (joined by veth pairs to a bridge in a namespace of its own;
 * no traffic leaves them), running one `nats-server` (cluster routes to the other two) and one real
 * `hive core serve` (`--nats-replicas 3`). While the hives send to each other without pause, one
 * host is cut off (its veth down) and healed: every send acknowledged to its sender, on every
 * host, arrives exactly once, in order per sender and recipient.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { HostOps } from '../../src/shared/wire.ts';
import { ctlJson, hive, tempDir, waitFor } from '../support/hive.ts';
import { makeNetwork, type TestNetwork } from '../support/netns.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('federation cluster e2e', 'root', 'git', 'nats-server', 'netns');

setDefaultTimeout(300_000);

const HIVES = ['h1', 'h2', 'h3'];
let net: TestNetwork;
let root: string;
const servers: Array<ReturnType<typeof Bun.spawn>> = [];
const cores: Array<ReturnType<typeof Bun.spawn> | null> = [null, null, null];
const dirs: string[] = [];

/** Starts hive `i`'s core inside its host. */
async function startCore(i: number): Promise<void> {
  const urls = net.hosts.map((h) => `nats://${h.ip}:4222`);
  // its own server first: the client tries them in order and stays on one while it answers
  const order = [urls[i]!, ...urls.filter((_, k) => k !== i)];
  cores[i] = Bun.spawn(
    net.inside(i, [process.execPath, ENTRY, 'core', 'serve', '--data-dir', dirs[i]!, '--listen', '127.0.0.1:7000', '--runtime', 'process', '--host-root', '--no-manager', '--hive', HIVES[i]!, '--nats', order.join(','), '--nats-replicas', '3', '--hive-unreachable-minutes', '0.05']),
    { env: { PATH: process.env.PATH!, HOME: dirs[i]! }, stdout: Bun.file(join(dirs[i]!, 'core.out')), stderr: Bun.file(join(dirs[i]!, 'core.err')) },
  );
  await waitFor(`core ${HIVES[i]}`, () => hive(['ctl', 'status', '--data-dir', dirs[i]!]).code === 0, 20_000);
}

beforeAll(async () => {
  net = makeNetwork(`hv${process.pid % 1000}`, 3);
  root = tempDir('hv-cluster-');
  net.hosts.forEach((h, i) => {
    const store = join(root, `nats-${i + 1}`);
    mkdirSync(store, { recursive: true });
    const routes = net.hosts.filter((_, k) => k !== i).map((o) => `"nats-route://${o.ip}:6222"`);
    const conf = join(root, `nats-${i + 1}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: "n${i + 1}"`,
        `listen: "${h.ip}:4222"`,
        `jetstream { store_dir: ${JSON.stringify(store)} }`,
        `cluster { name: "hives", listen: "${h.ip}:6222", routes: [${routes.join(', ')}] }`,
        // a peer cut off drops packets without a reset: find out in seconds, not the default minutes
        'ping_interval: "1s"',
        'ping_max: 3',
        'write_deadline: "2s"',
      ].join('\n') + '\n',
    );
    servers.push(Bun.spawn(net.inside(i, [Bun.which('nats-server', { PATH: `${process.env.PATH}:/usr/sbin` })!, '-c', conf, '-l', join(root, `nats-${i + 1}.log`)]), { stdout: 'ignore', stderr: 'ignore' }));
  });
  for (let i = 0; i < 3; i++) {
    dirs.push(tempDir(`hv-c${i + 1}-`));
    await startCore(i);
    ctlJson(dirs[i]!, 'spawn', 'carol');
    ctlJson(dirs[i]!, 'stop', 'carol');
  }
  // the JetStream cluster elects its leaders: wait until a send goes all the way round
  await waitFor('every hive linked', () => dirs.every((d) => ctlJson(d, 'status').federation?.link === 'up'), 60_000);
  for (let i = 0; i < 3; i++) ctlJson(dirs[i]!, 'send', `carol@${HIVES[(i + 1) % 3]}`, 'hello');
  await waitFor('the first round delivered', () => dirs.every((d, i) => received(i, HIVES[(i + 2) % 3]!).includes('hello')), 150_000);
}, 240_000);

afterAll(async () => {
  for (const c of cores) c?.kill('SIGTERM');
  await Promise.all(cores.map((c) => c?.exited));
  for (const s of servers) s.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
  net?.destroy();
  for (const d of [...dirs, root]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Bodies in carol's inbox on hive `i` from the operator of hive `from`, in order, read from its database. */
function received(i: number, from: string): string[] {
  const db = new Database(new DataLayout(dirs[i]!).db, { readonly: true });
  try {
    return db.query<{ body: string }, [string]>("SELECT body FROM messages WHERE recipient = 'carol' AND sender = ? ORDER BY id").all(`operator@${from}`).map((r) => r.body);
  } finally {
    db.close();
  }
}

describe('a JetStream cluster of three, one hive per host', () => {
  test('under a steady load between all three, a host cut off and healed: every acknowledged send arrives once, in order', async () => {
    const clients = dirs.map((d) => new JsonLineClient(new DataLayout(d).hostSocket, HostOps));
    // each hive sends to the next one's carol, numbered; only what was acknowledged counts
    const acked: string[][] = [[], [], []];
    let running = true;
    const load = HIVES.map(async (_, i) => {
      for (let n = 1; running; n++) {
        const body = `${HIVES[i]}-${n}`;
        await clients[i]!.call('send', { to: `carol@${HIVES[(i + 1) % 3]}`, body });
        acked[i]!.push(body);
        await Bun.sleep(5);
      }
    });
    try {
      await waitFor('some traffic', () => acked.every((a) => a.length >= 20));
      net.cut(0);
      await waitFor('h1 sees its link down', () => ctlJson(dirs[0]!, 'status').federation.link === 'down', 30_000);
      // h1 goes on acknowledging its sends, which wait in its outbox; h2 and h3 keep the quorum
      const before = acked[0]!.length;
      await waitFor('h1 queueing', () => acked[0]!.length > before + 50 && ctlJson(dirs[0]!, 'status').federation.outbox > 20, 30_000);
      // the other two keep sending and acknowledging meanwhile (whether their traffic flows on at once
      // depends on where the cut-off server led: NATS elects anew, which took up to a minute here)
      const [h2, h3] = [acked[1]!.length, acked[2]!.length];
      await waitFor('h2 and h3 sending on', () => acked[1]!.length > h2 + 100 && acked[2]!.length > h3 + 100, 30_000);
      net.heal(0);
      await waitFor('h1 back', () => ctlJson(dirs[0]!, 'status').federation.link === 'up', 60_000);
    } finally {
      running = false;
      await Promise.all(load);
      clients.forEach((c) => c.close());
    }
    for (let i = 0; i < 3; i++) {
      const to = (i + 1) % 3;
      await waitFor(
        `${HIVES[i]} → ${HIVES[to]} delivered`,
        () => {
          const got = received(to, HIVES[i]!).filter((b) => b !== 'hello').length;
          if (got >= acked[i]!.length) return true;
          // said when the wait times out: how far it got, and both hives' links
          throw new Error(`${got} of ${acked[i]!.length}; ${HIVES[i]}: ${JSON.stringify(ctlJson(dirs[i]!, 'status').federation)}; ${HIVES[to]}: ${JSON.stringify(ctlJson(dirs[to]!, 'status').federation)}`);
        },
        150_000,
      );
      expect(received(to, HIVES[i]!).filter((b) => b !== 'hello')).toEqual(acked[i]!);
    }
    for (const d of dirs) await waitFor('outbox empty', () => ctlJson(d, 'status').federation.outbox === 0, 30_000);
  });
});
