/** @jsxImportSource @kitajs/html */
/**
 * @module agent/page/server
 * The agent's own web page, served by agent mode on `page.sock` in its socket dir. No TCP port:
 * the operator reaches it through the dashboard at `/agents/<name>/page/`, behind the dashboard's
 * authentication, Host and CSRF checks; in a sandbox nothing else can connect to the socket.
 * Links are relative, so the page works under that prefix.
 * Routes: `GET /` page with the last 200 history events · `GET /events` SSE of new events (replays
 * what a reconnecting client missed, by `Last-Event-ID`) · `POST /send` operator prompt ·
 * `POST /cancel` abort the running turn · `GET /healthz` name and busy flag as JSON.
 * The dashboard passes the operator's CSRF token in {@link CSRF_FORWARD_HEADER}; the page embeds it.
 *
 * Serving retries forever with backoff capped at 2 s; the first dozen failures are logged as
 * warnings, later ones quietly, and the eventual success once.
 */
import { Elysia } from 'elysia';
import { removeStaleSocket } from '../../shared/jsonl.ts';
import { HiveError } from '../../shared/errors.ts';
import { sseResponse } from '../../shared/sse.ts';
import { CSRF_FORWARD_HEADER, errorResponder, htmlResponse, htmxPartial, staticFiles, toastHeader } from '../../shared/web.ts';
import type { History, HistoryEvent } from '../history.ts';
import type { TurnLoop } from '../loop.ts';
import { AgentPage, StateBadge } from '../../../views/agent/page.tsx';
import { EventLines } from '../../../views/agent/tail.tsx';

/** Events rendered at page load. */
const BACKFILL = 200;

/** Builds the agent page app. */
export function createAgentPage(loop: TurnLoop, history: History, log: (line: string) => void = console.log) {
  const eventPartial = (ev: HistoryEvent) => htmxPartial('#tail', 'beforeend', String(<EventLines ev={ev} />));
  const badgePartial = () => htmxPartial('#state', 'outerHTML', String(<StateBadge busy={loop.busy} />));

  return new Elysia({ name: 'agent-page' })
    .use(staticFiles())
    .onError(errorResponder(log))
    .get('/', ({ request }) =>
      htmlResponse(
        String(
          <AgentPage
            name={loop.identity.name}
            model={loop.model}
            busy={loop.busy}
            events={history.recent(BACKFILL)}
            csrf={request.headers.get(CSRF_FORWARD_HEADER) ?? undefined}
          />,
        ),
      ),
    )
    .get('/events', ({ request }) => {
      const lastSeen = Number(request.headers.get('last-event-id') ?? '');
      return sseResponse((sink) => {
        sink.send({ data: badgePartial() });
        if (Number.isSafeInteger(lastSeen) && lastSeen > 0)
          for (const ev of history.recent(1000, lastSeen)) sink.send({ id: ev.id, data: eventPartial(ev) });
        return history.subscribe((ev) => {
          sink.send({ id: ev.id, data: eventPartial(ev) });
          if (ev.kind === 'wake' || ev.kind === 'turn_end') sink.send({ data: badgePartial() });
        });
      });
    })
    .get('/healthz', () => ({ name: loop.identity.name, busy: loop.busy }))
    .post('/send', async ({ body }) => {
      const field = (body as Record<string, unknown> | null)?.body;
      const text = typeof field === 'string' ? field : '';
      if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
      const { id } = await loop.client.call('operator_send', { body: text });
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(`queued as message #${id}`) } });
    })
    .post('/cancel', () => {
      const was = loop.cancelTurn();
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(was ? 'turn cancelled' : 'no turn is running', was) } });
    });
}

/** Options of {@link listenWithRetry}. */
export interface RetryOptions {
  /** Path of the unix socket to serve on; a stale socket file there is removed first. */
  unix: string;
  log: (line: string) => void;
  /** First delay, ms (default 100); doubles up to `maxDelayMs`. */
  firstDelayMs?: number;
  /** Backoff cap, ms (default 2000). */
  maxDelayMs?: number;
  /** Failures logged as warnings before going quiet (default 12). */
  loudAttempts?: number;
  signal?: AbortSignal;
}

/**
 * Serves `app` on a unix socket, retrying any failure to bind forever (until `signal` aborts): the
 * socket dir can be missing or unwritable for a while (a sandbox being set up), and an agent must
 * never end up without its page.
 * @returns the number of attempts it took.
 * @throws when aborted.
 */
export async function listenWithRetry(app: { listen: (o: { unix: string }) => unknown }, o: RetryOptions): Promise<number> {
  const first = o.firstDelayMs ?? 100;
  const max = o.maxDelayMs ?? 2000;
  const loud = o.loudAttempts ?? 12;
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted) throw new Error('aborted while waiting to serve the page');
    try {
      removeStaleSocket(o.unix);
      app.listen({ unix: o.unix });
      if (attempt > 1) o.log(`page: serving ${o.unix} after ${attempt} attempts`);
      return attempt;
    } catch (err) {
      const delay = Math.min(first * 2 ** (attempt - 1), max);
      const why = (err as Error).message;
      if (attempt <= loud) o.log(`WARN page: cannot serve ${o.unix} (attempt ${attempt}): ${why}; retrying in ${delay}ms`);
      else if (attempt % 30 === 0) o.log(`page: still cannot serve ${o.unix} after ${attempt} attempts: ${why}`);
      await Bun.sleep(delay);
    }
  }
}
