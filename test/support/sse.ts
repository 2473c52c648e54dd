/**
 * Reading an SSE response in a test: the text so far, and waiting until a needle has arrived.
 */

/** A reader over `res`'s body that accumulates what has arrived. */
export function readSse(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  return {
    /** Everything received so far. */
    get text(): string {
      return text;
    },
    /** Reads until `needle` is in the text. @throws Error when the stream ends first. */
    async until(needle: string): Promise<void> {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before "${needle}"`);
        text += dec.decode(value, { stream: true });
      }
    },
    /** Reads until the stream ends, and resolves with everything received. @throws the read's error when it fails instead. */
    async rest(): Promise<string> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += dec.decode(value, { stream: true });
      }
    },
    /** Closes the stream (the server sees the client go away). */
    cancel: () => reader.cancel(),
  };
}
