/** @jsxImportSource @kitajs/html */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive } from '../support/hive.ts';

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"`;
const ORIGIN = 'http://localhost';

beforeAll(async () => {
  t = await openTestHive({ 'no-manager': false });
  app = createDashboard(t.hive);
  await t.hive.stop('manager');
  t.hive.send('manager', 'operator', HOSTILE);
});
afterAll(() => t.close());

const post = (path: string, form: Record<string, string>, origin: string | null = ORIGIN) =>
  app.handle(
    new Request(ORIGIN + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}), host: 'localhost' },
      body: new URLSearchParams(form).toString(),
    }),
  );

describe('dashboard', () => {
  test('the page renders the swarm, flow and turns, with hostile text escaped', async () => {
    const res = await app.handle(new Request(ORIGIN + '/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toStartWith('<!doctype html>');
    expect(html).toContain('id="agent-manager"');
    expect(html).toContain('hm1nd');
    expect(html).toContain('hx-sse:connect="/events"');
    expect(html).toContain('unsandboxed');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });

  test('fragments render on their own', async () => {
    for (const f of ['agents', 'turns', 'flow']) {
      const res = await app.handle(new Request(`${ORIGIN}/fragments/${f}`));
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain('<html');
    }
    const flow = await (await app.handle(new Request(`${ORIGIN}/fragments/flow?agent=nobody`))).text();
    expect(flow).toContain('no messages yet');
  });

  test('static files are served; anything else under /static is not', async () => {
    const ok = await app.handle(new Request(ORIGIN + '/static/htmx.min.js'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('javascript');
    for (const bad of ['/static/..%2Fpackage.json', '/static/nope.js', '/static/..%2F..%2Fetc%2Fpasswd']) {
      expect((await app.handle(new Request(ORIGIN + bad))).status).toBe(404);
    }
    // `%2e%2e` is normalised by the URL parser to `/`: the page, never a file outside static/
    const dots = await (await app.handle(new Request(ORIGIN + '/static/%2e%2e/package.json'))).text();
    expect(dots).not.toContain('"devDependencies"');
  });

  test('the operator sends a message; the toast names it', async () => {
    const res = await post('/send', { to: 'manager', body: 'hello manager' });
    expect(res.status).toBe(204);
    expect(JSON.parse(res.headers.get('hx-trigger')!)).toMatchObject({ toast: { ok: true } });
    expect(t.hive.broker.list({ agent: 'manager' }).at(-1)).toMatchObject({ from: 'operator', body: 'hello manager' });
  });

  test('bad sends get a clear error and store nothing', async () => {
    const before = t.hive.broker.lastId();
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ to: 'nobody', body: 'x' }, 404, /no agent named "nobody"/],
      [{ to: '../x', body: 'x' }, 400, /agent name/],
      [{ to: 'manager', body: '   ' }, 400, /empty/],
      [{ to: '', body: 'x' }, 400, /recipient/],
      [{ to: 'manager', body: 'x'.repeat(64 * 1024 + 1) }, 413, /limit is 65536/],
      [{ to: 'operator', body: 'note to self' }, 400, /cannot send a message to itself/],
    ];
    for (const [form, status, msg] of cases) {
      const res = await post('/send', form);
      expect(res.status).toBe(status);
      const text = await res.text();
      expect(text).toMatch(msg);
      expect(JSON.parse(res.headers.get('hx-trigger')!).toast).toMatchObject({ ok: false });
    }
    expect(t.hive.broker.lastId()).toBe(before);
  });

  test('cross-origin posts are refused', async () => {
    const res = await post('/send', { to: 'manager', body: 'csrf' }, 'http://evil.example');
    expect(res.status).toBe(403);
    expect(t.hive.broker.list({ agent: 'manager' }).some((m) => m.body === 'csrf')).toBe(false);
  });

  test('the SSE stream catches up, then carries new messages as htmx partials on one line each', async () => {
    const first = t.hive.send('operator', 'manager', 'before connect');
    const res = await app.handle(new Request(ORIGIN + '/events', { headers: { 'last-event-id': String(first.id - 1) } }));
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += dec.decode(value);
      }
    };
    await until('before connect');
    expect(text).toContain('hx-target="#agents-body"');
    expect(text).toContain(`id: ${first.id}`);
    const listeners = t.hive.bus.size;
    const m = t.hive.send('operator', 'manager', 'line one\nline two <b>bold</b>');
    await until(`id: ${m.id}`);
    await until('line two');
    const frame = text.slice(text.indexOf(`id: ${m.id}`));
    const dataLines = frame.split('\n\n')[0]!.split('\n').filter((l) => l.startsWith('data: '));
    expect(dataLines).toHaveLength(1);
    expect(dataLines[0]).toContain('line one&#10;line two &lt;b&gt;bold&lt;/b&gt;');
    await reader.cancel();
    await Bun.sleep(10);
    expect(t.hive.bus.size).toBe(listeners - 1);
  });
});
