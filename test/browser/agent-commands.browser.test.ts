/**
 * The agent page's slash commands in real headless Chromium: alice's page opened through the
 * dashboard's proxy, served by her real harness, with real `claude` turns against the scripted
 * Messages API. Typing `/help` in the prompt box answers with the commands (a toast and a tail row)
 * and asks the model nothing; typing `/clear` after a turn shows the session boundary in the tail;
 * the "compact session" button asks for a second click (and can be disarmed), then runs Claude
 * Code's compaction and shows it; the "compact notes" button rewrites notes.md and keeps the old
 * version.
 */
import { expect } from 'bun:test';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { isMainTurn, lastUserText, startModelServer, systemText, type ModelServer } from '../support/model-server.ts';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, sendPrompt } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser agent commands', 'chromium', 'git');

// the scripted model starts before the hive that uses it and closes after it
let model: ModelServer;
beforeAll(async () => {
  model = await startModelServer((req) => {
    if (systemText(req.body).includes('You rewrite the notes of alice'))
      return [{ type: 'text', text: '<notes>\n# alice, compacted\n\n- the plan: ship it\n</notes>' }];
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    if (lastUserText(req.body).includes('create a detailed summary of the conversation so far'))
      return [{ type: 'text', text: '<analysis>a</analysis>\n<summary>what was said</summary>' }];
    return [{ type: 'text', text: 'noted' }];
  });
});
const live = liveDashboard({ beforeAll, afterAll }, {
  env: () => model.env,
  seed: (hive) => hive.lifecycle.spawn('alice'),
  page: { path: '/agents/alice/page/', served: true },
});
afterAll(async () => {
  await model?.close();
});


/** Waits for a toast holding `text`. */
const toastWith = (p: Page, text: string) => p.locator('#toasts .toast', { hasText: text }).first().waitFor({ timeout: 20_000 });

/** Sends a message and waits until its turn has ended in the tail. */
async function turnOnPage(p: Page, text: string): Promise<void> {
  const ends = await p.locator('#tail [data-kind="turn_end"]').count();
  await sendPrompt(p, text);
  await waitFor('the turn to end in the tail', async () => (await p.locator('#tail [data-kind="turn_end"]').count()) > ends, 60_000);
}

describe('slash commands typed in the prompt box', () => {
  test('/help answers with the commands as a toast and in the tail, and asks the model nothing', async () => {
    const before = model.requests.length;
    await sendPrompt(live.page, '/help');
    await toastWith(live.page, '/compact-notes');
    const row = live.page.locator('#tail [data-kind="command"]', { hasText: '/help' }).last();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('/model [NAME | reset]');
    expect(model.requests.length).toBe(before);
  });

  test('/clear after a turn: the tail shows the new session’s boundary', async () => {
    await turnOnPage(live.page, 'hello alice');
    await sendPrompt(live.page, '/clear');
    await toastWith(live.page, 'session cleared: the next turn starts a new one');
    const boundary = live.page.locator('#tail [data-kind="session"]').last();
    await boundary.waitFor({ timeout: 10_000 });
    expect(await boundary.textContent()).toContain('new session');
  });
});

describe('the compact button', () => {
  test('asks for a second click, can be disarmed, then compacts the session and shows it', async () => {
    await turnOnPage(live.page, 'something worth keeping');
    const first = live.page.locator('form.command[data-command="compact"] button');
    await first.click();
    const armed = live.page.locator('form.confirm[data-command="compact"]');
    await armed.waitFor({ timeout: 10_000 });
    expect(await armed.locator('button.armed').textContent()).toContain('compact session? click to confirm');
    await armed.locator('button.disarm').click();
    await first.waitFor({ timeout: 10_000 });
    expect(await armed.count()).toBe(0);

    const before = model.requests.length;
    await first.click();
    await armed.locator('button.armed').click();
    await toastWith(live.page, 'session compacted');
    const boundary = live.page.locator('#tail [data-kind="session"]', { hasText: 'compacted' }).last();
    await boundary.waitFor({ timeout: 10_000 });
    await first.waitFor({ timeout: 10_000 });
    expect(model.requests.slice(before).filter((r) => lastUserText(r.body).includes('create a detailed summary'))).toHaveLength(1);
    expect(live.errors).toEqual([]);
  });
});

describe('the compact notes button', () => {
  test('rewrites notes.md after a second click, keeps the previous version, and says so', async () => {
    const state = live.hive.layout.agent('alice').state;
    const original = `# alice\n\n${'- an old line that says little\n'.repeat(200)}- the plan: ship it\n`;
    writeFileSync(join(state, 'notes.md'), original);
    await live.page.locator('form.command[data-command="compact-notes"] button').click();
    await live.page.locator('form.confirm[data-command="compact-notes"] button.armed').click();
    await toastWith(live.page, 'notes.md compacted from');
    await live.page.locator('#tail [data-kind="job"]', { hasText: 'notes.md compacted from' }).last().waitFor({ timeout: 10_000 });
    expect(readFileSync(join(state, 'notes.md'), 'utf8')).toBe('# alice, compacted\n\n- the plan: ship it\n');
    const copies = readdirSync(join(state, '.hive', 'notes'));
    expect(copies).toHaveLength(1);
    expect(readFileSync(join(state, '.hive', 'notes', copies[0]!), 'utf8')).toBe(original);
    expect(live.errors).toEqual([]);
  });
});
