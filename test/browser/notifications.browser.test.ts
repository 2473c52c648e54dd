/**
 * Browser notifications in real headless Chromium: the "notify me" button shows while the page's
 * notification permission is undecided, asks for permission when clicked and hides once it is
 * granted; with permission granted and the tab hidden, a rise of the live waiting count (a message
 * to the operator, over the stream) constructs one Notification, and a rise while the tab is visible
 * constructs none. (The hidden case also proves the live stream keeps running while the tab is
 * hidden: the SSE extension pauses it there by default, which static/hive.js turns off.)
 *
 * Two init scripts observe the page's own code (static/hive.js) without replacing it: one wraps
 * `window.Notification` so each construction (and each `requestPermission` call) is recorded in
 * `window.__notes` / `window.__asks` before reaching the real API; the other makes
 * `document.visibilityState`/`document.hidden` follow `window.__setHidden(…)`, since a headless tab
 * is always visible.
 */
import { expect } from 'bun:test';
import type { BrowserContext, Page } from 'playwright-core';
import { gotoLive, liveDashboard, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser notifications', 'chromium', 'git');

/** The browser contexts the tests opened, closed before the browser. */
const contexts: BrowserContext[] = [];
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
});
/** Each test opens its own page, in a context of its own. */
const live = liveDashboard({ beforeAll, afterAll }, { page: false });

type Note = { title: string; body?: string; tag?: string };
type Watched = Window & { __notes: Note[]; __asks: number; __setHidden: (hidden: boolean) => void };

function recordNotifications() {
  const w = window as unknown as Watched;
  w.__notes = [];
  w.__asks = 0;
  const Real = window.Notification;
  if (!Real) return;
  class Recorded extends Real {
    constructor(title: string, options?: NotificationOptions) {
      w.__notes.push({ title, body: options?.body, tag: options?.tag });
      super(title, options);
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission, configurable: true });
  Object.defineProperty(Recorded, 'requestPermission', {
    value: (...args: Parameters<typeof Real.requestPermission>) => {
      w.__asks++;
      return Real.requestPermission(...args);
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(window, 'Notification', { value: Recorded, configurable: true, writable: true });
}

function controllableVisibility() {
  const w = window as unknown as Watched;
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible'), configurable: true });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden, configurable: true });
  w.__setHidden = (h: boolean) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

async function open(grant: boolean): Promise<Page> {
  const context = await live.browser.newContext({ viewport: VIEWPORT });
  contexts.push(context);
  if (grant) await context.grantPermissions(['notifications'], { origin: live.url });
  await context.addInitScript(recordNotifications);
  await context.addInitScript(controllableVisibility);
  return gotoLive(await context.newPage(), live.url, live.errors);
}

const titled = (page: Page, want: string) => page.waitForFunction((w) => document.title === w, want, { timeout: 10_000 });
const notes = (page: Page) => page.evaluate(() => (window as unknown as Watched).__notes);

describe('browser notifications', () => {
  test('"notify me" shows while undecided, asks on click, and hides once granted', async () => {
    const page = await open(false);
    expect(await page.evaluate(() => Notification.permission)).toBe('default');
    const button = page.locator('#notify-me');
    await button.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as Watched).__asks)).toBe(0); // never asked on load

    // The operator's answer to the prompt: headless Chromium shows none, so grant it for this origin.
    await page.context().grantPermissions(['notifications'], { origin: live.url });
    await button.click();
    await page.waitForFunction(() => (window as unknown as Watched).__asks === 1, null, { timeout: 10_000 });
    await button.waitFor({ state: 'hidden', timeout: 10_000 });
    await page.locator('.toast', { hasText: 'this tab will notify you while it is hidden' }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
    expect(await notes(page)).toEqual([]);
    await page.context().close();
  });

  test('with permission granted, a rise of the waiting count notifies only while the tab is hidden', async () => {
    const page = await open(true);
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
    expect(await page.locator('#notify-me').isHidden()).toBe(true);
    await titled(page, 'hyperhive');

    // Visible: the count rises in the title, but no notification.
    live.hive.policy.send('manager', 'operator', 'seen while looking');
    await titled(page, '(1) hyperhive');
    expect(await notes(page)).toEqual([]);

    // Hidden: the next rise over the stream constructs one notification.
    await page.evaluate(() => (window as unknown as Watched).__setHidden(true));
    expect(await page.evaluate(() => [document.visibilityState, document.hidden])).toEqual(['hidden', true]);
    live.hive.policy.send('manager', 'operator', 'arrived while away');
    await page.waitForFunction(() => (window as unknown as Watched).__notes.length > 0, null, { timeout: 10_000 });
    await titled(page, '(2) hyperhive');
    expect(await notes(page)).toEqual([{ title: 'hyperhive: 2 waiting', body: '1 new since you looked', tag: 'hyperhive-waiting' }]);

    // Back to visible: a further rise adds none.
    await page.evaluate(() => (window as unknown as Watched).__setHidden(false));
    live.hive.policy.send('manager', 'operator', 'seen again');
    await titled(page, '(3) hyperhive');
    expect((await notes(page)).length).toBe(1);
    expect(live.errors).toEqual([]);
    await page.context().close();
  });
});
