/**
 * @module dashboard/agent-page-proxy
 * The dashboard serves each agent's own page at `/agents/<name>/page/…` by forwarding the request
 * to the unix socket the agent's harness serves it on (`page.sock` in the agent's socket dir). So
 * the page has no port of its own that agents could reach, and it sits behind the dashboard's
 * operator token, Host and CSRF checks, from this machine or another.
 *
 * The socket dir is writable from inside the sandbox, so what is found at `page.sock` is the
 * agent's to choose: it must be a socket (a symlink to some other socket on the host is refused),
 * and only the headers a page needs are passed either way. Streams (the page's event stream) pass
 * through as they come; the browser going away cancels the forwarded request, and the harness
 * going away (stopped, killed) ends the browser's response where it broke off ({@link relayBody}).
 *
 * While the page is not served (the agent is stopped, crashed, being rebuilt or starting), a browser
 * opening it gets a small page instead (503, `views/agent/offline.tsx`) that says the agent's state
 * and why, as `GET /agents/<name>/status` has them, and opens the real page by itself once the
 * agent is up; any other request there is refused with 503.
 *
 * The page's links are relative, so its root needs the trailing slash: `/agents/<name>/page` answers
 * 308 to `/agents/<name>/page/`. Elysia treats both paths as one route, so the one handler looks at
 * the request's own path (see docs/pitfalls.md).
 */
import type { AnyElysia } from 'elysia';
import { lstatSync } from 'node:fs';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, validateAgentName } from '../../shared/names.ts';
import { CSRF_FORWARD_HEADER, htmlResponse, wantsPage } from '../../shared/web.ts';
import { AgentOffline } from '../../../views/agent/offline.tsx';
import { label } from '../../../views/format.ts';
import type { Hive } from '../hive.ts';
import { pageStatus } from './agent-status.ts';
import type { CsrfSession, RequestGuard } from './guard.ts';

/** Request headers passed on to an agent's page. */
const REQUEST_HEADERS = ['accept', 'content-type', 'last-event-id', 'hx-request', 'hx-target', 'hx-source', 'hx-current-url', 'hx-request-type'];
/** Response headers passed back from an agent's page. */
const RESPONSE_HEADERS = ['content-type', 'cache-control', 'hx-trigger', 'location', 'x-content-type-options'];

/**
 * Forwards `request` to agent `name`'s page at path `rest` (below its prefix), with the session's
 * CSRF token for the page to embed. A browser opening the page's root while the page is not served
 * gets {@link offlinePage} instead.
 * @throws HiveError `bad_name`, `not_found` for an unknown agent or a peer, `unavailable` when its page is
 *   not being served (the agent is offline or starting) or `page.sock` is not a socket.
 */
export async function proxyAgentPage(hive: Hive, name: string, rest: string, request: Request, session: CsrfSession): Promise<Response> {
  if (name !== MANAGER) validateAgentName(name);
  if (hive.registry.require(name).role === 'peer') throw new HiveError('not_found', `${name} is a peer: the hive does not run it, and it has no page here`);
  const socket = hive.layout.agent(name).pageSocket;
  let isSocket = false;
  try {
    isSocket = lstatSync(socket).isSocket();
  } catch {
    // no socket file: the agent is not serving its page, which is said just below
  }
  const opening = !rest && request.method === 'GET' && wantsPage(request);
  if (!isSocket) {
    if (opening) return offlinePage(hive, name, session);
    throw new HiveError('unavailable', `the page of ${name} is not being served: the agent is offline or still starting`);
  }
  const headers = new Headers();
  for (const h of REQUEST_HEADERS) {
    const v = request.headers.get(h);
    if (v !== null) headers.set(h, v);
  }
  headers.set(CSRF_FORWARD_HEADER, session.token);
  const search = new URL(request.url).search;
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  let res: Response;
  try {
    res = await fetch(`http://agent/${rest}${search}`, { unix: socket, method: request.method, headers, body, signal: request.signal, redirect: 'manual' } as RequestInit);
  } catch (err) {
    if (request.signal.aborted) return new Response(null, { status: 499 });
    if (opening) return offlinePage(hive, name, session);
    throw new HiveError('unavailable', `the page of ${name} is not answering: ${(err as Error).message}`);
  }
  const out = new Headers();
  for (const h of RESPONSE_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) out.set(h, v);
  }
  if (session.setCookie) out.append('set-cookie', session.setCookie);
  return new Response(relayBody(res.body), { status: res.status, headers: out });
}

/**
 * The 503 page for agent `name` while its own page is not served: its state and why, from the same
 * {@link pageStatus} its page's script follows.
 */
function offlinePage(hive: Hive, name: string, session: CsrfSession): Response {
  const s = pageStatus(name, hive.registry.get(name));
  const away = s.status === 'gone' || s.status === 'idle' || s.status === 'thinking';
  const reason = s.reason ?? `${label(name)} is up, but its page does not answer yet`;
  const headers = new Headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  if (session.setCookie) headers.append('set-cookie', session.setCookie);
  const body = AgentOffline({ name, state: away ? 'offline' : s.status, since: s.since, reason }) as string;
  return htmlResponse(body, { status: 503, headers });
}

/**
 * `body` read through for the browser, ending where it breaks off: when the harness dies mid-body
 * (its event stream, above all) the read fails with ECONNRESET, which passed on as it is would reach
 * Bun's server as an uncaught error. The browser's end of the stream is closed instead, which its
 * page reads as the stream dropping. Cancelling the returned stream cancels `body`.
 */
function relayBody(body: ReadableStream<Uint8Array> | null): ReadableStream<Uint8Array> | null {
  if (!body) return null;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | null;
      try {
        const r = await reader.read();
        chunk = r.done ? null : r.value;
      } catch {
        chunk = null;
      }
      try {
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      } catch {
        // the browser's side was cancelled meanwhile: nothing is left to send to
      }
    },
    cancel(reason) {
      return reader.cancel(reason).catch(() => undefined);
    },
  });
}

/** The routes of the agents' pages, `/agents/:name/page` and everything below it. */
export function agentPageRoutes(hive: Hive, guard: RequestGuard) {
  const page = (name: string, rest: string, request: Request) => {
    if (!rest && !new URL(request.url).pathname.endsWith('/'))
      return new Response(null, { status: 308, headers: { location: `/agents/${encodeURIComponent(name)}/page/` } });
    return proxyAgentPage(hive, name, rest, request, guard.session(request));
  };
  return (app: AnyElysia) =>
    app.all('/agents/:name/page/*', ({ params, request }) => page(params.name, params['*'], request)).get('/agents/:name/page', ({ params, request }) => page(params.name, '', request));
}
