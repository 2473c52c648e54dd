/**
 * The shared directory's pages in real headless Chromium: the dashboard's chrome strip, with every
 * item it can carry, stays one line with its `/shared` link; following it lists the directory;
 * a directory and a file open from there, the file's text shown as text (an agent's markup is not
 * run), and the breadcrumbs lead back.
 */
import { expect } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveDashboard } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, ...hooks } = requires('browser /shared', 'chromium', 'git');

const live = liveDashboard(hooks, {
  // a notification URL and an alert: the chrome strip carries all it can
  flags: { 'notify-url': 'http://127.0.0.1:9/hive' },
  seed(hive) {
    hive.alerts.raise('crash_loop', 'manager', 'manager crashed 3 times in a row');
    const shared = hive.layout.sharedDir;
    mkdirSync(join(shared, 'reports'), { recursive: true });
    writeFileSync(join(shared, 'reports', 'week-1.md'), '# week 1\n<img src=x onerror="window.pwned=1">\nall quiet\n');
    writeFileSync(join(shared, 'todo.txt'), 'one\ntwo\n');
  },
});

describe('/shared in a browser', () => {
  test('the chrome strip stays one line with its /shared link', async () => {
    const link = live.page.locator('.chrome a[href="/shared"]');
    expect(await link.isVisible()).toBe(true);
    const box = (await live.page.locator('.chrome').boundingBox())!;
    expect(box.height).toBeLessThanOrEqual(40);
    const centres = await live.page.locator('.chrome > *:not([hidden])').evaluateAll((els) => els.map((e) => (e.getBoundingClientRect().top + e.getBoundingClientRect().bottom) / 2));
    expect(Math.max(...centres) - Math.min(...centres)).toBeLessThanOrEqual(2);
  });

  test('the link lists the directory; a directory and a file open; the text is shown, not run', async () => {
    await live.page.locator('.chrome a[href="/shared"]').click();
    await live.page.waitForURL(`${live.url}/shared`);
    const rows = await live.page.locator('table.shared-list tbody tr').allInnerTexts();
    expect(rows.map((r) => r.split('\t')[0])).toEqual(['reports/', 'todo.txt']);
    await live.page.locator('a[href="/shared/reports"]').click();
    await live.page.waitForURL(`${live.url}/shared/reports`);
    await live.page.locator('a[href="/shared/reports/week-1.md"]').click();
    await live.page.waitForURL(`${live.url}/shared/reports/week-1.md`);
    expect(await live.page.locator('pre.shared-text').innerText()).toBe('# week 1\n<img src=x onerror="window.pwned=1">\nall quiet\n');
    expect(await live.page.locator('pre.shared-text img').count()).toBe(0);
    expect(await live.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await live.page.locator('.crumbs a[href="/shared"]').click();
    await live.page.waitForURL(`${live.url}/shared`);
    await live.page.locator('.chrome a[href="/"]').click();
    await live.page.waitForURL(`${live.url}/`);
    expect(live.errors).toEqual([]);
  });
});
