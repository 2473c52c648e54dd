/**
 * The telemetry charts in real headless Chromium: the swarm's on the dashboard's stats tab and one
 * agent's on its page (through the dashboard's proxy, served by a real agent), drawn by
 * `static/stats.js` from `GET /api/stats` with uPlot: the numbers of now, the legends, the window
 * selector, live refresh without a reload and one request at a time, no requests while nobody can
 * see the charts, error lines, and the quiet empty state. Also that both pages carry their chart
 * group over plain HTTP, and the picture of the stats tab for the docs.
 */
import { expect } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { HIVE_WIDE } from '../../src/shared/stats.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { gotoLive, liveDashboard, serveDashboard, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';
import { screenshotPath } from '../support/screenshots.ts';

const { describe, test, ...hooks } = requires('browser stats charts', 'chromium', 'git');

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOTES = 'n'.repeat(2048);

/**
 * alice (running, so her page is served) has three turns in the last hour, recorded as samples;
 * bob (never started) has one turn two hours ago, recorded the way the core does when a turn ends,
 * and two messages waiting. One approval is pending.
 */
const live = liveDashboard(hooks, {
  async seed(hive) {
    const now = Date.now();
    await hive.lifecycle.spawn('alice');
    await hive.lifecycle.spawn('bob', { start: false });
    writeFileSync(join(hive.layout.agent('alice').state, 'notes.md'), NOTES);
    for (const [i, ago] of [50, 20, 5].entries())
      hive.stats.record('alice', now - ago * MIN, [
        { key: 'turn', value: 1000 * (i + 1) },
        { key: 'tool_calls', value: 3 },
        { key: 'tool:Bash', value: 2 },
        { key: 'tool:Read', value: 1 },
        { key: 'sent:peer', value: 1 },
        { key: 'received:operator', value: 1 },
        { key: 'inbox_max', value: i },
        { key: 'input_tokens', value: 1500 },
        { key: 'output_tokens', value: 300 },
        { key: 'cost_usd', value: 0.01 },
        { key: 'notes_bytes', value: NOTES.length },
      ]);
    hive.turns.end('bob', {
      id: 'bob-turn-1',
      ended_at: now - 2 * HOUR,
      trigger_message_id: null,
      status: 'ok',
      exit_code: 0,
      duration_ms: 4000,
      cost_usd: 0.02,
      input_tokens: 1000,
      output_tokens: 200,
      tools: ['Edit', 'Edit'],
      result: 'done',
    });
    hive.broker.send('operator', 'bob', 'first');
    hive.broker.send('operator', 'bob', 'second');
    hive.gate.requestSpawn('manager', 'wai');
  },
  page: { path: '/#stats' },
});

/** The legend names of chart `id` in `group`, without the time column. */
async function legend(group: Locator, id: string): Promise<string[]> {
  return (await group.locator(`[data-chart="${id}"] .u-legend .u-series .u-label`).allTextContents()).filter((l) => l !== 'UTC');
}

/** Waits until chart `id` in `group` has exactly the legend `names`. */
function legendIs(group: Locator, id: string, names: string[]) {
  return waitFor(`the ${id} legend ${JSON.stringify(names)}`, async () => JSON.stringify(await legend(group, id)) === JSON.stringify(names), 10_000);
}

const summary = (group: Locator, text: string) => group.locator('.stats-summary', { hasText: text }).waitFor({ timeout: 10_000 });
const now = (group: Locator, key: string) => group.locator(`[data-now="${key}"]`).textContent();
const statsRequest = (p: Page, test: (q: URLSearchParams) => boolean) =>
  p.waitForRequest((r) => r.url().includes('/api/stats?') && test(new URL(r.url()).searchParams), { timeout: 10_000 });

describe('the swarm charts on the dashboard', () => {
  const group = () => live.page.locator('#swarm-stats [data-stats]');

  test('draw every agent’s series with their legends, and the numbers of now', async () => {
    const g = group();
    await g.locator('[data-chart="turns"] .uplot canvas').waitFor({ timeout: 10_000 });
    await summary(g, '4 turns in the last 24h');
    expect(await g.locator('.stats-empty').isHidden()).toBe(true);
    expect(await g.locator('.stats-error').isHidden()).toBe(true);
    for (const id of ['turns', 'duration', 'tool-calls', 'inbox', 'sent', 'received', 'usage', 'tools', 'approvals'])
      expect(await g.locator(`[data-chart="${id}"] canvas`).count()).toBeGreaterThan(0);
    expect(await legend(g, 'turns')).toEqual(['turns per minute']);
    expect(await legend(g, 'duration')).toEqual(['turn duration p50', 'turn duration p95']);
    expect(await legend(g, 'sent')).toEqual(['sent to peer', 'sent to operator', 'sent to manager', 'sent to system']);
    expect(await legend(g, 'usage')).toEqual(['input tokens', 'output tokens', 'cost']);
    // most calls first: Bash (6) and Read (3) from alice, Edit (2) from bob
    expect(await legend(g, 'tools')).toEqual(['Bash', 'Read', 'Edit']);
    expect(await legend(g, 'approvals')).toEqual(['approvals pending']);
    // the notes chart is the agent page's, not the swarm's
    expect(await g.locator('[data-chart="notes"]').count()).toBe(0);

    expect(await now(g, 'inbox_depth')).toBe('2');
    expect(await now(g, 'since_last_turn_ms')).toBe('2h');
    expect(await now(g, 'approval_queue')).toBe('1');
    expect(await g.getByRole('button', { name: '24h', exact: true }).getAttribute('aria-pressed')).toBe('true');
  });

  test('the charts fill their container and follow its width', async () => {
    const plot = group().locator('[data-chart="turns"] .stats-plot');
    const canvasWidth = () => plot.locator('canvas').evaluate((el) => el.getBoundingClientRect().width);
    const plotWidth = () => plot.evaluate((el) => el.clientWidth);
    expect(Math.abs((await canvasWidth()) - (await plotWidth()))).toBeLessThan(2);
    const before = await canvasWidth();
    await live.page.setViewportSize({ width: 1000, height: 800 });
    // narrower: one column of charts instead of two, each wider than before
    await waitFor('the chart to follow its container', async () => Math.abs((await canvasWidth()) - before) > 20 && Math.abs((await canvasWidth()) - (await plotWidth())) < 2, 10_000);
    await live.page.setViewportSize({ width: 600, height: 800 });
    const narrow = await plotWidth();
    await waitFor('the chart to shrink with its container', async () => Math.abs((await canvasWidth()) - narrow) < 2, 10_000);
    await live.page.setViewportSize(VIEWPORT);
    await waitFor('the chart to grow back', async () => Math.abs((await canvasWidth()) - before) < 2, 10_000);
  });

  test('the window selector asks for its window and redraws', async () => {
    const g = group();
    const asked = statsRequest(live.page, (q) => q.get('since') === '1h' && !q.has('agent'));
    await g.getByRole('button', { name: '1h', exact: true }).click();
    const req = await asked;
    expect(new URL(req.url()).searchParams.get('series')).toContain('turns_per_min');
    await summary(g, '3 turns in the last 1h');
    expect(await g.getAttribute('data-stats')).toBe('since=1h');
    expect(await g.getByRole('button', { name: '1h', exact: true }).getAttribute('aria-pressed')).toBe('true');
    expect(await g.getByRole('button', { name: '24h', exact: true }).getAttribute('aria-pressed')).toBe('false');
    // bob's turn (and his Edit calls) two hours ago is out of this window
    await legendIs(g, 'tools', ['Bash', 'Read']);
    const week = statsRequest(live.page, (q) => q.get('since') === '7d');
    await g.getByRole('button', { name: '7d', exact: true }).click();
    await week;
    await summary(g, '4 turns in the last 7d');
    await g.getByRole('button', { name: '1h', exact: true }).click();
    await summary(g, '3 turns in the last 1h');
  });

  test('a sample recorded after load appears on the next refresh, without a reload, one request at a time', async () => {
    const g = group();
    await live.page.evaluate(() => ((window as any).__marker = 'same page'));
    // answers take 300 ms while the group asks every 100 ms: requests must still never overlap
    let inFlight = 0;
    let most = 0;
    let answered = 0;
    await live.page.route('**/api/stats?**', async (route) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 300));
      try {
        await route.continue();
      } finally {
        inFlight--;
        answered++;
      }
    });
    await g.evaluate((el) => el.setAttribute('data-stats-refresh-ms', '100'));
    live.hive.stats.record('alice', Date.now(), [{ key: 'turn', value: 500 }, { key: 'tool_calls', value: 4 }, { key: 'tool:Grep', value: 4 }]);
    await summary(g, '4 turns in the last 1h');
    await legendIs(g, 'tools', ['Bash', 'Grep', 'Read']);
    await waitFor('a few refreshes', () => answered >= 5, 10_000);
    await live.page.unroute('**/api/stats?**');
    expect(most).toBe(1);
    expect(await live.page.evaluate(() => (window as any).__marker)).toBe('same page');
  });

  test('a failed request shows its message in the group; the next good answer clears it', async () => {
    const g = group();
    const error = g.locator('.stats-error');
    await g.evaluate((el) => el.setAttribute('data-stats', 'since=yesterday'));
    await error.filter({ hasText: '400 since=yesterday: expected unix ms or a duration' }).waitFor({ timeout: 10_000 });
    expect(await error.getAttribute('role')).toBe('alert');

    await live.page.route('**/api/stats?**', (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'the stats store is resting' }));
    await g.evaluate((el) => el.setAttribute('data-stats', 'since=24h'));
    await error.filter({ hasText: '503 the stats store is resting' }).waitFor({ timeout: 10_000 });
    await live.page.unroute('**/api/stats?**');
    await error.waitFor({ state: 'hidden', timeout: 10_000 });
    await summary(g, '5 turns in the last 24h');
  });

  test('a window without turns says so quietly instead of drawing empty axes', async () => {
    const g = group();
    const dayMs = 24 * HOUR;
    const until = Date.now() - 9 * dayMs;
    await g.evaluate((el, q) => el.setAttribute('data-stats', q), `since=${until - dayMs}&until=${until}`);
    await g.locator('.stats-empty', { hasText: 'no turns yet in this window' }).waitFor({ timeout: 10_000 });
    expect(await g.locator('.stats-chart:visible').count()).toBe(0);
    expect(await g.locator('.uplot').count()).toBe(0);
    expect(await g.locator('.stats-summary').textContent()).toBe('');
    await g.getByRole('button', { name: '24h', exact: true }).click();
    await summary(g, '5 turns in the last 24h');
    await g.locator('.stats-empty').waitFor({ state: 'hidden', timeout: 10_000 });
    expect(live.errors).toEqual([]);
  });

  test('nothing is fetched for a hidden tab pane; showing it, or the page becoming visible again, fetches at once', async () => {
    const pageErrors: string[] = [];
    const p = await live.browser.newPage({ viewport: VIEWPORT });
    const seen: string[] = [];
    p.on('request', (r) => {
      if (r.url().includes('/api/stats?')) seen.push(r.url());
    });
    // the swarm tab is shown first: the stats pane is hidden, and the script ran before the stream came up
    await gotoLive(p, live.url + '/', pageErrors);
    expect(await p.locator('#pane-stats').isHidden()).toBe(true);
    expect(seen).toEqual([]);
    const shownNow = statsRequest(p, (q) => q.get('since') === '24h');
    await showTab(p, 'stats');
    await shownNow;
    const g = p.locator('#swarm-stats [data-stats]');
    await summary(g, '5 turns in the last 24h');

    // a refresh far away: only the page coming back can fetch within this test's waits
    await g.evaluate((el) => el.setAttribute('data-stats-refresh-ms', '600000'));
    const setVisibility = (state: string) =>
      p.evaluate((v) => {
        Object.defineProperty(document, 'visibilityState', { value: v, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    await setVisibility('hidden');
    live.hive.stats.record('bob', Date.now(), [{ key: 'turn', value: 700 }]);
    const back = statsRequest(p, () => true);
    await setVisibility('visible');
    await back;
    await summary(g, '6 turns in the last 24h');
    await p.close();
    expect(pageErrors).toEqual([]);
  });
});

describe("an agent's charts on its page", () => {
  test("show that agent's series, its notes size, and no swarm-only chart", async () => {
    const agentErrors: string[] = [];
    const agentUrl = `${live.url}/agents/alice/page/`;
    await waitFor('alice to serve her page', async () => (await fetch(agentUrl)).status === 200);
    const p = await live.browser.newPage({ viewport: VIEWPORT });
    const asked = statsRequest(p, (q) => q.get('agent') === 'alice' && q.get('since') === '24h');
    await gotoLive(p, agentUrl, agentErrors);
    await asked;
    const g = p.locator('[data-stats]');
    expect(await g.getAttribute('data-stats')).toBe('agent=alice&since=24h');
    await g.locator('[data-chart="notes"] .uplot canvas').waitFor({ timeout: 10_000 });
    await summary(g, '4 turns in the last 24h');
    expect(await legend(g, 'notes')).toEqual(['notes.md size']);
    await legendIs(g, 'tools', ['Bash', 'Grep', 'Read']);
    expect(await g.locator('[data-chart="approvals"]').count()).toBe(0);
    expect(await now(g, 'notes_bytes')).toBe('2 KB');
    expect(await now(g, 'inbox_depth')).toBe('0');
    expect(await now(g, 'since_last_turn_ms')).toBe('no turns yet');
    expect(await now(g, 'approval_queue')).toBe('1');

    const hour = statsRequest(p, (q) => q.get('agent') === 'alice' && q.get('since') === '1h');
    await g.getByRole('button', { name: '1h', exact: true }).click();
    await hour;
    await summary(g, '4 turns in the last 1h');
    await p.close();
    expect(agentErrors).toEqual([]);
  });
});

describe('the pages carry their chart groups', () => {
  test('the dashboard has the swarm group and the agent page its own, with uPlot and the script', async () => {
    const dashboard = await (await fetch(live.url + '/')).text();
    const swarm = dashboard.slice(dashboard.indexOf('<div id="swarm-stats">'));
    expect(swarm).toContain('data-stats="since=24h"');
    for (const tag of ['href="/static/uplot.min.css"', 'href="/static/stats.css"', 'src="/static/uplot.min.js"', 'src="/static/stats.js"'])
      expect(dashboard).toContain(tag);
    for (const w of ['1h', '24h', '7d']) expect(swarm).toContain(`data-window="${w}"`);
    const agent = await (await fetch(`${live.url}/agents/alice/page/`)).text();
    expect(agent).toContain('data-stats="agent=alice&since=24h"');
    expect(agent).toContain('src="/static/stats.js"');
    for (const file of ['stats.js', 'stats.css', 'uplot.min.js', 'uplot.min.css']) expect((await fetch(`${live.url}/static/${file}`)).status).toBe(200);
  });
});

describe('the screenshot for the docs', () => {
  test('a day of a small swarm on the stats tab', async () => {
    const shot = await openTestHive();
    const served = serveDashboard(shot.hive);
    const p = await live.browser.newPage({ viewport: VIEWPORT });
    try {
      await shot.hive.lifecycle.spawn('bob', { start: false });
      const end = Date.now();
      // a fixed pseudo-random day, so the picture is the same each time
      let seed = 7;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const tools = ['Bash', 'Read', 'Edit', 'Grep', 'mcp__hyperhive__send', 'Write'];
      for (let i = 0; i < 160; i++) {
        const ts = end - Math.round(rand() * 24 * HOUR);
        const agent = ['alice', 'bob', 'carol'][i % 3]!;
        const calls = tools.filter((_, k) => rand() < 0.8 / (k + 1)).map((name) => ({ key: `tool:${name}`, value: 1 + Math.floor(rand() * 4) }));
        shot.hive.stats.record(agent, ts, [
          { key: 'turn', value: Math.round(2000 + rand() * rand() * 60_000) },
          { key: 'tool_calls', value: calls.reduce((n, c) => n + c.value, 0) },
          ...calls,
          { key: 'sent:peer', value: Math.floor(rand() * 3) },
          { key: 'sent:manager', value: rand() < 0.3 ? 1 : 0 },
          { key: 'received:peer', value: Math.floor(rand() * 2) },
          { key: 'received:operator', value: rand() < 0.2 ? 1 : 0 },
          { key: 'inbox_max', value: Math.floor(rand() * rand() * 6) },
          { key: 'input_tokens', value: Math.round(8000 + rand() * 30_000) },
          { key: 'output_tokens', value: Math.round(500 + rand() * 4000) },
          { key: 'cost_usd', value: 0.01 + rand() * 0.05 },
        ]);
      }
      for (const [hoursAgo, n] of [[20, 1], [16, 2], [15, 0], [9, 1], [4, 3], [3, 1], [1, 0]] as const)
        shot.hive.stats.record(HIVE_WIDE, end - hoursAgo * HOUR, [{ key: 'approvals_pending', value: n }]);
      shot.hive.turns.end('bob', {
        id: 'bob-shot-1',
        ended_at: end - 7 * MIN,
        trigger_message_id: null,
        status: 'ok',
        exit_code: 0,
        duration_ms: 9000,
        cost_usd: 0.03,
        input_tokens: 12_000,
        output_tokens: 900,
        tools: ['Read', 'Edit'],
        result: 'done',
      });
      shot.hive.broker.send('operator', 'bob', 'when you have a minute');
      const shotErrors: string[] = [];
      await gotoLive(p, served.url + '/#stats', shotErrors);
      const g = p.locator('#swarm-stats [data-stats]');
      await g.locator('[data-chart="approvals"] .uplot canvas').waitFor({ timeout: 10_000 });
      await summary(g, 'turns in the last 24h');
      await p.screenshot({ path: screenshotPath('dashboard-stats.png') });
      expect(shotErrors).toEqual([]);
    } finally {
      await p.close();
      await served.app.stop(true);
      await shot.close();
    }
  });
});
