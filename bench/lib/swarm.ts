/**
 * Shared by bench/idle.ts and bench/memory.ts: a real `hive core serve` process with N idle agents,
 * and what /proc says about a process tree (CPU time, context switches, resident memory).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { HostOps } from '../../src/shared/wire.ts';
import { processTree, startCoreProcess, tempDir, waitFor } from '../../test/support/hive.ts';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux this runs on). */
export const CLK_TCK = 100;

/**
 * A `bun -e` script that only holds one connected loopback socket pair: the baseline a harness is
 * measured against (Bun's own floor for a process that, like a harness, holds a connected socket).
 */
export const SOCKET_PAIR_SCRIPT =
  'const net = require("net"); const s = net.createServer((c) => c.on("data", () => {})).listen(0, "127.0.0.1", () => net.createConnection(s.address().port, "127.0.0.1").on("data", () => {}));';

/** One process's counters. */
export interface ProcSample {
  pid: number;
  /** `comm`, e.g. `bun`, `systemd-nspawn`. */
  comm: string;
  /** The command line, space-separated. */
  cmdline: string;
  /** utime + stime + cutime + cstime, clock ticks (children it reaped are included). */
  ticks: number;
  /** utime + stime, clock ticks: the process's own, without the children it reaped. */
  ownTicks: number;
  /** Voluntary + involuntary context switches of each of its threads, by thread id: one per wake-up, about. */
  switches: Map<string, number>;
  /** Time on a CPU of each of its threads, by thread id, ns (from /proc/<pid>/task/<tid>/schedstat). */
  cpuNs: Map<string, number>;
  /** Resident set, KiB. */
  rssKiB: number;
}

/** Reads one process's counters, or null when it is gone. */
export function sample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' '); // f[0] is field 3 (state)
    const ownTicks = Number(f[11]) + Number(f[12]);
    const ticks = ownTicks + Number(f[13]) + Number(f[14]);
    const switches = new Map<string, number>();
    const cpuNs = new Map<string, number>();
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        cpuNs.set(t, Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]));
        const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
        switches.set(t, Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0));
      } catch {
        // the thread ended
      }
    }
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, comm, cmdline, ticks, ownTicks, switches, cpuNs, rssKiB };
  } catch {
    return null;
  }
}

/**
 * How one process's resident memory splits (KiB, from /proc/<pid>/smaps_rollup): `rss`; `pss`, its
 * proportional share, where each page shared with N processes counts 1/N; `private`, the pages no
 * other process maps (Private_Clean + Private_Dirty: what starting one more such process adds); and
 * `sharedFile`, the file-backed pages it shares (Shared_Clean, mostly the `bun` executable's code).
 * Null when the process is gone.
 */
export function memoryOf(pid: number): { rss: number; pss: number; private: number; sharedFile: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kib('Rss'), pss: kib('Pss'), private: kib('Private_Clean') + kib('Private_Dirty'), sharedFile: kib('Shared_Clean') };
  } catch {
    return null;
  }
}

/** Samples every pid that is still there. */
export function sampleAll(pids: number[]): Map<number, ProcSample> {
  const out = new Map<number, ProcSample>();
  for (const p of pids) {
    const s = sample(p);
    if (s) out.set(p, s);
  }
  return out;
}

/**
 * Context switches from `b` to `a` of the same process: threads in both, plus every switch of a
 * thread that started in between (a thread that ended in between is lost).
 */
export function switchesBetween(b: ProcSample, a: ProcSample): number {
  let n = 0;
  for (const [t, v] of a.switches) n += v - (b.switches.get(t) ?? 0);
  return n;
}

/** CPU time from `b` to `a` of the same process, ns, counted as {@link switchesBetween} counts. */
export function cpuNsBetween(b: ProcSample, a: ProcSample): number {
  let n = 0;
  for (const [t, v] of a.cpuNs) n += v - (b.cpuNs.get(t) ?? 0);
  return n;
}

/** What kind of process a sample is: the core, a harness, or a sandbox wrapper/init. */
export function kindOf(s: ProcSample, corePid: number): 'core' | 'harness' | 'wrapper' {
  if (s.pid === corePid) return 'core';
  if (/\bagent serve\b/.test(s.cmdline) && !/nspawn|bwrap/.test(s.comm)) return 'harness';
  return 'wrapper';
}

/** p-th percentile of an ascending array. */
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Picks the runtime: the one asked for when this host has it, else the next that works, with a note. */
export function pickRuntime(wanted: string): string {
  const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(`${d}/${bin}`));
  const order = [wanted, 'nspawn', 'bwrap', 'process'].filter((r, i, a) => a.indexOf(r) === i);
  for (const r of order) {
    const ok = r === 'process' || (r === 'nspawn' ? process.getuid?.() === 0 && has('systemd-nspawn') : r === 'bwrap' ? has('bwrap') : false);
    if (ok) {
      if (r !== wanted) console.log(`note: runtime ${wanted} is not available here; using ${r}`);
      return r;
    }
  }
  return 'process';
}

/** A running core process with agents. */
export interface Swarm {
  dir: string;
  corePid: number;
  url: string;
  host: JsonLineClient<typeof HostOps>;
  /** Every pid of the core's process tree now. */
  pids(): number[];
  /** Stops the core (which stops every agent) and removes the data dir. */
  close(): Promise<void>;
}

/**
 * Starts `hive core serve` (no manager, runtime `runtime`, dashboard on a loopback port) in a temp
 * data dir (with `env` added to its environment) and spawns `agents` agents, `parallel` at a time, then waits until every one is idle.
 */
export async function startSwarm(runtime: string, agents: number, parallel = 4, log: (l: string) => void = () => {}, env: Record<string, string> = {}): Promise<Swarm> {
  const dir = tempDir('hvb-');
  const core = await startCoreProcess(dir, ['--no-manager', '--runtime', runtime], env);
  const host = new JsonLineClient(new DataLayout(dir).hostSocket, HostOps, { timeoutMs: 120_000 });
  const swarm: Swarm = {
    dir,
    corePid: core.proc.pid,
    url: core.url,
    host,
    pids: () => processTree(core.proc.pid),
    async close() {
      host.close();
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(parallel, agents) }, async () => {
        while (next < agents) {
          const i = next++;
          await host.call('spawn', { name: `i${i}` });
          if ((i + 1) % 10 === 0) log(`  spawned ${i + 1}/${agents} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
        }
      }),
    );
    await waitFor('every agent idle', async () => (await host.call('list', {})).agents.filter((a) => a.status === 'idle').length === agents, 120_000);
  } catch (err) {
    await swarm.close();
    throw err;
  }
  return swarm;
}
