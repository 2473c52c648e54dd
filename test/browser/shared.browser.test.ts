/**
 * The shared directory's pages in real headless Chromium: the dashboard's chrome strip, with every
 * item it can carry, stays one line with its `/shared` link; following it lists the directory;
 * a directory and a file open from there, the file's text shown as text (an agent's markup is not
 * run), and the breadcrumbs lead back.
 */
import { expect } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive } from '../support/hive.ts';
import { gotoLive, launchChromium, serveDashboard, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser /shared', 'chromium', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let browser: Browser;
let page: Page;
let url: string;
const errors: string[] = [];

beforeAll(async () => {
  // a notification URL and an alert: the chrome strip carries all it can
  t = await openTestHive({ 'notify-url': 'http://127.0.0.1:9/hive' });
  t.hive.alerts.raise('crash_loop', 'manager', 'manager crashed 3 times in a row');
  const shared = t.hive.layout.sharedDir;
  mkdirSync(join(shared, 'reports'), { recursive: true });
  writeFileSync(join(shared, 'reports', 'week-1.md'), '# week 1\n<img src=x onerror="window.pwned=1">\nall quiet\n');
  writeFileSync(join(shared, 'todo.txt'), 'one\ntwo\n');
  ({ app, url } = serveDashboard(t.hive));
  browser = await launchChromium();
  page = await gotoLive(await browser.newPage({ viewport: VIEWPORT }), url, errors);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  await t?.close();
});

describe('/shared in a browser', () => {
  test('the chrome strip stays one line with its /shared link', async () => {
    const link = page.locator('.chrome a[href="/shared"]');
    expect(await link.isVisible()).toBe(true);
    const box = (await page.locator('.chrome').boundingBox())!;
    expect(box.height).toBeLessThanOrEqual(40);
    const centres = await page.locator('.chrome > *:not([hidden])').evaluateAll((els) => els.map((e) => (e.getBoundingClientRect().top + e.getBoundingClientRect().bottom) / 2));
    expect(Math.max(...centres) - Math.min(...centres)).toBeLessThanOrEqual(2);
  });

  test('the link lists the directory; a directory and a file open; the text is shown, not run', async () => {
    await page.locator('.chrome a[href="/shared"]').click();
    await page.waitForURL(`${url}/shared`);
    const rows = await page.locator('table.shared-list tbody tr').allInnerTexts();
    expect(rows.map((r) => r.split('\t')[0])).toEqual(['reports/', 'todo.txt']);
    await page.locator('a[href="/shared/reports"]').click();
    await page.waitForURL(`${url}/shared/reports`);
    await page.locator('a[href="/shared/reports/week-1.md"]').click();
    await page.waitForURL(`${url}/shared/reports/week-1.md`);
    expect(await page.locator('pre.shared-text').innerText()).toBe('# week 1\n<img src=x onerror="window.pwned=1">\nall quiet\n');
    expect(await page.locator('pre.shared-text img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await page.locator('.crumbs a[href="/shared"]').click();
    await page.waitForURL(`${url}/shared`);
    await page.locator('.chrome a[href="/"]').click();
    await page.waitForURL(`${url}/`);
    expect(errors).toEqual([]);
  });
});
