/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/page
 * An agent's own page: state badge, the live tail of its claude events (backfilled from history),
 * a prompt box that sends the operator's text to this agent, and its telemetry charts. Served
 * under the dashboard at `/agents/<name>/page/`, so its own links are relative (the charts ask
 * the dashboard's `/api/stats` by absolute path).
 */
import { Header, Layout, Panel } from '../layout.tsx';
import { label } from '../format.ts';
import { AgentStats } from '../dashboard/stats.tsx';
import { EventLines, type TailEvent } from './tail.tsx';

/** The state badge `#state`. */
export function StateBadge({ busy }: { busy: boolean }): JSX.Element {
  const s = busy ? 'thinking' : 'idle';
  return (
    <span id="state" class={`badge ${s}`}>
      {s}
    </span>
  );
}

/** The agent page document. */
export function AgentPage(p: { name: string; model: string; busy: boolean; events: TailEvent[]; csrf?: string }): JSX.Element {
  return (
    <Layout
      title={`${label(p.name)} · hyperhive`}
      csrf={p.csrf}
      chrome={
        <>
          <span safe>{label(p.name)}</span>
          <StateBadge busy={p.busy} />
          <span class="dim" safe>{p.model}</span>
          <a href="/">dashboard</a>
        </>
      }
    >
      <div hx-sse:connect="events" hx-swap="none"></div>
      <main>
        <section class="panel wide">
          <Header glyph="◈" name="Y3R C4LL" sub="send this agent a message as the operator" />
          <form class="send" hx-post="send" hx-swap="none" data-reset>
            <span class="dim" safe>{`to ${label(p.name)}`}</span>
            <textarea name="body" aria-label="message" placeholder="prompt" required></textarea>
            <span>
              <button type="submit">
                <span class="spin">◐</span> send
              </button>{' '}
              <button type="button" hx-post="cancel" hx-swap="none">cancel turn</button>
            </span>
          </form>
        </section>
        <section class="panel wide">
          <Header glyph="▚" name="T41L" sub="live claude events" />
          <ul class="tail" id="tail">
            {p.events.map((ev) => <EventLines ev={ev} />)}
          </ul>
        </section>
        <Panel id="stats" glyph="◔" name="ST4TS" sub="this agent over time" wide>
          <AgentStats name={p.name} />
        </Panel>
      </main>
    </Layout>
  );
}
