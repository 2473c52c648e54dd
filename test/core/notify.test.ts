/**
 * Operator notifications (`--notify-url`): a real core in process pushes an ntfy-style POST to a
 * webhook receiver on 127.0.0.1 for a question to the operator, a pending approval, a newly raised
 * alert and a message to the operator; the rate limit holds; a receiver that is down or never
 * answers does not hold up a send and its failure is logged (once per window); the dashboard's
 * test button delivers or says why not; the settings refuse a bad URL or token file.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus } from '../../src/core/bus.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { NOTIFY_LIMIT, Notifier } from '../../src/core/notify/notifier.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import type { MessageRecord } from '../../src/shared/wire.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('operator notifications', 'git');

setDefaultTimeout(60_000);

interface Received {
  title: string | null;
  tags: string | null;
  priority: string | null;
  auth: string | null;
  body: string;
}

/** A webhook receiver on loopback: records each POST; `mode` says how it answers. */
interface Receiver {
  got: Received[];
  mode: 'ok' | 'fail' | 'hang';
  server: ReturnType<typeof Bun.serve>;
  url: string;
}

function receiver(): Receiver {
  const got: Received[] = [];
  const state = { mode: 'ok' as Receiver['mode'] };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req: Request): Promise<Response> => {
      got.push({
        title: req.headers.get('title'),
        tags: req.headers.get('tags'),
        priority: req.headers.get('priority'),
        auth: req.headers.get('authorization'),
        body: await req.text(),
      });
      if (state.mode === 'hang') return new Promise<Response>(() => {});
      return state.mode === 'fail' ? new Response('nope', { status: 500 }) : new Response('ok');
    },
  });
  return {
    got,
    server,
    url: `http://127.0.0.1:${server.port}/hive-topic`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
  };
}

const ORIGIN = 'http://127.0.0.1:7000';
const TOKEN = 'notify-secret-token-0123';
const dir = tempDir('hv-ntf-');
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);

let rx: ReturnType<typeof receiver>;
let t: Awaited<ReturnType<typeof openTestHive>>;
let tab: DashboardClient;

beforeAll(async () => {
  rx = receiver();
  t = await openTestHive({ 'notify-url': rx.url, 'notify-token-file': tokenFile });
  tab = await DashboardClient.open(createDashboard(t.hive), ORIGIN);
});
afterAll(async () => {
  await t?.close();
  rx?.server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

/** The notifications received whose title starts with `prefix`. */
const titled = (prefix: string) => rx.got.filter((g) => g.title?.startsWith(prefix));

describe('settings', () => {
  const base = { 'data-dir': dir, runtime: 'process' };
  test('a notify URL and token file are read; env HIVE_NOTIFY_URL works; none means off', () => {
    expect(loadCoreConfig({ ...base, 'notify-url': 'https://ntfy.sh/x', 'notify-token-file': tokenFile }, {}).notify).toEqual({
      url: 'https://ntfy.sh/x',
      token: TOKEN,
    });
    expect(loadCoreConfig(base, { HIVE_NOTIFY_URL: 'http://127.0.0.1:9/t' }).notify).toEqual({ url: 'http://127.0.0.1:9/t', token: null });
    expect(loadCoreConfig(base, {}).notify).toBeNull();
  });

  test('a bad URL, a missing or empty token file, or a token file without a URL are refused, naming the flag', () => {
    for (const url of ['ftp://example.org/x', 'not a url', 'http://'])
      expect(() => loadCoreConfig({ ...base, 'notify-url': url }, {})).toThrow(/--notify-url .*expected an http\(s\) URL/);
    expect(() => loadCoreConfig({ ...base, 'notify-url': 'https://ntfy.sh/x', 'notify-token-file': join(dir, 'missing') }, {})).toThrow(
      /--notify-token-file .*missing.*ENOENT|--notify-token-file .*no such file/i,
    );
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(() => loadCoreConfig({ ...base, 'notify-url': 'https://ntfy.sh/x', 'notify-token-file': empty }, {})).toThrow(/--notify-token-file .*token/);
    expect(() => loadCoreConfig({ ...base, 'notify-token-file': tokenFile }, {})).toThrow(/--notify-url, which is not set/);
  });
});

describe('the four kinds reach the webhook', () => {
  test('a question to the operator, with its options, bearer token and priority', async () => {
    const q = t.hive.policy.askOperator('Deploy the new build now?', ['yes', 'later']);
    const [n] = await waitFor('the question notification', () => (titled('hyperhive: question').length ? titled('hyperhive: question') : null));
    expect(n!.title).toBe(`hyperhive: question #${q.id} from manager`);
    expect(n!.body).toBe('Deploy the new build now?\n\n1. yes\n2. later');
    expect(n!.auth).toBe(`Bearer ${TOKEN}`);
    expect(n!.priority).toBe('4');
    expect(n!.tags).toBe('question');
  });

  test('a pending approval', async () => {
    const a = t.hive.gate.requestSpawn('manager', 'newbie');
    const [n] = await waitFor('the approval notification', () => (titled('hyperhive: approval').length ? titled('hyperhive: approval') : null));
    expect(n!.title).toBe(`hyperhive: approval #${a.id} waiting`);
    expect(n!.body).toBe('manager asks to spawn newbie.');
    expect(n!.auth).toBe(`Bearer ${TOKEN}`);
  });

  test('a newly raised alert, once (raising it again only updates it)', async () => {
    t.hive.alerts.raise('crash_loop', 'bob', 'bob keeps crashing');
    const [n] = await waitFor('the alert notification', () => (titled('hyperhive: crash loop').length ? titled('hyperhive: crash loop') : null));
    expect(n!.title).toBe('hyperhive: crash loop (bob)');
    expect(n!.body).toBe('bob keeps crashing');
    expect(n!.tags).toBe('warning');
    t.hive.alerts.raise('crash_loop', 'bob', 'bob keeps crashing (again)');
    t.hive.alerts.raise('deploy_failed', 'bob', 'the deploy failed');
    await waitFor('the second alert', () => titled('hyperhive: deploy failed').length === 1);
    expect(titled('hyperhive: crash loop')).toHaveLength(1);
  });

  test('a message from an agent to the operator, with a long body cut', async () => {
    const m = t.hive.policy.send('manager', 'operator', 'ready for review ' + 'x'.repeat(2000));
    const [n] = await waitFor('the message notification', () => (titled('hyperhive: message').length ? titled('hyperhive: message') : null));
    expect(n!.title).toBe(`hyperhive: message #${m.id} from manager`);
    expect(n!.body.startsWith('ready for review x')).toBe(true);
    expect(n!.body.length).toBe(1000);
    expect(n!.auth).toBe(`Bearer ${TOKEN}`);
    // the question's own inbox message is not notified again
    expect(rx.got.filter((g) => !g.title?.startsWith('hyperhive: test'))).toHaveLength(5);
  });
});

describe('the dashboard', () => {
  test('the page offers the test button and the notify-me button; the test button delivers and says so', async () => {
    const page = await (await tab.get('/')).text();
    expect(page).toContain('hx-post="/notify/test"');
    expect(page).toContain('id="notify-me"');
    const res = await tab.post('/notify/test', {}, { origin: ORIGIN });
    expect(res.status).toBe(204);
    expect(res.headers.get('hx-trigger')).toContain('test notification delivered');
    const n = titled('hyperhive: test notification').at(-1)!;
    expect(n.auth).toBe(`Bearer ${TOKEN}`);
    expect(n.body).toContain('reach you here');
  });

  test('a failing webhook is reported in the toast; a post without the CSRF token is refused', async () => {
    rx.mode = 'fail';
    try {
      const res = await tab.post('/notify/test', {}, { origin: ORIGIN });
      expect(res.status).toBe(503);
      expect(res.headers.get('hx-trigger')).toContain('not delivered: HTTP 500');
    } finally {
      rx.mode = 'ok';
    }
    const before = rx.got.length;
    expect((await tab.post('/notify/test', {}, { origin: ORIGIN, token: false })).status).toBe(403);
    expect(rx.got.length).toBe(before);
  });

  test('without --notify-url the page has no test button and the route says how to set one', async () => {
    const other = await openTestHive();
    try {
      const tab2 = await DashboardClient.open(createDashboard(other.hive), ORIGIN);
      expect(await (await tab2.get('/')).text()).not.toContain('/notify/test');
      const res = await tab2.post('/notify/test', {}, { origin: ORIGIN });
      expect(res.status).toBe(409);
      expect(await res.text()).toContain('--notify-url');
    } finally {
      await other.close();
    }
  });
});

describe('rate limit and failures', () => {
  test(`the core sends at most ${NOTIFY_LIMIT} a minute`, async () => {
    const sentSoFar = () => rx.got.filter((g) => !g.title?.startsWith('hyperhive: test')).length;
    const start = sentSoFar();
    expect(start).toBe(5);
    for (let i = 0; i < NOTIFY_LIMIT; i++) t.hive.policy.send('manager', 'operator', `flood ${i}`);
    await waitFor('the limit reached', () => sentSoFar() === NOTIFY_LIMIT);
    // a send outside the limit goes through and arrives after everything that was let out
    await tab.post('/notify/test', {}, { origin: ORIGIN });
    await waitFor('the later test notification', () => titled('hyperhive: test notification').length >= 2);
    expect(sentSoFar()).toBe(NOTIFY_LIMIT);
  });

  test('over the limit, the rest is summed up in one "and K more" once the window has room', async () => {
    const r = receiver();
    const bus = new EventBus();
    const logs: string[] = [];
    const n = new Notifier({ url: r.url, token: null, bus, openAlerts: () => [], log: (l) => logs.push(l), limit: 3, windowMs: 400 });
    n.start();
    try {
      const started = Date.now();
      for (let i = 0; i < 7; i++) n.push({ title: `n${i}`, body: `body ${i}` });
      await waitFor('the summary', () => r.got.some((g) => g.title === 'hyperhive: and 4 more'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(r.got.map((g) => g.title).sort()).toEqual(['hyperhive: and 4 more', 'n0', 'n1', 'n2']);
      expect(r.got.find((g) => g.title === 'hyperhive: and 4 more')!.body).toContain('4 more notifications were held back');
      expect(r.got.every((g) => g.auth === null)).toBe(true);
      expect(logs).toEqual([]);
    } finally {
      n.stop();
      r.server.stop(true);
    }
  });

  test('a receiver that is down: sends return at once, the failure is logged once per window with a count', async () => {
    const down = receiver();
    const url = down.url;
    down.server.stop(true);
    const bus = new EventBus();
    const logs: string[] = [];
    const n = new Notifier({ url, token: null, bus, openAlerts: () => [], log: (l) => logs.push(l), limit: 100, windowMs: 500 });
    n.start();
    try {
      const msg = (id: number): MessageRecord => ({
        id,
        from: 'alice',
        to: 'operator',
        body: 'hi',
        kind: 'message',
        ref: null,
        created_at: Date.now(),
        delivered_at: null,
        attempt: 1,
      });
      const t0 = performance.now();
      for (let i = 1; i <= 5; i++) bus.emit({ type: 'message', message: msg(i) });
      expect(performance.now() - t0).toBeLessThan(100);
      const first = await waitFor('the failure line', () => logs[0]);
      const loggedAt = Date.now();
      expect(first).toStartWith(`notify: delivery to 127.0.0.1:${new URL(url).port} failed:`);
      await waitFor('the window to pass', () => Date.now() - loggedAt > 500);
      expect(logs).toHaveLength(1);
      bus.emit({ type: 'message', message: msg(6) });
      const second = await waitFor('the next failure line', () => logs[1]);
      expect(second).toContain('(and 4 more failed since the last report)');
    } finally {
      n.stop();
    }
  });

  test('a receiver that never answers: sends return at once, and the delivery is given up after the timeout and logged', async () => {
    const slow = receiver();
    slow.mode = 'hang';
    const bus = new EventBus();
    const logs: string[] = [];
    const n = new Notifier({ url: slow.url, token: null, bus, openAlerts: () => [], log: (l) => logs.push(l), timeoutMs: 300 });
    n.start();
    try {
      const t0 = performance.now();
      n.push({ title: 'slow', body: 'x' });
      expect(performance.now() - t0).toBeLessThan(50);
      await waitFor('the receiver got it', () => slow.got.length === 1);
      const line = await waitFor('the timeout line', () => logs[0]);
      expect(line).toContain('failed: no answer within 0.3 s');
    } finally {
      n.stop();
      slow.server.stop(true);
    }
  });
});
