/**
 * The dashboard across a core restart, in real headless Chromium against the real `hive core serve`
 * process listening beyond loopback with an operator token. The page gets in once with `?token=`,
 * keeps its session cookie across the restart, shows that the link is down while the core is
 * away, and when it reconnects catches up on what it missed (messages, each exactly once, and agent
 * state) without a reload.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctlJson, startCoreProcess, tempDir } from '../support/hive.ts';
import { launchChromium, showTab, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('browser restart', 'chromium', 'git');

setDefaultTimeout(120_000);

const TOKEN = 'restart-test-token-0123456789';
const PORT = 19100 + Math.floor(Math.random() * 800);
const FLAGS = ['--no-manager'];
let dir: string;
let env: Record<string, string>;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
let browser: Browser;
let page: Page;

const start = () => startCoreProcess(dir, [...FLAGS, '--token-file', join(dir, 'token')], env, { host: '0.0.0.0', port: PORT });

beforeAll(async () => {
  dir = tempDir('hv-rs-');
  writeFileSync(join(dir, 'token'), TOKEN + '\n');
  env = { HIVE_OPERATOR_TOKEN: '' };
  core = await start();
  ctlJson(dir, 'spawn', 'bob');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: VIEWPORT });
});

afterAll(async () => {
  await browser?.close();
  await core?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard across a core restart', () => {
  test('without the token the page says how to get in; ?token= once opens it and leaves no token in the address', async () => {
    const denied = await page.goto(`http://127.0.0.1:${PORT}/`);
    expect(denied!.status()).toBe(401);
    expect(await page.textContent('body')).toContain('this dashboard needs the operator token');
    await page.goto(`http://127.0.0.1:${PORT}/?token=${TOKEN}`);
    expect(page.url()).toBe(`http://127.0.0.1:${PORT}/`);
    await page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
    await page.locator('#agent-bob[data-status="idle"]').waitFor({ timeout: 20_000 });
  });

  test('the core restarts while the page is open: it shows the link down, reconnects, and catches up exactly once', async () => {
    await page.evaluate(() => ((window as any).__marker = 'same page'));
    await showTab(page, 'flow');
    const before = ctlJson(dir, 'send', 'bob', 'before the restart').id as number;
    await page.locator(`#msg-${before}`).waitFor({ timeout: 10_000 });

    // hold the page's reconnects back until the restarted core has moved on without it
    await page.route('**/events**', (route) => route.abort());
    await core.stop();
    await page.locator('#live.down').waitFor({ timeout: 10_000 });
    core = await start();
    const missed = [ctlJson(dir, 'send', 'bob', 'missed while away 1').id as number, ctlJson(dir, 'send', 'bob', 'missed while away <2>').id as number];
    ctlJson(dir, 'stop', 'bob');
    await page.unroute('**/events**');

    await page.locator('#live:not(.down)').waitFor({ timeout: 60_000 });
    for (const id of missed) await page.locator(`#msg-${id}`).waitFor({ timeout: 10_000 });
    await showTab(page, 'swarm');
    await page.locator('#agent-bob[data-status="offline"]').waitFor({ timeout: 10_000 });
    for (const id of [before, ...missed]) expect(await page.locator(`#msg-${id}`).count()).toBe(1);
    expect(await page.locator(`#msg-${missed[1]} .preview`).textContent()).toBe('missed while away <2>');
    expect(await page.evaluate(() => (window as any).__marker)).toBe('same page');

    // and it is live again
    await showTab(page, 'flow');
    const after = ctlJson(dir, 'send', 'bob', 'after the reconnect').id as number;
    await page.locator(`#msg-${after}`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`#msg-${after}`).count()).toBe(1);
  });
});
