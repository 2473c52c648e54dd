/**
 * The operator token: the core refuses to listen beyond loopback without one, and with one every
 * dashboard route asks for it (bearer header, the session cookie, or `?token=` once). Config
 * through `loadCoreConfig`, routes through `app.handle` on a real core, and the real
 * `hive core serve` process for the refusal.
 */
import { expect } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { hive as runHive, openTestHive, tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core auth', 'git');

const TOKEN = 'op-token-0123456789abcdef';
const ORIGIN = 'http://10.0.0.5:7000';
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;

beforeAll(async () => {
  // 10.0.0.5 stands for the machine's address as the operator's browser names it (no traffic goes there)
  t = await openTestHive({ listen: '0.0.0.0:7000', 'allowed-hosts': '10.0.0.5' }, { HIVE_OPERATOR_TOKEN: TOKEN });
  await t.hive.lifecycle.spawn('bob', { start: false });
  app = createDashboard(t.hive);
});
afterAll(async () => {
  await t?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(ORIGIN + path, { headers: { host: '10.0.0.5:7000', ...headers } }));

describe('operator token: config', () => {
  test('listening beyond loopback without a token is refused, naming the way to give one', () => {
    expect(() => loadCoreConfig({ listen: '0.0.0.0:7000', 'data-dir': '/tmp/x' }, {})).toThrow(/reaches beyond this host.*--token-file FILE.*HIVE_OPERATOR_TOKEN/);
    expect(() => loadCoreConfig({ listen: '[::]:7000', 'data-dir': '/tmp/x' }, {})).toThrow('reaches beyond this host');
  });

  test('loopback needs none; a token is taken from the env or the first line of a file; short or unreadable ones are refused', () => {
    expect(loadCoreConfig({ listen: '127.0.0.1:7000', 'data-dir': '/tmp/x' }, {}).operatorToken).toBeNull();
    expect(loadCoreConfig({ listen: 'localhost:7000', 'data-dir': '/tmp/x' }, {}).operatorToken).toBeNull();
    expect(loadCoreConfig({ listen: '0.0.0.0:7000', 'data-dir': '/tmp/x' }, { HIVE_OPERATOR_TOKEN: TOKEN }).operatorToken).toBe(TOKEN);
    const dir = tempDir();
    try {
      const file = join(dir, 'token');
      writeFileSync(file, `${TOKEN}\nignored second line\n`);
      expect(loadCoreConfig({ listen: '0.0.0.0:7000', 'token-file': file, 'data-dir': dir }, {}).operatorToken).toBe(TOKEN);
      expect(() => loadCoreConfig({ 'token-file': join(dir, 'missing'), 'data-dir': dir }, {})).toThrow(/--token-file .*missing: .*no such file/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => loadCoreConfig({ 'data-dir': '/tmp/x' }, { HIVE_OPERATOR_TOKEN: 'short' })).toThrow('at least 16 characters');
  });

  test('the real hive core serve refuses --listen 0.0.0.0 without a token and exits non-zero', () => {
    const dir = tempDir();
    try {
      const r = runHive(['core', 'serve', '--data-dir', dir, '--listen', '0.0.0.0:0', '--runtime', 'process', '--no-manager'], { HIVE_OPERATOR_TOKEN: '' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('needs an operator token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('operator token: dashboard', () => {
  test('without the token every route answers 401 with a page that says how to get in', async () => {
    for (const path of ['/', '/events', '/fragments/agents', '/static/hive.css', '/repos/bob']) {
      const r = await get(path);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('Bearer');
      expect(await r.text()).toContain('this dashboard needs the operator token');
    }
    const post = await app.handle(new Request(ORIGIN + '/send', { method: 'POST', headers: { origin: ORIGIN, host: '10.0.0.5:7000' }, body: new URLSearchParams({ to: 'bob', body: 'x' }) }));
    expect(post.status).toBe(401);
    expect(t.hive.broker.lastId()).toBe(0);
  });

  test('a wrong token, bearer or cookie is refused as such', async () => {
    const r = await get('/?token=op-token-wrong-wrong-wrong');
    expect(r.status).toBe(401);
    expect(await r.text()).toContain('not the right one');
    expect((await get('/', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await get('/', { cookie: 'hive_session=forged' })).status).toBe(401);
  });

  test('?token= once: a session cookie and a redirect to the same URL without the token; the cookie then opens everything', async () => {
    const r = await get(`/repos/bob?token=${TOKEN}&x=1`);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/repos/bob?x=1');
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^hive_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    const page = await get('/', { cookie });
    expect(page.status).toBe(200);
    // the page's own CSRF session, beside the operator's
    const csrfCookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(await page.text())![1]!;
    expect((await get('/static/hive.css', { cookie: `other=1; ${cookie}` })).status).toBe(200);
    const send = await app.handle(
      new Request(ORIGIN + '/send', {
        method: 'POST',
        headers: { cookie: `${cookie}; ${csrfCookie}`, 'x-csrf-token': csrf, origin: ORIGIN, host: '10.0.0.5:7000', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ to: 'bob', body: 'with a session' }).toString(),
      }),
    );
    expect(send.status).toBe(204);
    expect(t.hive.broker.list({ agent: 'bob' }).at(-1)?.body).toBe('with a session');
    const events = await get('/events', { cookie });
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    await events.body!.cancel();
  });

  test('the bearer header works for scripts (reading; changes need a page session or hive ctl)', async () => {
    const r = await get('/fragments/agents', { authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('agent-bob');
  });
});
