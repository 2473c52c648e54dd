/**
 * @module core/dashboard/stats-api
 * `GET /api/stats`: telemetry series as JSON for the charts on the dashboard and on each agent's
 * page (which is proxied under the dashboard, so it asks the same origin).
 *
 * Query parameters, all optional:
 * - `agent`: an agent's name; without it, the swarm (every agent summed, percentiles over all turns);
 * - `series`: comma-separated series names (`shared/stats.ts` `STATS_SERIES`, or `tool:<Name>`);
 *   default every fixed series;
 * - `since`, `until`: unix ms, or a duration back from now (`90s`, `30m`, `24h`, `7d`); default the
 *   last 24 h up to now;
 * - `step`: the bucket width, seconds or a duration (`5m`); default about 120 buckets over the
 *   window, rounded to 10 s, 30 s, 1, 5, 15 or 30 min, 1, 3, 6 or 12 h, or a day; for the swarm
 *   over more than 6 h at least an hour (its hourly roll-ups answer that).
 *
 * The window's start is aligned down to a multiple of the step. The answer is a `StatsResponse`;
 * a bad parameter is a 400 naming it.
 */
import { Elysia } from 'elysia';
import { HiveError } from '../../shared/errors.ts';
import { isAgentName } from '../../shared/names.ts';
import { STATS_SERIES, type StatsNow, type StatsResponse } from '../../shared/stats.ts';
import type { Hive } from '../hive.ts';
import { notesBytes } from '../stats/recorder.ts';

/** Bucket widths the default step is rounded up to, in seconds. */
const NICE_STEPS_S = [10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];
/** Buckets a window is cut into when no step is given. */
const DEFAULT_BUCKETS = 120;
/** Longest swarm window whose default step may be under an hour (it is read from raw samples). */
const SWARM_RAW_WINDOW_MS = 6 * 3_600_000;
const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration like `90s`, `30m`, `24h`, `7d` (or bare seconds when `bareUnit` is `s`) in ms, or null
 * when `v` is not one.
 */
function parseDuration(v: string, bareUnit: 's' | null): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhd])?$/.exec(v.trim());
  if (!m) return null;
  const unit = m[2] ?? bareUnit;
  if (!unit) return null;
  return Number(m[1]) * UNITS_MS[unit]!;
}

/**
 * A point in time: unix ms (13 digits or more), or a duration back from `now`.
 * @throws HiveError `bad_request` naming the parameter.
 */
function parseTime(name: string, v: string, now: number): number {
  if (/^\d{12,}$/.test(v)) return Number(v);
  const d = parseDuration(v, null);
  if (d === null) throw new HiveError('bad_request', `${name}=${v}: expected unix ms or a duration back from now such as 30m, 24h, 7d`);
  return now - d;
}

/** The answer to one `GET /api/stats`. @throws HiveError `bad_request` for a bad parameter. */
export function statsResponse(hive: Hive, query: Record<string, string | undefined>, now = Date.now()): StatsResponse {
  const agent = query.agent?.trim() || null;
  if (agent !== null && !isAgentName(agent)) throw new HiveError('bad_request', `agent=${agent}: not an agent name`);
  const until = query.until ? parseTime('until', query.until, now) : now;
  let since = query.since ? parseTime('since', query.since, now) : now - 86_400_000;
  if (!(until > since)) throw new HiveError('bad_request', `since must be before until`);
  let stepMs: number;
  if (query.step) {
    const d = parseDuration(query.step, 's');
    if (d === null) throw new HiveError('bad_request', `step=${query.step}: expected seconds or a duration such as 5m`);
    stepMs = Math.round(d);
  } else {
    const want = (until - since) / DEFAULT_BUCKETS / 1000;
    stepMs = (NICE_STEPS_S.find((s) => s >= want) ?? NICE_STEPS_S[NICE_STEPS_S.length - 1]!) * 1000;
    // the swarm over more than a few hours reads its hourly roll-ups rather than every agent's samples
    if (agent === null && until - since > SWARM_RAW_WINDOW_MS) stepMs = Math.max(stepMs, 3_600_000);
  }
  if (stepMs > 0) since = Math.floor(since / stepMs) * stepMs;
  const series = query.series
    ? query.series.split(',').map((s) => s.trim()).filter(Boolean)
    : Object.keys(STATS_SERIES);
  const result = hive.stats.query({ agent, series, since, until, stepMs });
  return {
    agent,
    since,
    until,
    step_ms: stepMs,
    ...result,
    tools: hive.stats.tools(agent, since, until),
    now: statsNow(hive, agent, now),
  };
}

/** What is true now, for the numbers beside the charts. */
function statsNow(hive: Hive, agent: string | null, now: number): StatsNow {
  const depths = hive.broker.depths();
  const agents = hive.registry.list().map((a) => a.name);
  const names = agent === null ? agents : [agent];
  let sinceLast: number | null = null;
  for (const name of names) {
    const last = hive.turns.list({ agent: name, limit: 1 })[0];
    const ended = last ? (last.ended_at ?? (last.status === 'running' ? now : null)) : null;
    if (ended !== null) sinceLast = Math.max(sinceLast ?? 0, now - ended);
  }
  return {
    inbox_depth: names.reduce((n, name) => n + (depths.get(name) ?? 0), 0),
    since_last_turn_ms: sinceLast,
    approval_queue: hive.approvals.list().length,
    notes_bytes: agent === null ? null : notesBytes(hive.layout.agent(agent).state),
  };
}

/** The `GET /api/stats` route. */
export function statsRoutes(hive: Hive) {
  return new Elysia({ name: 'stats-api' }).get('/api/stats', ({ query }) => {
    return new Response(JSON.stringify(statsResponse(hive, query as Record<string, string | undefined>)), {
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    });
  });
}
