/**
 * Message delivery, file mailbox against the broker: how long from a send until the receiver has
 * the message.
 *
 *   bun bench/mailbox.ts [--agents 10] [--rounds 200] [--poll-ms 1000]
 *
 * The file mailbox is an analog of how Claude Code's agent teams deliver: one JSON inbox file per
 * agent (an array of `{ from, text, timestamp, read }`). A sender takes the inbox's lock (a lock
 * file created with O_EXCL, retried every 5 ms while another holds it), reads the array, appends,
 * writes a temp file and renames it over the inbox, and drops the lock. The receiver polls every
 * `--poll-ms`: it reads and parses the inbox, and when it finds unread messages it takes the lock,
 * marks them read the same way, and has them. Latency runs from just before the send until the
 * receiver has parsed the message. Nothing is fsynced (in the mailbox's favour).
 *
 * The broker side is the hive's real path, as in bench/broker.ts: a core in this process with a
 * real sqlite file (`synchronous = FULL`), the operator's `send` over host.sock, and the receiving
 * agent's `recv` long-poll parked on its own socket; latency runs from just before the send until
 * that `recv` reply is parsed.
 *
 * Both sides run the same schedule: `--agents` receivers, each sent to in turn after a random pause
 * of 0 to `--poll-ms` (so sends fall at every phase of a poll), `--rounds` sends in all.
 */
import { parseArgs } from 'node:util';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonLineClient } from '../src/shared/jsonl.ts';
import { DataLayout } from '../src/shared/paths.ts';
import { AgentOps, HostOps } from '../src/shared/wire.ts';
import { openTestHive, tempDir } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { agents: { type: 'string' }, rounds: { type: 'string' }, 'poll-ms': { type: 'string' } } });
const AGENTS = Number(values.agents ?? 10);
const ROUNDS = Number(values.rounds ?? 200);
const POLL_MS = Number(values['poll-ms'] ?? 1000);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const ms = (v: number) => (v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`);

/** One inbox entry, as the file mailbox keeps it. */
interface InboxMessage {
  from: string;
  text: string;
  timestamp: string;
  read: boolean;
}

/** A JSON inbox file per agent, rewritten whole under a lock file. */
class FileMailbox {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(agent: string): string {
    return join(this.dir, `${agent}.json`);
  }

  /** Runs `fn` holding `agent`'s lock file (created with O_EXCL; retried every 5 ms while held). */
  private async locked<T>(agent: string, fn: () => T): Promise<T> {
    const lock = `${this.path(agent)}.lock`;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx'));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        await Bun.sleep(5);
      }
    }
    try {
      return fn();
    } finally {
      unlinkSync(lock);
    }
  }

  private read(agent: string): InboxMessage[] {
    try {
      return JSON.parse(readFileSync(this.path(agent), 'utf8')) as InboxMessage[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private write(agent: string, inbox: InboxMessage[]): void {
    const tmp = `${this.path(agent)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, JSON.stringify(inbox, null, 2));
    renameSync(tmp, this.path(agent));
  }

  /** Appends a message to `to`'s inbox. */
  send(from: string, to: string, text: string): Promise<void> {
    return this.locked(to, () => {
      const inbox = this.read(to);
      inbox.push({ from, text, timestamp: new Date().toISOString(), read: false });
      this.write(to, inbox);
    });
  }

  /** `agent`'s unread messages, marked read in the file (under the lock) before they are returned. */
  async takeUnread(agent: string): Promise<InboxMessage[]> {
    if (!this.read(agent).some((m) => !m.read)) return [];
    return this.locked(agent, () => {
      const inbox = this.read(agent);
      const unread = inbox.filter((m) => !m.read);
      for (const m of unread) m.read = true;
      this.write(agent, inbox);
      return unread;
    });
  }
}

/**
 * Runs the shared schedule: agent i gets rounds i, i + AGENTS, …, each after a random pause of up
 * to POLL_MS; `deliver(agent, body)` sends and resolves when the receiver has the message.
 */
async function schedule(deliver: (agent: number, body: string) => Promise<void>): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: AGENTS }, async (_, agent) => {
      while (next < ROUNDS) {
        const r = next++;
        await Bun.sleep(Math.random() * POLL_MS);
        const t0 = performance.now();
        await deliver(agent, `round ${r}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  return lat.sort((a, b) => a - b);
}

/** Pending deliveries: body → resolve. */
type Waiting = Map<string, () => void>;

async function fileMailbox(): Promise<number[]> {
  const dir = tempDir('hvm-');
  const box = new FileMailbox(join(dir, 'inboxes'));
  const waiting: Waiting = new Map();
  const timers: ReturnType<typeof setInterval>[] = [];
  try {
    for (let i = 0; i < AGENTS; i++) {
      // each receiver polls on its own phase, as separate claude processes would
      const poll = async () => {
        for (const m of await box.takeUnread(`m${i}`)) waiting.get(m.text)?.();
      };
      await Bun.sleep(POLL_MS / AGENTS);
      timers.push(setInterval(() => void poll(), POLL_MS));
    }
    return await schedule(
      (agent, body) =>
        new Promise<void>((resolve, reject) => {
          waiting.set(body, () => {
            waiting.delete(body);
            resolve();
          });
          box.send('lead', `m${agent}`, body).catch(reject);
        }),
    );
  } finally {
    for (const t of timers) clearInterval(t);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function broker(): Promise<number[]> {
  const t = await openTestHive();
  const layout = new DataLayout(t.dir);
  const names = Array.from({ length: AGENTS }, (_, i) => `m${i}`);
  for (const n of names) await t.hive.lifecycle.spawn(n, { start: false });
  const host = new JsonLineClient(layout.hostSocket, HostOps);
  const clients = names.map((n) => new JsonLineClient(layout.agent(n).socket, AgentOps));
  const waiting: Waiting = new Map();
  let stopped = false;
  try {
    const arm = (i: number) => {
      if (stopped) return;
      void clients[i]!.call('recv', { wait_seconds: 180 })
        .then(({ message }) => {
          if (message) waiting.get(message.body)?.();
          arm(i);
        })
        .catch(() => {}); // the client was closed at the end of the run
    };
    names.forEach((_, i) => arm(i));
    for (const n of names) while (t.hive.broker.waiting(n) !== 1) await Bun.sleep(10);
    return await schedule(async (agent, body) => {
      const seen = new Promise<void>((resolve) =>
        waiting.set(body, () => {
          waiting.delete(body);
          resolve();
        }),
      );
      await host.call('send', { to: names[agent]!, body });
      await seen;
    });
  } finally {
    stopped = true;
    host.close();
    for (const c of clients) c.close();
    await t.close();
  }
}

console.log(`send → seen, ${AGENTS} receivers, ${ROUNDS} sends each way, file mailbox polled every ${POLL_MS} ms; Bun ${Bun.version}`);
const b = await broker();
const f = await fileMailbox();
console.log(`| delivery | p50 | p99 | max |`);
console.log(`|---|---|---|---|`);
console.log(`| file mailbox (lock, temp file, rename; ${POLL_MS} ms poll) | ${ms(pct(f, 50))} | ${ms(pct(f, 99))} | ${ms(f.at(-1)!)} |`);
console.log(`| hive broker (host.sock send, parked recv) | ${ms(pct(b, 50))} | ${ms(pct(b, 99))} | ${ms(b.at(-1)!)} |`);
console.log(`| ratio, mailbox / broker | ${(pct(f, 50) / pct(b, 50)).toFixed(0)}× | ${(pct(f, 99) / pct(b, 99)).toFixed(0)}× | |`);
process.exit(0);
