/**
 * @module usage
 * The record of every model request the gateway handled, one `model_requests` row each in
 * `hive.db`: which agent, during which turn, which model, what HTTP status the agent got, the
 * token counts and their cost. Budgets are checked against it ({@link UsageStore.spent}); the
 * dashboard and `hive ctl` read totals and recent requests from it. The core is its only writer.
 */
import type { Database } from 'bun:sqlite';

/** One model request as recorded. Times are epoch milliseconds; durations milliseconds. */
export interface ModelRequestRecord {
  /** Row id, increasing in order of recording. */
  id: number;
  /** The agent whose gateway socket the request came in on. */
  agent: string;
  /** The agent's running turn when the request arrived, or null between turns. */
  turn_id: string | null;
  /** The model the upstream reported (or, failing that, the one asked for); null when unknown. */
  model: string | null;
  /**
   * The HTTP status returned to the agent: the upstream's own, 403 for a policy refusal, 400 for a
   * bad request or agent config, 502 when the upstream was unreachable, and 499 when the agent went
   * away before any status reached it.
   */
  status: number;
  /** What went wrong, for people (upstream error message, refusal, "client went away"), or null. */
  error: string | null;
  /** Uncached input tokens. */
  input_tokens: number;
  output_tokens: number;
  /** Tokens written to the prompt cache (the API's `cache_creation_input_tokens`). */
  cache_write_tokens: number;
  /** Tokens read from the prompt cache (the API's `cache_read_input_tokens`). */
  cache_read_tokens: number;
  /** Cost in USD; 0 when no tokens were used; null when tokens were used by a model with no price. */
  cost_usd: number | null;
  /** When the request arrived (epoch ms). */
  started_at: number;
  /** Time from arrival to the upstream's response headers (ms); null when nothing was forwarded. */
  first_byte_ms: number | null;
  /** Time from arrival until the response was fully passed on, failed or abandoned (ms). */
  duration_ms: number | null;
}

/** A request to record: everything but the id. */
export type NewModelRequest = Omit<ModelRequestRecord, 'id'>;

/** Per-agent sums over a period, from {@link UsageStore.totals}. */
export interface UsageTotals {
  agent: string;
  /** Requests recorded (refused and failed ones included). */
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_tokens: number;
  cache_read_tokens: number;
  /** USD of the priced requests. */
  cost_usd: number;
  /** Requests that used tokens of a model with no price (their cost is not in `cost_usd`). */
  unpriced: number;
}

/** Per-turn sums, from {@link UsageStore.byTurn}. */
export interface TurnUsage {
  requests: number;
  /** USD of the priced requests of the turn. */
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
}

const COLUMNS =
  'id, agent, turn_id, model, status, error, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, started_at, first_byte_ms, duration_ms';

/** Distinct (agent, since) sums {@link UsageStore.spent} keeps before it starts over. */
const SPENT_CACHE_MAX = 1024;

/**
 * `model_requests` in `hive.db` (migration 5). Rows are only ever appended, and only through
 * {@link UsageStore.record}; {@link UsageStore.spent} relies on that for its running sums.
 */
export class UsageStore {
  /** Running sums for `spent`: `agent \0 since` → the sum over rows up to `lastId`. */
  private readonly spentCache = new Map<string, { usd: number; lastId: number }>();

  constructor(private readonly db: Database) {}

  /**
   * Stores one request. @returns the stored record with its id.
   * @throws when sqlite fails (e.g. the disk is full).
   */
  record(rec: NewModelRequest): ModelRequestRecord {
    return this.db
      .query<ModelRequestRecord, [string, string | null, string | null, number, string | null, number, number, number, number, number | null, number, number | null, number | null]>(
        `INSERT INTO model_requests (agent, turn_id, model, status, error, input_tokens, output_tokens, cache_write_tokens,
                                     cache_read_tokens, cost_usd, started_at, first_byte_ms, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
      )
      .get(
        rec.agent,
        rec.turn_id,
        rec.model,
        rec.status,
        rec.error,
        rec.input_tokens,
        rec.output_tokens,
        rec.cache_write_tokens,
        rec.cache_read_tokens,
        rec.cost_usd,
        rec.started_at,
        rec.first_byte_ms,
        rec.duration_ms,
      )!;
  }

  /**
   * USD spent by `agent` on requests that started at or after `sinceMs` (epoch ms). Unpriced
   * requests count as 0. The gateway asks this before every request with the start of the UTC day
   * and month, so the first call for an (agent, since) pair sums a range of the
   * `(agent, started_at, cost_usd)` index, and later calls with the same pair only read the rows
   * appended since (by row id), whoever they belong to.
   */
  spent(agent: string, sinceMs: number): number {
    const key = `${agent}\0${sinceMs}`;
    const cached = this.spentCache.get(key);
    if (!cached) {
      const row = this.db
        .query<{ usd: number; last: number | null }, [string, number]>(
          `SELECT total(cost_usd) AS usd, (SELECT max(id) FROM model_requests) AS last
           FROM model_requests WHERE agent = ? AND started_at >= ?`,
        )
        .get(agent, sinceMs)!;
      if (this.spentCache.size >= SPENT_CACHE_MAX) this.spentCache.clear();
      this.spentCache.set(key, { usd: row.usd, lastId: row.last ?? 0 });
      return row.usd;
    }
    const row = this.db
      .query<{ usd: number; last: number | null }, [string, number, number]>(
        `SELECT total(CASE WHEN agent = ?1 AND started_at >= ?2 THEN cost_usd END) AS usd, max(id) AS last
         FROM model_requests WHERE id > ?3`,
      )
      .get(agent, sinceMs, cached.lastId)!;
    if (row.last !== null) {
      cached.usd += row.usd;
      cached.lastId = row.last;
    }
    return cached.usd;
  }

  /**
   * Sums per agent, ordered by agent name: of one agent when `agent` is given, of requests that
   * started at or after `since` (epoch ms) when given. Agents with no requests are absent.
   */
  totals(opts: { agent?: string; since?: number } = {}): UsageTotals[] {
    return this.db
      .query<UsageTotals, [string | null, number]>(
        `SELECT agent, count(*) AS requests, total(input_tokens) AS input_tokens, total(output_tokens) AS output_tokens,
                total(cache_write_tokens) AS cache_write_tokens, total(cache_read_tokens) AS cache_read_tokens,
                total(cost_usd) AS cost_usd, count(*) - count(cost_usd) AS unpriced
         FROM model_requests WHERE (?1 IS NULL OR agent = ?1) AND started_at >= ?2
         GROUP BY agent ORDER BY agent`,
      )
      .all(opts.agent ?? null, opts.since ?? 0);
  }

  /**
   * Sums per turn for the given turn ids. Turns with no requests are absent from the map.
   */
  byTurn(turnIds: string[]): Map<string, TurnUsage> {
    const out = new Map<string, TurnUsage>();
    if (turnIds.length === 0) return out;
    const rows = this.db
      .query<TurnUsage & { turn_id: string }, [string]>(
        `SELECT turn_id, count(*) AS requests, total(cost_usd) AS cost_usd, total(input_tokens) AS input_tokens,
                total(output_tokens) AS output_tokens
         FROM model_requests WHERE turn_id IN (SELECT value FROM json_each(?)) GROUP BY turn_id`,
      )
      .all(JSON.stringify(turnIds));
    for (const { turn_id, ...sums } of rows) out.set(turn_id, sums);
    return out;
  }

  /** The most recent requests, newest first: of one agent when `agent` is given; `limit` defaults to 50. */
  recent(opts: { agent?: string; limit?: number } = {}): ModelRequestRecord[] {
    return this.db
      .query<ModelRequestRecord, [string | null, number]>(
        `SELECT ${COLUMNS} FROM model_requests WHERE (?1 IS NULL OR agent = ?1) ORDER BY id DESC LIMIT ?2`,
      )
      .all(opts.agent ?? null, Math.max(1, Math.floor(opts.limit ?? 50)));
  }
}
