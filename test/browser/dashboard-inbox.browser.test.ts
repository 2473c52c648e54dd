/**
 * The operator inbox in real headless Chromium: a message to the operator puts the waiting count
 * in the page title and on the favicon, and marking it read drops the count again, through the
 * live stream alone.
 */
import { expect } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { gotoLive, launchChromium, serveDashboard, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser dashboard inbox', 'chromium', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let browser: Browser;
let page: Page;
let url: string;
const errors: string[] = [];

beforeAll(async () => {
  t = await openTestHive();
  ({ app, url } = serveDashboard(t.hive));
  browser = await launchChromium();
  page = await gotoLive(await browser.newPage({ viewport: VIEWPORT }), url, errors);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  await t?.close();
});

const title = (want: string) => waitFor(`the title "${want}"`, async () => (await page.title()) === want, 10_000);
const iconHref = () => page.locator('link[rel="icon"]').getAttribute('href');

describe('the operator inbox in a browser', () => {
  test('the title shows what waits, and drops after mark read', async () => {
    expect(await page.title()).toBe('hyperhive');
    await showTab(page, 'inbox');
    const m = t.hive.broker.send('manager', 'operator', 'the operator is needed');
    await title('(1) hyperhive');
    await page.locator(`#inbox-${m.id}.unread`).waitFor({ timeout: 10_000 });
    await waitFor('the favicon badge', async () => (await iconHref())?.startsWith('data:image/png'), 10_000);

    const a = t.hive.gate.requestSpawn('manager', 'wai');
    await title('(2) hyperhive');
    await t.hive.gate.deny(a.id);
    await title('(1) hyperhive');

    await page.locator(`#inbox-${m.id}`).getByRole('button', { name: `mark message ${m.id} read` }).click();
    await page.locator('.toast', { hasText: `marked #${m.id} read` }).waitFor({ timeout: 10_000 });
    await title('hyperhive');
    await page.locator(`#inbox-${m.id}.read`).waitFor({ timeout: 10_000 });
    expect(await iconHref()).toBe('/static/favicon.svg');
    expect(t.hive.inbox.unread()).toBe(0);
  });

  test('reply inline: the reply goes to the sender', async () => {
    await t.hive.lifecycle.spawn('bob', { start: false });
    const m = t.hive.broker.send('bob', 'operator', 'may I?');
    await title('(1) hyperhive');
    const item = page.locator(`#inbox-${m.id}`);
    await item.locator('summary').click();
    await item.getByRole('textbox', { name: `reply to message ${m.id} from bob` }).fill('yes');
    await item.getByRole('button', { name: 'reply' }).click();
    await page.locator('.toast', { hasText: 'to bob' }).waitFor({ timeout: 10_000 });
    await title('hyperhive');
    expect(t.hive.broker.list({ agent: 'bob' }).at(-1)).toMatchObject({ from: 'operator', to: 'bob', body: 'yes' });
    expect(errors).toEqual([]);
  });
});
