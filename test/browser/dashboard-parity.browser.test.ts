/**
 * The dashboard's command-line parity controls in real headless Chromium: deny with a typed reason,
 * the spawn form (bad name toast, good name clears the field), discard a draft in two clicks, spawn
 * a kept agent again, roll back from the repo browser, and cancel a reminder.
 */
import { expect } from 'bun:test';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, showTab } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, ...hooks } = requires('browser dashboard parity', 'chromium', 'git');

const live = liveDashboard(hooks);

const toast = (text: string) => live.page.locator('.toast', { hasText: text }).waitFor({ timeout: 10_000 });

describe('dashboard parity controls in a browser', () => {
  test('deny with a typed reason: the decision shows it', async () => {
    const a = live.hive.gate.requestSpawn('operator', 'dan');
    const box = live.page.locator(`#approval-${a.id}`);
    await box.locator('input[name="reason"]').fill('not this week');
    await box.getByRole('button', { name: 'deny' }).click();
    await toast(`approval #${a.id} denied: not this week`);
    await live.page.locator(`li#approval-${a.id}`, { hasText: 'not this week' }).waitFor({ timeout: 10_000 });
    expect(live.hive.approvals.get(a.id)).toMatchObject({ status: 'denied', note: 'not this week' });
  });

  test('the spawn form: a bad name toasts the core message; a good one spawns and clears the field', async () => {
    await showTab(live.page, 'swarm');
    const input = live.page.locator('form.spawn input[name="name"]');
    await input.fill('Bad Name');
    await input.press('Enter');
    await live.page.locator('.toast.bad', { hasText: 'Bad Name' }).waitFor({ timeout: 10_000 });
    await input.fill('rol');
    await input.press('Enter');
    await toast('spawned rol');
    await live.page.locator('#agent-rol').waitFor({ timeout: 10_000 });
    expect(await input.inputValue()).toBe('');
  });

  test('discard a draft takes two clicks', async () => {
    await live.hive.gate.requestSpawnDraft('manager', 'dra');
    const draft = live.page.locator('#draft-dra');
    await draft.getByRole('button', { name: 'discard dra' }).click();
    await draft.getByRole('button', { name: /discard dra\? click to confirm/ }).click();
    await toast('discarded the draft of dra');
    await draft.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.gate.drafts()).toEqual([]);
  });

  test('spawn a kept agent again', async () => {
    await live.hive.lifecycle.spawn('kep', { start: false });
    await live.hive.lifecycle.destroy('kep');
    await showTab(live.page, 'kept');
    const kept = live.page.locator('#kept-kep');
    await kept.getByRole('button', { name: 'spawn kep again' }).click();
    await toast('spawned kep again with its kept state');
    await kept.waitFor({ state: 'detached', timeout: 10_000 });
    await showTab(live.page, 'swarm');
    await live.page.locator('#agent-kep').waitFor({ timeout: 10_000 });
  });

  test('cancel a reminder', async () => {
    const r = live.hive.reminders.add('operator', 'operator', 'stretch', Date.now() + 3600_000);
    await showTab(live.page, 'reminders');
    const li = live.page.locator(`#reminder-${r.id}`);
    await li.getByRole('button', { name: `cancel reminder #${r.id}` }).click();
    await toast(`cancelled reminder #${r.id}`);
    await li.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.reminders.pending()).toEqual([]);
  });

  test('roll back from the repo browser queues an approval', async () => {
    const deployed = live.hive.approvals.list(true).find((a) => a.kind === 'spawn' && a.agent === 'rol' && a.status === 'deployed')!;
    await live.page.goto(`${live.url}/repos/rol`);
    await live.page.getByRole('button', { name: `roll rol back to deployed/${deployed.id}` }).click();
    await toast(`roll rol back to deployed/${deployed.id}, waiting for approval`);
    const pending = await waitFor('the rollback approval', () => live.hive.approvals.list(true).find((a) => a.agent === 'rol' && a.status === 'pending'));
    expect(pending.subject).toStartWith('roll back to ');
    expect(live.errors).toEqual([]);
  });
});
