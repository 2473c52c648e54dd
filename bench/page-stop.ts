/**
 * Stopping an agent with its page open against without: how long `hive.lifecycle.stop` takes when
 * nobody has the agent's page open, and when one or more pages hold its event stream open through
 * the dashboard's proxy (what a browser tab on the page does), and how each stream ended.
 *
 *   bun bench/page-stop.ts [--rounds 20] [--pages 1]
 *
 * A core runs in this process on a temp data dir with one agent under the `process` runtime (no
 * model traffic: the agent sits idle). Each round starts the agent, waits for its page, opens the
 * streams, then times the stop.
 */
import { parseArgs } from 'node:util';
import { serveDashboard } from '../test/support/browser.ts';
import { openTestHive, waitFor } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, pages: { type: 'string' } } });
const rounds = Number(values.rounds ?? 20);
const pages = Number(values.pages ?? 1);

const t = await openTestHive();
await t.hive.lifecycle.spawn('alice');
const { app, url } = serveDashboard(t.hive);

/** Opens one page stream and resolves once its first event arrived; `ended` says how it ended. */
async function openStream(): Promise<{ ended: Promise<string> }> {
  const res = await fetch(`${url}/agents/alice/page/events`, { headers: { accept: 'text/event-stream' } });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!text.includes('#state')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended before its first event');
    text += dec.decode(value, { stream: true });
  }
  const ended = (async () => {
    try {
      for (;;) if ((await reader.read()).done) return 'clean end';
    } catch {
      return 'reset';
    }
  })();
  return { ended };
}

async function round(withPages: number): Promise<{ ms: number; ends: string[] }> {
  await t.hive.lifecycle.start('alice');
  await waitFor('the page', async () => (await fetch(`${url}/agents/alice/page/healthz`)).status === 200, 30_000);
  const streams = [];
  for (let i = 0; i < withPages; i++) streams.push(await openStream());
  const started = performance.now();
  await t.hive.lifecycle.stop('alice');
  const ms = performance.now() - started;
  return { ms, ends: await Promise.all(streams.map((s) => s.ended)) };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))]!;
const report = (label: string, runs: Array<{ ms: number; ends: string[] }>) => {
  const ms = runs.map((r) => r.ms);
  const ends = [...new Set(runs.flatMap((r) => r.ends))].join(', ') || '—';
  console.log(`${label.padEnd(22)} p50 ${pct(ms, 0.5).toFixed(0)} ms · max ${Math.max(...ms).toFixed(0)} ms · streams: ${ends}`);
};

await t.hive.lifecycle.stop('alice');
const without: Array<{ ms: number; ends: string[] }> = [];
const withPage: Array<{ ms: number; ends: string[] }> = [];
for (let i = 0; i < rounds; i++) {
  without.push(await round(0));
  withPage.push(await round(pages));
}
report('stop, no page', without);
report(`stop, ${pages} page${pages === 1 ? '' : 's'} open`, withPage);
await app.stop(true);
await t.close();
