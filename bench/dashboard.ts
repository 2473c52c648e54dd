/**
 * What a dashboard page load costs, and whether it runs any subprocess.
 *
 *   bun bench/dashboard.ts [--agents 100] [--messages 1000] [--approvals 100] [--stats-days 7] [--loads 200] [--warmup 5]
 *
 * A core runs in this process on a temp data dir (process runtime, no manager) with `--agents`
 * registered agents (`spawn(name, { start: false })`: repos made, nothing started),
 * `--messages` messages from the operator to them, and `--approvals` config approvals, one per
 * agent in turn, a third each left pending, deployed and denied (each a commit of the agent's
 * proposed repo, made with git as the manager would). Then `GET /` is rendered `--loads` times
 * through the dashboard's app (`app.handle`, no socket), after `--warmup` loads that are not
 * counted, and `/fragments/approvals` the same way, and the repo browser's pages of an agent with a
 * deployed approval (`/repos/<name>`, its head commit's diff, `agent.toml` at its head) and the
 * deploy log (`/deploys`).
 *
 * With `--stats-days D` (default 7), each agent also gets D days of telemetry as the recorder writes
 * it: a turn every 5 minutes with its dozen samples (duration, result, tools, messages by party,
 * inbox depth, idle gap, tokens, cost, notes size), inserted into `stats` and rolled up hourly.
 * `GET /api/stats` is then timed for the swarm and for one agent over a day and over the week.
 *
 * Subprocesses are counted two ways while the timed loads run: the git processes the core's git
 * wrapper started (`gitSpawnCount()` in `src/core/configs/git.ts`), and every `Bun.spawn` /
 * `Bun.spawnSync` call made in this process (wrapped for the measured window only).
 */
import { parseArgs } from 'node:util';
import type { Database } from 'bun:sqlite';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR } from '../src/shared/names.ts';
import { gitSpawnCount } from '../src/core/configs/git.ts';
import { createDashboard } from '../src/core/dashboard/dashboard.tsx';
import { openTestHive } from '../test/support/hive.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string' },
    messages: { type: 'string' },
    approvals: { type: 'string' },
    'stats-days': { type: 'string' },
    loads: { type: 'string' },
    warmup: { type: 'string' },
  },
});
const AGENTS = Number(values.agents ?? 100);
const MESSAGES = Number(values.messages ?? 1000);
const APPROVALS = Number(values.approvals ?? 100);
const STATS_DAYS = Number(values['stats-days'] ?? 7);
const LOADS = Number(values.loads ?? 200);
const WARMUP = Number(values.warmup ?? 5);
const ORIGIN = 'http://localhost';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const git = (cwd: string, ...args: string[]) => {
  const r = Bun.spawnSync(['git', ...args], { cwd });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
};

/** Counts every Bun.spawn / Bun.spawnSync call while `fn` runs. */
async function countingSpawns<T>(fn: () => Promise<T>): Promise<{ result: T; spawns: number }> {
  const b = Bun as unknown as Record<string, (...args: unknown[]) => unknown>;
  const spawn = b.spawn!;
  const spawnSync = b.spawnSync!;
  let spawns = 0;
  try {
    b.spawn = (...args) => (spawns++, spawn.apply(Bun, args));
    b.spawnSync = (...args) => (spawns++, spawnSync.apply(Bun, args));
  } catch {
    return { result: await fn(), spawns: NaN }; // Bun's functions could not be wrapped here
  }
  try {
    return { result: await fn(), spawns };
  } finally {
    b.spawn = spawn;
    b.spawnSync = spawnSync;
  }
}

const t = await openTestHive({ runtime: 'process' });
try {
  const { hive } = t;
  let t0 = performance.now();
  const names = Array.from({ length: AGENTS }, (_, i) => `agent${String(i).padStart(3, '0')}`);
  for (const name of names) await hive.lifecycle.spawn(name, { start: false });
  const spawnMs = performance.now() - t0;

  t0 = performance.now();
  for (let i = 0; i < MESSAGES; i++) hive.broker.send(OPERATOR, names[i % AGENTS]!, `message ${i}: ${'lorem ipsum '.repeat(8)}`);
  const messageMs = performance.now() - t0;

  t0 = performance.now();
  const outcome = { pending: 0, deployed: 0, denied: 0 };
  for (let i = 0; i < APPROVALS; i++) {
    const name = names[i % AGENTS]!;
    const repo = join(t.dir, 'proposed', name, 'config');
    writeFileSync(join(repo, 'agent.toml'), `# approval ${i}\nprompt = "bench ${i}"\n`);
    git(repo, 'commit', '-qam', `bench change ${i}`);
    const a = await hive.gate.requestApplyCommit('operator', name, git(repo, 'rev-parse', 'HEAD'));
    const kind = (['pending', 'deployed', 'denied'] as const)[i % 3]!;
    if (kind === 'deployed') {
      const done = await hive.gate.approve(a.id);
      if (done.status !== 'deployed') throw new Error(`approval #${a.id} ${done.status}: ${done.note}`);
    } else if (kind === 'denied') await hive.gate.deny(a.id, 'bench');
    outcome[kind]++;
  }
  const approvalMs = performance.now() - t0;

  t0 = performance.now();
  const statsRows = seedStats(hive.db, names, STATS_DAYS);
  hive.stats.learnKeys();
  const rolled = hive.stats.reroll(Date.now() - STATS_DAYS * 86_400_000);
  const statsMs = performance.now() - t0;

  const app = createDashboard(hive);
  const get = async (path: string) => {
    const res = await app.handle(new Request(ORIGIN + path));
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 200)}`);
    return body;
  };
  const measure = async (path: string) => {
    for (let i = 0; i < WARMUP; i++) await get(path);
    const gitBefore = gitSpawnCount();
    const times: number[] = [];
    let bytes = 0;
    const { spawns } = await countingSpawns(async () => {
      for (let i = 0; i < LOADS; i++) {
        const s = performance.now();
        bytes = (await get(path)).length;
        times.push(performance.now() - s);
      }
    });
    return { path, times, bytes, git: gitSpawnCount() - gitBefore, spawns };
  };

  /** The first load of `path`: what it costs with nothing cached. */
  const first = async (path: string) => {
    const gitBefore = gitSpawnCount();
    const s = performance.now();
    await get(path);
    return { path, ms: performance.now() - s, git: gitSpawnCount() - gitBefore };
  };

  const cold = [await first('/')];
  const rows = [await measure('/'), await measure('/fragments/approvals')];
  const browsed = names[1 % AGENTS]!; // approval 1 of each three is deployed
  const head = (await hive.repos.head(browsed))!;
  for (const path of [`/repos/${browsed}`, `/repos/${browsed}/commit/${head}`, `/repos/${browsed}/file/HEAD`, '/deploys']) {
    cold.push(await first(path));
    rows.push(await measure(path));
  }
  for (const path of ['/api/stats', `/api/stats?since=${STATS_DAYS}d`, `/api/stats?agent=${browsed}`, `/api/stats?agent=${browsed}&since=${STATS_DAYS}d`])
    rows.push(await measure(path));

  console.log(
    `setup: ${AGENTS} agents in ${(spawnMs / 1000).toFixed(1)} s, ${MESSAGES} messages in ${messageMs.toFixed(0)} ms, ` +
      `${APPROVALS} approvals (${outcome.pending} pending, ${outcome.deployed} deployed, ${outcome.denied} denied) in ${(approvalMs / 1000).toFixed(1)} s`,
  );
  console.log(`telemetry: ${statsRows.toLocaleString('en')} samples over ${STATS_DAYS} days, ${rolled} hours rolled up, in ${(statsMs / 1000).toFixed(1)} s`);
  for (const c of cold) console.log(`first load of ${c.path} (cold): ${c.ms.toFixed(1)} ms, ${c.git} git processes`);
  console.log(`${LOADS} loads each after ${WARMUP} warm-up loads:`);
  console.log('| path | size | p50 | p99 | max | git processes | all subprocesses |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| \`${r.path}\` | ${(r.bytes / 1024).toFixed(0)} KiB | ${pct(r.times, 50).toFixed(2)} ms | ${pct(r.times, 99).toFixed(2)} ms | ${Math.max(...r.times).toFixed(2)} ms | ${r.git} | ${r.spawns} |`,
    );
  if (rows.some((r) => r.git !== 0 || (r.spawns !== 0 && !Number.isNaN(r.spawns)))) {
    console.log('FAIL: subprocesses ran during warm page loads');
    process.exitCode = 1;
  }
} finally {
  await t.close();
}

/**
 * Inserts `days` of one turn per agent every 5 minutes, with the samples the recorder writes for a
 * turn (`src/core/stats/recorder.ts`), straight into `stats`. @returns rows inserted.
 */
function seedStats(db: Database, agents: string[], days: number): number {
  const insert = db.query('INSERT INTO stats (agent, key, ts, value) VALUES (?, ?, ?, ?)');
  const end = Date.now();
  let rows = 0;
  let seed = 1;
  const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  db.transaction(() => {
    for (let ts = end - days * 86_400_000; ts < end; ts += 300_000) {
      for (const agent of agents) {
        const at = ts + Math.floor(rnd() * 300_000);
        if (at >= end) continue;
        const samples: Array<[string, number]> = [
          ['turn', 2000 + rnd() * 60_000],
          ['tool_calls', Math.floor(rnd() * 8)],
          ['status:ok', 1],
          ['inbox_max', Math.floor(rnd() * 4)],
          ['tool:Bash', 1 + Math.floor(rnd() * 3)],
          ['tool:mcp__hyperhive__send', 1],
          ['sent:peer', 1],
          ['received:operator', 1],
          ['idle_gap_ms', 240_000 + rnd() * 60_000],
          ['input_tokens', 3000 + Math.floor(rnd() * 5000)],
          ['output_tokens', 200 + Math.floor(rnd() * 800)],
          ['cost_usd', rnd() * 0.02],
          ['notes_bytes', 4000 + Math.floor((end - at) / 86_400_000) * 100],
        ];
        for (const [key, value] of samples) insert.run(agent, key, at, value);
        rows += samples.length;
      }
    }
  })();
  return rows;
}
