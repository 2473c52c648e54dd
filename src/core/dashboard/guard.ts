/**
 * @module dashboard/guard
 * What every dashboard request must get past besides the operator token (`auth.ts`), whoever it
 * comes from:
 * - **Host**: the `Host` header must name the dashboard: a loopback name (`localhost`, 127.0.0.0/8,
 *   `[::1]`), the listen address, or a name the operator allowed with `--allowed-hosts`; when the
 *   dashboard listens on every address (`0.0.0.0`, `::`), also this machine's host name and its
 *   interface addresses. A page on another site that rebinds its own name to this address (DNS
 *   rebinding) sends its own name as `Host` and is refused.
 * - **CSRF**: every state-changing request (anything but GET, HEAD, OPTIONS) must carry the session's
 *   token, as the `X-CSRF-Token` header (htmx sends it, see `static/hive.js`) or the `_csrf` form
 *   field, and an `Origin`, when it has one, must be the host it was sent to. A POST with neither
 *   `Origin` nor token is refused. The session is a random id in the `hive_csrf` cookie (HttpOnly,
 *   SameSite=Strict); its token is an HMAC-SHA256 of the id keyed by the secret in `<data>/secret`,
 *   so tokens stay valid across core restarts and nothing needs storing per session.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { HiveError } from '../../shared/errors.ts';

/** Name of the CSRF session cookie. */
export const CSRF_COOKIE = 'hive_csrf';
/** Header htmx sends the token in. */
export const CSRF_HEADER = 'x-csrf-token';
/** Form field plain forms send the token in. */
export const CSRF_FIELD = '_csrf';

/** Methods that change nothing and need no token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A session id as this module makes them: 32 base64url characters. */
const SID_RE = /^[A-Za-z0-9_-]{32}$/;

/**
 * Reads the dashboard's secret key from `path`, creating it (32 random bytes, mode 0600) when it
 * does not exist yet.
 * @throws when the file exists but cannot be read, or cannot be created.
 */
export function loadSecret(path: string): Buffer {
  try {
    const key = readFileSync(path);
    if (key.length >= 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  writeFileSync(path, key, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}

/** The host part of a `Host` header value (`a.b:7000` → `a.b`, `[::1]:7000` → `::1`), lower-cased. */
export function hostOf(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const i = v.lastIndexOf(':');
  return i >= 0 && v.indexOf(':') === i ? v.slice(0, i) : v;
}

/** True for the names and addresses only this host answers to. */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A request's session: its id, its token, and the cookie to set when the id is new. */
export interface CsrfSession {
  sid: string;
  token: string;
  /** A `Set-Cookie` value when the request carried no valid session cookie, else null. */
  setCookie: string | null;
}

/** The Host and CSRF checks of one dashboard. */
export class RequestGuard {
  private readonly hosts: Set<string>;

  /**
   * @param secret the key tokens are derived from (see {@link loadSecret}).
   * @param listenHost the address the dashboard listens on.
   * @param allowedHosts further names the operator lets through (`--allowed-hosts`).
   */
  constructor(
    private readonly secret: Buffer,
    listenHost: string,
    allowedHosts: readonly string[] = [],
  ) {
    this.hosts = new Set([listenHost, ...allowedHosts].map((h) => hostOf(h.includes(':') && !h.startsWith('[') ? `[${h}]` : h)));
    if (listenHost === '0.0.0.0' || listenHost === '::') {
      this.hosts.add(hostname().toLowerCase());
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) this.hosts.add(a.address.toLowerCase());
    }
  }

  /** True when the request's `Host` names this dashboard (see the module comment). */
  hostAllowed(request: Request): boolean {
    const raw = request.headers.get('host') ?? new URL(request.url).host;
    const host = hostOf(raw);
    return isLoopbackName(host) || this.hosts.has(host);
  }

  /** The token of session `sid`. */
  tokenOf(sid: string): string {
    return createHmac('sha256', this.secret).update(`hyperhive csrf v1 ${sid}`).digest('base64url');
  }

  /** The request's session, or a new one (with the cookie to set) when it has none. */
  session(request: Request): CsrfSession {
    const sid = readCookie(request.headers.get('cookie'), CSRF_COOKIE);
    if (sid && SID_RE.test(sid)) return { sid, token: this.tokenOf(sid), setCookie: null };
    const fresh = randomBytes(24).toString('base64url');
    return { sid: fresh, token: this.tokenOf(fresh), setCookie: `${CSRF_COOKIE}=${fresh}; Path=/; HttpOnly; SameSite=Strict` };
  }

  /**
   * Checks a request before any route sees it: the Host always; for a state-changing request, the
   * `Origin` (when present) and the CSRF token.
   * @throws HiveError `forbidden` saying which check failed.
   */
  async check(request: Request): Promise<void> {
    if (!this.hostAllowed(request))
      throw new HiveError('forbidden', `this dashboard does not answer to the host "${(request.headers.get('host') ?? '').slice(0, 100)}"; use its own address, or allow the name with --allowed-hosts`);
    if (SAFE_METHODS.has(request.method)) return;
    const origin = request.headers.get('origin');
    if (origin !== null) {
      let same = false;
      try {
        same = new URL(origin).host.toLowerCase() === (request.headers.get('host') ?? new URL(request.url).host).toLowerCase();
      } catch {
        // an Origin that is not a URL is not this dashboard's: refused just below
      }
      if (!same) throw new HiveError('forbidden', 'cross-origin request refused');
    }
    const sid = readCookie(request.headers.get('cookie'), CSRF_COOKIE);
    const given = request.headers.get(CSRF_HEADER) ?? (await formToken(request));
    if (!sid || !SID_RE.test(sid) || !given || !same(given, this.tokenOf(sid)))
      throw new HiveError('forbidden', 'this request carries no valid CSRF token for its session; reload the page and try again');
  }
}

/** The `_csrf` field of a form body, read from a clone so the route can still read the body. */
async function formToken(request: Request): Promise<string | null> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return null;
  try {
    const v = (await request.clone().formData()).get(CSRF_FIELD);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Constant-time string equality (lengths are compared first, which leaks only the length). */
export function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of cookie `name` in a `Cookie` header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}
