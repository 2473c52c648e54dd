/**
 * The login page in real headless Chromium, with the scripted model stand-in as the upstream
 * accepting one key: the chrome strip's link leads there; a bad key shows the upstream's refusal
 * in the form; a good one shows the masked status (and never the key); check again; a post with a
 * stale CSRF token changes nothing; log out.
 */
import { expect } from 'bun:test';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { startModelServer, type ModelServer } from '../support/model-server.ts';
import { openTestHive } from '../support/hive.ts';
import { gotoLive, launchChromium, serveDashboard, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser login', 'chromium', 'git');

const GOOD = 'sk-ant-api03-browser-good-key-0123456789-9f8e';
const BAD = 'sk-ant-api03-browser-bad-key-0000';

let model: ModelServer;
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let browser: Browser;
let page: Page;
let url: string;
const errors: string[] = [];

beforeAll(async () => {
  model = await startModelServer(() => [{ type: 'text', text: 'ok' }], { keys: [GOOD] });
  t = await openTestHive({}, { ANTHROPIC_BASE_URL: model.url });
  ({ app, url } = serveDashboard(t.hive));
  browser = await launchChromium();
  page = await gotoLive(await browser.newPage({ viewport: VIEWPORT }), url, errors);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop(true);
  await t?.close();
  await model?.close();
});

/** Types `secret` into the login form and submits it. */
async function submit(secret: string): Promise<void> {
  await page.locator('#login-form input[name="secret"]').fill(secret);
  await page.locator('#login-form button[type="submit"]').click();
}

describe('the login page in a browser', () => {
  test('the chrome strip says there is no model key and links to the login page', async () => {
    const link = page.locator('#login-link');
    expect(await link.textContent()).toBe('▲ no model key');
    await link.click();
    await page.waitForURL(`${url}/login`);
    await page.locator('#login-in-use[data-source="none"]').waitFor({ timeout: 5_000 });
    expect(await page.locator('#logout').count()).toBe(0);
  });

  test("a bad key: the upstream's refusal shows in the form, and nothing is kept", async () => {
    await submit(BAD);
    const error = page.locator('#login-form #login-notice .error');
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toBe('not kept: upstream 401: authentication_error: invalid x-api-key');
    expect(await page.locator('#login-in-use').getAttribute('data-source')).toBe('none');
    expect(existsSync(t.hive.layout.credentialsFile)).toBe(false);
  });

  test('a good key: the status shows it masked, checked; the key itself is nowhere on the page', async () => {
    await submit(GOOD);
    await page.locator('#login-in-use[data-source="stored"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#login-in-use').textContent()).toContain('API key …9f8e');
    expect(await page.locator('#login-check').textContent()).toContain('✓ upstream 200: accepted');
    expect(await page.locator('#login-notice .notice.ok').textContent()).toContain('API key …9f8e accepted');
    expect(await page.locator('#login-form input[name="secret"]').inputValue()).toBe('');
    expect(await page.content()).not.toContain(GOOD);
    expect(t.hive.credentials.status().inUse).toBe('stored');

    await page.locator('#login-recheck').click();
    await page.locator('#login-notice .notice.ok', { hasText: 'the credentials in use pass' }).waitFor({ timeout: 10_000 });
  });

  test('the dashboard shows the masked key in its chrome strip', async () => {
    await page.locator('a', { hasText: '← dashboard' }).click();
    await page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
    expect(await page.locator('#login-link').textContent()).toBe('model key: API key …9f8e');
    await page.locator('#login-link').click();
    await page.waitForURL(`${url}/login`);
  });

  test("a post the dashboard's own checks refuse (a stale CSRF token) leaves the form in place and says why in a toast", async () => {
    await page.evaluate(() => document.querySelector('meta[name="csrf-token"]')!.setAttribute('content', 'stale'));
    await page.locator('#logout').click();
    await page.locator('.toast.bad', { hasText: 'no valid CSRF token' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#login-form').count()).toBe(1);
    expect(await page.locator('#login-in-use').getAttribute('data-source')).toBe('stored');
    expect(existsSync(t.hive.layout.credentialsFile)).toBe(true);
    await page.reload();
  });

  test('log out: the file is gone and the page says no credentials are in use', async () => {
    await page.locator('#logout').click();
    await page.locator('#login-in-use[data-source="none"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#login-notice .notice.ok').textContent()).toContain('logged out');
    expect(await page.locator('#logout').count()).toBe(0);
    expect(existsSync(t.hive.layout.credentialsFile)).toBe(false);
    expect(errors).toEqual([]);
  });
});
