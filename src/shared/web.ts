/**
 * @module web
 * Pieces both web surfaces (the dashboard and each agent's page) share: serving the static files
 * (`static/` and the pinned htmx package), error responses and toast headers.
 */
import { Elysia } from 'elysia';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError, toErrorInfo } from './errors.ts';
import { oneLine } from './sse.ts';
import { PACKAGE_ROOT } from './version.ts';

/** Directory of the hive's own static files (CSS, page glue). */
export const STATIC_DIR = join(PACKAGE_ROOT, 'static');

/**
 * Files served under `/static/` straight from the installed `htmx.org` package (pinned in
 * package.json and bun.lock), so htmx and its SSE extension always come from one version.
 */
export const PACKAGE_STATIC: Readonly<Record<string, string>> = {
  'htmx.min.js': 'htmx.org/dist/htmx.min.js',
  'hx-sse.min.js': 'htmx.org/dist/ext/hx-sse.min.js',
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
  return new Elysia({ name: 'static' }).get('/static/:file', ({ params, status }) => {
    const path = files.get(params.file);
    if (path === undefined) return status(404, 'not found');
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
