/** @jsxImportSource @kitajs/html */
/**
 * @module agent/page/server
 * The agent's own web page, served by agent mode on `page.sock` in its socket dir. No TCP port:
 * the operator reaches it through the dashboard at `/agents/<name>/page/`, behind the dashboard's
 * authentication, Host and CSRF checks; in a sandbox nothing else can connect to the socket.
 * Links are relative, so the page works under that prefix.
 * Routes: `GET /` page with the last 200 history events · `GET /events[?after=<event id>]` SSE of
 * the state badge and new events (replaying what the page missed after `after`, or after a
 * reconnecting client's `Last-Event-ID`) · `GET /history?before=<event id>[&limit=<n>]` the page of
 * older events above the loaded ones, as tail items · `POST /send` operator prompt or slash
 * command (`../commands.ts`) · `POST /cancel` abort the running turn · `GET /healthz` name, busy
 * flag, state and since when, as JSON.
 * The dashboard passes the operator's CSRF token in {@link CSRF_FORWARD_HEADER}; the page embeds it.
 * When the harness shuts down ({@link AgentPageOptions.shutdown}) every open event stream ends at
 * once, so a stop never waits for a page left open; the page then asks the core what became of
 * the agent (`static/agent.js`).
 * It is loaded on the page's first request (`listen.ts`).
 */
import { Elysia } from 'elysia';
import { HiveError } from '../../shared/errors.ts';
import { sseResponse, type SseSink } from '../../shared/sse.ts';
import { CSRF_FORWARD_HEADER, errorResponder, htmlResponse, htmxPartial, staticFiles, toastHeader } from '../../shared/web.ts';
import type { History, HistoryEvent } from '../history.ts';
import type { TurnLoop } from '../loop.ts';
import { handleSend } from '../commands.ts';
import { AgentPage, StateBadge, type StateSince } from '../../../views/agent/page.tsx';
import { EventLines, HistoryEdge } from '../../../views/agent/tail.tsx';
import { stateClock } from './listen.ts';

/** Events rendered at page load. */
const BACKFILL = 200;
/** Events in one page of older history (`GET /history`): by default, and at most. */
const HISTORY_PAGE = 100;
const HISTORY_PAGE_MAX = 500;
/** The most events a (re)connecting stream is sent to catch up. */
const REPLAY_MAX = 1000;

/** Options of {@link createAgentPage}. */
export interface AgentPageOptions {
  /**
   * Aborted when the harness shuts down: every open event stream then ends (a clean end of the
   * response), and a stream asked for afterwards ends at once.
   */
  shutdown?: AbortSignal;
  /** The state badge's clock (see {@link stateClock}); by default one started with the app. */
  stateNow?: () => StateSince;
}

/** An event id from a query or header value (a positive integer), or null. */
function eventId(raw: unknown): number | null {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

/** Builds the agent page app. */
export function createAgentPage(loop: TurnLoop, history: History, log: (line: string) => void = console.log, opts: AgentPageOptions = {}) {
  const stateNow = opts.stateNow ?? stateClock(loop, history);
  const eventPartial = (ev: HistoryEvent) => htmxPartial('#tail', 'beforeend', String(<EventLines ev={ev} />));
  const badgePartial = () => htmxPartial('#state', 'outerHTML', String(<StateBadge {...stateNow()} />));
  const streams = new Set<SseSink>();
  opts.shutdown?.addEventListener(
    'abort',
    () => {
      for (const s of streams) s.close();
    },
    { once: true },
  );

  return new Elysia({ name: 'agent-page', aot: false })
    .use(staticFiles())
    .onError(errorResponder(log))
    .get('/', ({ request }) => {
      const events = history.recent(BACKFILL + 1);
      const more = events.length > BACKFILL;
      return htmlResponse(
        String(
          <AgentPage
            name={loop.identity.name}
            model={loop.model}
            state={stateNow()}
            events={more ? events.slice(1) : events}
            more={more}
            csrf={request.headers.get(CSRF_FORWARD_HEADER) ?? undefined}
          />,
        ),
      );
    })
    .get('/events', ({ request, query }) => {
      const lastSeen = eventId(request.headers.get('last-event-id')) ?? eventId(query.after);
      return sseResponse((sink) => {
        if (opts.shutdown?.aborted) return sink.close();
        sink.send({ data: badgePartial() });
        if (lastSeen !== null) for (const ev of history.recent(REPLAY_MAX, lastSeen)) sink.send({ id: ev.id, data: eventPartial(ev) });
        const off = history.subscribe((ev) => {
          sink.send({ id: ev.id, data: eventPartial(ev) });
          if (ev.kind === 'wake' || ev.kind === 'turn_end') sink.send({ data: badgePartial() });
        });
        streams.add(sink);
        return () => {
          off();
          streams.delete(sink);
        };
      });
    })
    .get('/history', ({ query }) => {
      const before = eventId(query.before);
      if (before === null) throw new HiveError('bad_request', 'history needs before=<event id>: the oldest event the page has');
      const asked = eventId(query.limit);
      const limit = Math.min(Math.max(asked ?? HISTORY_PAGE, 1), HISTORY_PAGE_MAX);
      const events = history.before(before, limit + 1);
      const more = events.length > limit;
      const shown = more ? events.slice(1) : events;
      return htmlResponse(
        String(
          <>
            <HistoryEdge oldest={shown[0]?.id ?? before} more={more} />
            {shown.map((ev) => (
              <EventLines ev={ev} />
            ))}
          </>,
        ),
        { headers: { 'cache-control': 'no-store' } },
      );
    })
    .get('/healthz', () => ({ name: loop.identity.name, busy: loop.busy, ...stateNow() }))
    // a message for the agent, or a slash command the harness handles itself (commands.ts)
    .post('/send', ({ body }) => handleSend(loop, body))
    .post('/cancel', () => {
      const was = loop.cancelTurn();
      // the button shows only during a turn; one that ended as it was clicked is not an error
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(was ? 'turn cancelled' : 'no turn is running any more') } });
    });
}
