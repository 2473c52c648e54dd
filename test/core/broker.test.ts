import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'bun:sqlite';
import { openCoreDb } from '../../src/core/db.ts';
import { EventBus, type HiveEvent } from '../../src/core/bus.ts';
import { Broker } from '../../src/core/broker/store.ts';

let dir: string;
let db: Database;
let bus: EventBus;
let broker: Broker;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hive-broker-'));
  db = openCoreDb(join(dir, 'hive.db'));
  bus = new EventBus();
  broker = new Broker(db, bus);
});
afterEach(() => {
  broker.closeAll();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('broker', () => {
  test('recv pops in send order, once each', async () => {
    broker.send('a', 'b', 'one');
    broker.send('a', 'b', 'two');
    broker.send('c', 'b', 'three');
    broker.send('a', 'x', 'elsewhere');
    const got = [await broker.recv('b'), await broker.recv('b'), await broker.recv('b'), await broker.recv('b')];
    expect(got.map((m) => m?.body ?? null)).toEqual(['one', 'two', 'three', null]);
    expect(got[2]?.from).toBe('c');
    expect(got[0]?.delivered_at).toBeNumber();
    expect((await broker.recv('x'))?.body).toBe('elsewhere');
  });

  test('recv without wait returns at once when the inbox is empty', async () => {
    const t0 = performance.now();
    expect(await broker.recv('nobody')).toBeNull();
    expect(await broker.recv('nobody', 0)).toBeNull();
    expect(performance.now() - t0).toBeLessThan(50);
    expect(broker.waiting('nobody')).toBe(0);
  });

  test('a long-poll is woken by the send that commits, with that message', async () => {
    const pending = broker.recv('b', 30);
    expect(broker.waiting('b')).toBe(1);
    const sent = broker.send('a', 'b', 'wake up');
    const got = await pending;
    expect(got?.id).toBe(sent.id);
    expect(got?.body).toBe('wake up');
    expect(broker.waiting('b')).toBe(0);
    // the message was handed over, not left in the inbox
    expect(await broker.recv('b')).toBeNull();
  });

  test('two waiters on one inbox each get a different message, oldest waiter first', async () => {
    const first = broker.recv('b', 30);
    const second = broker.recv('b', 30);
    broker.send('a', 'b', 'm1');
    broker.send('a', 'b', 'm2');
    expect((await first)?.body).toBe('m1');
    expect((await second)?.body).toBe('m2');
  });

  test('a long-poll times out with null after its wait', async () => {
    const t0 = performance.now();
    expect(await broker.recv('b', 0.2)).toBeNull();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(broker.waiting('b')).toBe(0);
  });

  test('waits are capped at 180 seconds', async () => {
    const realSetTimeout = globalThis.setTimeout;
    const seen: number[] = [];
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      seen.push(ms);
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout;
    try {
      expect(await broker.recv('b', 100_000)).toBeNull();
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(seen).toEqual([180_000]);
  });

  test('an aborted long-poll never swallows a later message', async () => {
    const ac = new AbortController();
    const pending = broker.recv('b', 30, ac.signal);
    ac.abort();
    expect(await pending).toBeNull();
    expect(broker.waiting('b')).toBe(0);
    broker.send('a', 'b', 'kept');
    expect((await broker.recv('b'))?.body).toBe('kept');
  });

  test('every send and delivery is published on the bus after commit', async () => {
    const seen: HiveEvent[] = [];
    bus.on((e) => seen.push(e));
    const m = broker.send('a', 'b', 'hello');
    await broker.recv('b');
    expect(seen.map((e) => e.type)).toEqual(['message', 'delivered']);
    expect(seen[0]).toMatchObject({ message: { id: m.id, delivered_at: null } });
  });

  test('undelivered messages survive closing and reopening the database', async () => {
    broker.send('a', 'b', 'durable 1');
    broker.send('a', 'b', 'durable 2');
    await broker.recv('b');
    db.close();
    db = openCoreDb(join(dir, 'hive.db'));
    broker = new Broker(db, bus);
    expect((await broker.recv('b'))?.body).toBe('durable 2');
    expect(await broker.recv('b')).toBeNull();
    expect(broker.list({ agent: 'b' }).map((m) => m.body)).toEqual(['durable 1', 'durable 2']);
  });

  test('a send from another process is on disk before send returns', async () => {
    broker.send('a', 'b', 'committed');
    const child = Bun.spawnSync([
      process.execPath,
      '-e',
      `const { Database } = require('bun:sqlite'); const db = new Database(${JSON.stringify(join(dir, 'hive.db'))}, { readonly: true }); console.log(db.query('SELECT body FROM messages').get().body)`,
    ]);
    expect(child.stdout.toString().trim()).toBe('committed');
  });

  test('list filters by agent and after-id, oldest first', () => {
    const m1 = broker.send('a', 'b', '1');
    broker.send('c', 'd', '2');
    broker.send('b', 'e', '3');
    expect(broker.list({ agent: 'b' }).map((m) => m.body)).toEqual(['1', '3']);
    expect(broker.list({ afterId: m1.id }).map((m) => m.body)).toEqual(['2', '3']);
    expect(broker.list({ limit: 1 }).map((m) => m.body)).toEqual(['3']);
    expect(broker.lastId()).toBeGreaterThan(m1.id);
    expect(broker.depths().get('b')).toBe(1);
  });
});
