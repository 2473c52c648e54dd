/**
 * What a harness holds and spends over its life: its resident set idle before any turn, after
 * turns, and after its page has been loaded; and its CPU time per turn.
 *
 *   bun bench/harness.ts [--agents 3] [--turns 10] [--loads 20]
 *
 * A real `hive core serve` (process runtime, no manager, standbys off so every turn starts its own
 * claude, as a cold turn does) with `--agents` agents against the loopback model stand-in, whose
 * every other answer is a call of the hive's `send` tool (so each turn also goes through the
 * harness's MCP endpoint). Each round sends every agent one message and waits until all are idle
 * again. Then the first agent's page is loaded `--loads` times straight from its socket. VmRSS and
 * utime + stime come from /proc; the baseline alongside is a bare `bun -e` holding two connected
 * sockets.
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { JsonLineClient } from '../src/shared/jsonl.ts';
import { DataLayout } from '../src/shared/paths.ts';
import { HostOps } from '../src/shared/wire.ts';
import { startModelServer } from '../test/support/model-server.ts';
import { harnessesUnder, startCoreProcess, tempDir, waitFor } from '../test/support/hive.ts';
import { CLK_TCK, SOCKET_PAIR_SCRIPT, pct, sample } from './lib/swarm.ts';

const { values } = parseArgs({ options: { agents: { type: 'string' }, turns: { type: 'string' }, loads: { type: 'string' } } });
const AGENTS = Number(values.agents ?? 3);
const TURNS = Number(values.turns ?? 10);
const LOADS = Number(values.loads ?? 20);
const names = Array.from({ length: AGENTS }, (_, i) => `h${i}`);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

let answers = 0;
const model = await startModelServer(() =>
  answers++ % 2 === 0 ? [{ type: 'tool_use', name: 'mcp__hyperhive__send', input: { to: 'operator', body: `note ${answers}` } }] : [{ type: 'text', text: 'done' }],
);
const dir = tempDir('hv-bh-');
const layout = new DataLayout(dir);
const core = await startCoreProcess(dir, ['--no-manager', '--standby-seconds', '0'], model.env);
const host = new JsonLineClient(layout.hostSocket, HostOps);
const baseline = Bun.spawn([process.execPath, '-e', SOCKET_PAIR_SCRIPT], { stdout: 'ignore', stderr: 'inherit' });
const allIdle = async () => (await host.call('list', {})).agents.filter((a) => names.includes(a.name) && a.status === 'idle').length === AGENTS;
/** The harness pids, in `names` order. */
const harnesses = async () => {
  const agents = (await host.call('list', {})).agents;
  return names.map((n) => harnessesUnder(agents.find((a) => a.name === n)!.pid!)[0]!.pid);
};
const rss = (pids: number[]) => pids.map((p) => sample(p)!.rssKiB).sort((a, b) => a - b);
const row = (what: string, kib: number[]) => console.log(`| ${what} | ${mib(pct(kib, 50))} | ${mib(kib.at(-1)!)} |`);

try {
  console.log(`harness: ${AGENTS} agents (process runtime), ${TURNS} turns each, ${LOADS} page loads; Bun ${Bun.version}`);
  for (const name of names) await host.call('spawn', { name });
  await waitFor('the agents idle', allIdle, 60_000);
  await Bun.sleep(3000); // start-up allocations settle
  const pids = await harnesses();
  console.log('| harness | RSS p50 | max |');
  console.log('|---|---|---|');
  row('baseline: bare `bun -e` with two connected sockets', rss([baseline.pid]));
  row('idle, before any turn', rss(pids));

  const ticks0 = pids.map((p) => sample(p)!.ownTicks);
  for (let round = 0; round < TURNS; round++) {
    for (const to of names) await host.call('send', { to, body: `round ${round}` });
    await waitFor('the turn to start', async () => !(await allIdle()), 10_000).catch(() => {}); // a fast turn may be over already
    await waitFor('the agents idle again', allIdle, 120_000);
  }
  const cpuMs = pids.map((p, i) => ((sample(p)!.ownTicks - ticks0[i]!) * 1000) / CLK_TCK / TURNS).sort((a, b) => a - b);
  await Bun.sleep(3000);
  row(`after ${TURNS} turns`, rss(pids));

  const times: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const t0 = performance.now();
    const res = await fetch('http://agent/', { unix: layout.agent(names[0]!).pageSocket } as RequestInit);
    if (res.status !== 200) throw new Error(`the page answered ${res.status}`);
    await res.text();
    times.push(performance.now() - t0);
  }
  await Bun.sleep(3000);
  row(`the page's agent, after ${LOADS} page loads`, rss([pids[0]!]));
  console.log();
  console.log(`harness CPU per turn (its own utime+stime, not claude's): p50 ${pct(cpuMs, 50).toFixed(1)} ms, max ${cpuMs.at(-1)!.toFixed(1)} ms`);
  const later = times.slice(1).sort((a, b) => a - b);
  console.log(`agent page GET /: first ${times[0]!.toFixed(1)} ms (its code loads), then p50 ${pct(later, 50).toFixed(2)} ms`);
} finally {
  host.close();
  baseline.kill();
  await core.stop();
  await model.close();
  rmSync(dir, { recursive: true, force: true });
}
