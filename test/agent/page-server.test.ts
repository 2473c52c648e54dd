/**
 * The agent page's server over `app.handle` (no socket), with a real history in a temp dir and a
 * stand-in for the turn loop: the backfill and the pages of older history, the event stream's
 * catch-up from `after` (or `Last-Event-ID`), the state and since when, and the streams ending at
 * once when the harness shuts down.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { History } from '../../src/agent/history.ts';
import type { TurnLoop } from '../../src/agent/loop.ts';
import { createAgentPage } from '../../src/agent/page/server.tsx';
import { tempDir } from '../support/hive.ts';

let dir: string;
let history: History;
let loop: { identity: { name: string }; model: string; busy: boolean; cancelTurn(): boolean };
let shutdown: AbortController;
let app: ReturnType<typeof createAgentPage>;

beforeEach(() => {
  dir = tempDir('hv-pg-');
  history = new History(dir);
  loop = { identity: { name: 'alice' }, model: 'haiku', busy: false, cancelTurn: () => false };
  shutdown = new AbortController();
  app = createAgentPage(loop as unknown as TurnLoop, history, () => {}, { shutdown: shutdown.signal });
});

afterEach(() => {
  shutdown.abort();
  history.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(`http://agent${path}`, { headers }));
const seed = (n: number) => {
  for (let i = 1; i <= n; i++) history.append(null, 'note', { level: 'info', text: `note ${i}` });
};
const ids = (html: string) => [...html.matchAll(/<li id="ev-(\d+)"/g)].map((m) => Number(m[1]));

/** Reads an SSE response until `until` holds for the text so far (or the stream ends). */
async function readUntil(res: Response, until: (text: string) => boolean): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { text, ended: true };
    text += dec.decode(value, { stream: true });
    if (until(text)) {
      reader.releaseLock();
      return { text, ended: false };
    }
  }
}

describe('the page and its older history', () => {
  test('the page holds the newest 200 events under an edge that offers the older ones', async () => {
    seed(250);
    const html = await (await get('/')).text();
    expect(ids(html)).toEqual(Array.from({ length: 200 }, (_, i) => 51 + i));
    expect(html).toContain('<li class="edge more" data-before="51">');
    expect(html).toContain('hx-sse:connect="events?after=250"');
  });

  test('a short history starts with the start edge; an empty one says so', async () => {
    expect(await (await get('/')).text()).toContain('<li class="edge start empty">no events yet</li>');
    expect(await (await get('/')).text()).toContain('hx-sse:connect="events?after=0"');
    seed(3);
    const html = await (await get('/')).text();
    expect(ids(html)).toEqual([1, 2, 3]);
    expect(html).toContain('<li class="edge start">start of history</li>');
  });

  test('GET /history pages backwards from before=, limit at a time, down to the start', async () => {
    seed(250);
    const page1 = await get('/history?before=51&limit=30');
    expect(page1.status).toBe(200);
    expect(page1.headers.get('content-type')).toContain('text/html');
    const html1 = await page1.text();
    expect(ids(html1)).toEqual(Array.from({ length: 30 }, (_, i) => 21 + i));
    expect(html1.startsWith('<li class="edge more" data-before="21">')).toBe(true);
    const html2 = await (await get('/history?before=21&limit=30')).text();
    expect(ids(html2)).toEqual(Array.from({ length: 20 }, (_, i) => 1 + i));
    expect(html2.startsWith('<li class="edge start">start of history</li>')).toBe(true);
    // exactly `limit` left: nothing older, so the start edge
    expect((await (await get('/history?before=31&limit=30')).text()).startsWith('<li class="edge start">')).toBe(true);
    // the default page is 100, and no page is larger than 500
    expect(ids(await (await get('/history?before=251')).text())).toHaveLength(100);
    seed(600);
    expect(ids(await (await get('/history?before=851&limit=100000')).text())).toHaveLength(500);
  });

  test('GET /history without a usable before= is refused', async () => {
    for (const q of ['', '?before=', '?before=abc', '?before=-3', '?before=1e3']) {
      const res = await get(`/history${q}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('before=<event id>');
    }
  });
});

describe('the event stream', () => {
  test('starts with the state badge, catches up after `after`, then follows', async () => {
    seed(5);
    const res = await get('/events?after=3');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const first = await readUntil(res, (t) => t.includes('id="ev-5"'));
    expect(first.text.indexOf('hx-target="#state"')).toBeLessThan(first.text.indexOf('id="ev-4"'));
    expect(ids(first.text)).toEqual([4, 5]);
    history.append(null, 'note', { level: 'info', text: 'live' });
    const next = await readUntil(res, (t) => t.includes('id="ev-6"'));
    expect(next.text).toContain('id: 6');
  });

  test('Last-Event-ID wins over after; without either nothing is replayed', async () => {
    seed(5);
    const res = await get('/events?after=1', { 'last-event-id': '4' });
    await readUntil(res, (t) => t.includes('#state'));
    history.append(null, 'note', { level: 'info', text: 'marker' });
    const replayed = await readUntil(res, (t) => t.includes('id="ev-6"'));
    expect(ids(replayed.text)).toEqual([5, 6]);
    const plain = await get('/events');
    await readUntil(plain, (t) => t.includes('#state'));
    history.append(null, 'note', { level: 'info', text: 'marker' });
    expect(ids((await readUntil(plain, (t) => t.includes('id="ev-7"'))).text)).toEqual([7]);
  });

  test('the badge says thinking from the wake and idle from the turn’s end, with since when', async () => {
    const h0 = (await (await get('/healthz')).json()) as { state: string; since: number };
    expect(h0.state).toBe('idle');
    loop.busy = true;
    const wake = history.append('t1', 'wake', { id: 1, from: 'operator', to: 'alice', body: 'hi' });
    const h1 = (await (await get('/healthz')).json()) as { state: string; since: number; busy: boolean };
    expect(h1).toMatchObject({ state: 'thinking', since: wake.ts, busy: true });
    const badge = await readUntil(await get('/events'), (t) => t.includes('hx-target="#state"') && t.includes('</hx-partial>'));
    expect(badge.text).toContain('data-state="thinking"');
    expect(badge.text).toContain(`data-since="${wake.ts}"`);
    loop.busy = false;
    const end = history.append('t1', 'turn_end', { status: 'ok', duration_ms: 5 });
    expect(((await (await get('/healthz')).json()) as { since: number }).since).toBe(end.ts);
  });

  test('shutting down ends every open stream at once, and a stream asked for afterwards', async () => {
    const a = await get('/events');
    const b = await get('/events');
    await readUntil(a, (t) => t.includes('#state'));
    await readUntil(b, (t) => t.includes('#state'));
    shutdown.abort();
    expect((await readUntil(a, () => false)).ended).toBe(true);
    expect((await readUntil(b, () => false)).ended).toBe(true);
    const late = await readUntil(await get('/events'), () => false);
    expect(late).toEqual({ text: ': connected\n\n', ended: true });
  });
});
