import { describe, expect, test } from 'bun:test';
import { eachLine } from '../../src/shared/lines.ts';

/** A stream that delivers `chunks` as they are, one read each. */
const streamOf = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk));
      c.close();
    },
  });

describe('eachLine', () => {
  test('lines split across chunks, a multi-byte character split too, and a trailing partial line', async () => {
    const euro = new TextEncoder().encode('€');
    const parts = [new TextEncoder().encode('a\nb'), euro.slice(0, 1), euro.slice(1), new TextEncoder().encode('c\nlast')];
    const lines: string[] = [];
    await eachLine(new ReadableStream({ start: (c) => (parts.forEach((p) => c.enqueue(p)), c.close()) }), (l) => lines.push(l));
    expect(lines).toEqual(['a', 'b€c', 'last']);
  });

  test('a line over maxChars is dropped and reported once, whether it ends in one chunk or spans many', async () => {
    const lines: string[] = [];
    let tooLong = 0;
    const opts = { maxChars: 5, onTooLong: () => tooLong++ };
    await eachLine(streamOf(['ok\n123456\nfine\n', '1234', '5678', '9012\n', 'after\n', '123456789']), (l) => lines.push(l), opts);
    expect(lines).toEqual(['ok', 'fine', 'after']);
    expect(tooLong).toBe(3);
  });
});
