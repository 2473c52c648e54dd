/** @jsxImportSource @kitajs/html */
/**
 * @module agent/page
 * The agent's own web page, served by agent mode on the port the core assigned (8100–8999).
 * Routes: `GET /` page with the last 200 history events · `GET /events` SSE of new events (replays
 * what a reconnecting client missed, by `Last-Event-ID`) · `POST /send` operator prompt ·
 * `POST /cancel` abort the running turn · `GET /healthz` name and busy flag as JSON.
 *
 * Binding retries forever with backoff capped at 2 s: a previous instance's socket can hold the port
 * for a while after a restart, and an agent must never end up without its page. The first dozen
 * failures are logged as warnings, later ones quietly, and the eventual bind once.
 */
import { Elysia } from 'elysia';
import { html } from '@elysiajs/html';
import { HiveError } from '../shared/errors.ts';
import { sseResponse } from '../shared/sse.ts';
import { errorResponder, htmlResponse, htmxPartial, sameOrigin, staticFiles, toastHeader } from '../shared/web.ts';
import type { History, HistoryEvent } from './history.ts';
import type { TurnLoop } from './loop.ts';
import { AgentPage, StateBadge } from '../../views/agent/page.tsx';
import { EventLines } from '../../views/agent/events.tsx';

/** Events rendered at page load. */
const BACKFILL = 200;

/** Builds the agent page app. */
export function createAgentPage(loop: TurnLoop, history: History, log: (line: string) => void = console.log) {
  const eventPartial = (ev: HistoryEvent) => htmxPartial('#tail', 'beforeend', String(<EventLines ev={ev} />));
  const badgePartial = () => htmxPartial('#state', 'outerHTML', String(<StateBadge busy={loop.busy} />));

  return new Elysia({ name: 'agent-page' })
    .use(html())
    .use(staticFiles())
    .onError(errorResponder(log))
    .get('/', () =>
      htmlResponse(String(<AgentPage name={loop.identity.name} model={loop.model} busy={loop.busy} events={history.recent(BACKFILL)} />)),
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
    .post('/send', async ({ request, body }) => {
      if (!sameOrigin(request)) throw new HiveError('forbidden', 'cross-origin request refused');
      const field = (body as Record<string, unknown> | null)?.body;
      const text = typeof field === 'string' ? field : '';
      if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
      const { id } = await loop.client.call('operator_send', { body: text });
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(`queued as message #${id}`) } });
    })
    .post('/cancel', ({ request }) => {
      if (!sameOrigin(request)) throw new HiveError('forbidden', 'cross-origin request refused');
      const was = loop.cancelTurn();
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(was ? 'turn cancelled' : 'no turn is running', was) } });
    });
}

/** Options of {@link listenWithRetry}. */
export interface RetryOptions {
  hostname: string;
  port: number;
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
 * Binds `app` to the port, retrying `EADDRINUSE` forever (until `signal` aborts).
 * @returns the number of attempts it took.
 * @throws the listen error when it is not "address in use", or when aborted.
 */
export async function listenWithRetry(app: { listen: (o: { hostname: string; port: number }) => unknown }, o: RetryOptions): Promise<number> {
  const first = o.firstDelayMs ?? 100;
  const max = o.maxDelayMs ?? 2000;
  const loud = o.loudAttempts ?? 12;
  for (let attempt = 1; ; attempt++) {
    try {
      app.listen({ hostname: o.hostname, port: o.port });
      if (attempt > 1) o.log(`page: bound ${o.hostname}:${o.port} after ${attempt} attempts`);
      return attempt;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const inUse = code === 'EADDRINUSE' || /in use/i.test(String((err as Error).message));
      if (!inUse) throw err;
      if (o.signal?.aborted) throw new Error('aborted while waiting for the page port');
      const delay = Math.min(first * 2 ** (attempt - 1), max);
      if (attempt <= loud) o.log(`WARN page: port ${o.port} in use (attempt ${attempt}); retrying in ${delay}ms`);
      else if (attempt % 30 === 0) o.log(`page: port ${o.port} still in use after ${attempt} attempts`);
      await Bun.sleep(delay);
    }
  }
}
