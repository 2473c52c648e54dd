/**
 * @module core/stats/store
 * Telemetry samples in `hive.db`: raw rows `(agent, key, ts, value)` in `stats`, and hourly
 * roll-ups `(agent, key, hour, n, sum, min, max, last, p50, p95)` in `stats_hourly`. Complete hours
 * are rolled up as they pass (checked when samples are written and before a query), raw rows are
 * dropped after {@link StatsRetention.rawDays} and roll-ups after {@link StatsRetention.hourlyDays}.
 *
 * A query reads roll-ups for whole-hour steps (or for the part of its window whose raw rows are
 * gone) and raw rows otherwise. Each hour is also rolled up for the swarm as a whole (agent
 * {@link SWARM}), so a week of the swarm is 168 roll-up rows per key however many agents there are.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import {
  HIVE_WIDE,
  MAX_STATS_BUCKETS,
  MIN_STATS_STEP_MS,
  seriesSpec,
  TOOL_PREFIX,
  type StatsSeriesSpec,
} from '../../shared/stats.ts';

/** One sample to write: `key` of the series catalog (`shared/stats.ts`) and its value. */
export interface Sample {
  key: string;
  value: number;
}

/** How long samples are kept. */
export interface StatsRetention {
  /** Days raw samples are kept (then only their hourly roll-ups). Default 7. */
  rawDays: number;
  /** Days hourly roll-ups are kept. Default 400. */
  hourlyDays: number;
}

/** The retention used when none is given. */
export const DEFAULT_STATS_RETENTION: StatsRetention = { rawDays: 7, hourlyDays: 400 };

/** The `agent` of the swarm's hourly roll-ups: every agent's samples together (not a valid name). */
export const SWARM = '';

/** An hour, in ms. */
export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A bucket's reduction of one key before a series' aggregation is applied. */
interface Partial {
  n: number;
  sum: number;
  max: number;
  last: number;
  lastTs: number;
  /** Raw values (exact percentiles) when the bucket was read from raw rows. */
  values: number[];
  /** Percentiles of roll-ups, with their weights, when read from roll-ups. */
  rolled: Array<{ n: number; p50: number; p95: number }>;
}

/** A query: one agent (or null for every agent), a window and a bucket width. */
export interface StatsQuery {
  agent: string | null;
  /** Series names (see `STATS_SERIES`, `tool:<name>`). */
  series: string[];
  /** Window start and end, unix ms (end exclusive). */
  since: number;
  until: number;
  /** Bucket width in ms. */
  stepMs: number;
}

/** What {@link StatsStore.query} returns: bucket starts and one value array per series. */
export interface StatsResult {
  t: number[];
  series: Record<string, Array<number | null>>;
  specs: Record<string, StatsSeriesSpec>;
}

const emptyPartial = (): Partial => ({ n: 0, sum: 0, max: -Infinity, last: 0, lastTs: -Infinity, values: [], rolled: [] });

/** The p-th percentile (0–1) of sorted `xs` by nearest rank. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Samples and roll-ups in `hive.db`. */
export class StatsStore {
  private rolledTo: number;
  private lastRollupCheck = 0;
  /** Every key ever written (`stats_keys`), so per-tool keys are found without scanning samples. */
  private readonly keys: Set<string>;

  constructor(
    private readonly db: Database,
    readonly retention: StatsRetention = DEFAULT_STATS_RETENTION,
    private readonly now: () => number = Date.now,
  ) {
    this.rolledTo =
      db.query<{ value: number }, []>(`SELECT value FROM stats_meta WHERE name = 'rolled_to'`).get()?.value ?? 0;
    this.keys = new Set(db.query<{ key: string }, []>('SELECT key FROM stats_keys').all().map((r) => r.key));
  }

  private addKey(key: string): void {
    this.db.query('INSERT OR IGNORE INTO stats_keys (key) VALUES (?)').run(key);
    this.keys.add(key);
  }

  /**
   * Notes keys of samples inserted other than by {@link record} (a bulk import straight into
   * `stats`), so that per-tool series find them.
   */
  learnKeys(): void {
    for (const { key } of this.db.query<{ key: string }, []>('SELECT DISTINCT key FROM stats').all()) if (!this.keys.has(key)) this.addKey(key);
  }

  /** Writes `samples` of `agent` at `at` (unix ms, rounded to whole ms) in one transaction. */
  record(agent: string, at: number, samples: Sample[]): void {
    if (samples.length === 0) return;
    const ts = Math.round(at);
    const insert = this.db.query('INSERT INTO stats (agent, key, ts, value) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const s of samples) {
        if (!Number.isFinite(s.value)) continue;
        insert.run(agent, s.key, ts, s.value);
        if (!this.keys.has(s.key)) this.addKey(s.key);
      }
      // a sample for an hour already rolled up (a turn that ended just before the hour turned) re-rolls it
      if (ts < this.rolledTo && ts >= this.rawHorizon()) this.rollHour(Math.floor(ts / HOUR_MS) * HOUR_MS);
    })();
    this.maybeRollup();
  }

  /** The newest raw value of `key` for `agent`, or null. */
  latest(agent: string, key: string): number | null {
    return (
      this.db
        .query<{ value: number }, [string, string]>('SELECT value FROM stats WHERE key = ? AND agent = ? ORDER BY ts DESC LIMIT 1')
        .get(key, agent)?.value ?? null
    );
  }

  /** Rolls up when an hour has completed since the last roll-up; cheap when none has. */
  maybeRollup(): void {
    const now = this.now();
    if (Math.floor(now / HOUR_MS) * HOUR_MS <= this.rolledTo && now - this.lastRollupCheck < DAY_MS) return;
    this.rollup();
  }

  /**
   * Rolls every complete hour not yet rolled up into `stats_hourly`, then drops raw rows older than
   * the raw retention (only those already rolled up) and roll-ups older than theirs.
   * @returns hours rolled up and raw rows dropped.
   */
  rollup(): { hours: number; dropped: number } {
    const now = this.now();
    this.lastRollupCheck = now;
    const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
    let from = this.rolledTo;
    if (from === 0) {
      const oldest = this.db.query<{ ts: number | null }, []>('SELECT min(ts) AS ts FROM stats').get()?.ts ?? null;
      from = oldest === null ? currentHour : Math.floor(oldest / HOUR_MS) * HOUR_MS;
    }
    let hours = 0;
    for (let hour = from; hour < currentHour; hour += HOUR_MS) {
      this.db.transaction(() => {
        this.rollHour(hour);
        this.setRolledTo(hour + HOUR_MS);
      })();
      hours++;
    }
    if (hours === 0 && this.rolledTo === 0) this.setRolledTo(currentHour);
    const rawCutoff = Math.min(this.rolledTo, now - this.retention.rawDays * DAY_MS);
    const dropped = this.db.query('DELETE FROM stats WHERE ts < ?').run(rawCutoff).changes;
    this.db.query('DELETE FROM stats_hourly WHERE hour < ?').run(now - this.retention.hourlyDays * DAY_MS);
    return { hours, dropped };
  }

  /**
   * Recomputes the roll-ups of the hours from `since` (unix ms) up to where roll-ups reach, from
   * their raw rows: for samples imported in bulk for times already rolled up.
   * @returns the hours recomputed.
   */
  reroll(since: number): number {
    let hours = 0;
    const from = Math.max(Math.floor(since / HOUR_MS) * HOUR_MS, this.rawHorizon());
    for (let hour = from; hour < this.rolledTo; hour += HOUR_MS, hours++) this.db.transaction(() => this.rollHour(hour))();
    return hours;
  }

  /** (Re)computes the roll-ups of the hour starting at `hour` from its raw rows. */
  private rollHour(hour: number): void {
    const groups = new Map<string, { agent: string; key: string; values: number[] }>();
    const rows = this.db
      .query<{ agent: string; key: string; value: number }, [number, number]>('SELECT agent, key, value FROM stats WHERE ts >= ? AND ts < ? ORDER BY ts')
      .all(hour, hour + HOUR_MS);
    const add = (agent: string, key: string, value: number) => {
      const id = `${agent}\u0000${key}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { agent, key, values: [] }));
      g.values.push(value);
    };
    for (const r of rows) {
      add(r.agent, r.key, r.value);
      // the swarm's own roll-up: every agent's samples of the hour together, exact percentiles included
      if (r.agent !== HIVE_WIDE) add(SWARM, r.key, r.value);
    }
    const upsert = this.db.query(
      `INSERT INTO stats_hourly (agent, key, hour, n, sum, min, max, last, p50, p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key, agent, hour) DO UPDATE SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max,
         last = excluded.last, p50 = excluded.p50, p95 = excluded.p95`,
    );
    for (const g of groups.values()) {
      const sorted = g.values.toSorted((a, b) => a - b);
      const sum = g.values.reduce((a, b) => a + b, 0);
      const last = g.values[g.values.length - 1]!;
      upsert.run(g.agent, g.key, hour, sorted.length, sum, sorted[0]!, sorted[sorted.length - 1]!, last, percentile(sorted, 0.5), percentile(sorted, 0.95));
    }
  }

  /** Oldest time from which raw rows are complete (earlier ones may have been dropped). */
  rawHorizon(): number {
    return Math.floor((this.now() - this.retention.rawDays * DAY_MS) / HOUR_MS) * HOUR_MS;
  }

  /**
   * Aggregates the asked series over `[since, until)` in buckets of `stepMs`.
   * @throws HiveError `bad_request` for an unknown series, a window that ends before it starts, a
   *   step under {@link MIN_STATS_STEP_MS} or more than {@link MAX_STATS_BUCKETS} buckets.
   */
  query(q: StatsQuery): StatsResult {
    const specs: Record<string, StatsSeriesSpec> = {};
    for (const name of q.series) {
      const spec = seriesSpec(name);
      if (!spec) throw new HiveError('bad_request', `series ${JSON.stringify(name)}: unknown; known are the fixed series and tool:<name>`);
      if (q.agent === null && spec.perAgentOnly) continue;
      specs[name] = spec;
    }
    if (!(q.until > q.since)) throw new HiveError('bad_request', `since ${q.since} must be before until ${q.until}`);
    if (!(q.stepMs >= MIN_STATS_STEP_MS)) throw new HiveError('bad_request', `step must be at least ${MIN_STATS_STEP_MS / 1000} s`);
    const buckets = Math.ceil((q.until - q.since) / q.stepMs);
    if (buckets > MAX_STATS_BUCKETS)
      throw new HiveError('bad_request', `${buckets} buckets asked for (window / step); at most ${MAX_STATS_BUCKETS}: widen the step`);
    this.maybeRollup();

    // Keys to read: the series' keys, plus `turn` for per-turn series.
    const keys = new Map<string, { hive: boolean; needValues: boolean; gauge: boolean }>();
    const want = (key: string, spec: Pick<StatsSeriesSpec, 'agg' | 'hive'>) => {
      const k = keys.get(key) ?? { hive: !!spec.hive, needValues: false, gauge: false };
      if (spec.agg === 'p50' || spec.agg === 'p95') k.needValues = true;
      if (spec.agg === 'last') k.gauge = true;
      keys.set(key, k);
    };
    for (const spec of Object.values(specs)) {
      want(spec.key, spec);
      if (spec.agg === 'per_turn') want('turn', { agg: 'count' });
    }

    // Whole-hour steps read roll-ups up to where they reach; everything reads roll-ups where raw rows are gone.
    const hourly = q.stepMs % HOUR_MS === 0 && q.since % HOUR_MS === 0;
    const cutoff = Math.max(q.since, Math.min(q.until, hourly ? this.rolledTo : Math.min(this.rolledTo, this.rawHorizon())));
    const t = Array.from({ length: buckets }, (_, i) => q.since + i * q.stepMs);
    const series: Record<string, Array<number | null>> = {};
    const perKey = new Map<string, Partial[]>();
    for (const [key, how] of keys) {
      const parts = Array.from({ length: buckets }, emptyPartial);
      const agent = how.hive ? HIVE_WIDE : q.agent;
      if (cutoff > q.since) this.readHourly(parts, key, agent, q, cutoff);
      if (q.until > cutoff) this.readRaw(parts, key, agent, q, cutoff, how.needValues || how.gauge);
      perKey.set(key, parts);
    }
    for (const [name, spec] of Object.entries(specs)) {
      const parts = perKey.get(spec.key)!;
      const turns = spec.agg === 'per_turn' ? perKey.get('turn')! : null;
      const prior = spec.agg === 'last' ? this.lastBefore(spec.key, spec.hive ? HIVE_WIDE : q.agent, q.since) : null;
      series[name] = reduce(parts, spec, q.stepMs, turns, prior);
    }
    return { t, series, specs };
  }

  /** The tools `agent` (or every agent) called in `[since, until)`, most calls first (at most 50). */
  tools(agent: string | null, since: number, until: number): string[] {
    const calls: Array<{ tool: string; n: number }> = [];
    for (const key of this.keys) {
      if (!key.startsWith(TOOL_PREFIX)) continue;
      const parts = [emptyPartial()];
      const q: StatsQuery = { agent, series: [], since, until, stepMs: until - since };
      // a ranking, so whole hours of roll-ups serve wherever they reach (the swarm's own included)
      const cutoff = Math.max(since, Math.min(until, this.rolledTo));
      if (cutoff > since) this.readHourly(parts, key, agent, q, cutoff);
      if (until > cutoff) this.readRaw(parts, key, agent, q, cutoff, false);
      if (parts[0]!.sum > 0) calls.push({ tool: key.slice(TOOL_PREFIX.length), n: parts[0]!.sum });
    }
    return calls
      .sort((a, b) => b.n - a.n || (a.tool < b.tool ? -1 : 1))
      .slice(0, 50)
      .map((c) => c.tool);
  }

  private readHourly(parts: Partial[], key: string, agent: string | null, q: StatsQuery, cutoff: number): void {
    const from = Math.floor(q.since / HOUR_MS) * HOUR_MS;
    type R = { hour: number; n: number; sum: number; max: number; last: number; p50: number; p95: number };
    const cols = 'hour, n, sum, max, last, p50, p95';
    // the swarm has roll-ups of its own (agent SWARM), so both read one range of the primary key
    const rows = this.db
      .query<R, [string, string, number, number]>(`SELECT ${cols} FROM stats_hourly WHERE key = ? AND agent = ? AND hour >= ? AND hour < ?`)
      .all(key, agent ?? SWARM, from, cutoff);
    for (const r of rows) {
      const p = parts[Math.floor((Math.max(r.hour, q.since) - q.since) / q.stepMs)];
      if (!p) continue;
      p.n += r.n;
      p.sum += r.sum;
      p.max = Math.max(p.max, r.max);
      if (r.hour >= p.lastTs) {
        p.lastTs = r.hour;
        p.last = r.last;
      }
      p.rolled.push({ n: r.n, p50: r.p50, p95: r.p95 });
    }
  }

  private readRaw(parts: Partial[], key: string, agent: string | null, q: StatsQuery, from: number, values: boolean): void {
    // one agent reads its range of the (key, agent, ts) index; the swarm reads the (key, ts) index
    const where = agent === null ? `key = ? AND ts >= ? AND ts < ? AND agent != '${HIVE_WIDE}'` : 'key = ? AND agent = ? AND ts >= ? AND ts < ?';
    const args: Array<string | number> = agent === null ? [key, from, q.until] : [key, agent, from, q.until];
    if (values) {
      const rows = this.db.query<{ ts: number; value: number }, Array<string | number>>(`SELECT ts, value FROM stats WHERE ${where} ORDER BY ts`).all(...args);
      for (const r of rows) {
        const p = parts[Math.floor((r.ts - q.since) / q.stepMs)]!;
        p.n++;
        p.sum += r.value;
        if (r.value > p.max) p.max = r.value;
        p.last = r.value;
        p.lastTs = r.ts;
        p.values.push(r.value);
      }
      return;
    }
    const rows = this.db
      .query<{ b: number; n: number; sum: number; max: number }, Array<string | number>>(
        `SELECT (ts - ?) / ? AS b, count(*) AS n, total(value) AS sum, max(value) AS max FROM stats WHERE ${where} GROUP BY b`,
      )
      .all(Math.trunc(q.since), Math.trunc(q.stepMs), ...args);
    for (const r of rows) {
      const p = parts[r.b]!;
      p.n += r.n;
      p.sum += r.sum;
      p.max = Math.max(p.max, r.max);
    }
  }

  /** The newest value of gauge `key` before `ts`, for carrying into the first buckets. */
  private lastBefore(key: string, agent: string | null, ts: number): number | null {
    if (agent === null) return null;
    const raw = this.db
      .query<{ ts: number; value: number }, [string, string, number]>('SELECT ts, value FROM stats WHERE key = ? AND agent = ? AND ts < ? ORDER BY ts DESC LIMIT 1')
      .get(key, agent, ts);
    if (raw) return raw.value;
    return (
      this.db
        .query<{ last: number }, [string, string, number]>('SELECT last FROM stats_hourly WHERE key = ? AND agent = ? AND hour < ? ORDER BY hour DESC LIMIT 1')
        .get(key, agent, ts)?.last ?? null
    );
  }

  private setRolledTo(hour: number): void {
    this.rolledTo = hour;
    this.db.query(`INSERT INTO stats_meta (name, value) VALUES ('rolled_to', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`).run(hour);
  }
}

/** Applies `spec`'s aggregation to each bucket. */
function reduce(parts: Partial[], spec: StatsSeriesSpec, stepMs: number, turns: Partial[] | null, prior: number | null): Array<number | null> {
  let carried = prior;
  return parts.map((p, i) => {
    switch (spec.agg) {
      case 'rate':
        return p.n / (stepMs / 60_000);
      case 'count':
        return p.n;
      case 'sum':
        return p.n ? p.sum : 0;
      case 'max':
        return p.n ? p.max : null;
      case 'mean':
        return p.n ? p.sum / p.n : null;
      case 'per_turn': {
        const n = turns![i]!.n;
        return n ? p.sum / n : null;
      }
      case 'last':
        if (p.n) carried = p.last;
        return carried;
      case 'p50':
      case 'p95':
        return bucketPercentile(p, spec.agg === 'p50' ? 0.5 : 0.95);
    }
  });
}

/** A bucket's percentile: exact over raw values, else weighted over roll-ups (and raw, if mixed). */
function bucketPercentile(p: Partial, q: 0.5 | 0.95): number | null {
  if (p.n === 0) return null;
  const pick = q === 0.5 ? 'p50' : 'p95';
  const sorted = p.values.toSorted((a, b) => a - b);
  if (p.rolled.length === 0) return percentile(sorted, q);
  let weight = 0;
  let total = 0;
  for (const r of p.rolled) {
    weight += r.n;
    total += r.n * r[pick];
  }
  if (sorted.length) {
    weight += sorted.length;
    total += sorted.length * percentile(sorted, q);
  }
  return total / weight;
}
