/**
 * Telemetry storage on a real sqlite file: series aggregation over raw samples, hourly roll-ups and
 * retention, and the answers of `GET /api/stats` through the real dashboard app.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openCoreDb } from '../../src/core/db.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { HOUR_MS, StatsStore } from '../../src/core/stats/store.ts';
import { HIVE_WIDE, type StatsResponse } from '../../src/shared/stats.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, tempDir } from '../support/hive.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store on a fresh `hive.db` with a clock the test moves. */
function openStore(start: number, rawDays = 7) {
  const dir = tempDir('hv-stats-');
  dirs.push(dir);
  const db = openCoreDb(join(dir, 'hive.db'));
  const clock = { now: start };
  const store = new StatsStore(db, { rawDays, hourlyDays: 30 }, () => clock.now);
  return { db, store, clock };
}

// a fixed hour boundary, so bucket arithmetic is easy to read
const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const MIN = 60_000;

describe('stats store', () => {
  test('raw buckets: rate, exact percentiles, mean, per-turn, sum, gauge carried forward', () => {
    const { store, clock } = openStore(T0);
    // alice: 10 turns in minute 0 with durations 100..1000 ms, 2 in minute 2
    for (let i = 1; i <= 10; i++)
      store.record('alice', T0 + i * 1000, [
        { key: 'turn', value: i * 100 },
        { key: 'tool_calls', value: i % 2 === 0 ? 2 : 0 },
        { key: 'sent:peer', value: 1 },
        { key: 'tool:Bash', value: 1 },
        { key: 'cost_usd', value: 0.01 },
      ]);
    store.record('alice', T0 + 2 * MIN + 5, [{ key: 'turn', value: 50 }, { key: 'notes_bytes', value: 300 }]);
    store.record('alice', T0 + 2 * MIN + 9, [{ key: 'turn', value: 70 }]);
    store.record('bob', T0 + 1000, [{ key: 'turn', value: 99_999 }]);
    clock.now = T0 + 4 * MIN;
    const r = store.query({
      agent: 'alice',
      series: ['turns_per_min', 'turn_p50_ms', 'turn_p95_ms', 'tool_calls_per_turn', 'sent_peer', 'tool:Bash', 'cost_usd', 'notes_bytes'],
      since: T0,
      until: T0 + 4 * MIN,
      stepMs: MIN,
    });
    expect(r.t).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    expect(r.series.turns_per_min).toEqual([10, 0, 2, 0]);
    expect(r.series.turn_p50_ms).toEqual([500, null, 50, null]);
    expect(r.series.turn_p95_ms).toEqual([1000, null, 70, null]);
    expect(r.series.tool_calls_per_turn).toEqual([1, null, null, null]);
    expect(r.series.sent_peer).toEqual([1, null, 0, null]);
    expect(r.series['tool:Bash']).toEqual([10, 0, 0, 0]);
    expect(r.series.cost_usd![0]).toBeCloseTo(0.1, 10);
    // a gauge holds its last value into later empty buckets
    expect(r.series.notes_bytes).toEqual([null, null, 300, 300]);
    expect(store.tools('alice', T0, T0 + 4 * MIN)).toEqual(['Bash']);

    // the swarm sums agents (bob's turn counts) and leaves out per-agent gauges
    const swarm = store.query({ agent: null, series: ['turns_per_min', 'notes_bytes'], since: T0, until: T0 + 2 * MIN, stepMs: MIN });
    expect(swarm.series.turns_per_min).toEqual([11, 0]);
    expect(swarm.series.notes_bytes).toBeUndefined();
  });

  test('hive-wide series read the hive samples whichever agent is asked for', () => {
    const { store, clock } = openStore(T0);
    store.record(HIVE_WIDE, T0 + 10, [{ key: 'approvals_pending', value: 3 }]);
    store.record(HIVE_WIDE, T0 + MIN + 10, [{ key: 'approvals_pending', value: 1 }]);
    clock.now = T0 + 3 * MIN;
    for (const agent of ['alice', null]) {
      const r = store.query({ agent, series: ['approval_queue'], since: T0, until: T0 + 3 * MIN, stepMs: MIN });
      expect(r.series.approval_queue).toEqual([3, 1, 1]);
    }
    // the gauge's value from before the window is carried in
    const later = store.query({ agent: 'alice', series: ['approval_queue'], since: T0 + 2 * MIN, until: T0 + 3 * MIN, stepMs: MIN });
    expect(later.series.approval_queue).toEqual([1]);
  });

  test('complete hours roll up; hourly steps read roll-ups and agree with raw; raw rows go after their retention', () => {
    const { db, store, clock } = openStore(T0, 1);
    // 3 hours of turns: hour h has 60 turns of durations 1..60 ms × (h+1)
    for (let h = 0; h < 3; h++)
      for (let i = 1; i <= 60; i++) store.record('alice', T0 + h * HOUR_MS + i * MIN - 1, [{ key: 'turn', value: i * (h + 1) }, { key: 'tool:Read', value: 2 }]);
    clock.now = T0 + 3 * HOUR_MS + 1;
    const rolled = store.rollup();
    expect(rolled.hours).toBe(3);
    const hourly = db.query<{ hour: number; n: number; p50: number; p95: number }, []>(
      `SELECT hour, n, p50, p95 FROM stats_hourly WHERE key = 'turn' AND agent = 'alice' ORDER BY hour`,
    ).all();
    expect(hourly).toEqual([
      { hour: T0, n: 60, p50: 30, p95: 57 },
      { hour: T0 + HOUR_MS, n: 60, p50: 60, p95: 114 },
      { hour: T0 + 2 * HOUR_MS, n: 60, p50: 90, p95: 171 },
    ]);
    const q = { agent: 'alice', series: ['turns_per_min', 'turn_p50_ms', 'turn_p95_ms', 'tool:Read'], since: T0, until: T0 + 3 * HOUR_MS, stepMs: HOUR_MS };
    const fromRollups = store.query(q);
    const fromRaw = store.query({ ...q, stepMs: HOUR_MS / 2 });
    expect(fromRollups.series.turns_per_min).toEqual([1, 1, 1]);
    expect(fromRollups.series.turn_p50_ms).toEqual([30, 60, 90]);
    expect(fromRollups.series['tool:Read']).toEqual([120, 120, 120]);
    expect(fromRaw.series['tool:Read']).toEqual([60, 60, 60, 60, 60, 60]);
    // the swarm's roll-ups hold the same (alice is the only agent)
    expect(store.query({ ...q, agent: null }).series).toEqual(fromRollups.series);
    // a second roll-up has nothing left to do
    expect(store.rollup().hours).toBe(0);

    // a day and a half later the raw rows are gone (1 day of raw) but the roll-ups still answer
    clock.now = T0 + 36 * HOUR_MS;
    const gone = store.rollup();
    expect(gone.dropped).toBe(360);
    expect(db.query<{ n: number }, []>('SELECT count(*) AS n FROM stats').get()!.n).toBe(0);
    const fine = store.query({ ...q, stepMs: 30 * MIN });
    expect(fine.series['tool:Read']).toEqual([120, 0, 120, 0, 120, 0]);
    expect(store.query(q).series.turn_p95_ms).toEqual([57, 114, 171]);
    expect(store.tools('alice', T0, T0 + 3 * HOUR_MS)).toEqual(['Read']);
  });

  test("the swarm's hourly roll-ups take every agent's samples together: exact percentiles across agents", () => {
    const { store, clock } = openStore(T0);
    for (let i = 1; i <= 50; i++) store.record('alice', T0 + i * 1000, [{ key: 'turn', value: i }]);
    for (let i = 51; i <= 100; i++) store.record('bob', T0 + i * 1000, [{ key: 'turn', value: i }]);
    store.record(HIVE_WIDE, T0 + 5, [{ key: 'approvals_pending', value: 2 }]);
    clock.now = T0 + HOUR_MS + 1;
    store.rollup();
    const swarm = store.query({ agent: null, series: ['turns_per_min', 'turn_p50_ms', 'turn_p95_ms', 'approval_queue'], since: T0, until: T0 + HOUR_MS, stepMs: HOUR_MS });
    expect(swarm.series).toEqual({ turns_per_min: [100 / 60], turn_p50_ms: [50], turn_p95_ms: [95], approval_queue: [2] });
    // each agent alone has its own
    expect(store.query({ agent: 'bob', series: ['turn_p50_ms'], since: T0, until: T0 + HOUR_MS, stepMs: HOUR_MS }).series.turn_p50_ms).toEqual([75]);
  });

  test('a sample for an hour already rolled up re-rolls that hour', () => {
    const { store, clock } = openStore(T0);
    store.record('alice', T0 + 10 * MIN, [{ key: 'turn', value: 100 }]);
    clock.now = T0 + HOUR_MS + 5;
    store.rollup();
    store.record('alice', T0 + HOUR_MS - 1, [{ key: 'turn', value: 300 }]);
    const r = store.query({ agent: 'alice', series: ['turns_per_min', 'turn_p95_ms'], since: T0, until: T0 + HOUR_MS, stepMs: HOUR_MS });
    expect(r.series.turns_per_min).toEqual([2 / 60]);
    expect(r.series.turn_p95_ms).toEqual([300]);
  });

  test('bad queries are refused with what was wrong', () => {
    const { store } = openStore(T0);
    const base = { agent: 'alice', series: ['turns_per_min'], since: T0, until: T0 + HOUR_MS, stepMs: MIN };
    expect(() => store.query({ ...base, series: ['nope'] })).toThrow(/series "nope": unknown/);
    expect(() => store.query({ ...base, stepMs: 10 })).toThrow(/step must be at least 1 s/);
    expect(() => store.query({ ...base, stepMs: 1000 })).toThrow(/3600 buckets asked for .* at most 2000/);
    expect(() => store.query({ ...base, until: T0 })).toThrow(/must be before/);
  });
});

describe('GET /api/stats', () => {
  test('answers series JSON for an agent and the swarm; bad parameters are a 400 naming them', async () => {
    const t = await openTestHive();
    try {
      const now = Date.now();
      t.hive.stats.record('alice', now - 90_000, [{ key: 'turn', value: 1200 }, { key: 'tool:Edit', value: 3 }]);
      t.hive.stats.record('bob', now - 30_000, [{ key: 'turn', value: 800 }]);
      const client = await DashboardClient.open(createDashboard(t.hive));
      const res = await client.get('/api/stats?agent=alice&since=10m&step=1m&series=turns_per_min,turn_p50_ms,tool:Edit');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as StatsResponse;
      expect(body.agent).toBe('alice');
      expect(body.step_ms).toBe(60_000);
      expect(body.since % 60_000).toBe(0);
      expect(body.t.length).toBe(body.series.turns_per_min!.length);
      expect(body.series.turns_per_min!.reduce((a, b) => a! + b!, 0)).toBe(1);
      expect(body.series.turn_p50_ms!.filter((v) => v !== null)).toEqual([1200]);
      expect(body.series['tool:Edit']!.reduce((a, b) => a! + b!, 0)).toBe(3);
      expect(body.tools).toEqual(['Edit']);
      expect(body.specs.turn_p50_ms!.unit).toBe('ms');
      expect(body.now).toEqual({ inbox_depth: 0, since_last_turn_ms: null, approval_queue: 0, notes_bytes: null });

      const swarm = (await (await client.get('/api/stats?since=10m&step=60')).json()) as StatsResponse;
      expect(swarm.agent).toBeNull();
      expect(swarm.series.turns_per_min!.reduce((a, b) => a! + b!, 0)).toBe(2);
      expect(Object.keys(swarm.series)).toContain('approval_queue');
      expect(Object.keys(swarm.series)).not.toContain('notes_bytes');

      for (const [q, says] of [
        ['agent=../etc', 'agent=../etc: not an agent name'],
        ['series=bogus', 'series "bogus": unknown'],
        ['since=yesterday', 'since=yesterday: expected unix ms or a duration'],
        ['step=fast', 'step=fast: expected seconds or a duration'],
        ['since=30d&step=1s', 'at most 2000'],
      ] as const) {
        const bad = await client.get(`/api/stats?${q}`);
        expect(bad.status).toBe(400);
        expect(await bad.text()).toContain(says);
      }
    } finally {
      await t.close();
    }
  });
});
