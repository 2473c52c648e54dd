/**
 * What the config gate costs: request → staged, approve → deployed, and tag retention.
 *
 *   bun bench/deploy.ts [--runtime process] [--rounds 10] [--approvals 400]
 *
 * A core runs in this process on a temp data dir with one agent (no model: the agent starts and
 * waits for mail). Each round commits a new `agent.toml` in the agent's proposed repo with git (as
 * the manager would), then times `requestApplyCommit` (commit and config checks, fetch into the
 * applied repo, `proposal/` tag) and `approve` (tags, applied head, a rebuild in the runtime until the
 * harness says hello, the meta commit). Retention is timed on a repo given `--approvals` approvals'
 * worth of tags (four stages each, a quarter of them old), the way `hive ctl retention` runs it.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTestHive } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { runtime: { type: 'string' }, rounds: { type: 'string' }, approvals: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 10);
const APPROVALS = Number(values.approvals ?? 400);
const runtime = values.runtime ?? 'process';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const git = (cwd: string, ...args: string[]) => {
  const r = Bun.spawnSync(['git', ...args], { cwd });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
};

const t = await openTestHive({ runtime });
try {
  await t.hive.lifecycle.spawn('bench');
  const proposed = join(t.dir, 'proposed', 'bench', 'config');
  const request: number[] = [];
  const deploy: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    writeFileSync(join(proposed, 'agent.toml'), `model = "claude-bench-${i}"\n`);
    git(proposed, 'commit', '-qam', `round ${i}`);
    const sha = git(proposed, 'rev-parse', 'HEAD');
    let t0 = performance.now();
    const a = await t.hive.gate.requestApplyCommit('manager', 'bench', sha);
    request.push(performance.now() - t0);
    t0 = performance.now();
    const done = await t.hive.gate.approve(a.id);
    deploy.push(performance.now() - t0);
    if (done.status !== 'deployed') throw new Error(`round ${i}: ${done.status}: ${done.note}`);
  }

  const repo = t.hive.repos.appliedDir('bench');
  const head = git(repo, 'rev-parse', 'HEAD');
  const lines: string[] = [];
  for (let id = 100_000; id < 100_000 + APPROVALS; id++) {
    for (const s of ['proposal', 'approved', 'building', ['deployed', 'failed', 'denied', 'deployed'][id % 4]!]) lines.push(`create refs/tags/${s}/${id} ${head}`);
  }
  const p = Bun.spawn(['git', 'update-ref', '--stdin'], { cwd: repo, stdin: 'pipe' });
  p.stdin.write(lines.join('\n') + '\n');
  p.stdin.end();
  await p.exited;
  const t0 = performance.now();
  const removed = await t.hive.retention.run(0);
  const retention = performance.now() - t0;

  console.log(`runtime ${runtime}, ${ROUNDS} rounds`);
  console.log(`request_apply_commit (check + stage):   p50 ${pct(request, 50).toFixed(0)} ms   max ${Math.max(...request).toFixed(0)} ms`);
  console.log(`approve → deployed (rebuild included):  p50 ${pct(deploy, 50).toFixed(0)} ms   max ${Math.max(...deploy).toFixed(0)} ms`);
  console.log(`retention over ${APPROVALS} approvals (${lines.length} tags): ${retention.toFixed(0)} ms, ${removed.bench?.length ?? 0} tags removed`);
} finally {
  await t.close();
}
