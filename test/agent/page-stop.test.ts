/**
 * Stopping an agent while its page is open is as quick as without: a real core (in this process)
 * and alice's real harness (the `process` runtime), her page's event stream held open through the
 * dashboard's proxy. The harness ends the stream itself as it shuts down, so the stop never waits
 * for the kill timeout (10 s); the page sees a clean end of its stream. See docs/performance.md
 * ("Stopping an agent with its page open").
 */
import { expect } from 'bun:test';
import type { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { serveDashboard } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('agent page stop', 'git');

/** What `Supervisor.stop` waits before it kills a harness that does not exit. */
const KILL_TIMEOUT_MS = 10_000;

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let url: string;

beforeAll(async () => {
  t = await openTestHive();
  await t.hive.lifecycle.spawn('alice');
  ({ app, url } = serveDashboard(t.hive));
});

afterAll(async () => {
  await app?.stop(true);
  await t?.close();
});

/** Opens alice's page stream through the dashboard and waits for its first event (the state badge). */
async function openStream() {
  await waitFor('alice to serve her page', async () => (await fetch(`${url}/agents/alice/page/healthz`)).status === 200, 30_000);
  const res = await fetch(`${url}/agents/alice/page/events`, { headers: { accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!text.includes('hx-target="#state"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended before its first event');
    text += dec.decode(value, { stream: true });
  }
  /** Resolves with how the stream ended: `end` for a clean end, else the error. */
  const ended = (async () => {
    try {
      for (;;) if ((await reader.read()).done) return 'end';
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  })();
  return { ended };
}

/** How long `hive.lifecycle.stop` takes, ms. */
async function timeStop(): Promise<number> {
  const started = performance.now();
  await t.hive.lifecycle.stop('alice');
  return performance.now() - started;
}

describe('stopping an agent with its page open', () => {
  test('takes well under the kill timeout, like a stop without the page, and ends the page’s stream cleanly', async () => {
    const without = await timeStop();
    await t.hive.lifecycle.start('alice');
    const stream = await openStream();
    const withPage = await timeStop();
    expect(withPage).toBeLessThan(KILL_TIMEOUT_MS / 5);
    expect(without).toBeLessThan(KILL_TIMEOUT_MS / 5);
    expect(await stream.ended).toBe('end');
    expect(t.hive.registry.require('alice').status).toBe('offline');
    expect(t.hive.registry.require('alice').last_exit).toBe('exit 0');
  });

  test('a restart with two streams open is as quick, and the page is served again after it', async () => {
    await t.hive.lifecycle.start('alice');
    const streams = [await openStream(), await openStream()];
    const started = performance.now();
    await t.hive.lifecycle.restart('alice');
    expect(performance.now() - started).toBeLessThan(KILL_TIMEOUT_MS / 5);
    for (const s of streams) expect(await s.ended).toBe('end');
    await openStream();
  });
});
