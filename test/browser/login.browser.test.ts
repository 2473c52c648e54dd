/**
 * The login page in real headless Chromium, with the scripted model stand-in as the upstream
 * accepting one key: the chrome strip's link leads there; a bad key shows the upstream's refusal
 * in the form; a good one shows the masked status (and never the key); check again; a post with a
 * stale CSRF token changes nothing; log out.
 */
import { expect } from 'bun:test';
import { existsSync } from 'node:fs';
import { startModelServer, type ModelServer } from '../support/model-server.ts';
import { liveDashboard } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';
import { screenshotPath } from '../support/screenshots.ts';

const { describe, test, beforeAll, afterAll } = requires('browser login', 'chromium', 'git');

const GOOD = 'sk-ant-api03-browser-good-key-0123456789-9f8e';
const BAD = 'sk-ant-api03-browser-bad-key-0000';

// the upstream starts before the hive that uses it and closes after it
let model: ModelServer;
beforeAll(async () => {
  model = await startModelServer(() => [{ type: 'text', text: 'ok' }], { keys: [GOOD] });
});
const live = liveDashboard({ beforeAll, afterAll }, { env: () => ({ ANTHROPIC_BASE_URL: model.url }) });
afterAll(async () => {
  await model?.close();
});

/** Types `secret` into the login form and submits it. */
async function submit(secret: string): Promise<void> {
  await live.page.locator('#login-form input[name="secret"]').fill(secret);
  await live.page.locator('#login-form button[type="submit"]').click();
}

describe('the login page in a browser', () => {
  test('the chrome strip says there is no model key and links to the login page', async () => {
    const link = live.page.locator('#login-link');
    expect(await link.textContent()).toBe('▲ no model key');
    await link.click();
    await live.page.waitForURL(`${live.url}/login`);
    await live.page.locator('#login-in-use[data-source="none"]').waitFor({ timeout: 5_000 });
    expect(await live.page.locator('#logout').count()).toBe(0);
  });

  test("a bad key: the upstream's refusal shows in the form, and nothing is kept", async () => {
    await submit(BAD);
    const error = live.page.locator('#login-form #login-notice .error');
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toBe('not kept: upstream 401: authentication_error: invalid x-api-key');
    expect(await live.page.locator('#login-in-use').getAttribute('data-source')).toBe('none');
    expect(existsSync(live.hive.layout.credentialsFile)).toBe(false);
  });

  test('a good key: the status shows it masked, checked; the key itself is nowhere on the page', async () => {
    await submit(GOOD);
    await live.page.locator('#login-in-use[data-source="stored"]').waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#login-in-use').textContent()).toContain('API key …9f8e');
    expect(await live.page.locator('#login-check').textContent()).toContain('✓ upstream 200: accepted');
    expect(await live.page.locator('#login-notice .notice.ok').textContent()).toContain('API key …9f8e accepted');
    expect(await live.page.locator('#login-form input[name="secret"]').inputValue()).toBe('');
    expect(await live.page.content()).not.toContain(GOOD);
    expect(live.hive.credentials.status().inUse).toBe('stored');
    await live.page.screenshot({ path: screenshotPath('login.png') });

    await live.page.locator('#login-recheck').click();
    await live.page.locator('#login-notice .notice.ok', { hasText: 'the credentials in use pass' }).waitFor({ timeout: 10_000 });
  });

  test('the dashboard shows the masked key in its chrome strip', async () => {
    await live.page.locator('a', { hasText: '← dashboard' }).click();
    await live.page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#login-link').textContent()).toBe('model key: API key …9f8e');
    await live.page.locator('#login-link').click();
    await live.page.waitForURL(`${live.url}/login`);
  });

  test("a post the dashboard's own checks refuse (a stale CSRF token) leaves the form in place and says why in a toast", async () => {
    await live.page.evaluate(() => document.querySelector('meta[name="csrf-token"]')!.setAttribute('content', 'stale'));
    await live.page.locator('#logout').click();
    await live.page.locator('.toast.bad', { hasText: 'no valid CSRF token' }).waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#login-form').count()).toBe(1);
    expect(await live.page.locator('#login-in-use').getAttribute('data-source')).toBe('stored');
    expect(existsSync(live.hive.layout.credentialsFile)).toBe(true);
    await live.page.reload();
  });

  test('log out: the file is gone and the page says no credentials are in use', async () => {
    await live.page.locator('#logout').click();
    await live.page.locator('#login-in-use[data-source="none"]').waitFor({ timeout: 10_000 });
    expect(await live.page.locator('#login-notice .notice.ok').textContent()).toContain('logged out');
    expect(await live.page.locator('#logout').count()).toBe(0);
    expect(existsSync(live.hive.layout.credentialsFile)).toBe(false);
    expect(live.errors).toEqual([]);
  });
});
