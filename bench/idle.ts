/**
 * Idle CPU: what a core with N idle agents costs while nothing happens.
 *
 *   bun bench/idle.ts [--agents 100] [--seconds 60] [--runtime nspawn] [--parallel 4] [--core-env K=V ...]
 *
 * `--core-env` puts a variable in the core's environment; the core passes Bun's and the
 * allocator's settings on to harnesses (`MIMALLOC_PURGE_DELAY=100` measures them with Bun's own
 * default instead of the hive's, see `HARNESS_PURGE_DELAY_MS` in src/core/agents/lifecycle.ts).
 *
 * Starts the real `hive core serve` (no manager, dashboard on a loopback port, runtime `nspawn`,
 * else bwrap, else process, with a printed note) in a temp data dir, spawns N agents and waits
 * until every one is idle and a few seconds more. Then, over `--seconds`, it reads utime + stime
 * (and the times of reaped children) from /proc/<pid>/stat of every process in the core's tree:
 * the core, each agent's harness and each sandbox's wrapper processes (systemd-nspawn and the
 * container's init, or bwrap). Alongside, over the same window, runs the baseline: a bare
 * `bun -e` that only keeps its event loop open. Context switches (from each thread's /proc status)
 * count the wake-ups. CPU is in % of one core.
 */
import { parseArgs } from 'node:util';
import { HARNESS_GC_TIMER_MS } from '../src/core/agents/lifecycle.ts';
import { CLK_TCK, SOCKET_PAIR_SCRIPT, cpuNsBetween, kindOf, pickRuntime, sample, sampleAll, startSwarm, switchesBetween, type ProcSample } from './lib/swarm.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string' },
    seconds: { type: 'string' },
    runtime: { type: 'string' },
    parallel: { type: 'string' },
    settle: { type: 'string' },
    'core-env': { type: 'string', multiple: true },
  },
});
const coreEnv = Object.fromEntries(
  (values['core-env'] ?? []).map((kv) => {
    const at = kv.indexOf('=');
    if (at < 1) throw new Error(`--core-env ${kv}: expected NAME=VALUE`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);
const AGENTS = Number(values.agents ?? 100);
const SECONDS = Number(values.seconds ?? 60);
const SETTLE = Number(values.settle ?? 10);
const runtime = pickRuntime(values.runtime ?? 'nspawn');

console.log(`idle CPU: core + ${AGENTS} idle agents (runtime ${runtime}), ${SECONDS} s window, Bun ${Bun.version}`);
const t0 = performance.now();
const swarm = await startSwarm(runtime, AGENTS, Number(values.parallel ?? 4), console.log, coreEnv);
const baseline = Bun.spawn([process.execPath, '-e', 'setInterval(() => {}, 2 ** 31 - 1)'], { stdout: 'ignore', stderr: 'inherit' });
// Bun's floor for a process that, like a harness, holds a connected socket: with Bun's default GC
// timer, and with the harness's (see HARNESS_GC_TIMER_MS in src/core/agents/lifecycle.ts)
const floors = new Map([
  ['bun -e with a connected socket', Bun.spawn([process.execPath, '-e', SOCKET_PAIR_SCRIPT], { stdout: 'ignore', stderr: 'inherit' })],
  ['the same, GC timer 30 s', Bun.spawn([process.execPath, '-e', SOCKET_PAIR_SCRIPT], { stdout: 'ignore', stderr: 'inherit', env: { ...process.env, BUN_GC_TIMER_INTERVAL: HARNESS_GC_TIMER_MS } })],
]);
try {
  console.log(`${AGENTS} agents idle after ${((performance.now() - t0) / 1000).toFixed(1)} s; settling ${SETTLE} s`);
  await Bun.sleep(SETTLE * 1000);
  const pids = swarm.pids();
  const before = sampleAll(pids);
  const baseBefore = sample(baseline.pid)!;
  const floorBefore = new Map([...floors].map(([k, s]) => [k, sample(s.pid)!]));
  const w0 = performance.now();
  await Bun.sleep(SECONDS * 1000);
  const secs = (performance.now() - w0) / 1000;
  const after = sampleAll(pids);
  const baseAfter = sample(baseline.pid)!;

  type Row = { n: number; ticks: number; ns: number; switches: number };
  const zero = (): Row => ({ n: 0, ticks: 0, ns: 0, switches: 0 });
  const rows: Record<string, Row> = { core: zero(), harness: zero(), wrapper: zero() };
  const perHarness: number[] = [];
  let gone = 0;
  for (const [pid, b] of before) {
    const a: ProcSample | undefined = after.get(pid);
    if (!a) {
      gone++;
      continue;
    }
    const r = rows[kindOf(a, swarm.corePid)]!;
    r.n++;
    r.ticks += a.ticks - b.ticks;
    r.switches += switchesBetween(b, a);
    r.ns += cpuNsBetween(b, a);
    if (kindOf(a, swarm.corePid) === 'harness') perHarness.push(switchesBetween(b, a));
  }
  const cpu = (ticks: number) => `${((ticks / CLK_TCK / secs) * 100).toFixed(3)} %`;
  const cpuNs = (ns: number) => `${((ns / 1e9 / secs) * 100).toFixed(3)} %`;
  const rate = (sw: number) => `${(sw / secs).toFixed(1)}/s`;
  console.log(`| processes | count | CPU, % of one core (schedstat) | (utime+stime) | context switches |`);
  console.log(`|---|---|---|---|---|`);
  for (const [k, r] of Object.entries(rows)) console.log(`| ${k} | ${r.n} | ${cpuNs(r.ns)} | ${cpu(r.ticks)} | ${rate(r.switches)} |`);
  const total = Object.values(rows).reduce((s, r) => ({ n: s.n + r.n, ticks: s.ticks + r.ticks, ns: s.ns + r.ns, switches: s.switches + r.switches }), zero());
  console.log(`| all | ${total.n} | ${cpuNs(total.ns)} | ${cpu(total.ticks)} | ${rate(total.switches)} |`);
  const bt = baseAfter.ticks - baseBefore.ticks;
  const bs = switchesBetween(baseBefore, baseAfter);
  const bn = cpuNsBetween(baseBefore, baseAfter);
  console.log(`| baseline: bare \`bun -e\` | 1 | ${cpuNs(bn)} | ${cpu(bt)} | ${rate(bs)} |`);
  for (const [k, s] of floors) {
    const [fb, fa] = [floorBefore.get(k)!, sample(s.pid)!];
    console.log(`| floor: ${k} | 1 | ${cpuNs(cpuNsBetween(fb, fa))} | ${cpu(fa.ticks - fb.ticks)} | ${rate(switchesBetween(fb, fa))} |`);
  }
  perHarness.sort((a, b) => a - b);
  if (perHarness.length)
    console.log(`per harness: ${rate(perHarness[Math.floor(perHarness.length / 2)]!)} context switches p50, ${rate(perHarness.at(-1)!)} max`);
  if (gone) console.log(`note: ${gone} processes ended during the window`);
  console.log(`ratio to the baseline: ${bn > 0 ? (total.ns / bn).toFixed(0) + '×' : '-'} (CPU, schedstat), ${bs > 0 ? (total.switches / bs).toFixed(0) + '×' : '-'} (wake-ups)`);
  const ph = rows.harness!;
  if (ph.n) console.log(`per harness: ${cpuNs(ph.ns / ph.n)} of one core, ${rate(ph.switches / ph.n)} wake-ups`);
} finally {
  for (const p of [baseline, ...floors.values()]) {
    p.kill();
    await p.exited;
  }
  await swarm.close();
}
process.exit(0);
