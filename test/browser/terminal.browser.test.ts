/**
 * The agent's terminal in real headless Chromium: alice's page opened through the dashboard's proxy,
 * served by her real harness; the terminal panel's xterm.js attached over the dashboard's WebSocket
 * to a real shell on a real PTY. Nothing runs until connect is pressed; a command typed into the
 * terminal shows its output in the xterm DOM and buffer; a narrower window resizes the shell's
 * terminal; a dashboard restart drops the connection and the page reconnects to the same shell,
 * saying so; closing ends the shell and connect starts a new one.
 */
import { expect } from 'bun:test';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, serveDashboard, VIEWPORT } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';
import { screenshotPath } from '../support/screenshots.ts';
import { terminalProcesses } from '../e2e/terminal-suite.ts';

const { describe, test, ...hooks } = requires('browser agent terminal', 'chromium', 'git');

const live = liveDashboard(hooks, { seed: (hive) => hive.lifecycle.spawn('alice'), page: { path: '/agents/alice/page/', served: true } });

/** Serves the dashboard again on the port it had, where the page looks for it (after a test stopped it). */
function serve(): void {
  live.app = serveDashboard(live.hive, Number(new URL(live.url).port)).app;
}

const panel = () => live.page.locator('[data-terminal]');
const status = () => panel().locator('[data-term-status]');

/** The xterm.js buffer's lines, as text (what the terminal holds, scrolled out of view or not). */
function bufferText(): Promise<string> {
  return live.page.evaluate(() => {
    const term = (window as any).hiveTerminal.panels[0].term;
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  });
}

/** The terminal's size as xterm.js has it. */
function termSize(): Promise<{ cols: number; rows: number }> {
  return live.page.evaluate(() => {
    const term = (window as any).hiveTerminal.panels[0].term;
    return { cols: term.cols, rows: term.rows };
  });
}

/** Types `line` into the terminal and presses Enter. */
async function typeLine(line: string): Promise<void> {
  await live.page.keyboard.type(line);
  await live.page.keyboard.press('Enter');
}

/** Waits until the terminal's buffer matches `re`. */
function bufferShows(re: RegExp, ms = 15_000) {
  return waitFor(`the terminal to show ${re}`, async () => re.test(await bufferText()), ms);
}

/** Waits until the status line contains `text`. */
function statusSays(text: string, ms = 15_000) {
  return waitFor(`the status to say "${text}"`, async () => ((await status().textContent()) ?? '').includes(text), ms).catch(async (err) => {
    throw new Error(`${(err as Error).message}; it says: ${await status().textContent()}`);
  });
}

describe("the terminal on alice's page", () => {
  test('starts nothing until connect is pressed', async () => {
    expect(await panel().getByRole('button', { name: 'connect' }).isVisible()).toBe(true);
    expect(await panel().getByRole('button', { name: 'close' }).isHidden()).toBe(true);
    expect(await status().textContent()).toContain('a shell starts when you connect');
    expect(await panel().locator('[data-term-screen]').isHidden()).toBe(true);
    expect(await live.page.evaluate(() => (window as any).hiveTerminal.panels[0].ws)).toBeNull();
  });

  test('connects, runs a command and shows its output in the xterm DOM and buffer', async () => {
    await panel().getByRole('button', { name: 'connect' }).click();
    await statusSays(`connected: /bin/bash as `);
    expect(await status().textContent()).toContain(live.hive.layout.agent('alice').state);
    await panel().locator('.xterm').click();
    await typeLine('echo hi-$((6*7))');
    await bufferShows(/^hi-42$/m);
    await waitFor('the xterm DOM to show hi-42', async () => ((await panel().locator('.xterm-rows').textContent()) ?? '').includes('hi-42'));
    await panel().screenshot({ path: screenshotPath('agent-terminal.png') });
    expect(live.errors).toEqual([]);
  });

  test('a narrower window resizes the shell’s terminal', async () => {
    const before = await termSize();
    await typeLine('stty size');
    await bufferShows(new RegExp(`^${before.rows} ${before.cols}$`, 'm'));
    await live.page.setViewportSize({ width: 760, height: VIEWPORT.height });
    await waitFor('xterm.js to fit the narrower panel', async () => (await termSize()).cols < before.cols - 10);
    const after = await termSize();
    await typeLine('clear; stty size');
    await bufferShows(new RegExp(`^${after.rows} ${after.cols}$`, 'm'));
    await live.page.setViewportSize(VIEWPORT);
    await waitFor('xterm.js to fit the wider panel again', async () => (await termSize()).cols === before.cols);
  });

  test('a dropped connection reconnects to the same shell, and the status says so', async () => {
    await typeLine('MARK=still-$((40+2))');
    const id = await live.page.evaluate(() => (window as any).hiveTerminal.panels[0].id);
    await live.app.stop(true);
    await statusSays('connection lost');
    serve();
    await statusSays('reconnected to the same shell', 30_000);
    expect(await live.page.evaluate(() => (window as any).hiveTerminal.panels[0].id)).toBe(id);
    await panel().locator('.xterm').click();
    await typeLine('echo "mark=$MARK"');
    await bufferShows(/^mark=still-42$/m);
  });

  test('close ends the shell; connect starts a new one', async () => {
    const id = await live.page.evaluate(() => (window as any).hiveTerminal.panels[0].id);
    expect(terminalProcesses(id).length).toBeGreaterThan(0);
    await panel().getByRole('button', { name: 'close' }).click();
    await statusSays('closed; the shell was ended');
    await waitFor('the shell to end', () => terminalProcesses(id).length === 0);
    await panel().getByRole('button', { name: 'connect a new shell' }).click();
    await statusSays('connected: ');
    const fresh = await live.page.evaluate(() => (window as any).hiveTerminal.panels[0].id);
    expect(fresh).not.toBe(id);
    await panel().locator('.xterm').click();
    await typeLine('echo "mark=[$MARK]"');
    await bufferShows(/^mark=\[\]$/m);
    expect(live.errors).toEqual([]);
  });
});
