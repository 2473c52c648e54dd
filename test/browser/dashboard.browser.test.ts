/**
 * The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * live agent state, the operator's send form with its toast, answering the manager's questions,
 * deciding approvals, and the SSE reconnect indicator.
 */
import { expect } from 'bun:test';
import { join } from 'node:path';
import { waitFor } from '../support/hive.ts';
import { screenshotPath } from '../support/screenshots.ts';
import { liveDashboard, showTab } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser dashboard', 'chromium', 'git');

const live = liveDashboard({ beforeAll, afterAll }, { flags: { 'no-manager': false }, seed: (hive) => hive.lifecycle.stop('manager') });

// the page loaded without an uncaught error
beforeAll(() => {
  expect(live.errors).toEqual([]);
});

describe('dashboard in a browser', () => {
  test('an agent spawned elsewhere appears and its state changes live, without a reload', async () => {
    await live.page.evaluate(() => ((window as any).__marker = 'same page'));
    await showTab(live.page, 'swarm');
    await live.hive.lifecycle.spawn('alice');
    const row = live.page.locator('#agent-alice');
    await row.waitFor({ timeout: 10_000 });
    await live.page.locator('#agent-alice[data-status="idle"]').waitFor({ timeout: 15_000 });
    await live.hive.lifecycle.stop('alice');
    await live.page.locator('#agent-alice[data-status="offline"]').waitFor({ timeout: 10_000 });
    expect(await live.page.evaluate(() => (window as any).__marker)).toBe('same page');
  });

  test('a message sent by another agent shows up in the flow live, escaped', async () => {
    await showTab(live.page, 'flow');
    const m = live.hive.policy.send('alice', 'manager', '<b>not bold</b> from alice');
    const item = live.page.locator(`#msg-${m.id}`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator('.preview').textContent()).toBe('<b>not bold</b> from alice');
    expect(await item.locator('b').count()).toBe(0);
  });

  test('the operator sends from the form: toast, the message in the flow, the form cleared', async () => {
    await live.page.fill('input[name="to"]', 'hm1nd');
    await live.page.fill('textarea[name="body"]', 'hello from the browser\nsecond line');
    await live.page.click('form.send button[type="submit"]');
    await live.page.locator('.toast', { hasText: 'sent #' }).waitFor({ timeout: 10_000 });
    const stored = await waitFor('the message stored', () => live.hive.broker.list({ agent: 'manager' }).find((m) => m.body.startsWith('hello from the browser')));
    expect(stored).toMatchObject({ from: 'operator', to: 'manager', body: 'hello from the browser\nsecond line' });
    await showTab(live.page, 'flow');
    const item = live.page.locator(`#msg-${stored.id}`);
    await item.waitFor({ timeout: 10_000 });
    await item.locator('summary').click();
    expect(await item.locator('.body').textContent()).toBe('hello from the browser\nsecond line');
    expect(await live.page.inputValue('textarea[name="body"]')).toBe('');
    await live.page.screenshot({ path: screenshotPath('dashboard.png'), fullPage: true });
  });

  test('a refused send shows the reason as a toast and stores nothing', async () => {
    const before = live.hive.broker.lastId();
    await live.page.fill('input[name="to"]', 'ghost');
    await live.page.fill('textarea[name="body"]', 'boo');
    await live.page.click('form.send button[type="submit"]');
    await live.page.locator('.toast.bad', { hasText: 'no agent named "ghost"' }).waitFor({ timeout: 10_000 });
    expect(live.hive.broker.lastId()).toBe(before);
  });

  test('a toast shows text outside Latin-1 as typed (the header carries it escaped)', async () => {
    const before = live.hive.broker.lastId();
    await live.page.fill('input[name="to"]', 'Ωmega名前');
    await live.page.fill('textarea[name="body"]', 'boo');
    await live.page.click('form.send button[type="submit"]');
    await live.page.locator('.toast.bad', { hasText: 'agent name "Ωmega名前"' }).waitFor({ timeout: 10_000 });
    expect(live.hive.broker.lastId()).toBe(before);
  });

  test('a question from the manager appears live as a form; answering it removes it and reaches the manager', async () => {
    const q = live.hive.policy.askOperator('which regions?', ['eu', 'us', 'ap'], true);
    const form = live.page.locator(`#question-${q.id}`);
    await form.waitFor({ timeout: 10_000 });
    expect(await form.locator('input[type="checkbox"]').count()).toBe(3);
    await form.getByLabel('eu').check();
    await form.getByLabel('ap').check();
    await form.locator('button[type="submit"]').click();
    await live.page.locator('.toast', { hasText: `answered question #${q.id}` }).waitFor({ timeout: 10_000 });
    await form.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.questions.get(q.id).answer).toEqual({ choices: ['eu', 'ap'] });
    const msg = live.hive.broker.list({ agent: 'manager' }).find((m) => m.kind === 'answer' && m.ref === q.id)!;
    expect(msg.body).toContain('choices: eu, ap');

    const free = live.hive.policy.askOperator('what next?');
    const freeForm = live.page.locator(`#question-${free.id}`);
    await freeForm.waitFor({ timeout: 10_000 });
    await freeForm.locator('textarea').fill('write the docs');
    await freeForm.locator('button[type="submit"]').click();
    await freeForm.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.questions.get(free.id).answer).toEqual({ text: 'write the docs' });
  });

  test('a spawn request appears live; approving it creates the agent and the row updates in place', async () => {
    const a = live.hive.gate.requestSpawn('manager', 'carol');
    const row = live.page.locator(`#approval-${a.id}`);
    await row.waitFor({ timeout: 10_000 });
    const q = live.hive.policy.askOperator("should carol review alice's patches?", ['yes', 'no, later']);
    await live.page.locator(`#question-${q.id}`).waitFor({ timeout: 10_000 });
    await live.page.screenshot({ path: screenshotPath('dashboard-approvals.png'), fullPage: true });
    await row.getByRole('button', { name: /approve/ }).click();
    await live.page.locator(`#approval-${a.id}[data-status="deployed"]`).waitFor({ timeout: 15_000 });
    await showTab(live.page, 'swarm');
    await live.page.locator('#agent-carol').waitFor({ timeout: 10_000 });
    expect(live.hive.approvals.get(a.id).status).toBe('deployed');
    await live.hive.lifecycle.stop('carol');
  });

  test('a config change shows its diff; approving it streams the rebuild live and the agent comes back with it', async () => {
    await live.hive.lifecycle.start('carol');
    const repo = join(live.dir, 'proposed', 'carol', 'config');
    await Bun.write(join(repo, 'agent.toml'), 'model = "sonnet"\nallowedRecipients = ["alice"]\n');
    const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: repo }).stdout.toString().trim();
    git('commit', '-qam', 'carol: sonnet, talks to alice only');
    const a = await live.hive.gate.requestApplyCommit('manager', 'carol', git('rev-parse', 'HEAD'));
    const row = live.page.locator(`#approval-${a.id}`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('pre.diff .add').allTextContents()).toEqual(expect.arrayContaining(['+model = "sonnet"\n']));
    expect(await row.locator('pre.diff .add').first().evaluate((el) => getComputedStyle(el).color)).toBe('rgb(74, 240, 138)');
    await row.getByText('carol: sonnet, talks to alice only').waitFor();
    await live.page.screenshot({ path: screenshotPath('dashboard-config-approval.png'), fullPage: true });
    await showTab(live.page, 'rebuilds');
    await row.getByRole('button', { name: /approve/ }).click();
    // the rebuild's lines arrive while it runs; the row and the agent update in place
    await live.page.locator('#builds li', { hasText: `rebuild of carol (approval #${a.id})` }).waitFor({ timeout: 10_000 });
    await live.page.locator(`#builds li:has-text("rebuild of carol (approval #${a.id})") ~ li:has-text("up: the harness said hello")`).first().waitFor({ timeout: 30_000 });
    await live.page.locator(`#approval-${a.id}[data-status="deployed"]`).waitFor({ timeout: 15_000 });
    await live.page.locator('.toast', { hasText: `approval #${a.id}: deployed` }).waitFor({ timeout: 10_000 });
    await live.page.screenshot({ path: screenshotPath('dashboard-rebuild.png'), fullPage: true });
    await showTab(live.page, 'swarm');
    await live.page.locator('#agent-carol[data-status="idle"] input[name="model"][value="sonnet"]').waitFor({ timeout: 10_000 });
    await live.hive.lifecycle.stop('carol');
  });

  test('destroy takes two clicks, never a browser dialog; the agent moves to kept state, and purge takes two clicks too', async () => {
    await showTab(live.page, 'swarm');
    await live.hive.lifecycle.spawn('dora', { start: false });
    const row = live.page.locator('#agent-dora');
    await row.waitFor({ timeout: 10_000 });
    let dialogs = 0;
    live.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await row.getByRole('button', { name: 'destroy dora' }).click();
    const confirm = row.getByRole('button', { name: /destroy dora\? click to confirm/ });
    await confirm.waitFor({ timeout: 10_000 });
    expect(live.hive.registry.has('dora')).toBe(true);
    await confirm.click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    await live.page.locator('.toast', { hasText: 'destroyed dora; its state is kept' }).waitFor({ timeout: 10_000 });
    await showTab(live.page, 'kept');
    const kept = live.page.locator('#kept-dora');
    await kept.waitFor({ timeout: 10_000 });
    await kept.getByRole('button', { name: 'purge dora' }).click();
    await kept.getByRole('button', { name: /purge dora\? click to confirm/ }).click();
    await kept.waitFor({ state: 'detached', timeout: 10_000 });
    expect(live.hive.kept.list().map((k) => k.name)).not.toContain('dora');
    expect(dialogs).toBe(0);
  });

  test('the config-repo browser: from the swarm row to the tag chain, a commit diff and the deploy log', async () => {
    await showTab(live.page, 'swarm');
    await live.page.locator('#agent-carol a', { hasText: 'config' }).click();
    await live.page.waitForURL(`${live.url}/repos/carol`);
    await live.page.getByText(/^deployed\/\d+$/).first().waitFor({ timeout: 10_000 });
    await live.page.screenshot({ path: screenshotPath('config-repo.png'), fullPage: true });
    await live.page.locator('section[aria-labelledby="log-h"] a').first().click();
    await live.page.locator('pre.diff .add', { hasText: '+model = "sonnet"' }).waitFor({ timeout: 10_000 });
    await live.page.goto(`${live.url}/deploys`);
    await live.page.getByText(/carol: approval #\d+ deployed/).first().waitFor({ timeout: 10_000 });
    await live.page.goto(live.url);
    await live.page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
  }, 30_000);

  test('the flow filter: only messages from or to one agent, including ones that arrive live; clearing it shows all again', async () => {
    await live.page.locator('#agent-names option[value="carol"]').waitFor({ state: 'attached', timeout: 10_000 });
    await showTab(live.page, 'flow');
    const toCarol = live.hive.policy.send('operator', 'carol', 'for carol only');
    const toAlice = live.hive.policy.send('operator', 'alice', 'for alice only');
    await live.page.locator(`#msg-${toAlice.id}`).waitFor({ timeout: 10_000 });
    await live.page.fill('form.flow-filter input[name="agent"]', 'carol');
    await live.page.locator(`#msg-${toAlice.id}`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(await live.page.locator(`#msg-${toCarol.id}`).isVisible()).toBe(true);
    const froms = await live.page.locator('#flow > li:visible').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-from'), li.getAttribute('data-to')]));
    expect(froms.length).toBeGreaterThan(0);
    for (const [from, to] of froms) expect([from, to]).toContain('carol');
    // live arrivals respect the filter
    const liveCarol = live.hive.policy.send('carol', 'alice', 'carol answers');
    const liveAlice = live.hive.policy.send('alice', 'manager', 'alice chatters');
    await live.page.locator(`#msg-${liveCarol.id}`).waitFor({ timeout: 10_000 });
    await live.page.locator(`#msg-${liveAlice.id}`).waitFor({ state: 'attached', timeout: 10_000 });
    expect(await live.page.locator(`#msg-${liveAlice.id}`).isVisible()).toBe(false);
    await live.page.fill('form.flow-filter input[name="agent"]', '');
    await live.page.locator(`#msg-${toAlice.id}`).waitFor({ timeout: 10_000 });
    expect(await live.page.locator(`#msg-${liveAlice.id}`).isVisible()).toBe(true);
  });

  test('a banner appears live for a failed deploy, says what failed, and goes away on dismiss', async () => {
    const failed = live.hive.alerts.raise('deploy_failed', 'carol', 'carol: approval #77 failed: extraMcpServers.x.command: "<b>/nope</b>" is not an executable file');
    const loop = live.hive.alerts.raise('crash_loop', 'alice', 'alice crashed 3 times in a row, last exit code 1 after 0 s; the core restarts it in 4 s.');
    const banner = live.page.locator(`#alert-${failed.id}`);
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.locator('.text').textContent()).toContain('"<b>/nope</b>" is not an executable file');
    expect(await banner.locator('b').count()).toBe(0);
    await live.page.locator(`#alert-${loop.id}`).waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#alert-count').textContent()).toBe('▲ 2 alerts');
    await live.page.locator('#alert-count a').click();
    await live.page.evaluate(() => window.scrollTo(0, 0));
    await live.page.screenshot({ path: screenshotPath('dashboard-banners.png') });
    await banner.getByRole('button', { name: 'dismiss the deploy failed alert for carol' }).click();
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    await live.page.locator('.toast', { hasText: 'dismissed the deploy failed alert for carol' }).waitFor({ timeout: 10_000 });
    expect(live.hive.alerts.list().map((a) => a.id)).toEqual([loop.id]);
    expect(await live.page.locator('#alert-count').textContent()).toBe('▲ 1 alert');
    // the condition clearing removes a banner as well: the operator takes charge of alice
    await live.hive.lifecycle.stop('alice');
    await live.page.locator(`#alert-${loop.id}`).waitFor({ state: 'detached', timeout: 10_000 });
  });

  test('keyboard only: the send form is reachable with Tab, shows a focus ring, and sends with the keyboard', async () => {
    await live.page.evaluate(() => window.scrollTo(0, 0));
    await live.page.focus('input[name="to"]');
    const ring = await live.page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(ring).toBe('solid');
    await live.page.keyboard.type('alice');
    await live.page.keyboard.press('Tab');
    expect(await live.page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('body');
    await live.page.keyboard.type('typed, not clicked');
    await live.page.keyboard.press('Tab');
    expect(await live.page.evaluate(() => document.activeElement?.textContent?.trim())).toContain('send');
    await live.page.keyboard.press('Enter');
    await live.page.locator('.toast', { hasText: 'to alice' }).waitFor({ timeout: 10_000 });
    await waitFor('the message stored', () => live.hive.broker.list({ agent: 'alice' }).find((m) => m.body === 'typed, not clicked'));
  });

  test('a narrow window: one column, nothing wider than the window', async () => {
    const narrow = await live.browser.newPage({ viewport: { width: 420, height: 900 } });
    try {
      await narrow.goto(live.url);
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
