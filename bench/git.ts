/**
 * What one git command costs the core, by the way it is run.
 *
 *   bun bench/git.ts [--rounds 40]
 *
 * On a temp repository shaped like an applied config repo, each command the config gate uses is
 * timed (p50 over `--rounds` runs) four ways, in the same run:
 *
 * - **baseline**: bare `Bun.spawn(['git', …])`, stdout read, exit awaited: the floor;
 * - **wrapper**: `git(dir).run(…)` / `.revParse(…)` from `src/core/configs/git.ts` (what the core
 *   uses: `-c` safety settings, its own environment, stderr kept for errors);
 * - **simple-git raw**: `simpleGit(…).raw(…)` with the settings the core used to give it;
 * - **simple-git typed**: simple-git's typed method for the command, where it has one.
 *
 * Each figure is printed with its ratio to the baseline. simple-git is no longer a dependency; the
 * two simple-git columns appear when it is importable. To fill them without touching the project:
 *
 *   mkdir /tmp/sg && cd /tmp/sg && echo '{}' > package.json && bun add simple-git@4.0.2
 *   NODE_PATH=/tmp/sg/node_modules bun bench/git.ts
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../src/core/configs/git.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 40);

/** simple-git, when installed; typed loosely so the bench compiles without it. */
const sg: any = await import('simple-git' as string).catch(() => null);

const dir = mkdtempSync(join(tmpdir(), 'hv-gitbench-'));
const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const id = ['-c', 'user.name=bench', '-c', 'user.email=bench@bench.invalid'];
const sh = (...args: string[]) => {
  const r = Bun.spawnSync(['git', ...id, ...args], { cwd: dir, env });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
};
sh('init', '-q');
for (let i = 0; i < 20; i++) {
  writeFileSync(join(dir, 'agent.toml'), `model = "m${i}"\n`);
  sh('add', '-A');
  sh('commit', '-qm', `change ${i}`);
}

/** The bare floor: spawn, read stdout, await exit. */
async function baseline(args: string[]): Promise<string> {
  const p = Bun.spawn(['git', ...id, ...args], { cwd: dir, env, stdout: 'pipe', stderr: 'pipe' });
  const [out] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return out;
}

const w = git(dir);
const s = sg
  ? sg.simpleGit({
      baseDir: dir,
      binary: 'git',
      maxConcurrentProcesses: 4,
      timeout: { block: 60_000 },
      config: ['user.name=bench', 'user.email=bench@bench.invalid', 'core.hooksPath=/dev/null', 'core.fsmonitor=false', 'commit.gpgSign=false', 'tag.gpgSign=false'],
      unsafe: { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true },
    })
  : null;
/** simple-git rejects on a non-zero exit; the core caught that for "absent". */
const quiet = (p: Promise<unknown>) => p.catch(() => null);

let n = 0;
const next = () => ++n;
type Way = (() => Promise<unknown>) | null;
/** One command: how each way runs it. */
interface Case {
  what: string;
  silent: boolean;
  baseline: () => Promise<unknown>;
  wrapper: () => Promise<unknown>;
  raw: Way;
  typed: Way;
}
const commit = (msg: string) => ['commit', '--allow-empty', '-m', msg];
const cases: Case[] = [
  {
    what: 'rev-parse HEAD',
    silent: false,
    baseline: () => baseline(['rev-parse', '--verify', '--quiet', 'HEAD']),
    wrapper: () => w.revParse('HEAD'),
    raw: s && (() => s.raw(['rev-parse', '--verify', '--quiet', 'HEAD'])),
    typed: s && (() => s.revparse(['--verify', '--quiet', 'HEAD'])),
  },
  {
    what: 'rev-parse of a missing tag',
    silent: true,
    baseline: () => baseline(['rev-parse', '--verify', '--quiet', 'refs/tags/nope']),
    wrapper: () => w.revParse('refs/tags/nope'),
    raw: s && (() => quiet(s.raw(['rev-parse', '--verify', '--quiet', 'refs/tags/nope']))),
    typed: s && (() => quiet(s.revparse(['--verify', '--quiet', 'refs/tags/nope']))),
  },
  {
    what: 'tag -a (annotated)',
    silent: true,
    baseline: () => baseline(['tag', '-f', '-a', '-m', 'm', `b/${next()}`, 'HEAD']),
    wrapper: () => w.run(['tag', '-f', '-a', '-m', 'm', `w/${next()}`, 'HEAD']),
    raw: s && (() => s.raw(['tag', '-f', '-a', '-m', 'm', `r/${next()}`, 'HEAD'])),
    typed: s && (() => s.addAnnotatedTag(`t/${next()}`, 'm')),
  },
  {
    what: 'commit (prints a summary)',
    silent: false,
    baseline: () => baseline(commit(`b ${next()}`)),
    wrapper: () => w.run(commit(`w ${next()}`)),
    raw: s && (() => s.raw(commit(`r ${next()}`))),
    typed: s && (() => s.commit(`t ${next()}`, undefined, { '--allow-empty': null })),
  },
  {
    what: 'commit --quiet',
    silent: true,
    baseline: () => baseline([...commit(`b ${next()}`), '--quiet']),
    wrapper: () => w.run([...commit(`w ${next()}`), '--quiet']),
    raw: s && (() => s.raw([...commit(`r ${next()}`), '--quiet'])),
    typed: null,
  },
  {
    what: 'log -20',
    silent: false,
    baseline: () => baseline(['log', '-20', '--format=%H%x00%ct%x00%s', 'HEAD', '--']),
    wrapper: () => w.run(['log', '-20', '--format=%H%x00%ct%x00%s', 'HEAD', '--']),
    raw: s && (() => s.raw(['log', '-20', '--format=%H%x00%ct%x00%s', 'HEAD', '--'])),
    typed: s && (() => s.log({ maxCount: 20 })),
  },
  {
    what: 'cat-file blob',
    silent: false,
    baseline: () => baseline(['cat-file', 'blob', 'HEAD:agent.toml']),
    wrapper: () => w.run(['cat-file', 'blob', 'HEAD:agent.toml']),
    raw: s && (() => s.raw(['cat-file', 'blob', 'HEAD:agent.toml'])),
    typed: s && (() => s.catFile(['blob', 'HEAD:agent.toml'])),
  },
];

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** p50 of each way, the ways taking turns within each round so that load on the machine hits all alike. */
async function time(ways: Array<() => Promise<unknown>>): Promise<number[]> {
  for (const fn of ways) await fn(); // warm-up
  const xs: number[][] = ways.map(() => []);
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, fn] of ways.entries()) {
      const t0 = performance.now();
      await fn();
      xs[k]!.push(performance.now() - t0);
    }
  }
  return xs.map(p50);
}

const cell = (ms: number | null, base: number) => (ms === null ? '—' : `${ms.toFixed(1)} ms (${(ms / base).toFixed(1)}×)`);
try {
  console.log(`git ${sh('--version').replace('git version ', '')}, Bun ${Bun.version}, p50 of ${ROUNDS} runs; ratio to the baseline in brackets`);
  if (!s) console.log('simple-git is not importable: its columns are empty (see the comment at the top to fill them)');
  console.log('| command | writes to stdout | baseline | wrapper | simple-git raw | simple-git typed |');
  console.log('|---|---|---|---|---|---|');
  const totals = { base: 0, wrapper: 0, raw: 0 };
  for (const c of cases) {
    const ways = [c.baseline, c.wrapper, ...(c.raw ? [c.raw] : []), ...(c.typed ? [c.typed] : [])];
    const [base = 0, wrapper = 0, ...rest] = await time(ways);
    const raw = c.raw ? rest.shift()! : null;
    const typed = c.typed ? rest.shift()! : null;
    totals.base += base;
    totals.wrapper += wrapper;
    totals.raw += raw ?? 0;
    console.log(`| ${c.what} | ${c.silent ? 'no' : 'yes'} | ${base.toFixed(1)} ms | ${cell(wrapper, base)} | ${cell(raw, base)} | ${cell(typed, base)} |`);
  }
  console.log(`| all ${cases.length}, summed | | ${totals.base.toFixed(1)} ms | ${cell(totals.wrapper, totals.base)} | ${s ? cell(totals.raw, totals.base) : '—'} | |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
