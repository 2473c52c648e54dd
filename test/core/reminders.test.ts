/**
 * Reminders, one-shot and recurring, over a real sqlite file. The schedule itself (missed
 * intervals, the horizon, atomic firing, restarts) runs on an injected clock, each "restart" a new
 * store over the reopened file; firing on time, caps, cancels and a restart mid-schedule run on a
 * real core with short intervals, which only the front door ({@link MessagePolicy.remind}) limits.
 */
import { describe as plainDescribe, afterEach, beforeEach, expect, test as plainTest } from 'bun:test';
import { Database } from 'bun:sqlite';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus, type HiveEvent } from '../../src/core/bus.ts';
import { MIGRATIONS, migrate, openCoreDb } from '../../src/core/db.ts';
import { MAX_REMINDER_AHEAD_MS, Reminders, type Repeat } from '../../src/core/broker/reminders.ts';
import { Broker } from '../../src/core/broker/store.ts';
import { HiveError } from '../../src/shared/errors.ts';
import type { MessageRecord } from '../../src/shared/wire.ts';
import { openHiveAt, openTestHive, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);

/** The reminder messages of reminder `id`, oldest first. */
function firings(broker: Broker, id: number): MessageRecord[] {
  return broker.list({ limit: 1000 }).filter((m) => m.kind === 'reminder' && m.ref === id);
}

/** The `n` of each firing's "firing n" / "firing n of N" text. */
const ordinals = (ms: MessageRecord[]) => ms.map((m) => Number(/firing (\d+)/.exec(m.body)?.[1]));

/** The error `fn` throws, as `code: message`. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof HiveError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

plainDescribe('recurring reminders on a clock of their own', () => {
  let dir: string;
  let db: Database | null;
  let broker: Broker;
  let store: Reminders | null;
  let events: HiveEvent[];
  let logs: string[];
  let clock = T0;
  const now = () => clock;

  /** Opens the file (again) and starts a fresh store over it, as a core start does. */
  function boot(): Reminders {
    store?.stop();
    db?.close();
    const file = (db = openCoreDb(join(dir, 'hive.db')));
    const bus = new EventBus();
    bus.on((e) => events.push(e));
    broker = new Broker(file, bus, now);
    store = new Reminders(file, broker, bus, (l) => logs.push(l), now);
    store.start();
    return store;
  }

  /** The reminder's row as the store shows it, pending or not. */
  const row = (id: number) => db!.query<{ fired: number; due_at: number; fired_at: number | null }, [number]>('SELECT fired, due_at, fired_at FROM reminders WHERE id = ?').get(id)!;

  beforeEach(() => {
    dir = tempDir('hv-rem-');
    clock = T0;
    events = [];
    logs = [];
    store = null;
    db = null;
  });
  afterEach(() => {
    store?.stop();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  plainTest('a restart after several missed intervals fires once, then keeps to the grid of the first due time', () => {
    const r = boot().add('alice', 'alice', 'stand up', T0 + MIN, { everyMs: MIN, count: 10 });
    expect(r).toMatchObject({ every: 60, fired: 0, remaining: 10, ends_at: T0 + MAX_REMINDER_AHEAD_MS, fired_at: null, message_id: null });

    clock = T0 + MIN; // due: the restart fires it, once
    boot();
    expect(ordinals(firings(broker, r.id))).toEqual([1]);
    expect(store!.pending('alice')[0]).toMatchObject({ id: r.id, fired: 1, remaining: 9, due_at: T0 + 2 * MIN, fired_at: null });

    clock = T0 + 4.5 * MIN; // down through the firings due at 2, 3 and 4 minutes
    boot();
    const after = firings(broker, r.id);
    expect(ordinals(after)).toEqual([1, 2]);
    expect(after[1]!.body).toMatch(/^reminder #\d+ \(set 2030-01-01T09:00:00\.000Z, every 1m, firing 2 of 10\): stand up$/);
    expect(store!.pending('alice')[0]).toMatchObject({ fired: 2, remaining: 8, due_at: T0 + 5 * MIN, message_id: after[1]!.id });

    events = [];
    boot(); // starting again at the same time owes nothing
    expect(firings(broker, r.id)).toHaveLength(2);
    expect(events.filter((e) => e.type === 'reminder')).toEqual([]);
  });

  plainTest('a capped reminder is done after its last firing; cancelling it then is a conflict', () => {
    const r = boot().add('alice', 'bob', 'ping', T0 + MIN, { everyMs: MIN, count: 2 });
    clock = T0 + MIN;
    boot();
    clock = T0 + 2 * MIN;
    boot();
    expect(ordinals(firings(broker, r.id))).toEqual([1, 2]);
    expect(row(r.id)).toEqual({ fired: 2, due_at: T0 + 2 * MIN, fired_at: T0 + 2 * MIN });
    expect(store!.pending()).toEqual([]);
    expect(refusal(() => store!.cancel('alice', r.id))).toMatch(/^conflict: reminder #\d+ already fired for the last time \(2×, last as message #\d+\)$/);
    clock = T0 + 10 * MIN;
    boot();
    expect(firings(broker, r.id)).toHaveLength(2);
  });

  plainTest('an uncapped reminder stops at its horizon', () => {
    const repeat: Repeat = { everyMs: MIN, count: null, endsAt: T0 + 2.5 * MIN };
    const r = boot().add('alice', 'alice', 'tick', T0 + MIN, repeat);
    expect(r).toMatchObject({ remaining: null, ends_at: T0 + 2.5 * MIN });
    clock = T0 + MIN;
    boot();
    expect(store!.pending()[0]).toMatchObject({ fired: 1, remaining: null, due_at: T0 + 2 * MIN });
    clock = T0 + 2 * MIN; // the next (3 min) would be past the horizon: this one is the last
    boot();
    expect(row(r.id)).toEqual({ fired: 2, due_at: T0 + 2 * MIN, fired_at: T0 + 2 * MIN });
    expect(ordinals(firings(broker, r.id))).toEqual([1, 2]);
  });

  plainTest('a firing whose reminder cannot be advanced rolls back its message too, and fires once when it can', () => {
    const r = boot().add('alice', 'alice', 'stretch', T0 + MIN, { everyMs: MIN, count: null });
    store!.stop();
    db!.exec(`CREATE TRIGGER refuse_advance BEFORE UPDATE OF fired ON reminders BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
    clock = T0 + 3 * MIN;
    boot();
    expect(logs.join('\n')).toContain('reminders: firing failed, retrying in 5s: disk trouble');
    expect(firings(broker, r.id)).toEqual([]);
    expect(row(r.id)).toEqual({ fired: 0, due_at: T0 + MIN, fired_at: null });

    db!.exec('DROP TRIGGER refuse_advance');
    boot();
    expect(ordinals(firings(broker, r.id))).toEqual([1]);
    expect(row(r.id)).toEqual({ fired: 1, due_at: T0 + 4 * MIN, fired_at: null });
  });

  plainTest('cancel stops every later firing', () => {
    const r = boot().add('alice', 'alice', 'tick', T0 + MIN, { everyMs: MIN, count: null });
    clock = T0 + MIN;
    boot();
    expect(store!.cancel('alice', r.id)).toMatchObject({ fired: 1, cancelled_at: T0 + MIN });
    clock = T0 + 30 * MIN;
    boot();
    expect(firings(broker, r.id)).toHaveLength(1);
    expect(store!.pending()).toEqual([]);
    expect(refusal(() => store!.cancel('alice', r.id))).toBe(`conflict: reminder #${r.id} is already cancelled`);
  });

  plainTest('reminders set before recurring ones existed read as one-shot ones', () => {
    const old = new Database(join(dir, 'old.db'), { create: true, strict: true });
    migrate(old, MIGRATIONS.slice(0, 8));
    old.exec(`INSERT INTO reminders (owner, recipient, body, due_at, created_at) VALUES ('alice', 'alice', 'later', ${T0 + MIN}, ${T0})`);
    old.exec(`INSERT INTO reminders (owner, recipient, body, due_at, created_at, fired_at, message_id) VALUES ('alice', 'alice', 'done', ${T0}, ${T0}, ${T0}, 7)`);
    migrate(old, MIGRATIONS);
    const rows = old.query<{ body: string; every_ms: number | null; max_fires: number; fired: number; ends_at: number | null }, []>(
      'SELECT body, every_ms, max_fires, fired, ends_at FROM reminders ORDER BY id',
    ).all();
    old.close();
    expect(rows).toEqual([
      { body: 'later', every_ms: null, max_fires: 1, fired: 0, ends_at: null },
      { body: 'done', every_ms: null, max_fires: 1, fired: 1, ends_at: null },
    ]);
  });
});

const { describe, test, beforeAll, afterAll } = requires('reminders on a real core', 'git');

describe('recurring reminders on a real core', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  beforeAll(async () => {
    t = await openTestHive();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Waits for a one-shot reminder set to fire after `ms`: every timer due before it has run by then. */
  async function passTimers(ms: number): Promise<void> {
    const s = t.hive.reminders.add('operator', 'operator', 'sentinel', Date.now() + ms);
    await waitFor('the sentinel reminder', () => firings(t.hive.broker, s.id).length === 1);
  }

  test('fires on its grid, one message per firing, until cancelled', async () => {
    const first = Date.now() + 100;
    const r = t.hive.reminders.add('alice', 'alice', 'stretch', first, { everyMs: 100, count: null });
    await waitFor('three firings', () => firings(t.hive.broker, r.id).length >= 3);
    const rec = t.hive.reminders.pending('alice').find((x) => x.id === r.id)!;
    const got = firings(t.hive.broker, r.id);
    expect(rec.fired).toBe(got.length);
    expect(ordinals(got)).toEqual(got.map((_, i) => i + 1));
    expect(got[0]!.body).toMatch(/^reminder #\d+ \(set \S+, every 100ms, firing 1\): stretch$/);
    expect(new Set(got.map((m) => m.id)).size).toBe(got.length);
    expect((rec.due_at - first) % 100).toBe(0);
    expect(rec.message_id).toBe(got.at(-1)!.id);

    const cancelled = t.hive.reminders.cancel('alice', r.id);
    await passTimers(400); // four intervals
    expect(firings(t.hive.broker, r.id)).toHaveLength(cancelled.fired);
  });

  test('count ends it: it fires that many times and leaves the pending list', async () => {
    const r = t.hive.reminders.add('alice', 'alice', 'three times', Date.now() + 80, { everyMs: 80, count: 3 });
    await waitFor('the last firing', () => !t.hive.reminders.pending().some((x) => x.id === r.id));
    await passTimers(300);
    const got = firings(t.hive.broker, r.id);
    expect(got.map((m) => /firing (\d+ of \d+)/.exec(m.body)?.[1])).toEqual(['1 of 3', '2 of 3', '3 of 3']);
    expect(refusal(() => t.hive.reminders.cancel('alice', r.id))).toContain('already fired for the last time (3×');
  });

  test('the front door refuses every and count out of their limits, naming the field and the limit', () => {
    const before = t.hive.reminders.pending().length;
    const remind = (due: Record<string, number | string>) => () => t.hive.policy.remind('alice', due, 'x');
    expect(refusal(remind({ every: 59 }))).toBe('bad_request: every must be a whole number of seconds, at least 60 (got 59)');
    expect(refusal(remind({ every: 90.5 }))).toBe('bad_request: every must be a whole number of seconds, at least 60 (got 90.5)');
    expect(refusal(remind({ every: 366 * 86400 + 1 }))).toBe('bad_request: every may be at most 366 days (31622400 s); got 31622401');
    expect(refusal(remind({ every: 60, count: 0 }))).toBe('bad_request: count must be a whole number from 1 to 1000 (got 0)');
    expect(refusal(remind({ every: 60, count: 1001 }))).toBe('bad_request: count must be a whole number from 1 to 1000 (got 1001)');
    expect(refusal(remind({ in_seconds: 60, count: 3 }))).toBe('bad_request: count needs every: it caps how many times a recurring reminder fires');
    expect(refusal(remind({ every: 86400, count: 400 }))).toMatch(/^bad_request: count 400 every 86400 s would run past the 366-day limit \(\S+\); at most 366 from \S+$/);
    expect(refusal(remind({ every: 60, in_seconds: 5, at: '2030-01-01T00:00:00Z' }))).toContain('bad_request: give exactly one of at');
    expect(t.hive.reminders.pending().length).toBe(before);

    const t0 = Date.now();
    const daily = t.hive.policy.remind('alice', { every: 86400, count: 366 }, 'daily'); // the last one exactly at the horizon
    expect(daily).toMatchObject({ every: 86400, fired: 0, remaining: 366 });
    expect(daily.due_at - t0).toBeGreaterThanOrEqual(86400_000);
    expect(daily.due_at - t0).toBeLessThan(86400_000 + 5000);
    const soon = t.hive.policy.remind('alice', { every: 60, in_seconds: 5 }, 'soon');
    expect(soon).toMatchObject({ every: 60, remaining: null });
    expect(soon.ends_at! - soon.created_at).toBe(MAX_REMINDER_AHEAD_MS);
    for (const r of [daily, soon]) t.hive.reminders.cancel('alice', r.id);
  });
});

describe('a real core restarted mid-schedule', () => {
  test('neither loses nor repeats a firing', async () => {
    const dir = tempDir();
    let hive = await openHiveAt(dir, []);
    try {
      const r = hive.reminders.add('alice', 'alice', 'eight times', Date.now() + 150, { everyMs: 150, count: 8 });
      await waitFor('two firings', () => firings(hive.broker, r.id).length >= 2);
      await hive.close();
      hive = await openHiveAt(dir, []);
      await waitFor('the last firing', () => !hive.reminders.pending().some((x) => x.id === r.id));
      const got = firings(hive.broker, r.id);
      expect(ordinals(got)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const rec = hive.db.query<{ fired: number; message_id: number }, [number]>('SELECT fired, message_id FROM reminders WHERE id = ?').get(r.id)!;
      expect(rec).toEqual({ fired: 8, message_id: got.at(-1)!.id });
    } finally {
      await hive.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
