/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/stats
 * The telemetry charts: {@link SwarmStats} on the dashboard and {@link AgentStats} on an agent's
 * page. Each renders one chart group, the element `[data-stats]` whose value is the query string of
 * `GET /api/stats`, with the numbers of now, a window selector and one empty `<figure>` per chart
 * naming the series it plots. `static/stats.js` fetches the series, draws them with uPlot and
 * refetches while the page is shown; the group brings its own stylesheets and scripts.
 */
import { STATS_SERIES, type StatsNow } from '../../src/shared/stats.ts';

/** The windows the selector offers, as `since` durations of `/api/stats`. */
export const STATS_WINDOWS = ['1h', '24h', '7d'] as const;

/** One of {@link STATS_WINDOWS}. */
export type StatsWindow = (typeof STATS_WINDOWS)[number];

/** How many of the most called tools the per-tool chart plots. */
export const TOP_TOOLS = 6;

/**
 * One chart of a group.
 * - `turns`: series written when turns end; drawn only when the window has turns.
 * - `gauge`: a level that exists without turns (notes size, approval queue); drawn when it has values.
 * - `tools`: the window's {@link TOP_TOOLS} most called tools, `tool:<name>` series picked by the script.
 */
interface ChartSpec {
  id: string;
  kind: 'turns' | 'gauge' | 'tools';
  /** Series names of `STATS_SERIES`; none for `tools`. */
  series: string[];
  /** The caption; defaults to the label of the first series. */
  title?: string;
  /** Palette names (`--<name>` in `hive.css`) per series, in order; the script's palette otherwise. */
  colors?: string[];
  /** What the chart says instead of a plot when the window has turns but none of its values. */
  none?: string;
  /** Shade the area under its one line (for series without gaps: rates and levels). */
  fill?: true;
}

const PARTY_COLORS = ['mauve', 'amber', 'green', 'blue'];

/** The charts both groups show, in page order. */
const TURN_CHARTS: ChartSpec[] = [
  { id: 'turns', kind: 'turns', series: ['turns_per_min'], colors: ['amber'], fill: true },
  { id: 'duration', kind: 'turns', series: ['turn_p50_ms', 'turn_p95_ms'], title: 'turn duration', colors: ['green', 'amber'] },
  { id: 'tool-calls', kind: 'turns', series: ['tool_calls_per_turn'], colors: ['mauve'] },
  { id: 'inbox', kind: 'turns', series: ['inbox_depth_max'], title: 'inbox depth (max at a turn)', colors: ['blue'] },
  {
    id: 'sent',
    kind: 'turns',
    series: ['sent_peer', 'sent_operator', 'sent_manager', 'sent_system'],
    title: 'messages sent per turn, by recipient',
    colors: PARTY_COLORS,
  },
  {
    id: 'received',
    kind: 'turns',
    series: ['received_peer', 'received_operator', 'received_manager', 'received_system'],
    title: 'messages received per turn, by sender',
    colors: PARTY_COLORS,
  },
  {
    id: 'usage',
    kind: 'turns',
    series: ['input_tokens', 'output_tokens', 'cost_usd'],
    title: 'tokens and cost',
    colors: ['blue', 'mauve', 'amber'],
    none: 'no usage recorded in this window',
  },
  { id: 'tools', kind: 'tools', series: [], title: `tool calls, top ${TOP_TOOLS}`, none: 'no tool calls in this window' },
];

const SWARM_CHARTS: ChartSpec[] = [...TURN_CHARTS, { id: 'approvals', kind: 'gauge', series: ['approval_queue'], colors: ['amber'], fill: true }];
const AGENT_CHARTS: ChartSpec[] = [...TURN_CHARTS, { id: 'notes', kind: 'gauge', series: ['notes_bytes'], colors: ['green'], fill: true }];

/** One number of now: its key in `StatsResponse.now` and what it is called. */
interface NowItem {
  key: keyof StatsNow;
  label: string;
}

/** One chart's empty frame, filled by `static/stats.js`. */
function Chart({ c }: { c: ChartSpec }): JSX.Element {
  const title = c.title ?? STATS_SERIES[c.series[0] ?? '']?.label ?? c.id;
  return (
    <figure
      class="stats-chart"
      data-chart={c.id}
      data-kind={c.kind}
      data-series={c.series.join(',')}
      data-colors={c.colors?.join(',')}
      data-top={c.kind === 'tools' ? String(TOP_TOOLS) : undefined}
      data-fill={c.fill ? '' : undefined}
      hidden
    >
      <figcaption safe>{title}</figcaption>
      <div class="stats-plot"></div>
      <p class="stats-none" hidden safe>
        {c.none ?? 'nothing recorded in this window'}
      </p>
    </figure>
  );
}

/**
 * A chart group: the element `[data-stats]` (`query` is its value, the query string of
 * `/api/stats` without `series`), its stylesheets and scripts.
 * @param refreshMs how often the charts are refetched while shown (`data-stats-refresh-ms`);
 *   the script's default, 15 s, when absent.
 */
function StatsGroup(p: { query: URLSearchParams; label: string; now: NowItem[]; charts: ChartSpec[]; refreshMs?: number }): JSX.Element {
  const since = p.query.get('since');
  return (
    <div class="stats" role="group" aria-label={p.label} data-stats={p.query.toString()} data-stats-refresh-ms={p.refreshMs?.toString()}>
      <link rel="stylesheet" href="/static/uplot.min.css" />
      <link rel="stylesheet" href="/static/stats.css" />
      <div class="stats-bar">
        <dl class="stats-now">
          {p.now.map((n) => (
            <div>
              <dt safe>{n.label}</dt>
              <dd data-now={n.key}>…</dd>
            </div>
          ))}
        </dl>
        <span class="stats-summary" aria-live="polite"></span>
        <div class="stats-window" role="group" aria-label="window of the charts">
          {STATS_WINDOWS.map((w) => (
            <button type="button" class="quiet" data-window={w} aria-pressed={w === since ? 'true' : 'false'} title={`the last ${w}`}>
              {w}
            </button>
          ))}
        </div>
      </div>
      <p class="error stats-error" role="alert" hidden></p>
      <p class="dim stats-empty" hidden>
        no turns yet in this window
      </p>
      <div class="stats-charts">
        {p.charts.map((c) => (
          <Chart c={c} />
        ))}
      </div>
      <script src="/static/uplot.min.js" defer></script>
      <script src="/static/stats.js" defer></script>
    </div>
  );
}

/** Props shared by {@link SwarmStats} and {@link AgentStats}. */
export interface StatsProps {
  /** The window shown first (default 24h). */
  window?: StatsWindow;
  /** Refetch interval in ms while shown (default the script's 15 s). */
  refreshMs?: number;
}

/** The swarm's charts (every agent summed) for the dashboard's stats pane. */
export function SwarmStats(p: StatsProps = {}): JSX.Element {
  return (
    <StatsGroup
      query={new URLSearchParams({ since: p.window ?? '24h' })}
      label="swarm telemetry"
      refreshMs={p.refreshMs}
      now={[
        { key: 'inbox_depth', label: 'in inboxes' },
        { key: 'since_last_turn_ms', label: 'longest idle' },
        { key: 'approval_queue', label: 'approvals pending' },
      ]}
      charts={SWARM_CHARTS}
    />
  );
}

/** One agent's charts, for its own page. */
export function AgentStats(p: StatsProps & { name: string }): JSX.Element {
  return (
    <StatsGroup
      query={new URLSearchParams({ agent: p.name, since: p.window ?? '24h' })}
      label={`telemetry of ${p.name}`}
      refreshMs={p.refreshMs}
      now={[
        { key: 'inbox_depth', label: 'in its inbox' },
        { key: 'since_last_turn_ms', label: 'idle for' },
        { key: 'notes_bytes', label: 'notes.md' },
        { key: 'approval_queue', label: 'approvals pending' },
      ]}
      charts={AGENT_CHARTS}
    />
  );
}
