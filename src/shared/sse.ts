/**
 * @module sse
 * Server-sent events as a `Response`, per the WHATWG HTML "server-sent events" section. Event
 * names and ids may not contain newlines (they would end the field), so {@link SseSink.send}
 * refuses them; data is split into one `data:` line per line. A comment line every 15 s keeps
 * proxies from closing an idle stream. The stream always closes its listeners in `finally`, whether
 * the client went away or the server ended it ({@link SseSink.close}).
 */

/** One event to send. */
export interface SseEvent {
  event?: string;
  id?: string | number;
  data: string;
  /** How long the client waits before reconnecting after the stream ends, ms (the `retry:` field). */
  retry?: number;
}

/** What a stream's producer writes to. */
export interface SseSink {
  /**
   * Sends one event, or one already framed by {@link encodeSseEvent} (what many streams send alike
   * is framed once and shared; the bytes must not change afterwards).
   * @throws Error when `event` or `id` contains a newline.
   */
  send(ev: SseEvent | Uint8Array): void;
  /** Aborted when the client goes away or the stream is closed. */
  signal: AbortSignal;
  /**
   * Ends the stream from the server's side: the cleanup runs and the client sees a clean end of
   * the response (and may reconnect). Does nothing once the stream is over.
   */
  close(): void;
}

/** Heartbeat comment interval, ms. */
export const SSE_HEARTBEAT_MS = 15_000;

const encoder = new TextEncoder();
const CONNECTED = encoder.encode(': connected\n\n');
const PING = encoder.encode(': ping\n\n');

/**
 * One event as it goes on the wire: its fields, one `data:` line per line of `data`, and the blank
 * line that ends it, UTF-8 encoded.
 * @throws Error when `event` or `id` contains a newline.
 */
export function encodeSseEvent(ev: SseEvent): Uint8Array {
  let out = '';
  if (ev.event !== undefined) {
    if (/[\r\n]/.test(ev.event)) throw new Error('SSE event name contains a newline');
    out += `event: ${ev.event}\n`;
  }
  if (ev.id !== undefined) {
    if (/[\r\n]/.test(String(ev.id))) throw new Error('SSE id contains a newline');
    out += `id: ${ev.id}\n`;
  }
  if (ev.retry !== undefined) out += `retry: ${Math.max(0, Math.round(ev.retry))}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return encoder.encode(`${out}\n`);
}

/**
 * Opens an SSE response. `start` runs once with the sink and may return a cleanup function that
 * runs when the client disconnects.
 */
export function sseResponse(start: (sink: SseSink) => (() => void) | void, headers: Record<string, string> = {}): Response {
  const abort = new AbortController();
  let cleanup: (() => void) | void;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const finish = () => {
    if (abort.signal.aborted) return;
    abort.abort();
    clearInterval(heartbeat);
    try {
      cleanup?.();
    } finally {
      cleanup = undefined;
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (bytes: Uint8Array) => {
        if (abort.signal.aborted) return;
        try {
          controller.enqueue(bytes);
        } catch {
          finish();
        }
      };
      const sink: SseSink = {
        signal: abort.signal,
        close() {
          if (abort.signal.aborted) return;
          finish();
          try {
            controller.close();
          } catch {
            // the client went away at the same moment: nothing left to close
          }
        },
        send(ev) {
          write(ev instanceof Uint8Array ? ev : encodeSseEvent(ev));
        },
      };
      write(CONNECTED);
      heartbeat = setInterval(() => write(PING), SSE_HEARTBEAT_MS);
      try {
        cleanup = start(sink);
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    cancel() {
      finish();
    },
  });
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers },
  });
}

/**
 * Makes an HTML fragment safe to send as one `data:` line: newlines become character references,
 * which HTML decodes back to the same characters in text and attribute values.
 */
export function oneLine(html: string): string {
  return html.replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');
}
