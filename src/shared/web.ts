/**
 * @module web
 * Pieces both web surfaces (the dashboard and each agent's page) share: serving the static files
 * (`static/` and the pinned htmx package), error responses and toast headers.
 */
import { escapeHtml } from '@kitajs/html';
import { Elysia } from 'elysia';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError, toErrorInfo } from './errors.ts';
import { oneLine } from './sse.ts';
import { PACKAGE_ROOT } from './version.ts';

/** Directory of the hive's own static files (CSS, page glue). */
export const STATIC_DIR = join(PACKAGE_ROOT, 'static');

/**
 * Files served under `/static/` straight from installed packages (pinned in package.json and
 * bun.lock): htmx and its SSE extension from `htmx.org`, always one version, the chart library
 * from `uplot`, and the agent page's terminal from `@xterm/xterm` and `@xterm/addon-fit`.
 */
export const PACKAGE_STATIC: Readonly<Record<string, string>> = {
  'htmx.min.js': 'htmx.org/dist/htmx.min.js',
  'hx-sse.min.js': 'htmx.org/dist/ext/hx-sse.min.js',
  'uplot.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uplot.min.css': 'uplot/dist/uPlot.min.css',
  'xterm.js': '@xterm/xterm/lib/xterm.js',
  'xterm.css': '@xterm/xterm/css/xterm.css',
  'xterm-addon-fit.js': '@xterm/addon-fit/lib/addon-fit.js',
};

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', png: 'image/png', svg: 'image/svg+xml' };

/**
 * Where each file under `/static/` comes from: the files in `static/` and the {@link PACKAGE_STATIC}
 * files, resolved from the package root's dependencies.
 * @throws Error when a package file cannot be found (the dependencies are not installed).
 */
export function staticFileMap(): Map<string, string> {
  const files = new Map(readdirSync(STATIC_DIR).map((f) => [f, join(STATIC_DIR, f)] as const));
  for (const [name, spec] of Object.entries(PACKAGE_STATIC)) {
    try {
      files.set(name, Bun.resolveSync(spec, PACKAGE_ROOT));
    } catch (err) {
      throw new Error(`cannot find ${spec} under ${PACKAGE_ROOT}: run \`bun install\` there (${(err as Error).message})`);
    }
  }
  return files;
}

/** Serves the {@link staticFileMap} files under `/static/<file>`; only names known at startup are served. */
export function staticFiles() {
  const files = staticFileMap();
  return new Elysia({ name: 'static' }).get('/static/:file', ({ params, request }) => {
    const path = files.get(params.file);
    if (path === undefined) return errorResponse(404, 'not found', request);
    const ext = params.file.split('.').pop() ?? '';
    return new Response(Bun.file(path), {
      headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-cache' },
    });
  });
}

/**
 * The header in which the dashboard hands an agent's page the operator's CSRF token when it
 * proxies a request to it, so the page can embed the token for its own forms.
 */
export const CSRF_FORWARD_HEADER = 'x-hive-csrf';

/**
 * JSON that is safe as an HTTP header value: every character outside printable ASCII is written as
 * a `\uXXXX` escape (which `JSON.parse` reads back as the same text), since a header may carry
 * only Latin-1 and the browser reads it as such.
 */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An `HX-Trigger` header value that raises a toast on the page; any text, ASCII on the wire. */
export function toastHeader(text: string, ok = true): string {
  return headerJson({ toast: { text, ok } });
}

/** An HTML response. */
export function htmlResponse(body: BodyInit, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'text/html; charset=utf-8');
  return new Response(body, { ...init, headers });
}

/**
 * Whether `request` is a browser navigation (a link followed, an address typed) rather than an
 * htmx or script request: such a request is answered with a page, not a bare message.
 */
export function wantsPage(request: Request | undefined): boolean {
  if (!request || request.headers.has('hx-request')) return false;
  const mode = request.headers.get('sec-fetch-mode');
  if (mode) return mode === 'navigate';
  return (request.headers.get('accept') ?? '').includes('text/html');
}

/** A small page that says what went wrong and links back to the dashboard. */
export function errorPage(status: number, message: string): string {
  const title = `${status} ${STATUS_TEXT[status] ?? 'error'}`;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · hyperhive</title>` +
    `<link rel="stylesheet" href="/static/hive.css"></head><body><main class="error-page">` +
    `<h1>${title}</h1><p role="alert">${escapeHtml(message)}</p><p><a href="/">back to the dashboard</a></p></main></body></html>`
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  409: 'conflict',
  413: 'too large',
  500: 'internal error',
  502: 'bad gateway',
  503: 'unavailable',
};

/**
 * An error answer with a proper content type: for a navigation ({@link wantsPage}) the
 * {@link errorPage}; for anything else (htmx, scripts) the message as plain text with a failure
 * toast (`HX-Trigger`).
 */
export function errorResponse(status: number, message: string, request?: Request): Response {
  const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  if (wantsPage(request)) return htmlResponse(errorPage(status, message), { status, headers });
  return new Response(message, {
    status,
    headers: { ...headers, 'content-type': 'text/plain; charset=utf-8', 'HX-Trigger': toastHeader(message, false) },
  });
}

/**
 * The one mapping of thrown errors to HTTP responses for both web surfaces: `HiveError`s keep their
 * status, Elysia's validation errors are 400, anything else is 500 and is logged. The answer is
 * {@link errorResponse}: a readable page for a navigation, else the message and a failure toast.
 */
export function errorResponder(log: (line: string) => void) {
  return ({ error, code, request }: { error: unknown; code: unknown; request?: Request }): Response => {
    if (code === 'NOT_FOUND') return errorResponse(404, 'not found', request);
    const info = toErrorInfo(error);
    const status = error instanceof HiveError ? error.status : code === 'VALIDATION' ? 400 : 500;
    if (status >= 500) log(`web: ${(error as Error).stack ?? error}`);
    return errorResponse(status, info.message, request);
  };
}

/**
 * An htmx 4 `<hx-partial>` that swaps `inner` into `target` with `swap`, on one line so it can
 * travel as a single SSE `data:` line.
 */
export function htmxPartial(target: string, swap: string, inner: string): string {
  return oneLine(`<hx-partial hx-target="${target}" hx-swap="${swap}">${inner}</hx-partial>`);
}
