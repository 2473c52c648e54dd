/**
 * The dashboard's layout in real headless Chromium, on a busy hive (100 agents, 1,000 messages, a
 * hundred of them to the operator, open questions and pending approvals, an alert, every button of
 * the chrome strip): at 1280×800 the send form,
 * a pending question and a pending approval are in view at first paint without scrolling, and the
 * page itself never scrolls (the panes do); the chrome strip is one thin line that stays on top; the
 * tabs switch with the mouse and the keyboard and the chosen one survives a reload; a tab whose pane
 * is hidden shows a badge for what arrived in it, and live updates reach hidden panes.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { OPERATOR } from '../../src/shared/names.ts';
import { screenshotPath } from '../support/screenshots.ts';
import { liveDashboard, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, ...hooks } = requires('browser dashboard layout', 'chromium', 'git');

setDefaultTimeout(120_000);

const AGENTS = 100;
const MESSAGES = 1000;

let firstQuestion: number;
let firstApproval: number;

const git = (cwd: string, ...args: string[]) => Bun.spawnSync(['git', ...args], { cwd }).stdout.toString().trim();

const live = liveDashboard(hooks, {
  // an unreachable notification URL: the chrome strip carries its test button too
  flags: { 'notify-url': 'http://127.0.0.1:9/hive' },
  async seed(hive, dir) {
    const names = Array.from({ length: AGENTS }, (_, i) => `agent${String(i).padStart(3, '0')}`);
    for (const name of names) await hive.lifecycle.spawn(name, { start: false });
    for (let i = 0; i < MESSAGES; i++) {
      const agent = names[i % AGENTS]!;
      if (i % 10 === 0) hive.broker.send(agent, OPERATOR, `report ${i}: ${'all quiet on this front '.repeat(4)}`);
      else hive.broker.send(OPERATOR, agent, `message ${i}: ${'lorem ipsum '.repeat(8)}`);
    }
    const repo = join(dir, 'proposed', names[0]!, 'config');
    await Bun.write(join(repo, 'agent.toml'), 'model = "sonnet"\n');
    git(repo, 'commit', '-qam', `${names[0]}: sonnet`);
    firstApproval = (await hive.gate.requestApplyCommit('manager', names[0]!, git(repo, 'rev-parse', 'HEAD'))).id;
    for (let i = 0; i < 8; i++) hive.gate.requestSpawn('manager', `new${i}`);
    firstQuestion = hive.policy.askOperator('which regions should agent000 cover first?', ['eu', 'us', 'ap'], true).id;
    for (let i = 0; i < 8; i++) hive.policy.askOperator(`open question ${i}: ${'why not? '.repeat(10)}`);
    hive.alerts.raise('crash_loop', names[1]!, `${names[1]} crashed 3 times in a row, last exit code 1 after 0 s; the core restarts it in 4 s.`);
  },
});

/**
 * Whether `selector`'s element lies in the viewport from its top down to `depth` px (all of it
 * when not given), and is what the page shows at its top-left corner (nothing covers it there).
 */
function inView(p: Page, selector: string, depth?: number): Promise<boolean> {
  return p.evaluate(
    ([sel, d]) => {
      const el = document.querySelector(sel as string);
      if (!el) return false;
      const r = el.getBoundingClientRect();
      const bottom = typeof d === 'number' ? Math.min(r.bottom, r.top + d) : r.bottom;
      if (r.height === 0 || r.top < 0 || r.left < 0 || bottom > innerHeight || r.right > innerWidth) return false;
      const hit = document.elementFromPoint(r.left + Math.min(8, r.width / 2), r.top + Math.min(8, (bottom - r.top) / 2));
      return !!hit && el.contains(hit);
    },
    [selector, depth ?? null] as const,
  );
}

/** How far the page itself is scrolled and how much it could scroll, CSS px. */
const pageScroll = (p: Page) =>
  p.evaluate(() => ({ y: window.scrollY, overflow: document.documentElement.scrollHeight - window.innerHeight }));

const chromeBox = async (p: Page) => (await p.locator('.chrome').boundingBox())!;
const selected = (p: Page) => p.locator('[role="tab"][aria-selected="true"]').getAttribute('data-tab');

describe('the dashboard layout in a browser', () => {
  test('with 100 agents and 1,000 messages, the send form, a question and an approval are in view at first paint', async () => {
    expect(await live.page.locator('#agents-body > tr[id]').count()).toBe(AGENTS);
    expect(await pageScroll(live.page)).toEqual({ y: 0, overflow: 0 });
    expect(await inView(live.page, 'form.send')).toBe(true);
    expect(await inView(live.page, 'form.send button[type="submit"]')).toBe(true);
    expect(await inView(live.page, `#question-${firstQuestion}`, 60)).toBe(true);
    expect(await inView(live.page, `#question-${firstQuestion} .q`)).toBe(true);
    expect(await inView(live.page, `#approval-${firstApproval}`, 40)).toBe(true);
    expect(await inView(live.page, `#approval-${firstApproval} button[hx-post$="/approve"]`)).toBe(true);
    expect(await live.page.locator('#questions-h .count').textContent()).toBe('9 open');
    expect(await live.page.locator('#approvals-h .count').textContent()).toBe('9 pending');
    // the inbox's unread count is on its tab, in view
    expect(await inView(live.page, '#tab-inbox')).toBe(true);
    expect(await live.page.locator('#tab-inbox .count').textContent()).toBe(String(MESSAGES / 10));
    // the long lists scroll inside their panes
    const swarm = await live.page.locator('#pane-swarm').evaluate((el) => [el.scrollHeight, el.clientHeight]);
    expect(swarm[0]!).toBeGreaterThan(swarm[1]! * 2);
    await live.page.screenshot({ path: screenshotPath('dashboard-busy.png') });
    expect(live.errors).toEqual([]);
  });

  test('the chrome strip is one thin line and stays on top after a pane scrolls', async () => {
    await showTab(live.page, 'swarm');
    expect(await live.page.locator('.chrome [hx-post="/notify/test"]').isVisible()).toBe(true);
    expect(await live.page.locator('#alert-count a').isVisible()).toBe(true);
    const before = await chromeBox(live.page);
    expect(before.y).toBe(0);
    expect(before.height).toBeLessThanOrEqual(40);
    expect(before.width).toBe(VIEWPORT.width);
    // one line: every item of the strip is centred on the same line
    const centres = await live.page.locator('.chrome > *:not([hidden])').evaluateAll((els) => els.map((e) => (e.getBoundingClientRect().top + e.getBoundingClientRect().bottom) / 2));
    expect(Math.max(...centres) - Math.min(...centres)).toBeLessThanOrEqual(2);

    // the wheel over the swarm pane scrolls the pane, never the page
    const pane = (await live.page.locator('#pane-swarm').boundingBox())!;
    await live.page.mouse.move(pane.x + pane.width / 2, pane.y + pane.height / 2);
    await live.page.mouse.wheel(0, 3000);
    await live.page.waitForFunction(() => document.getElementById('pane-swarm')!.scrollTop > 1000, null, { timeout: 5_000 });
    await live.page.evaluate(() => window.scrollTo(0, 10_000));
    expect((await pageScroll(live.page)).y).toBe(0);
    expect(await chromeBox(live.page)).toEqual(before);
    expect(await inView(live.page, '.chrome .brand')).toBe(true);
    expect(await inView(live.page, 'form.send')).toBe(true);
    expect(await inView(live.page, `#question-${firstQuestion}`, 60)).toBe(true);
    expect(await inView(live.page, `#approval-${firstApproval}`, 40)).toBe(true);
  });

  test('the tabs switch with the mouse and with the keyboard', async () => {
    await live.page.locator('#tab-flow').click();
    expect(await selected(live.page)).toBe('flow');
    expect(await live.page.locator('#pane-flow').isVisible()).toBe(true);
    expect(await live.page.locator('#pane-swarm').isVisible()).toBe(false);
    expect(await live.page.locator('#tab-swarm').getAttribute('aria-selected')).toBe('false');
    // one tab in the Tab order: the selected one
    expect(await live.page.locator('[role="tab"][tabindex="0"]').count()).toBe(1);
    expect(await live.page.locator('#tab-flow').getAttribute('tabindex')).toBe('0');

    await live.page.locator('#tab-flow').focus();
    await live.page.keyboard.press('ArrowRight');
    expect(await live.page.evaluate(() => document.activeElement?.id)).toBe('tab-inbox');
    expect(await selected(live.page)).toBe('inbox');
    await live.page.locator('#pane-inbox').waitFor({ state: 'visible', timeout: 2_000 });
    expect(await live.page.locator('#pane-flow').isVisible()).toBe(false);
    await live.page.keyboard.press('End');
    expect(await selected(live.page)).toBe('stats');
    expect(await live.page.locator('#pane-stats').isVisible()).toBe(true);
    expect(await live.page.locator('#pane-stats #swarm-stats').count()).toBe(1);
    await live.page.keyboard.press('ArrowRight');
    expect(await selected(live.page)).toBe('swarm');
    await live.page.keyboard.press('ArrowLeft');
    expect(await selected(live.page)).toBe('stats');
    await live.page.keyboard.press('Home');
    expect(await selected(live.page)).toBe('swarm');
    expect(await live.page.evaluate(() => document.activeElement?.id)).toBe('tab-swarm');

    // Tab leaves the strip for the pane; Shift+Tab comes back to the selected tab; Enter shows a tab
    await live.page.keyboard.press('Tab');
    expect(await live.page.evaluate(() => document.activeElement?.id)).toBe('pane-swarm');
    await live.page.keyboard.press('Shift+Tab');
    expect(await live.page.evaluate(() => document.activeElement?.id)).toBe('tab-swarm');
    await live.page.locator('#tab-turns').focus();
    await live.page.keyboard.press('Enter');
    expect(await selected(live.page)).toBe('turns');
    await live.page.locator('#tab-kept').focus();
    await live.page.keyboard.press('Space');
    expect(await selected(live.page)).toBe('kept');
    expect(await live.page.locator('#pane-kept').isVisible()).toBe(true);
  });

  test('the tab shown survives a reload; a link to #inbox shows the inbox', async () => {
    await showTab(live.page, 'turns');
    await live.page.reload();
    await live.page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
    expect(await selected(live.page)).toBe('turns');
    expect(await live.page.locator('#pane-turns').isVisible()).toBe(true);
    expect(await live.page.locator('#pane-swarm').isVisible()).toBe(false);

    // the chrome's waiting count links to the inbox
    await live.page.locator('#waiting a').click();
    // the tab follows the link's hashchange, an event of its own after the click
    await live.page.locator('[role="tab"][data-tab="inbox"][aria-selected="true"]').waitFor({ timeout: 10_000 });
    expect(await selected(live.page)).toBe('inbox');
    expect(live.page.url()).toBe(`${live.url}/#inbox`);
    // choosing another tab drops the link, so a reload keeps the choice
    await showTab(live.page, 'reminders');
    expect(live.page.url()).toBe(`${live.url}/`);
    await live.page.reload();
    await live.page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
    expect(await selected(live.page)).toBe('reminders');
    expect(live.errors).toEqual([]);
  });

  test('a hidden tab shows a badge for what arrived in its pane, gone once the tab is shown', async () => {
    await showTab(live.page, 'swarm');
    const unread = Number(await live.page.locator('#tab-inbox .count').textContent());
    const m = live.hive.policy.send('agent042', OPERATOR, 'arrived while you looked elsewhere');
    await live.page.locator('#tab-inbox .tab-new', { hasText: '+1' }).waitFor({ timeout: 10_000 });
    await live.page.locator('#tab-flow .tab-new', { hasText: '+1' }).waitFor({ timeout: 10_000 });
    await live.page.locator('#tab-inbox .count', { hasText: String(unread + 1) }).waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#tab-swarm .tab-new').isVisible()).toBe(false);
    // the live update reached the hidden panes
    expect(await live.page.locator(`#msg-${m.id}`).count()).toBe(1);
    expect(await live.page.locator(`#inbox-${m.id}`).count()).toBe(1);

    live.hive.broker.send(OPERATOR, 'agent007', 'and one more');
    await live.page.locator('#tab-flow .tab-new', { hasText: '+2' }).waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#tab-inbox .tab-new').textContent()).toBe('+1');
    await live.page.screenshot({ path: screenshotPath('dashboard-tab-badges.png') });

    await showTab(live.page, 'inbox');
    expect(await live.page.locator('#tab-inbox .tab-new').isVisible()).toBe(false);
    await live.page.locator(`#inbox-${m.id}`).waitFor({ timeout: 5_000 });
    expect(await live.page.locator('#tab-flow .tab-new').textContent()).toBe('+2');
    await showTab(live.page, 'flow');
    expect(await live.page.locator('#tab-flow .tab-new').isVisible()).toBe(false);
    await live.page.locator(`#msg-${m.id}`).waitFor({ timeout: 5_000 });

    // questions and approvals are never hidden: their headers count what is open
    const q = live.hive.policy.askOperator('one more thing?');
    await live.page.locator('#questions-h .count', { hasText: '10 open' }).waitFor({ timeout: 10_000 });
    await live.page.locator(`#question-${q.id}`).waitFor({ state: 'attached', timeout: 10_000 });
    const a = live.hive.gate.requestSpawn('manager', 'late');
    await live.page.locator('#approvals-h .count', { hasText: '10 pending' }).waitFor({ timeout: 10_000 });
    await live.page.locator(`#approval-${a.id}`).waitFor({ state: 'attached', timeout: 10_000 });
    expect(live.errors).toEqual([]);
  });
});
