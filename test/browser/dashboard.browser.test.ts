/**
 * The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * live agent state, the operator's send form with its toast, answering the manager's questions,
 * deciding approvals, and the SSE reconnect indicator.
 */
import { expect } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { screenshotPath } from '../support/screenshots.ts';
import { gotoLive, launchChromium, serveDashboard, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser dashboard', 'chromium', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let browser: Browser;
let page: Page;
let url: string;

beforeAll(async () => {
  t = await openTestHive({ 'no-manager': false });
  await t.hive.lifecycle.stop('manager');
  ({ app, url } = serveDashboard(t.hive));
  browser = await launchChromium();
  const errors: string[] = [];
  page = await gotoLive(await browser.newPage({ viewport: VIEWPORT }), url, errors);
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  await t?.close();
});

describe('dashboard in a browser', () => {
  test('an agent spawned elsewhere appears and its state changes live, without a reload', async () => {
    await page.evaluate(() => ((window as any).__marker = 'same page'));
    await showTab(page, 'swarm');
    await t.hive.lifecycle.spawn('alice');
    const row = page.locator('#agent-alice');
    await row.waitFor({ timeout: 10_000 });
    await page.locator('#agent-alice[data-status="idle"]').waitFor({ timeout: 15_000 });
    await t.hive.lifecycle.stop('alice');
    await page.locator('#agent-alice[data-status="offline"]').waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (window as any).__marker)).toBe('same page');
  });

  test('a message sent by another agent shows up in the flow live, escaped', async () => {
    await showTab(page, 'flow');
    const m = t.hive.policy.send('alice', 'manager', '<b>not bold</b> from alice');
    const item = page.locator(`#msg-${m.id}`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator('.preview').textContent()).toBe('<b>not bold</b> from alice');
    expect(await item.locator('b').count()).toBe(0);
  });

  test('the operator sends from the form: toast, the message in the flow, the form cleared', async () => {
    await page.fill('input[name="to"]', 'hm1nd');
    await page.fill('textarea[name="body"]', 'hello from the browser\nsecond line');
    await page.click('form.send button[type="submit"]');
    await page.locator('.toast', { hasText: 'sent #' }).waitFor({ timeout: 10_000 });
    const stored = await waitFor('the message stored', () => t.hive.broker.list({ agent: 'manager' }).find((m) => m.body.startsWith('hello from the browser')));
    expect(stored).toMatchObject({ from: 'operator', to: 'manager', body: 'hello from the browser\nsecond line' });
    await showTab(page, 'flow');
    const item = page.locator(`#msg-${stored.id}`);
    await item.waitFor({ timeout: 10_000 });
    await item.locator('summary').click();
    expect(await item.locator('.body').textContent()).toBe('hello from the browser\nsecond line');
    expect(await page.inputValue('textarea[name="body"]')).toBe('');
    await page.screenshot({ path: screenshotPath('dashboard.png'), fullPage: true });
  });

  test('a refused send shows the reason as a toast and stores nothing', async () => {
    const before = t.hive.broker.lastId();
    await page.fill('input[name="to"]', 'ghost');
    await page.fill('textarea[name="body"]', 'boo');
    await page.click('form.send button[type="submit"]');
    await page.locator('.toast.bad', { hasText: 'no agent named "ghost"' }).waitFor({ timeout: 10_000 });
    expect(t.hive.broker.lastId()).toBe(before);
  });

  test('a toast shows text outside Latin-1 as typed (the header carries it escaped)', async () => {
    const before = t.hive.broker.lastId();
    await page.fill('input[name="to"]', 'Ωmega名前');
    await page.fill('textarea[name="body"]', 'boo');
    await page.click('form.send button[type="submit"]');
    await page.locator('.toast.bad', { hasText: 'agent name "Ωmega名前"' }).waitFor({ timeout: 10_000 });
    expect(t.hive.broker.lastId()).toBe(before);
  });

  test('a question from the manager appears live as a form; answering it removes it and reaches the manager', async () => {
    const q = t.hive.policy.askOperator('which regions?', ['eu', 'us', 'ap'], true);
    const form = page.locator(`#question-${q.id}`);
    await form.waitFor({ timeout: 10_000 });
    expect(await form.locator('input[type="checkbox"]').count()).toBe(3);
    await form.getByLabel('eu').check();
    await form.getByLabel('ap').check();
    await form.locator('button[type="submit"]').click();
    await page.locator('.toast', { hasText: `answered question #${q.id}` }).waitFor({ timeout: 10_000 });
    await form.waitFor({ state: 'detached', timeout: 10_000 });
    expect(t.hive.questions.get(q.id).answer).toEqual({ choices: ['eu', 'ap'] });
    const msg = t.hive.broker.list({ agent: 'manager' }).find((m) => m.kind === 'answer' && m.ref === q.id)!;
    expect(msg.body).toContain('choices: eu, ap');

    const free = t.hive.policy.askOperator('what next?');
    const freeForm = page.locator(`#question-${free.id}`);
    await freeForm.waitFor({ timeout: 10_000 });
    await freeForm.locator('textarea').fill('write the docs');
    await freeForm.locator('button[type="submit"]').click();
    await freeForm.waitFor({ state: 'detached', timeout: 10_000 });
    expect(t.hive.questions.get(free.id).answer).toEqual({ text: 'write the docs' });
  });

  test('a spawn request appears live; approving it creates the agent and the row updates in place', async () => {
    const a = t.hive.gate.requestSpawn('manager', 'carol');
    const row = page.locator(`#approval-${a.id}`);
    await row.waitFor({ timeout: 10_000 });
    const q = t.hive.policy.askOperator("should carol review alice's patches?", ['yes', 'no, later']);
    await page.locator(`#question-${q.id}`).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('dashboard-approvals.png'), fullPage: true });
    await row.getByRole('button', { name: /approve/ }).click();
    await page.locator(`#approval-${a.id}[data-status="deployed"]`).waitFor({ timeout: 15_000 });
    await showTab(page, 'swarm');
    await page.locator('#agent-carol').waitFor({ timeout: 10_000 });
    expect(t.hive.approvals.get(a.id).status).toBe('deployed');
    await t.hive.lifecycle.stop('carol');
  });

  test('a config change shows its diff; approving it streams the rebuild live and the agent comes back with it', async () => {
    await t.hive.lifecycle.start('carol');
    const repo = join(t.dir, 'proposed', 'carol', 'config');
    await Bun.write(join(repo, 'agent.toml'), 'model = "sonnet"\nallowedRecipients = ["alice"]\n');
    const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: repo }).stdout.toString().trim();
    git('commit', '-qam', 'carol: sonnet, talks to alice only');
    const a = await t.hive.gate.requestApplyCommit('manager', 'carol', git('rev-parse', 'HEAD'));
    const row = page.locator(`#approval-${a.id}`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('pre.diff .add').allTextContents()).toEqual(expect.arrayContaining(['+model = "sonnet"\n']));
    expect(await row.locator('pre.diff .add').first().evaluate((el) => getComputedStyle(el).color)).toBe('rgb(74, 240, 138)');
    await row.getByText('carol: sonnet, talks to alice only').waitFor();
    await page.screenshot({ path: screenshotPath('dashboard-config-approval.png'), fullPage: true });
    await showTab(page, 'rebuilds');
    await row.getByRole('button', { name: /approve/ }).click();
    // the rebuild's lines arrive while it runs; the row and the agent update in place
    await page.locator('#builds li', { hasText: `rebuild of carol (approval #${a.id})` }).waitFor({ timeout: 10_000 });
    await page.locator(`#builds li:has-text("rebuild of carol (approval #${a.id})") ~ li:has-text("up: the harness said hello")`).first().waitFor({ timeout: 30_000 });
    await page.locator(`#approval-${a.id}[data-status="deployed"]`).waitFor({ timeout: 15_000 });
    await page.locator('.toast', { hasText: `approval #${a.id}: deployed` }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('dashboard-rebuild.png'), fullPage: true });
    await showTab(page, 'swarm');
    await page.locator('#agent-carol[data-status="idle"] input[name="model"][value="sonnet"]').waitFor({ timeout: 10_000 });
    await t.hive.lifecycle.stop('carol');
  });

  test('destroy takes two clicks, never a browser dialog; the agent moves to kept state, and purge takes two clicks too', async () => {
    await showTab(page, 'swarm');
    await t.hive.lifecycle.spawn('dora', { start: false });
    const row = page.locator('#agent-dora');
    await row.waitFor({ timeout: 10_000 });
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await row.getByRole('button', { name: 'destroy dora' }).click();
    const confirm = row.getByRole('button', { name: /destroy dora\? click to confirm/ });
    await confirm.waitFor({ timeout: 10_000 });
    expect(t.hive.registry.has('dora')).toBe(true);
    await confirm.click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('.toast', { hasText: 'destroyed dora; its state is kept' }).waitFor({ timeout: 10_000 });
    await showTab(page, 'kept');
    const kept = page.locator('#kept-dora');
    await kept.waitFor({ timeout: 10_000 });
    await kept.getByRole('button', { name: 'purge dora' }).click();
    await kept.getByRole('button', { name: /purge dora\? click to confirm/ }).click();
    await kept.waitFor({ state: 'detached', timeout: 10_000 });
    expect(t.hive.kept.list().map((k) => k.name)).not.toContain('dora');
    expect(dialogs).toBe(0);
  });

  test('the config-repo browser: from the swarm row to the tag chain, a commit diff and the deploy log', async () => {
    await showTab(page, 'swarm');
    await page.locator('#agent-carol a', { hasText: 'config' }).click();
    await page.waitForURL(`${url}/repos/carol`);
    await page.getByText(/^deployed\/\d+$/).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('config-repo.png'), fullPage: true });
    await page.locator('section[aria-labelledby="log-h"] a').first().click();
    await page.locator('pre.diff .add', { hasText: '+model = "sonnet"' }).waitFor({ timeout: 10_000 });
    await page.goto(`${url}/deploys`);
    await page.getByText(/carol: approval #\d+ deployed/).first().waitFor({ timeout: 10_000 });
    await page.goto(url);
    await page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
  }, 30_000);

  test('the flow filter: only messages from or to one agent, including ones that arrive live; clearing it shows all again', async () => {
    await page.locator('#agent-names option[value="carol"]').waitFor({ state: 'attached', timeout: 10_000 });
    await showTab(page, 'flow');
    const toCarol = t.hive.policy.send('operator', 'carol', 'for carol only');
    const toAlice = t.hive.policy.send('operator', 'alice', 'for alice only');
    await page.locator(`#msg-${toAlice.id}`).waitFor({ timeout: 10_000 });
    await page.fill('form.flow-filter input[name="agent"]', 'carol');
    await page.locator(`#msg-${toAlice.id}`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator(`#msg-${toCarol.id}`).isVisible()).toBe(true);
    const froms = await page.locator('#flow > li:visible').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-from'), li.getAttribute('data-to')]));
    expect(froms.length).toBeGreaterThan(0);
    for (const [from, to] of froms) expect([from, to]).toContain('carol');
    // live arrivals respect the filter
    const liveCarol = t.hive.policy.send('carol', 'alice', 'carol answers');
    const liveAlice = t.hive.policy.send('alice', 'manager', 'alice chatters');
    await page.locator(`#msg-${liveCarol.id}`).waitFor({ timeout: 10_000 });
    await page.locator(`#msg-${liveAlice.id}`).waitFor({ state: 'attached', timeout: 10_000 });
    expect(await page.locator(`#msg-${liveAlice.id}`).isVisible()).toBe(false);
    await page.fill('form.flow-filter input[name="agent"]', '');
    await page.locator(`#msg-${toAlice.id}`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`#msg-${liveAlice.id}`).isVisible()).toBe(true);
  });

  test('a banner appears live for a failed deploy, says what failed, and goes away on dismiss', async () => {
    const failed = t.hive.alerts.raise('deploy_failed', 'carol', 'carol: approval #77 failed: extraMcpServers.x.command: "<b>/nope</b>" is not an executable file');
    const loop = t.hive.alerts.raise('crash_loop', 'alice', 'alice crashed 3 times in a row, last exit code 1 after 0 s; the core restarts it in 4 s.');
    const banner = page.locator(`#alert-${failed.id}`);
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.locator('.text').textContent()).toContain('"<b>/nope</b>" is not an executable file');
    expect(await banner.locator('b').count()).toBe(0);
    await page.locator(`#alert-${loop.id}`).waitFor({ timeout: 10_000 });
    expect(await page.locator('#alert-count').textContent()).toBe('▲ 2 alerts');
    await page.locator('#alert-count a').click();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshotPath('dashboard-banners.png') });
    await banner.getByRole('button', { name: 'dismiss the deploy failed alert for carol' }).click();
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('.toast', { hasText: 'dismissed the deploy failed alert for carol' }).waitFor({ timeout: 10_000 });
    expect(t.hive.alerts.list().map((a) => a.id)).toEqual([loop.id]);
    expect(await page.locator('#alert-count').textContent()).toBe('▲ 1 alert');
    // the condition clearing removes a banner as well: the operator takes charge of alice
    await t.hive.lifecycle.stop('alice');
    await page.locator(`#alert-${loop.id}`).waitFor({ state: 'detached', timeout: 10_000 });
  });

  test('keyboard only: the send form is reachable with Tab, shows a focus ring, and sends with the keyboard', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.focus('input[name="to"]');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(ring).toBe('solid');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('body');
    await page.keyboard.type('typed, not clicked');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toContain('send');
    await page.keyboard.press('Enter');
    await page.locator('.toast', { hasText: 'to alice' }).waitFor({ timeout: 10_000 });
    await waitFor('the message stored', () => t.hive.broker.list({ agent: 'alice' }).find((m) => m.body === 'typed, not clicked'));
  });

  test('a narrow window: one column, nothing wider than the window', async () => {
    const narrow = await browser.newPage({ viewport: { width: 420, height: 900 } });
    try {
      await narrow.goto(url);
      await narrow.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
      const { scroll, width, columns } = await narrow.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        width: window.innerWidth,
        columns: getComputedStyle(document.querySelector('main')!).gridTemplateColumns.split(' ').length,
      }));
      expect(columns).toBe(1);
      expect(scroll).toBeLessThanOrEqual(width);
      await narrow.screenshot({ path: screenshotPath('dashboard-narrow.png') });
    } finally {
      await narrow.close();
    }
  });
});
