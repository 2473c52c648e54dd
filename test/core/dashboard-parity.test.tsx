/** @jsxImportSource @kitajs/html */
import { expect } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { readSse } from '../support/sse.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core dashboard parity', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
const ORIGIN = 'http://localhost';

beforeAll(async () => {
  t = await openTestHive();
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
});
afterAll(() => t.close());

const post = (path: string, form: Record<string, string> = {}) => tab.post(path, form);
const fragment = async (name: string) => (await tab.get(`/fragments/${name}`)).text();
const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger')!).toast as { text: string; ok: boolean };

describe('dashboard: what the command line can do', () => {
  test('deny with a reason: the pending approval has a reason field; the reason is recorded and shown on the decision', async () => {
    const a = t.hive.gate.requestSpawn('operator', 'dan');
    const html = await fragment('approvals');
    expect(html).toContain(`<form class="deny" hx-post="/approvals/${a.id}/deny" hx-swap="none"><input name="reason"`);

    const tooLong = await post(`/approvals/${a.id}/deny`, { reason: 'x'.repeat(2001) });
    expect(tooLong.status).toBe(400);
    expect(toast(tooLong)).toMatchObject({ ok: false, text: expect.stringContaining('the limit is 2000') });
    expect(t.hive.approvals.get(a.id).status).toBe('pending');

    const res = await post(`/approvals/${a.id}/deny`, { reason: '  not <b>today</b>  ' });
    expect(res.status).toBe(204);
    expect(toast(res)).toMatchObject({ ok: true, text: `approval #${a.id} denied: not <b>today</b>` });
    expect(t.hive.approvals.get(a.id)).toMatchObject({ status: 'denied', note: 'not <b>today</b>' });
    const after = await fragment('approvals');
    expect(after).toMatch(new RegExp(`<li id="approval-${a.id}" data-status="denied">.*not &lt;b&gt;today&lt;/b&gt;`));
    expect(after).not.toContain('<b>today');

    // without a reason, as before
    const b = t.hive.gate.requestSpawn('operator', 'dee');
    expect((await post(`/approvals/${b.id}/deny`)).status).toBe(204);
    expect(t.hive.approvals.get(b.id)).toMatchObject({ status: 'denied', note: null });
  });

  test('discard a draft takes two clicks: the draft is listed with its discard, only the confirmation drops it', async () => {
    await t.hive.gate.requestSpawnDraft('manager', 'dra');
    expect(await fragment('approvals')).toContain('hx-post="/drafts/dra/discard"');
    const first = await post('/drafts/dra/discard');
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('discard dra? click to confirm');
    expect(t.hive.gate.drafts().map((d) => d.name)).toEqual(['dra']);

    const second = await post('/drafts/dra/discard', { confirm: '1' });
    expect(second.status).toBe(204);
    expect(toast(second).text).toBe('discarded the draft of dra');
    expect(t.hive.gate.drafts()).toEqual([]);
    expect(await fragment('approvals')).not.toContain('/drafts/dra/discard');
    expect(existsSync(`${t.dir}/proposed/dra`)).toBe(false);

    expect((await post('/drafts/dra/discard', { confirm: '1' })).status).toBe(404);
    expect((await post('/drafts/..%2Fetc/discard', { confirm: '1' })).status).toBe(400);
  });

  test('the spawn form spawns as the operator; bad names get the core message in the toast', async () => {
    const page = await (await tab.get('/')).text();
    expect(page).toContain('<form class="spawn" hx-post="/spawn" hx-swap="none" data-reset="all">');

    const empty = await post('/spawn', { name: '  ' });
    expect(empty.status).toBe(400);
    expect(toast(empty)).toMatchObject({ ok: false, text: expect.stringContaining('type the name') });
    const bad = await post('/spawn', { name: '../x' });
    expect(bad.status).toBe(400);
    expect(toast(bad)).toMatchObject({ ok: false, text: expect.stringContaining('agent name') });
    expect(t.hive.registry.has('../x')).toBe(false);

    const ok = await post('/spawn', { name: ' rol ' });
    expect(ok.status).toBe(204);
    expect(toast(ok)).toMatchObject({ ok: true, text: 'spawned rol' });
    expect(t.hive.registry.get('rol')).toMatchObject({ desired: 'running' });
    expect(t.hive.approvals.list(true).find((a) => a.kind === 'spawn' && a.agent === 'rol')).toMatchObject({ status: 'deployed', requested_by: 'operator' });

    const again = await post('/spawn', { name: 'rol' });
    expect(again.status).toBe(409);
    expect(toast(again)).toMatchObject({ ok: false, text: expect.stringContaining('rol') });
  });

  test('roll back from the repo browser: each deployed/<id> tag offers it; it becomes a pending approval', async () => {
    const deployed = t.hive.approvals.list(true).find((a) => a.kind === 'spawn' && a.agent === 'rol' && a.status === 'deployed')!;
    const res = await tab.get('/repos/rol');
    const page = await res.text();
    expect(page).toContain('<meta name="csrf-token"');
    expect(page).toContain(`hx-post="/repos/rol/rollback/${deployed.id}"`);
    expect(page).toContain('roll back to this');

    const r = await post(`/repos/rol/rollback/${deployed.id}`);
    expect(r.status).toBe(204);
    const pending = t.hive.approvals.list(true).find((a) => a.agent === 'rol' && a.status === 'pending')!;
    expect(pending).toMatchObject({ kind: 'apply_commit', requested_by: 'operator' });
    expect(pending.subject).toStartWith('roll back to ');
    expect(toast(r).text).toBe(`approval #${pending.id}: roll rol back to deployed/${deployed.id}, waiting for approval`);
    expect(await fragment('approvals')).toContain(`hx-post="/approvals/${pending.id}/approve"`);

    expect((await post('/repos/rol/rollback/99999')).status).toBe(404);
    expect((await post('/repos/nobody/rollback/1')).status).toBe(404);
    expect((await post('/repos/rol/rollback/x1')).status).toBe(400);
    expect((await tab.post(`/repos/rol/rollback/${deployed.id}`, {}, { token: false })).status).toBe(403);
    await t.hive.gate.deny(pending.id);
    await t.hive.lifecycle.stop('rol');
  });

  test('spawn again from kept state: the kept agent comes back with its state; the kept section updates live', async () => {
    await t.hive.lifecycle.spawn('kep', { start: false });
    writeFileSync(`${t.hive.layout.agent('kep').state}/notes.md`, 'remember me\n');
    await t.hive.lifecycle.destroy('kep');
    expect(await fragment('kept')).toContain('hx-post="/kept/kep/spawn"');

    const sse = readSse(await tab.get('/events'));
    await sse.until('hx-post="/kept/kep/spawn"');
    const res = await post('/kept/kep/spawn');
    expect(res.status).toBe(204);
    expect(toast(res).text).toBe('spawned kep again with its kept state');
    expect(t.hive.registry.get('kep')).toMatchObject({ desired: 'running' });
    expect(readFileSync(`${t.hive.layout.agent('kep').state}/notes.md`, 'utf8')).toBe('remember me\n');
    await sse.until('no kept state');
    await sse.cancel();

    expect((await post('/kept/kep/spawn')).status).toBe(404);
    expect((await post('/kept/nobody/spawn')).status).toBe(404);
    await t.hive.lifecycle.stop('kep');
  });

  test('reminders: pending ones are listed with cancel, hostile text escaped; cancelling updates the section live', async () => {
    const hostile = '<img src=x onerror=alert(1)> ping';
    const r = t.hive.reminders.add('operator', 'operator', hostile, Date.now() + 3600_000);
    const html = await fragment('reminders');
    expect(html).toContain(`hx-post="/reminders/operator/${r.id}/cancel"`);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; ping');
    expect(html).not.toContain('<img');
    expect(await (await tab.get('/')).text()).toContain(`id="reminder-${r.id}"`);

    const sse = readSse(await tab.get('/events'));
    await sse.until(`id="reminder-${r.id}"`);
    expect((await post(`/reminders/someone/${r.id}/cancel`)).status).toBe(404);
    const res = await post(`/reminders/operator/${r.id}/cancel`);
    expect(res.status).toBe(204);
    expect(toast(res).text).toBe(`cancelled reminder #${r.id} (operator → operator)`);
    expect(t.hive.reminders.pending()).toEqual([]);
    await sse.until('no pending reminders');
    await sse.cancel();
    expect((await post(`/reminders/operator/${r.id}/cancel`)).status).toBe(409);
    expect((await post('/reminders/operator/0/cancel')).status).toBe(400);
  });

  test('reminders: a recurring one shows how it repeats, and how often it fired, as it fires', async () => {
    const capped = t.hive.policy.remind('operator', { every: 300, count: 10 }, 'stand up');
    const open = t.hive.policy.remind('operator', { every: 5400 }, 'drink water');
    const html = await fragment('reminders');
    expect(html).toContain('every 5m, fired 0×, 10 left · ');
    expect(html).toMatch(/every 1h30m, fired 0×, until \d{4}-\d\d-\d\d \d\d:\d\d UTC · /);
    expect(html).toContain(`#${capped.id} · next `);

    const sse = readSse(await tab.get('/events'));
    await sse.until(`id="reminder-${capped.id}"`);
    const quick = t.hive.reminders.add('operator', 'operator', 'twice', Date.now() + 100, { everyMs: 400, count: 2 });
    await sse.until('every 400ms, fired 1×, 1 left · ');
    await waitFor('its last firing', () => !t.hive.reminders.pending().some((x) => x.id === quick.id));
    expect(await fragment('reminders')).not.toContain(`id="reminder-${quick.id}"`);
    for (const r of [capped, open]) expect((await post(`/reminders/operator/${r.id}/cancel`)).status).toBe(204);
    await sse.until('no pending reminders');
    await sse.cancel();
  });
});
