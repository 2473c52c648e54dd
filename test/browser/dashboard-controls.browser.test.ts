/**
 * The dashboard's small controls in real headless Chromium: Enter in the model field sets the typed
 * model, an armed destroy button can be cancelled and disarms by itself, ages tick live, timestamps
 * say their zone, and the page has a favicon (no console error on load).
 */
import { expect } from 'bun:test';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, showTab } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser dashboard controls', 'chromium', 'git');

const consoleErrors: string[] = [];

const live = liveDashboard({ beforeAll, afterAll }, {
  flags: { 'no-manager': false },
  seed: (hive) => hive.lifecycle.stop('manager'),
  page: {
    before(page) {
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`${m.text()} ${m.location().url}`);
      });
    },
  },
});

// the page loaded without an uncaught error
beforeAll(() => {
  expect(live.errors).toEqual([]);
});

describe('dashboard controls in a browser', () => {
  test('the page links an SVG favicon that is served, and loading it logs no console error', async () => {
    const href = await live.page.locator('link[rel="icon"]').getAttribute('href', { timeout: 2_000 });
    expect(href).toBeTruthy();
    const res = await live.page.request.get(new URL(href!, live.url).href);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('image/svg+xml');
    expect(await res.text()).toContain('<svg');
    expect(consoleErrors).toEqual([]);
  });

  test('with a model override, Enter in the model field sets the typed model instead of resetting it', async () => {
    await showTab(live.page, 'swarm');
    await live.hive.lifecycle.spawn('erin', { start: false });
    live.hive.lifecycle.setModel('erin', 'opus');
    const row = live.page.locator('#agent-erin');
    await row.locator('form.model button[name="reset"]').waitFor({ timeout: 10_000 });
    const input = row.locator('input[name="model"]');
    await input.fill('haiku');
    await input.press('Enter');
    await live.page.locator('.toast', { hasText: 'erin now uses haiku' }).waitFor({ timeout: 10_000 });
    expect(live.hive.registry.get('erin')?.model_override).toBe('haiku');
    // the reset button still resets
    await live.page.locator('#agent-erin form.model button[name="reset"]').click();
    await waitFor('the override cleared', () => live.hive.registry.get('erin')?.model_override === null || undefined);
  });

  test('an armed destroy button has a cancel, disarms on a click elsewhere and by itself after a few seconds', async () => {
    await showTab(live.page, 'swarm');
    await live.hive.lifecycle.spawn('finn', { start: false });
    const row = live.page.locator('#agent-finn');
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
    await live.page.locator('h1, h2').first().click();
    await confirm.waitFor({ state: 'detached', timeout: 5_000 });
    await destroy.waitFor({ timeout: 5_000 });

    // left alone, it disarms by itself
    await destroy.click();
    await confirm.waitFor({ timeout: 10_000 });
    await confirm.waitFor({ state: 'detached', timeout: 15_000 });
    await destroy.waitFor({ timeout: 5_000 });
    expect(live.hive.registry.has('finn')).toBe(true);

    // and the restored button still works end to end
    await destroy.click();
    await confirm.click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.registry.has('finn')).toBe(false);
  }, 40_000);

  test("an agent's age ticks live without any event from the server", async () => {
    await showTab(live.page, 'swarm');
    await live.hive.lifecycle.spawn('gail', { start: false });
    const age = live.page.locator('#agent-gail td[data-label="state"] > span.dim').first();
    await age.waitFor({ timeout: 10_000 });
    const first = (await age.textContent())!;
    expect(first).toMatch(/^\d+s$/);
    await live.page.waitForFunction(
      ([sel, before]) => {
        const text = document.querySelector(sel!)?.textContent ?? '';
        return /^\d+s$/.test(text) && text !== before;
      },
      ['#agent-gail td[data-label="state"] > span.dim', first],
      { timeout: 5_000 },
    );
  });

  test('message timestamps in the flow say they are UTC', async () => {
    await showTab(live.page, 'flow');
    const m = live.hive.policy.send('operator', 'gail', 'what time is it?');
    const stamp = live.page.locator(`#msg-${m.id} summary > :first-child`);
    await stamp.waitFor({ timeout: 10_000 });
    const text = (await stamp.textContent()) ?? '';
    const title = (await stamp.getAttribute('title')) ?? '';
    expect(`${text} ${title}`).toContain('UTC');
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  });
});
