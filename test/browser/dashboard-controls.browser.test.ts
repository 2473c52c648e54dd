/**
 * The dashboard's small controls in real headless Chromium: Enter in the model field sets the typed
 * model, an armed destroy button can be cancelled and disarms by itself, ages tick live, timestamps
 * say their zone, and the page has a favicon (no console error on load).
 */
import { expect } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { gotoLive, launchChromium, serveDashboard, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser dashboard controls', 'chromium', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let browser: Browser;
let page: Page;
let url: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  t = await openTestHive({ 'no-manager': false });
  await t.hive.lifecycle.stop('manager');
  ({ app, url } = serveDashboard(t.hive));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${m.text()} ${m.location().url}`);
  });
  const errors: string[] = [];
  await gotoLive(page, url, errors);
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  await t?.close();
});

describe('dashboard controls in a browser', () => {
  test('the page links an SVG favicon that is served, and loading it logs no console error', async () => {
    const href = await page.locator('link[rel="icon"]').getAttribute('href', { timeout: 2_000 });
    expect(href).toBeTruthy();
    const res = await page.request.get(new URL(href!, url).href);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('image/svg+xml');
    expect(await res.text()).toContain('<svg');
    expect(consoleErrors).toEqual([]);
  });

  test('with a model override, Enter in the model field sets the typed model instead of resetting it', async () => {
    await showTab(page, 'swarm');
    await t.hive.lifecycle.spawn('erin', { start: false });
    t.hive.lifecycle.setModel('erin', 'opus');
    const row = page.locator('#agent-erin');
    await row.locator('form.model button[name="reset"]').waitFor({ timeout: 10_000 });
    const input = row.locator('input[name="model"]');
    await input.fill('haiku');
    await input.press('Enter');
    await page.locator('.toast', { hasText: 'erin now uses haiku' }).waitFor({ timeout: 10_000 });
    expect(t.hive.registry.get('erin')?.model_override).toBe('haiku');
    // the reset button still resets
    await page.locator('#agent-erin form.model button[name="reset"]').click();
    await waitFor('the override cleared', () => t.hive.registry.get('erin')?.model_override === null || undefined);
  });

  test('an armed destroy button has a cancel, disarms on a click elsewhere and by itself after a few seconds', async () => {
    await showTab(page, 'swarm');
    await t.hive.lifecycle.spawn('finn', { start: false });
    const row = page.locator('#agent-finn');
    await row.waitFor({ timeout: 10_000 });
    const destroy = row.getByRole('button', { name: 'destroy finn', exact: true });
    const confirm = row.getByRole('button', { name: /destroy finn\? click to confirm/ });

    // cancel: back to the first button, which arms again
    await destroy.click();
    await confirm.waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: 'cancel destroy finn' }).click();
    await confirm.waitFor({ state: 'detached', timeout: 5_000 });
    await destroy.waitFor({ timeout: 5_000 });

    // a click elsewhere disarms
    await destroy.click();
    await confirm.waitFor({ timeout: 10_000 });
    await page.locator('h1, h2').first().click();
    await confirm.waitFor({ state: 'detached', timeout: 5_000 });
    await destroy.waitFor({ timeout: 5_000 });

    // left alone, it disarms by itself
    await destroy.click();
    await confirm.waitFor({ timeout: 10_000 });
    await confirm.waitFor({ state: 'detached', timeout: 15_000 });
    await destroy.waitFor({ timeout: 5_000 });
    expect(t.hive.registry.has('finn')).toBe(true);

    // and the restored button still works end to end
    await destroy.click();
    await confirm.click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    expect(t.hive.registry.has('finn')).toBe(false);
  }, 40_000);

  test("an agent's age ticks live without any event from the server", async () => {
    await showTab(page, 'swarm');
    await t.hive.lifecycle.spawn('gail', { start: false });
    const age = page.locator('#agent-gail td[data-label="state"] > span.dim').first();
    await age.waitFor({ timeout: 10_000 });
    const first = (await age.textContent())!;
    expect(first).toMatch(/^\d+s$/);
    await page.waitForFunction(
      ([sel, before]) => {
        const text = document.querySelector(sel!)?.textContent ?? '';
        return /^\d+s$/.test(text) && text !== before;
      },
      ['#agent-gail td[data-label="state"] > span.dim', first],
      { timeout: 5_000 },
    );
  });

  test('message timestamps in the flow say they are UTC', async () => {
    await showTab(page, 'flow');
    const m = t.hive.policy.send('operator', 'gail', 'what time is it?');
    const stamp = page.locator(`#msg-${m.id} summary > :first-child`);
    await stamp.waitFor({ timeout: 10_000 });
    const text = (await stamp.textContent()) ?? '';
    const title = (await stamp.getAttribute('title')) ?? '';
    expect(`${text} ${title}`).toContain('UTC');
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  });
});
