/**
 * Browser-test plumbing shared by `test/browser/*`: Debian's Chromium launched headless through
 * playwright-core, a hive's dashboard served on a free loopback port, a page opened on it once its
 * live stream is up, and the dashboard's tabs.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import type { Hive } from '../../src/core/hive.ts';
import type { DashboardTab } from '../../views/dashboard/index.tsx';
import { chromiumPath } from './prereq.ts';

/** Flags for a test Chromium: no sandbox (tests run as root), no GPU, no background traffic. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The viewport every browser test uses, CSS pixels. */
export const VIEWPORT = { width: 1280, height: 800 };

/** Launches the Chromium that `requires(…, 'chromium')` found, headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/** Serves `hive`'s dashboard on 127.0.0.1 at a free port. Stop it with `app.stop(true)`. */
export function serveDashboard(hive: Hive): { app: ReturnType<typeof createDashboard>; url: string } {
  const app = createDashboard(hive);
  app.listen({ hostname: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${app.server!.port}` };
}

/**
 * Loads `url` in `page`, recording its uncaught errors into `errors`, and resolves once the live
 * stream is connected (the chrome strip's `#live` indicator is up).
 * @throws playwright's timeout error when the stream is not up within 10 s.
 */
export async function gotoLive(page: Page, url: string, errors: string[]): Promise<Page> {
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.locator('#live:not(.down)').waitFor({ timeout: 10_000 });
  return page;
}

/**
 * Shows the dashboard's tab `name` by clicking `#tab-<name>`, and resolves once its pane
 * `#pane-<name>` is visible. An element in a hidden pane is attached (live updates reach it) but not
 * visible, so a test shows its tab before waiting for it to be visible or clicking it.
 * @throws playwright's timeout error when the pane does not show within 5 s.
 */
export async function showTab(page: Page, name: DashboardTab): Promise<void> {
  await page.locator(`#tab-${name}`).click();
  await page.locator(`#pane-${name}`).waitFor({ state: 'visible', timeout: 5_000 });
}
