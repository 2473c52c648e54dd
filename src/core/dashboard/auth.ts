/**
 * @module dashboard/auth
 * The operator token. When the core has one (required when the dashboard listens beyond loopback,
 * see `core/settings.ts`), every request must show it, one of three ways:
 * - `Authorization: Bearer <token>` (scripts, curl);
 * - the session cookie `hive_session`, an HMAC-SHA256 of a fixed label keyed by the token, so the
 *   token itself is never stored in the browser;
 * - `?token=<token>` on a GET, once: the answer sets the cookie and redirects (303) to the same
 *   URL without the token, so it does not stay in the address bar or history.
 * Anything else gets 401 with a page that says how to get in. Comparisons are constant-time.
 * The cookie is `HttpOnly` and `SameSite=Strict`; it is not `Secure`, since the core speaks plain
 * HTTP; put a TLS proxy in front when the network between operator and core is not trusted.
 */
import { createHmac } from 'node:crypto';
import { readCookie, same } from './guard.ts';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'hive_session';

/** Checks requests against one operator token. */
export class OperatorAuth {
  private readonly session: string;

  constructor(private readonly token: string) {
    this.session = createHmac('sha256', token).update('hyperhive dashboard session v1').digest('base64url');
  }

  /**
   * Null when `request` may proceed; otherwise the response to send instead: a redirect that sets
   * the session cookie (a correct `?token=` on a GET), or 401.
   */
  check(request: Request): Response | null {
    const auth = request.headers.get('authorization');
    if (auth?.startsWith('Bearer ') && same(auth.slice(7).trim(), this.token)) return null;
    const cookie = readCookie(request.headers.get('cookie'), SESSION_COOKIE);
    if (cookie !== null && same(cookie, this.session)) return null;
    const url = new URL(request.url);
    const given = url.searchParams.get('token');
    if (given !== null && request.method === 'GET' && same(given, this.token)) {
      url.searchParams.delete('token');
      return new Response(null, {
        status: 303,
        headers: {
          location: url.pathname + url.search,
          'set-cookie': `${SESSION_COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict`,
          'cache-control': 'no-store',
        },
      });
    }
    const why = given !== null || auth !== null || cookie !== null ? 'that operator token is not the right one' : 'this dashboard needs the operator token';
    return new Response(
      `<!doctype html><meta charset="utf-8"><title>hyperhive: operator token needed</title>` +
        `<body style="background:#0b0b0f;color:#e6e6e6;font:14px monospace;padding:2rem">` +
        `<p>${why}.</p><p>Open this page once as <code>/?token=&lt;token&gt;</code> (the browser then keeps a session cookie), ` +
        `or send <code>Authorization: Bearer &lt;token&gt;</code>. The token is the one given to <code>hive core serve</code> ` +
        `with <code>--token-file</code> or <code>HIVE_OPERATOR_TOKEN</code>.</p></body>`,
      { status: 401, headers: { 'content-type': 'text/html; charset=utf-8', 'www-authenticate': 'Bearer realm="hyperhive"', 'cache-control': 'no-store' } },
    );
  }
}
