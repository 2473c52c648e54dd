/** @jsxImportSource @kitajs/html */
/**
 * The operator's inbox on the dashboard over HTTP: a message to the operator is unread and counted
 * (in the section, the chrome's waiting count and the page title), mark read and mark all read
 * clear it and the read state survives a restart of the core, a reply goes from the operator to
 * the sender through the send policy, and message text is escaped.
 */
import { expect } from 'bun:test';
import { rmSync } from 'node:fs';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { DashboardClient } from '../support/dashboard.ts';
import { openHiveAt, openTestHive } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';
import { readSse } from '../support/sse.ts';

const { describe, test, beforeAll, afterAll } = requires('core dashboard inbox', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;

beforeAll(async () => {
  t = await openTestHive();
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app);
});
afterAll(() => t.close());

const fragment = async (name: string) => (await tab.get(`/fragments/${name}`)).text();
const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger')!).toast as { text: string; ok: boolean };
const waiting = async () => Number(/data-waiting="(\d+)"/.exec(await fragment('waiting'))?.[1]);

describe('dashboard: the operator inbox', () => {
  test('a message to the operator is listed unread, counted, and in the page title', async () => {
    expect(await waiting()).toBe(0);
    const page0 = await (await tab.get('/')).text();
    expect(page0).toContain('<title>hyperhive</title>');
    expect(page0).toContain('<div id="inbox-body">');

    const m = t.hive.broker.send('manager', 'operator', 'please look at bob');
    const html = await fragment('inbox');
    expect(html).toContain(`<li id="inbox-${m.id}" class="unread" data-read="0">`);
    expect(html).toContain('data-unread="1"');
    expect(html).toContain(`hx-post="/inbox/${m.id}/read"`);
    expect(html).toContain(`hx-post="/inbox/${m.id}/reply"`);
    expect(html).toContain('please look at bob');
    expect(await waiting()).toBe(1);
    expect(await (await tab.get('/')).text()).toContain('<title>(1) hyperhive</title>');

    // a pending approval and an open alert count too
    const a = t.hive.gate.requestSpawn('manager', 'wai');
    const al = t.hive.alerts.raise('crash_loop', 'wai', 'down again');
    expect(await waiting()).toBe(3);
    await t.hive.gate.deny(a.id);
    t.hive.alerts.dismiss(al.id, 'operator');
    expect(await waiting()).toBe(1);

    // messages to others are not in the inbox
    t.hive.broker.send('operator', 'manager', 'not for the inbox');
    expect(await fragment('inbox')).not.toContain('not for the inbox');
  });

  test('the live stream updates the inbox and the waiting count', async () => {
    const sse = readSse(await tab.get('/events'));
    try {
      await sse.until('hx-target="#waiting"');
      const m = t.hive.broker.send('manager', 'operator', 'live one');
      await sse.until(`<li id="inbox-${m.id}" class="unread"`);
      await sse.until('data-waiting="2"');
      expect((await tab.post(`/inbox/${m.id}/read`)).status).toBe(204);
      await sse.until(`<li id="inbox-${m.id}" class="read"`);
    } finally {
      await sse.cancel();
    }
  });

  test('mark read and mark all read clear the unread state; refusals for unknown ids', async () => {
    const unreadBefore = t.hive.inbox.unread();
    expect(unreadBefore).toBe(1);
    const [first] = t.hive.inbox.list().filter((i) => !i.read);
    const res = await tab.post(`/inbox/${first!.message.id}/read`);
    expect(res.status).toBe(204);
    expect(toast(res)).toEqual({ ok: true, text: `marked #${first!.message.id} read` });
    expect(await fragment('inbox')).toContain(`<li id="inbox-${first!.message.id}" class="read" data-read="1">`);
    expect(await waiting()).toBe(0);
    expect(toast(await tab.post(`/inbox/${first!.message.id}/read`)).text).toBe(`#${first!.message.id} was read already`);

    t.hive.broker.send('manager', 'operator', 'two');
    t.hive.broker.send('manager', 'operator', 'three');
    expect(await waiting()).toBe(2);
    const all = await tab.post('/inbox/read-all');
    expect(all.status).toBe(204);
    expect(toast(all).text).toBe('marked 2 messages read');
    expect(await waiting()).toBe(0);
    expect(await fragment('inbox')).not.toContain('class="unread"');

    const other = t.hive.broker.send('operator', 'manager', 'x');
    expect((await tab.post(`/inbox/${other.id}/read`)).status).toBe(404);
    expect((await tab.post('/inbox/999999/read')).status).toBe(404);
    expect((await tab.post('/inbox/x/read')).status).toBe(400);
    expect((await tab.post('/inbox/read-all', {}, { token: false })).status).toBe(403);
  });

  test('reply sends from the operator to the sender and marks the message read; refusals toast', async () => {
    await t.hive.lifecycle.spawn('bob', { start: false });
    const m = t.hive.broker.send('bob', 'operator', 'can I deploy?');
    const res = await tab.post(`/inbox/${m.id}/reply`, { body: 'yes, go' });
    expect(res.status).toBe(204);
    const sent = t.hive.broker.list({ agent: 'bob' }).at(-1)!;
    expect(sent).toMatchObject({ from: 'operator', to: 'bob', body: 'yes, go' });
    expect(toast(res)).toEqual({ ok: true, text: `sent #${sent.id} to bob` });
    expect(t.hive.inbox.list().find((i) => i.message.id === m.id)?.read).toBe(true);

    const empty = await tab.post(`/inbox/${m.id}/reply`, { body: '  ' });
    expect(empty.status).toBe(400);
    expect(toast(empty)).toMatchObject({ ok: false, text: 'the reply is empty' });

    // the sender is gone: the policy refuses, and the toast says why
    const ghost = t.hive.broker.send('ghost', 'operator', 'hello from nowhere');
    const refused = await tab.post(`/inbox/${ghost.id}/reply`, { body: 'who are you' });
    expect(refused.status).toBe(404);
    expect(toast(refused)).toMatchObject({ ok: false, text: expect.stringContaining('no agent named "ghost"') });
    expect(t.hive.broker.list({ agent: 'ghost' }).some((x) => x.from === 'operator')).toBe(false);
  });

  test('hostile text in a message is escaped', async () => {
    const m = t.hive.broker.send('manager', 'operator', '<script>alert(1)</script><img src=x onerror=alert(2)>');
    const html = await fragment('inbox');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(await (await tab.get('/')).text()).not.toContain('<script>alert(1)');
    t.hive.inbox.markRead(m.id);
  });
});

describe('dashboard: inbox read state across a restart', () => {
  test('a message marked read stays read when the core is opened again on the same data dir', async () => {
    const first = await openTestHive();
    const dir = first.dir;
    const a = first.hive.broker.send('manager', 'operator', 'read me');
    const b = first.hive.broker.send('manager', 'operator', 'leave me');
    first.hive.inbox.markRead(a.id);
    await first.hive.close();

    const again = await openHiveAt(dir, []);
    try {
      const tab2 = await DashboardClient.open(createDashboard(again));
      const html = await (await tab2.get('/fragments/inbox')).text();
      expect(html).toContain(`<li id="inbox-${a.id}" class="read"`);
      expect(html).toContain(`<li id="inbox-${b.id}" class="unread"`);
      expect(again.inbox.unread()).toBe(1);
      expect(await (await tab2.get('/')).text()).toContain('<title>(1) hyperhive</title>');
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
