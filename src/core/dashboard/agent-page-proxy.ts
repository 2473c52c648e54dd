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
 * through as they come; the browser going away cancels the forwarded request.
 *
 * The page's links are relative, so its root needs the trailing slash: `/agents/<name>/page` answers
 * 308 to `/agents/<name>/page/`. Elysia treats both paths as one route, so the one handler looks at
 * the request's own path (see docs/pitfalls.md).
 */
import type { AnyElysia } from 'elysia';
import { lstatSync } from 'node:fs';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, validateAgentName } from '../../shared/names.ts';
import { CSRF_FORWARD_HEADER } from '../../shared/web.ts';
import type { Hive } from '../hive.ts';
import type { CsrfSession, RequestGuard } from './guard.ts';

/** Request headers passed on to an agent's page. */
const REQUEST_HEADERS = ['accept', 'content-type', 'last-event-id', 'hx-request', 'hx-target', 'hx-source', 'hx-current-url', 'hx-request-type'];
/** Response headers passed back from an agent's page. */
const RESPONSE_HEADERS = ['content-type', 'cache-control', 'hx-trigger', 'location', 'x-content-type-options'];

/**
 * Forwards `request` to agent `name`'s page at path `rest` (below its prefix), with the session's
 * CSRF token for the page to embed.
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
  if (!isSocket) throw new HiveError('unavailable', `the page of ${name} is not being served: the agent is offline or still starting`);
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
    throw new HiveError('unavailable', `the page of ${name} is not answering: ${(err as Error).message}`);
  }
  const out = new Headers();
  for (const h of RESPONSE_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) out.set(h, v);
  }
  if (session.setCookie) out.append('set-cookie', session.setCookie);
  return new Response(res.body, { status: res.status, headers: out });
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
