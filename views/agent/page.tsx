/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/page
 * An agent's own page: state badge with its age, the live tail of its claude events (backfilled
 * from history, older pages on scroll, a filter), a prompt box that sends the operator's text to
 * this agent, and its telemetry charts. Served under the dashboard at `/agents/<name>/page/`, so
 * its own links are relative (the charts ask the dashboard's `/api/stats` by absolute path, the
 * page's script the dashboard's `../status` when its own stream drops). `static/agent.js` keeps
 * the tail following, pages in older events, filters, and shows what the core says while the
 * harness is away (the prompt disabled, with the reason in `#send-why`).
 */
import { Header, Layout, Panel } from '../layout.tsx';
import { label } from '../format.ts';
import { AgentStats } from '../dashboard/stats.tsx';
import { Age } from '../time.tsx';
import { EventLines, HistoryEdge, type TailEvent } from './tail.tsx';
import { CommandButtons } from './commands.tsx';
import { TerminalPanel } from './terminal.tsx';

/** What the harness itself knows of its state: a turn is running, or not. */
export type HarnessState = 'idle' | 'thinking';

/** The harness's state and since when it has held it (unix ms). */
export interface StateSince {
  state: HarnessState;
  since: number;
}

/**
 * The state badge `#state`: the state and its live age (`thinking 12s`), with the state also in
 * `data-state` (the cancel button shows only while it is `thinking`). `static/agent.js` draws the
 * same badge for what the core says while the harness is away (`offline`, `building` …).
 */
export function StateBadge({ state, since }: StateSince): JSX.Element {
  return (
    <span id="state" class={`badge ${state}`} data-state={state}>
      <span>{state}</span> <Age ms={since} />
    </span>
  );
}

/** Props of {@link AgentPage}. */
export interface AgentPageProps {
  name: string;
  model: string;
  state: StateSince;
  /** The newest events, oldest first. */
  events: TailEvent[];
  /** There are events older than `events` (the tail offers to page them in). */
  more: boolean;
  csrf?: string;
}

/** The agent page document. */
export function AgentPage(p: AgentPageProps): JSX.Element {
  const newest = p.events.at(-1)?.id ?? 0;
  return (
    <Layout
      title={`${label(p.name)} · hyperhive`}
      csrf={p.csrf}
      chrome={
        <>
          <span safe>{label(p.name)}</span>
          <StateBadge {...p.state} />
          <span class="dim" safe>{p.model}</span>
          <a href="/">dashboard</a>
        </>
      }
    >
      <link rel="stylesheet" href="/static/agent.css" />
      <div id="link" data-agent={label(p.name)} hx-sse:connect={`events?after=${newest}`} hx-swap="none" hx-config="sse.reconnect:false"></div>
      <main>
        <section class="panel wide" id="prompt">
          <Header glyph="◈" name="Y3R C4LL" sub="send this agent a message as the operator" />
          <form class="send" hx-post="send" hx-swap="none" data-reset>
            <span class="dim" safe>{`to ${label(p.name)}`}</span>
            <textarea name="body" aria-label="message" placeholder="prompt" required></textarea>
            <span>
              <button type="submit">
                <span class="spin">◐</span> send
              </button>{' '}
              <button type="button" class="cancel-turn" hx-post="cancel" hx-swap="none">
                cancel turn
              </button>
            </span>
          </form>
          <p id="send-why" class="why" role="status" hidden></p>
          <div class="command-row">
            <span class="dim">/help lists the slash commands; the harness answers them, the model never sees them</span> <CommandButtons />
          </div>
        </section>
        <section class="panel wide" id="tail-panel">
          <Header glyph="▚" name="T41L" sub="live claude events" />
          <div class="tail-tools">
            <input type="search" id="tail-filter" placeholder="filter the loaded events" aria-label="filter the loaded events" autocomplete="off" />
            <span id="tail-count" class="dim" aria-live="polite"></span>
          </div>
          <div class="tail-box">
            <ul class="tail" id="tail">
              <HistoryEdge oldest={p.events[0]?.id ?? null} more={p.more} />
              {p.events.map((ev) => (
                <EventLines ev={ev} />
              ))}
            </ul>
            <button type="button" id="tail-new" class="new-pill" hidden>
              ↓ <span class="n">0</span> new
            </button>
          </div>
        </section>
        <TerminalPanel />
        <Panel id="stats" glyph="◔" name="ST4TS" sub="this agent over time" wide>
          <AgentStats name={p.name} />
        </Panel>
      </main>
      <script src="/static/agent.js" defer></script>
    </Layout>
  );
}
