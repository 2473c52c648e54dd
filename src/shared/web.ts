/**
 * @module web
 * Pieces both web surfaces (the dashboard and each agent's page) share: serving the vendored
 * `static/` files, error responses and toast headers.
 */
import { Elysia } from 'elysia';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError, toErrorInfo } from './errors.ts';
import { oneLine } from './sse.ts';
import { PACKAGE_ROOT } from './version.ts';

/** Directory of the vendored static files. */
export const STATIC_DIR = join(PACKAGE_ROOT, 'static');

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', png: 'image/png', svg: 'image/svg+xml' };

/** Serves the files in `static/` under `/static/<file>`; only names present at startup are served. */
export function staticFiles() {
  const files = new Set(readdirSync(STATIC_DIR));
  return new Elysia({ name: 'static' }).get('/static/:file', ({ params, status }) => {
    if (!files.has(params.file)) return status(404, 'not found');
    const ext = params.file.split('.').pop() ?? '';
    return new Response(Bun.file(join(STATIC_DIR, params.file)), {
      headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-cache' },
    });
  });
}

/**
 * The header in which the dashboard hands an agent's page the operator's CSRF token when it
 * proxies a request to it, so the page can embed the token for its own forms.
 */
export const CSRF_FORWARD_HEADER = 'x-hive-csrf';

/** An `HX-Trigger` header value that raises a toast on the page. */
export function toastHeader(text: string, ok = true): string {
  return JSON.stringify({ toast: { text, ok } });
}

/** An HTML response. */
export function htmlResponse(body: string, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'text/html; charset=utf-8');
  return new Response(body, { ...init, headers });
}

/**
 * The one mapping of thrown errors to HTTP responses for both web surfaces: `HiveError`s keep their
 * status, Elysia's validation errors are 400, anything else is 500 and is logged. The message is
 * the body and also a failure toast (`HX-Trigger`), so the operator sees it where they look.
 */
export function errorResponder(log: (line: string) => void) {
  return ({ error, code }: { error: unknown; code: unknown }): Response => {
    if (code === 'NOT_FOUND') return new Response('not found', { status: 404 });
    const info = toErrorInfo(error);
    const status = error instanceof HiveError ? error.status : code === 'VALIDATION' ? 400 : 500;
    if (status >= 500) log(`web: ${(error as Error).stack ?? error}`);
    return new Response(info.message, { status, headers: { 'HX-Trigger': toastHeader(info.message, false) } });
  };
}

/**
 * An htmx 4 `<hx-partial>` that swaps `inner` into `target` with `swap`, on one line so it can
 * travel as a single SSE `data:` line.
 */
export function htmxPartial(target: string, swap: string, inner: string): string {
  return oneLine(`<hx-partial hx-target="${target}" hx-swap="${swap}">${inner}</hx-partial>`);
}
