/**
 * The agent's own page in real headless Chromium: alice's page opened through the dashboard's
 * proxy, served by her real harness, with real `claude` turns against the scripted Messages API.
 *
 * - The state badge through a turn (thinking, its age ticking, cancel shown; then idle), through a
 *   stop (offline within 2 s, the prompt disabled with the reason) and a start (idle again, the
 *   prompt back, the stream live again), and building during a rebuild.
 * - The tail: loaded at its bottom and following new events there; scrolled up, the "↓ N new" pill
 *   counts what arrived and jumps down on click; a tool call as its name and input, its result
 *   folded and opening on click, no JSON anywhere; older history paging in on scroll with the view
 *   kept in place; the filter over the loaded events.
 * - The page of a stopped agent: a 503 page with its state and why, following the core's status
 *   stream (not the page), that turns into the real page by itself when the agent starts.
 */
import { expect } from 'bun:test';
import type { Page } from 'playwright-core';
import { History } from '../../src/agent/history.ts';
import { isMainTurn, lastUserPrompt, toolResults, startModelServer, type ModelServer } from '../support/model-server.ts';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, sendPrompt, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';
import { screenshotPath } from '../support/screenshots.ts';

const { describe, test, beforeAll, afterAll } = requires('browser agent page', 'chromium', 'git');

/** Events in alice's history before her page opens: more than the page's backfill of 200. */
const SEEDED = 320;

/** Turns the scripted model holds until the test releases them. */
const held: Array<() => void> = [];

// the scripted model starts before the hive that uses it and closes after it; held turns are
// released before anything closes
let model: ModelServer;
beforeAll(async () => {
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    if (toolResults(req.body).length) return [{ type: 'text', text: 'the tool ran' }];
    const prompt = lastUserPrompt(req.body);
    if (prompt.includes('HOLD')) return new Promise((resolve) => held.push(() => resolve([{ type: 'text', text: 'released' }])));
    if (prompt.includes('TOOLS'))
      return [
        { type: 'text', text: 'running a command' },
        { type: 'tool_use', name: 'Bash', input: { command: "printf 'line one\\nline two\\nline three\\n'", description: 'Print three lines' } },
      ];
    return [{ type: 'text', text: 'noted' }];
  });
});
afterAll(() => {
  for (const release of held) release();
});
const live = liveDashboard({ beforeAll, afterAll }, {
  env: () => model.env,
  async seed(hive) {
    await hive.lifecycle.spawn('alice');
    // history from earlier runs, written while she is stopped (her harness is its only writer)
    await hive.lifecycle.stop('alice');
    const history = new History(hive.layout.agent('alice').state);
    for (let i = 1; i <= SEEDED; i++) history.append(null, 'note', { level: 'info', text: `seeded note ${String(i).padStart(4, '0')}` });
    history.close();
    await hive.lifecycle.start('alice');
  },
  page: { path: '/agents/alice/page/', served: true },
});
afterAll(async () => {
  await model?.close();
});


/** The number of turn ends in the tail. */
const turnEnds = (p: Page) => p.locator('#tail [data-kind="turn_end"]').count();

/** Sends `text` as the operator and waits until its turn has ended in the tail. */
async function turn(p: Page, text: string): Promise<void> {
  const ends = await turnEnds(p);
  live.hive.broker.send('operator', 'alice', text);
  await waitFor('the turn to end in the tail', async () => (await turnEnds(p)) > ends, 60_000);
}

/** The tail's scroll position: how far from its bottom, px, and its scrollTop. */
const scroll = (p: Page) =>
  p.locator('#tail').evaluate((el) => ({ fromBottom: el.scrollHeight - el.scrollTop - el.clientHeight, top: el.scrollTop, height: el.scrollHeight }));

/**
 * Records every state the badge shows from now on (a state may last only a moment, such as
 * `building` while a fresh harness starts); the returned function reads them.
 */
async function recordStates(p: Page): Promise<() => Promise<string[]>> {
  await p.evaluate(() => {
    const seen: string[] = [];
    (window as any).__states = seen;
    (window as any).__stateWatch?.disconnect();
    const watch = new MutationObserver(() => {
      const s = document.getElementById('state')?.dataset.state;
      if (s && seen.at(-1) !== s) seen.push(s);
    });
    watch.observe(document.querySelector('.chrome')!, { childList: true, subtree: true });
    (window as any).__stateWatch = watch;
  });
  return async () => (await p.evaluate(() => (window as any).__states)) as string[];
}

/** The badge's state and the text of its age. */
const badge = async (p: Page) => ({ state: await p.locator('#state').getAttribute('data-state'), age: await p.locator('#state time').textContent() });

describe('the tail', () => {
  test('loads scrolled to its newest event, with the older history offered above', async () => {
    expect((await scroll(live.page)).fromBottom).toBeLessThan(5);
    expect(await live.page.locator('#tail > li.ev').count()).toBe(200);
    expect(await live.page.locator('#tail > li.edge.more').count()).toBe(1);
    expect(await live.page.locator('#tail > li.ev').last().textContent()).toContain('seeded note 0320');
  });

  test('a tool call shows as its name and input, its result folded; nothing on the page is JSON', async () => {
    await turn(live.page, 'TOOLS please');
    const call = live.page.locator('#tail li.ev', { has: live.page.locator('.k.tool', { hasText: /^Bash$/ }) }).last();
    expect(await call.locator('summary .x').textContent()).toBe("printf 'line one\\nline two\\nline three\\n'");
    // the whole input folds under the call, as fields
    await call.locator('summary').click();
    expect(await call.locator('pre.fold').textContent()).toContain('description: Print three lines');

    const result = live.page.locator('#tail li.ev', { has: live.page.locator('.k', { hasText: /^output$/ }) }).last();
    expect(await result.locator('summary .x').textContent()).toBe('line one… (3 lines)');
    const fold = result.locator('details');
    expect(await fold.getAttribute('open')).toBeNull();
    expect(await result.locator('pre.fold').isVisible()).toBe(false);
    await result.locator('summary').click();
    expect(await result.locator('pre.fold').isVisible()).toBe(true);
    expect(await result.locator('pre.fold').textContent()).toBe('line one\nline two\nline three');
    await live.page.screenshot({ path: screenshotPath('agent-page.png') });

    // system events are one quiet line; errors, if any, are not boxed
    expect(await live.page.locator('#tail li.ev.quiet[data-kind="claude"]', { hasText: 'mcp: hyperhive connected' }).count()).toBeGreaterThan(0);
    expect(await live.page.locator('#tail .error').count()).toBe(0);
    const text = await live.page.locator('#tail').innerText();
    expect(text).not.toMatch(/[{[]\s*"\w+"\s*:/);
    expect(text).not.toContain('"type"');
    expect(live.errors).toEqual([]);
  });

  test('at the bottom it follows new events; scrolled up, the pill counts them and jumps down on click', async () => {
    // the reader has not scrolled away since the page loaded (unfolding rows does not count)
    await turn(live.page, 'while you watch');
    expect((await scroll(live.page)).fromBottom).toBeLessThan(5);
    expect(await live.page.locator('#tail-new').isHidden()).toBe(true);

    await live.page.locator('#tail').evaluate((el) => el.scrollTo({ top: el.scrollHeight - el.clientHeight - 600 }));
    await waitFor('the scroll to settle', async () => (await scroll(live.page)).fromBottom > 500);
    const before = await scroll(live.page);
    const count = await live.page.locator('#tail > li.ev').count();
    await turn(live.page, 'while you read older things');
    const arrived = (await live.page.locator('#tail > li.ev').count()) - count;
    expect(arrived).toBeGreaterThan(2);
    await waitFor('the pill to count everything that arrived', async () => (await live.page.locator('#tail-new .n').textContent()) === String(arrived));
    expect(await live.page.locator('#tail-new').isVisible()).toBe(true);
    expect((await live.page.locator('#tail-new').textContent())?.replace(/\s+/g, ' ').trim()).toBe(`↓ ${arrived} new`);
    // the reader stays where they were
    expect((await scroll(live.page)).top).toBe(before.top);

    await live.page.locator('#tail-new').click();
    await waitFor('the tail at its bottom', async () => (await scroll(live.page)).fromBottom < 5);
    expect(await live.page.locator('#tail-new').isHidden()).toBe(true);
    await turn(live.page, 'and follow again');
    expect((await scroll(live.page)).fromBottom).toBeLessThan(5);
    expect(await live.page.locator('#tail-new').isHidden()).toBe(true);
  });

  test('older history pages in on scroll, keeping the view in place, down to its start', async () => {
    const first = live.page.locator('#tail > li.ev').first();
    const firstId = await first.getAttribute('data-id');
    await live.page.locator('#tail').evaluate((el) => el.scrollTo({ top: 0 }));
    await waitFor('older events above the first loaded one', async () => Number(await live.page.locator('#tail > li.ev').first().getAttribute('data-id')) < Number(firstId));
    // the event that was at the top is still on screen, not pushed away by what came in above it
    const shown = await live.page.locator(`#tail > li[data-id="${firstId}"]`).evaluate((li) => {
      const box = li.getBoundingClientRect();
      const tail = li.parentElement!.getBoundingClientRect();
      return box.bottom > tail.top && box.top < tail.bottom;
    });
    expect(shown).toBe(true);
    // keep scrolling up until the start of history
    await waitFor(
      'the start of history',
      async () => {
        await live.page.locator('#tail').evaluate((el) => el.scrollTo({ top: 0 }));
        return (await live.page.locator('#tail > li.edge.start').count()) === 1;
      },
      20_000,
    );
    expect(await live.page.locator('#tail > li.ev').first().textContent()).toContain('seeded note 0001');
    const ids = await live.page.locator('#tail > li.ev').evaluateAll((lis) => lis.map((li) => Number((li as HTMLElement).dataset.id)));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    await live.page.locator('#tail').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  });

  test('the filter shows only the loaded events holding its text, and all of them again when cleared', async () => {
    const all = await live.page.locator('#tail > li.ev').count();
    await live.page.locator('#tail-filter').fill('seeded note 00');
    await waitFor('the filter to apply', async () => (await live.page.locator('#tail > li.ev:visible').count()) === 99);
    expect(await live.page.locator('#tail-count').textContent()).toBe(`99 of ${all} loaded events match`);
    for (const text of await live.page.locator('#tail > li.ev:visible').allTextContents()) expect(text).toMatch(/seeded note 00\d\d/);
    await live.page.locator('#tail-filter').fill('printf');
    await waitFor('the filter to apply', async () => (await live.page.locator('#tail > li.ev:visible').count()) >= 1);
    for (const text of await live.page.locator('#tail > li.ev:visible').allTextContents()) expect(text.toLowerCase()).toContain('printf');
    await live.page.locator('#tail-filter').fill('');
    await waitFor('every event again', async () => (await live.page.locator('#tail > li.ev:visible').count()) === all);
    expect(await live.page.locator('#tail-count').textContent()).toBe(`${all} events loaded`);
  });
});

describe('the state badge', () => {
  test('through a turn: thinking with a ticking age and the cancel button, then idle', async () => {
    expect((await badge(live.page)).state).toBe('idle');
    expect(await live.page.locator('.cancel-turn').isVisible()).toBe(false);
    await sendPrompt(live.page, 'HOLD on a moment');
    await live.page.locator('#state[data-state="thinking"]').waitFor({ timeout: 30_000 });
    const first = (await badge(live.page)).age;
    expect(first).toMatch(/^\d+s$/);
    await waitFor('the age to tick', async () => (await badge(live.page)).age !== first, 5_000);
    expect((await badge(live.page)).age).toMatch(/^[1-9]\d*s$/);
    expect(await live.page.locator('.cancel-turn').isVisible()).toBe(true);
    await waitFor('the model to hold the turn', () => held.length > 0);
    held.shift()!();
    await live.page.locator('#state[data-state="idle"]').waitFor({ timeout: 30_000 });
    expect((await badge(live.page)).age).toMatch(/^\ds$/);
    expect(await live.page.locator('.cancel-turn').isVisible()).toBe(false);
  });

  test('through a stop: offline within 2 s, the prompt disabled with the reason', async () => {
    const states = await recordStates(live.page);
    const started = Date.now();
    const stopping = live.hive.lifecycle.stop('alice');
    await live.page.locator('#state[data-state="offline"]').waitFor({ timeout: 2_000 });
    const offlineAfter = Date.now() - started;
    await stopping;
    expect(offlineAfter).toBeLessThan(2_000);
    await live.page.locator('#send-why', { hasText: 'alice is stopped; start it from the dashboard' }).waitFor({ timeout: 5_000 });
    expect(await live.page.locator('form.send textarea').isDisabled()).toBe(true);
    expect(await live.page.locator('form.send button[type="submit"]').isDisabled()).toBe(true);
    expect(await live.page.locator('#state[data-state="offline"]').count()).toBe(1);
    // offline from the moment the stream dropped: never idle again while the harness stopped
    expect(await states()).toEqual(['offline']);
  });

  test('through a start: idle again, the prompt back, and the stream live', async () => {
    await live.hive.lifecycle.start('alice');
    await live.page.locator('#state[data-state="idle"]').waitFor({ timeout: 15_000 });
    await waitFor('the prompt enabled', async () => !(await live.page.locator('form.send textarea').isDisabled()), 5_000);
    expect(await live.page.locator('#send-why').isHidden()).toBe(true);
    expect(await live.page.locator('#live:not(.down)').count()).toBe(1);
    const ends = await turnEnds(live.page);
    await sendPrompt(live.page, 'are you back?');
    await waitFor('the turn to end in the tail', async () => (await turnEnds(live.page)) > ends, 60_000);
    const ids = await live.page.locator('#tail > li.ev').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('building during a rebuild, then idle again', async () => {
    const states = await recordStates(live.page);
    await live.hive.lifecycle.rebuild('alice');
    await live.page.locator('#state[data-state="idle"]').waitFor({ timeout: 15_000 });
    await waitFor('the prompt enabled', async () => !(await live.page.locator('form.send textarea').isDisabled()), 5_000);
    const seen = await states();
    expect(seen).toContain('building');
    expect(seen.at(-1)).toBe('idle');
    expect(live.errors).toEqual([]);
  });

  test('through a crash: crashed within 2 s with the reason, then back by itself when the core restarts it', async () => {
    const pid = live.hive.registry.require('alice').pid!;
    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    await live.page.locator('#state[data-state="crashed"]').waitFor({ timeout: 2_000 });
    expect(Date.now() - killed).toBeLessThan(2_000);
    await live.page.locator('#send-why', { hasText: 'alice crashed (signal SIGKILL); the core restarts it shortly' }).waitFor({ timeout: 2_000 });
    expect(await live.page.locator('form.send textarea').isDisabled()).toBe(true);
    await live.page.locator('#state[data-state="idle"]').waitFor({ timeout: 20_000 });
    await waitFor('the prompt enabled', async () => !(await live.page.locator('form.send textarea').isDisabled()), 5_000);
    expect(await live.page.locator('#send-why').isHidden()).toBe(true);
  });
});

describe('the page of an agent that is not running', () => {
  test('says so with the state and why (503), follows the core, and turns into the real page when the agent starts', async () => {
    await live.hive.lifecycle.stop('alice');
    const p = await live.browser.newPage({ viewport: VIEWPORT });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    // every request the page makes to alice's own page, with when it was made
    const asked: Array<{ path: string; at: number }> = [];
    const followed: string[] = [];
    p.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/agents/alice/page/')) asked.push({ path, at: Date.now() });
      if (path === '/agents/alice/status') followed.push(r.headers().accept ?? '');
    });
    try {
      const res = await p.goto(live.url + '/agents/alice/page/');
      expect(res!.status()).toBe(503);
      expect(await p.locator('#state').getAttribute('data-state')).toBe('offline');
      expect(await p.locator('#offline-why').textContent()).toBe('alice is stopped; start it from the dashboard to send it a message');
      expect(await p.locator('main a[href="/"]').textContent()).toBe('back to the dashboard');
      // following the core's status stream, not the page
      await waitFor('the status stream asked for', () => followed.length > 0, 5_000);

      const starting = Date.now();
      await live.hive.lifecycle.start('alice');
      expect(followed[0]).toContain('text/event-stream');
      // the real page, loaded by itself, its stream live
      await p.locator('#link').waitFor({ state: 'attached', timeout: 20_000 });
      await p.locator('#state[data-state="idle"]').waitFor({ timeout: 10_000 });
      await p.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
      expect(await p.locator('#offline').count()).toBe(0);
      // nothing asked of alice's page while she was stopped but the first load
      expect(asked.filter((a) => a.at < starting).map((a) => a.path)).toEqual(['/agents/alice/page/']);
      expect(errors).toEqual([]);
    } finally {
      await p.close();
    }
  });
});
