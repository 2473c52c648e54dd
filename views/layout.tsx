/** @jsxImportSource @kitajs/html */
/**
 * @module views/layout
 * The page shell shared by the dashboard and the agent pages: htmx and its SSE extension (served
 * from the htmx.org package), the stylesheet, the fixed chrome strip and the toast area; and the
 * glyph-framed panels every page is made of.
 */
import type { Children } from '@kitajs/html';

/** Props of {@link Layout}. */
export interface LayoutProps {
  title: string;
  /** Text of the chrome strip's left side (already safe: fixed strings only). */
  chrome: JSX.Element | string;
  children: Children;
  /** The page keeps an SSE stream open: show the live-link indicator (default true). */
  live?: boolean;
  /** The session's CSRF token, sent by `hive.js` as `X-CSRF-Token` on every htmx request. */
  csrf?: string;
  /**
   * The page fits the window (default false): at desktop widths the body is exactly the window's
   * height and never scrolls, its panes scroll inside (`body.fit` in `hive.css`; the dashboard).
   */
  fit?: boolean;
}

/** A full HTML document. */
export function Layout({ title, chrome, children, live = true, csrf, fit = false }: LayoutProps): JSX.Element {
  return (
    <>
      {'<!doctype html>'}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title safe>{title}</title>
          {csrf ? <meta name="csrf-token" content={csrf} /> : ''}
          <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
          <link rel="stylesheet" href="/static/hive.css" />
          <script src="/static/htmx.min.js"></script>
          <script src="/static/hx-sse.min.js"></script>
          <script src="/static/hive.js" defer></script>
        </head>
        <body class={fit ? 'fit' : undefined}>
          <div class="chrome">
            <span class="brand">░▒▓ HYPERHIVE ▓▒░</span>
            {chrome}
            {live ? (
              <span id="live" class="live down" aria-live="polite">
                ○ connecting
              </span>
            ) : (
              ''
            )}
          </div>
          {children}
          <div id="toasts" aria-live="polite"></div>
        </body>
      </html>
    </>
  );
}

/**
 * A glyph-framed, lowercase section header with its obscured name.
 * @param aside more of the header between the name and the sub-title, such as a live count (already safe).
 */
export function Header({ glyph, name, sub, aside }: { glyph: string; name: string; sub?: string; aside?: Children }): JSX.Element {
  return (
    <h2>
      <span class="glyph" safe>{glyph}</span> <span safe>{name}</span> <span class="glyph" safe>{glyph}</span>
      {aside}
      {sub ? <span class="sub" safe>{sub}</span> : ''}
    </h2>
  );
}

/**
 * A page section with its {@link Header}: `<section class="panel" aria-labelledby="<id>-h">`.
 * @param id the section's name; its header gets the id `<id>-h`.
 * @param wide spans the whole page width.
 * @param class more classes for the section.
 * @param aside passed to the {@link Header}.
 */
export function Panel(p: {
  id: string;
  glyph: string;
  name: string;
  sub?: string;
  wide?: boolean;
  class?: string;
  aside?: Children;
  children: Children;
}): JSX.Element {
  const cls = ['panel', p.wide ? 'wide' : '', p.class ?? ''].filter(Boolean).join(' ');
  return (
    <section class={cls} aria-labelledby={`${p.id}-h`}>
      <div id={`${p.id}-h`}>
        <Header glyph={p.glyph} name={p.name} sub={p.sub} aside={p.aside} />
      </div>
      {p.children}
    </section>
  );
}

/** A table's header row from fixed column names. */
export function TableHead({ columns }: { columns: string[] }): JSX.Element {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th safe>{c}</th>
        ))}
      </tr>
    </thead>
  );
}
