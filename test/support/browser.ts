/**
 * Browser-test plumbing shared by `test/browser/*`: Debian's Chromium launched headless through
 * playwright-core, a hive's dashboard served on a loopback port, a page opened on it once its
 * live stream is up, all of that set up and torn down for a suite ({@link liveDashboard}), and the
 * dashboard's tabs.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import type { Hive } from '../../src/core/hive.ts';
import type { CoreFlags } from '../../src/core/settings.ts';
import type { DashboardTab } from '../../views/dashboard/index.tsx';
import { openTestHive, waitFor } from './hive.ts';
import { chromiumPath, type Gated } from './prereq.ts';

/** Flags for a test Chromium: no sandbox (tests run as root), no GPU, no background traffic. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The viewport every browser test uses, CSS pixels. */
export const VIEWPORT = { width: 1280, height: 800 };

/** Launches the Chromium that `requires(…, 'chromium')` found, headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/** The dashboard app {@link serveDashboard} serves. */
export type DashboardApp = ReturnType<typeof createDashboard>;

/**
 * Serves `hive`'s dashboard on 127.0.0.1 at `port` (default: a free one; the same one again to
 * bring a stopped dashboard back where its pages look for it). Stop it with `app.stop(true)`.
 */
export function serveDashboard(hive: Hive, port = 0): { app: DashboardApp; url: string } {
  const app = createDashboard(hive);
  app.listen({ hostname: '127.0.0.1', port });
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

/** Types `text` into an agent page's prompt box and sends it (the page's own send button). */
export async function sendPrompt(p: Page, text: string): Promise<void> {
  await p.getByRole('textbox', { name: 'message' }).fill(text);
  await p.locator('form.send button[type="submit"]').click();
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

/** What {@link liveDashboard} sets up; every field is filled once the suite's `beforeAll` ran. */
export interface LiveDashboard {
  /** The test hive ({@link openTestHive}) and its data dir. */
  hive: Hive;
  dir: string;
  /**
   * The dashboard and where it is served (`http://127.0.0.1:<port>`, no trailing slash). A test
   * that stops the dashboard and serves it again puts the new app here; teardown stops that one.
   */
  app: DashboardApp;
  url: string;
  /** The headless Chromium, for any further pages or contexts a test opens (closed with it). */
  browser: Browser;
  /** The page opened on `url` + `page.path`, its live stream up; unset with `page: false`. */
  page: Page;
  /** The page's uncaught errors, as {@link gotoLive} records them. */
  errors: string[];
}

/** How {@link liveDashboard} sets up. */
export interface LiveDashboardOptions {
  /** Core flags for {@link openTestHive} (default: no manager, the `process` runtime). */
  flags?: CoreFlags;
  /**
   * The core's environment. A function is called in `beforeAll`, so it can use what an earlier
   * hook made (a model server's `env`).
   */
  env?: Record<string, string> | (() => Record<string, string>);
  /** Fills the hive (in `dir`) before the dashboard is served; awaited. */
  seed?: (hive: Hive, dir: string) => unknown;
  /**
   * The page to open, or false for none. `path` is appended to the dashboard's URL (default: none,
   * the dashboard itself); `served` first waits (up to 30 s) until that address answers 200, as an
   * agent's page does once her harness is up; `before` gets the page before it loads (to listen
   * to it).
   */
  page?: false | { path?: string; served?: boolean; before?: (page: Page) => unknown };
}

/**
 * Sets up a browser suite on a live dashboard and tears it down, through the `beforeAll` and
 * `afterAll` of `hooks` (what `requires()` returned, so a suite whose prerequisites are missing
 * skips without setting anything up):
 *
 * ```ts
 * const { describe, test, ...hooks } = requires('browser inbox', 'chromium', 'git');
 * const live = liveDashboard(hooks, { flags?, env?, seed?, page? });
 * test('…', async () => { live.hive.broker.send(…); await live.page.locator(…).waitFor(); });
 * ```
 *
 * `beforeAll` opens a test hive with `flags` and `env`, runs `seed(hive, dir)`, serves the
 * dashboard ({@link serveDashboard}), launches Chromium and opens a {@link VIEWPORT}-sized page on
 * it with {@link gotoLive}; `afterAll` closes the browser, stops the dashboard and closes (and
 * removes) the hive. Hooks the file registers before this call run before this setup and
 * teardown, those registered after it run after (Bun runs both kinds in the order registered):
 * a model server started in an earlier `beforeAll` is up when `env()` is called, and one closed in
 * a later `afterAll` outlives the hive.
 * @returns the {@link LiveDashboard}, empty until `beforeAll` ran.
 */
export function liveDashboard(hooks: Pick<Gated, 'beforeAll' | 'afterAll'>, o: LiveDashboardOptions = {}): LiveDashboard {
  const live = { errors: [] as string[] } as LiveDashboard;
  let t: Awaited<ReturnType<typeof openTestHive>> | undefined;
  hooks.beforeAll(async () => {
    t = await openTestHive(o.flags, typeof o.env === 'function' ? o.env() : o.env);
    live.hive = t.hive;
    live.dir = t.dir;
    await o.seed?.(t.hive, t.dir);
    ({ app: live.app, url: live.url } = serveDashboard(t.hive));
    const open = o.page === false ? null : (o.page ?? {});
    const at = live.url + (open?.path ?? '');
    if (open?.served) await waitFor(`${at} to be served`, async () => (await fetch(at)).status === 200, 30_000);
    live.browser = await launchChromium();
    if (!open) return;
    const page = await live.browser.newPage({ viewport: VIEWPORT });
    await open.before?.(page);
    live.page = await gotoLive(page, at, live.errors);
  });
  hooks.afterAll(async () => {
    await live.browser?.close();
    await live.app?.stop(true);
    await t?.close();
  });
  return live;
}
