/**
 * A client for the real dashboard app (`app.handle`) that behaves like a browser tab: it loads the
 * page once to get its session cookie and CSRF token, then sends them with every post, with a
 * same-origin `Origin` unless told otherwise.
 */
import { CSRF_COOKIE } from '../../src/core/dashboard/guard.ts';

/** Anything with Elysia's `handle`. */
export interface Handler {
  handle(request: Request): Promise<Response> | Response;
}

/** Options of one {@link DashboardClient.post}. */
export interface PostOptions {
  /** The `Origin` header (default: the dashboard's own); null sends none. */
  origin?: string | null;
  /** Send the session's token (default true). */
  token?: boolean;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** A browser-like session on a dashboard. */
export class DashboardClient {
  private constructor(
    private readonly app: Handler,
    readonly base: string,
    readonly cookie: string,
    readonly token: string,
  ) {}

  /** Loads `/` on `app` (as `base`, e.g. `http://localhost`) and keeps the session it sets. */
  static async open(app: Handler, base = 'http://localhost'): Promise<DashboardClient> {
    const res = await app.handle(new Request(base + '/'));
    const set = res.headers.get('set-cookie') ?? '';
    const sid = new RegExp(`${CSRF_COOKIE}=([^;]+)`).exec(set)?.[1];
    const token = /<meta name="csrf-token" content="([^"]+)"/.exec(await res.text())?.[1];
    if (!sid || !token) throw new Error(`the dashboard page set no CSRF session (status ${res.status})`);
    return new DashboardClient(app, base, `${CSRF_COOKIE}=${sid}`, token);
  }

  /** GET `path` with the session cookie. */
  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return Promise.resolve(this.app.handle(new Request(this.base + path, { headers: { cookie: this.cookie, ...headers } })));
  }

  /** POST a urlencoded form to `path` as the page would (see {@link PostOptions}). */
  post(path: string, form: Record<string, string> | Array<[string, string]> = {}, o: PostOptions = {}): Promise<Response> {
    const origin = o.origin === undefined ? this.base : o.origin;
    return Promise.resolve(
      this.app.handle(
        new Request(this.base + path, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            cookie: this.cookie,
            ...(origin ? { origin } : {}),
            ...(o.token === false ? {} : { 'x-csrf-token': this.token }),
            ...o.headers,
          },
          body: new URLSearchParams(form).toString(),
        }),
      ),
    );
  }
}
