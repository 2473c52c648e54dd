/**
 * @module lines
 * Splitting a byte stream into text lines as they arrive.
 */

/** Options of {@link eachLine}. */
export interface EachLineOptions {
  /**
   * The longest line passed on, in characters. Longer lines, wherever they end, are dropped as
   * they arrive (never held whole) and reported once each through `onTooLong`.
   */
  maxChars?: number;
  onTooLong?: () => void;
}

/** Calls `fn` for each newline-terminated line of a byte stream (and a trailing partial line). */
export async function eachLine(stream: ReadableStream<Uint8Array>, fn: (line: string) => void, opts: EachLineOptions = {}): Promise<void> {
  const max = opts.maxChars ?? Infinity;
  const decoder = new TextDecoder();
  let buf = '';
  let dropping = false; // the rest of a line over `max`
  const line = (text: string) => {
    if (text.length > max) opts.onTooLong?.();
    else fn(text);
  };
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      if (dropping) dropping = false;
      else line(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    if (buf.length > max) {
      if (!dropping) opts.onTooLong?.();
      dropping = true;
      buf = '';
    }
  }
  buf += decoder.decode();
  if (buf && !dropping) line(buf);
}
