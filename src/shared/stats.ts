/**
 * @module shared/stats
 * The telemetry series the core keeps and `GET /api/stats` serves, named once for the core (which
 * writes and aggregates them), the views (which lay out the charts) and the page script (which
 * draws them).
 *
 * Samples are rows `(agent, key, ts, value)`: most are written when a turn ends, one row per key
 * (see `core/stats/recorder.ts`); `approvals_pending` is hive-wide (agent {@link HIVE_WIDE}). A
 * series is a key plus an aggregation over each time bucket of a query.
 */

/** The `agent` of samples that belong to the hive as a whole (the approval queue). */
export const HIVE_WIDE = '*';

/** Who a message went to or came from, as counted per turn. */
export const PARTY_KINDS = ['peer', 'operator', 'manager', 'system'] as const;
/** See {@link PARTY_KINDS}. */
export type PartyKind = (typeof PARTY_KINDS)[number];

/**
 * How a series reduces a bucket's samples of its key:
 * - `rate`: samples per minute of the bucket;
 * - `count`: number of samples;
 * - `sum`, `max`, `mean`: of the values;
 * - `p50`, `p95`: percentiles of the values (exact over raw samples; over hourly roll-ups the
 *   sample-weighted mean of each hour's percentile, an approximation);
 * - `per_turn`: the values' sum divided by the bucket's turns (key `turn`);
 * - `last`: the newest value, carried forward into empty buckets (a gauge).
 */
export type StatsAggregation = 'rate' | 'count' | 'sum' | 'max' | 'mean' | 'p50' | 'p95' | 'per_turn' | 'last';

/** One named series: which key it reads and how it aggregates. */
export interface StatsSeriesSpec {
  key: string;
  agg: StatsAggregation;
  /** The unit of its values, for axis labels ("ms", "/min", "bytes", "USD", "" for counts). */
  unit: string;
  /** Lowercase words for a legend. */
  label: string;
  /** Read from hive-wide samples ({@link HIVE_WIDE}) whichever agent is asked for. */
  hive?: true;
  /** Meaningless summed over agents: left out of the swarm (all-agents) query. */
  perAgentOnly?: true;
}

const party = (dir: 'sent' | 'received') =>
  Object.fromEntries(
    PARTY_KINDS.map((k) => [
      `${dir}_${k}`,
      { key: `${dir}:${k}`, agg: 'per_turn', unit: '/turn', label: `${dir === 'sent' ? 'sent to' : 'received from'} ${k}` } as StatsSeriesSpec,
    ]),
  );

/** Every fixed series by name. Per-tool series are `tool:<Name>` (see {@link toolSeries}). */
export const STATS_SERIES: Readonly<Record<string, StatsSeriesSpec>> = {
  turns_per_min: { key: 'turn', agg: 'rate', unit: '/min', label: 'turns per minute' },
  turn_p50_ms: { key: 'turn', agg: 'p50', unit: 'ms', label: 'turn duration p50' },
  turn_p95_ms: { key: 'turn', agg: 'p95', unit: 'ms', label: 'turn duration p95' },
  tool_calls_per_turn: { key: 'tool_calls', agg: 'mean', unit: '/turn', label: 'tool calls per turn' },
  turns_ok: { key: 'status:ok', agg: 'count', unit: '', label: 'turns ok' },
  turns_error: { key: 'status:error', agg: 'count', unit: '', label: 'turns failed' },
  turns_interrupted: { key: 'status:interrupted', agg: 'count', unit: '', label: 'turns interrupted' },
  inbox_depth_max: { key: 'inbox_max', agg: 'max', unit: '', label: 'inbox depth (max)' },
  ...party('sent'),
  ...party('received'),
  approval_queue: { key: 'approvals_pending', agg: 'last', unit: '', label: 'approvals pending', hive: true },
  idle_before_turn_ms: { key: 'idle_gap_ms', agg: 'max', unit: 'ms', label: 'idle before a turn (max)' },
  notes_bytes: { key: 'notes_bytes', agg: 'last', unit: 'bytes', label: 'notes.md size', perAgentOnly: true },
  input_tokens: { key: 'input_tokens', agg: 'sum', unit: 'tokens', label: 'input tokens' },
  output_tokens: { key: 'output_tokens', agg: 'sum', unit: 'tokens', label: 'output tokens' },
  cost_usd: { key: 'cost_usd', agg: 'sum', unit: 'USD', label: 'cost' },
};

/** Prefix of per-tool series and keys: `tool:Bash` counts Bash calls. */
export const TOOL_PREFIX = 'tool:';

/** The spec of per-tool series `tool:<name>`: calls per bucket. */
export function toolSeries(name: string): StatsSeriesSpec {
  return { key: `${TOOL_PREFIX}${name}`, agg: 'sum', unit: 'calls', label: `${name} calls` };
}

/** The spec of series `name`, fixed or per tool, or undefined when there is no such series. */
export function seriesSpec(name: string): StatsSeriesSpec | undefined {
  if (Object.hasOwn(STATS_SERIES, name)) return STATS_SERIES[name];
  if (name.startsWith(TOOL_PREFIX) && name.length > TOOL_PREFIX.length && name.length <= 128) return toolSeries(name.slice(TOOL_PREFIX.length));
  return undefined;
}

/** Live values that are not series: what is true now. */
export interface StatsNow {
  /** Undelivered messages in the agent's inbox (all agents' for the swarm). */
  inbox_depth: number;
  /** ms since the agent's last turn ended, null when it has had none (swarm: the most idle agent). */
  since_last_turn_ms: number | null;
  /** Pending approvals, hive-wide. */
  approval_queue: number;
  /** Size of the agent's `/state/notes.md` in bytes (null for the swarm, or when there is none). */
  notes_bytes: number | null;
}

/** The body of `GET /api/stats`. Times are unix ms; `t[i]` starts bucket i of `step_ms`. */
export interface StatsResponse {
  /** The agent asked for, or null for the swarm (every agent). */
  agent: string | null;
  since: number;
  until: number;
  step_ms: number;
  t: number[];
  /** One value per bucket for each series asked for; null where a bucket has no samples. */
  series: Record<string, Array<number | null>>;
  /** Series name and spec for each series in `series`. */
  specs: Record<string, StatsSeriesSpec>;
  /** Tools called in the window, most calls first (their series are `tool:<name>`). */
  tools: string[];
  now: StatsNow;
}

/** Most buckets one query may ask for. */
export const MAX_STATS_BUCKETS = 2000;
/** Fewest ms a bucket may span. */
export const MIN_STATS_STEP_MS = 1000;
