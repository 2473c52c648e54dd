/**
 * @module agent/page/listen
 * Where the agent's page listens: its unix socket, bound from the harness's start (retrying until
 * the socket dir can take it), with the page's code (`server.tsx`: Elysia, the views, the slash
 * commands) loaded on the first request. Most agents' pages are never opened; that code is about
 * 3.5 MiB of a harness's memory (docs/performance.md#memory-benchmemoryts). The state badge's clock
 * runs from the start, so a page opened later still shows since when the agent has been idle.
 *
 * Serving retries forever with backoff capped at 2 s; the first dozen failures are logged as
 * warnings, later ones quietly, and the eventual success once.
 */
import type { Server } from 'bun';
import { removeStaleSocket } from '../../shared/jsonl.ts';
import type { History } from '../history.ts';
import type { TurnLoop } from '../loop.ts';
import type { StateSince } from '../../../views/agent/page.tsx';

/**
 * How long an open connection may stay silent before Bun closes it, seconds: above the page's SSE
 * heartbeat (15 s, `shared/sse.ts`), as Elysia's own `listen` sets it.
 */
const IDLE_TIMEOUT_S = 30;

/**
 * The harness's state and since when: `thinking` from a turn's wake, `idle` from its end, or from
 * when the clock started before any turn. Follows the history from now on.
 */
export function stateClock(loop: TurnLoop, history: History): () => StateSince {
  let since = Date.now();
  history.subscribe((ev) => {
    if (ev.kind === 'wake' || ev.kind === 'turn_end') since = ev.ts;
  });
  return () => ({ state: loop.busy ? 'thinking' : 'idle', since });
}

/** What answers the page's requests: an Elysia app, or anything with its `handle`. */
export interface PageHandler {
  handle(request: Request): Response | Promise<Response>;
}

/**
 * A page served on a unix socket whose handler is made by `load` on the first request. If that
 * fails, the request gets a 500 naming why and the next request calls `load` again (which helps
 * when building the handler failed; a module that failed to evaluate keeps failing the same way
 * until the harness restarts).
 * `listen` binds at once; `stop(true)` also ends open connections, such as event streams.
 */
export class LazyPage {
  private handler: Promise<PageHandler> | null = null;
  private server: Server<undefined> | null = null;

  constructor(
    private readonly load: () => Promise<PageHandler>,
    private readonly log: (line: string) => void,
  ) {}

  /** Binds `unix`. @throws when the bind fails (see {@link listenWithRetry}). */
  listen(o: { unix: string }): void {
    const options = {
      unix: o.unix,
      // Bun's types allow idleTimeout for TCP only, but it applies to unix sockets too (10 s by default)
      idleTimeout: IDLE_TIMEOUT_S,
      fetch: async (request: Request) => {
        this.handler ??= this.load().catch((err: unknown) => {
          this.handler = null;
          throw err;
        });
        return (await this.handler).handle(request);
      },
      error: (err: Error) => {
        this.log(`page: ${err.message}`);
        return new Response(`the agent's page failed: ${err.message}\n`, { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      },
    };
    this.server = Bun.serve(options as unknown as Bun.Serve.Options<undefined>);
  }

  /** Stops listening; with `closeActive`, ends the open connections too. */
  async stop(closeActive = false): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop(closeActive);
  }
}

/** Options of {@link listenWithRetry}. */
export interface RetryOptions {
  /** Path of the unix socket to serve on; a stale socket file there is removed first. */
  unix: string;
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
 * Serves `app` on a unix socket, retrying any failure to bind forever (until `signal` aborts): the
 * socket dir can be missing or unwritable for a while (a sandbox being set up), and an agent must
 * never end up without its page.
 * @returns the number of attempts it took.
 * @throws when aborted.
 */
export async function listenWithRetry(app: { listen: (o: { unix: string }) => unknown }, o: RetryOptions): Promise<number> {
  const first = o.firstDelayMs ?? 100;
  const max = o.maxDelayMs ?? 2000;
  const loud = o.loudAttempts ?? 12;
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted) throw new Error('aborted while waiting to serve the page');
    try {
      removeStaleSocket(o.unix);
      app.listen({ unix: o.unix });
      if (attempt > 1) o.log(`page: serving ${o.unix} after ${attempt} attempts`);
      return attempt;
    } catch (err) {
      const delay = Math.min(first * 2 ** (attempt - 1), max);
      const why = (err as Error).message;
      if (attempt <= loud) o.log(`WARN page: cannot serve ${o.unix} (attempt ${attempt}): ${why}; retrying in ${delay}ms`);
      else if (attempt % 30 === 0) o.log(`page: still cannot serve ${o.unix} after ${attempt} attempts: ${why}`);
      await Bun.sleep(delay);
    }
  }
}
