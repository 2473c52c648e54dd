/**
 * Spawn time and memory per runtime.
 *
 *   bun bench/runtimes.ts [--runtimes process,bwrap,nspawn] [--agents 5]
 *
 * For each runtime a core runs in this process on a temp data dir (no manager, no model: agents
 * start and wait for mail). Spawn time is from `spawn` being called to the agent's harness saying
 * hello over its socket (status `idle`): sandbox creation, Bun start-up and the harness's own
 * start. Memory is the resident set (VmRSS from /proc) of the agent's whole process tree once it is
 * idle: the runtime's wrapper (bwrap, systemd-nspawn) plus everything inside. Agents are spawned
 * one after another; p50 and max are over `--agents` spawns.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { openTestHive, processTree, waitFor } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { runtimes: { type: 'string' }, agents: { type: 'string' } } });
const RUNTIMES = (values.runtimes ?? 'process,bwrap,nspawn').split(',');
const AGENTS = Number(values.agents ?? 5);

/** Resident memory of one process in KiB (0 when it is gone). */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

console.log(`runtime  spawns  spawn→idle p50  max      RSS per agent p50  (processes)`);
for (const runtime of RUNTIMES) {
  const t = await openTestHive({ runtime });
  const times: number[] = [];
  const rss: number[] = [];
  let procs = 0;
  try {
    for (let i = 0; i < AGENTS; i++) {
      const name = `b${i}`;
      const t0 = performance.now();
      await t.hive.lifecycle.spawn(name);
      await waitFor(`${name} idle`, () => t.hive.registry.get(name)?.status === 'idle', 60_000);
      times.push(performance.now() - t0);
      await Bun.sleep(500); // let start-up allocations settle
      const pids = processTree(t.hive.registry.get(name)!.pid!);
      procs = pids.length;
      rss.push(pids.reduce((sum, p) => sum + rssKiB(p), 0));
    }
  } finally {
    await t.close();
  }
  console.log(
    `${runtime.padEnd(8)} ${String(AGENTS).padEnd(7)} ${`${pct(times, 50).toFixed(0)} ms`.padEnd(15)} ${`${Math.max(...times).toFixed(0)} ms`.padEnd(8)} ${`${(pct(rss, 50) / 1024).toFixed(1)} MiB`.padEnd(18)} (${procs})`,
  );
}
