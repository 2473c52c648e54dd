/**
 * Memory: an idle harness's resident set, and the core's with N agents after many dashboard page
 * loads and with many live streams open.
 *
 *   bun bench/memory.ts [--agents 100] [--loads 1000] [--streams 100] [--runtime nspawn] [--parallel 4]
 *
 * Starts the real `hive core serve` (no manager, runtime `nspawn`, else bwrap, else process, with a
 * printed note) in a temp data dir, spawns N agents and waits until every one is idle. Then reads
 * VmRSS from /proc: of each harness (the `agent serve` Bun process alone, not its sandbox's
 * wrappers), and of the core as the page loads go on (`GET /` over real HTTP on loopback, one at
 * a time, each body read whole) and once `--streams` pages hold their live stream open (in a second
 * process, so its memory is not the core's; counted open when each has its first chunk): first
 * with the URL the page's `hx-sse:connect` names, as a browser opens it, then with a bare
 * `GET /events`, whose catch-up carries every section. The baseline,
 * measured alongside, is a bare `bun -e` holding two connected sockets (a listener and a client of
 * it), which is what a harness is at the least.
 *
 * RSS counts every page a process maps, including the `bun` executable's code, which all Bun
 * processes on the host share. So the harness and the baseline are also given by their
 * proportional share (PSS) and their private pages (what one more agent adds), from smaps_rollup.
 */
import { parseArgs } from 'node:util';
import { SOCKET_PAIR_SCRIPT, kindOf, memoryOf, pct, pickRuntime, sample, sampleAll, startSwarm } from './lib/swarm.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string' },
    loads: { type: 'string' },
    streams: { type: 'string' },
    runtime: { type: 'string' },
    parallel: { type: 'string' },
    child: { type: 'string' },
  },
});

if (values.child) {
  // the open pages: N streams on /events; prints "open" once every one has its first chunk
  const n = Number(values.streams);
  let open = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(values.child!);
      const reader = res.body!.getReader();
      let first = true;
      for (;;) {
        const { done } = await reader.read();
        if (done) return;
        if (first && ++open === n) console.log('open');
        first = false;
      }
    }),
  );
  process.exit(0);
}

const AGENTS = Number(values.agents ?? 100);
const LOADS = Number(values.loads ?? 1000);
const STREAMS = Number(values.streams ?? 100);
const runtime = pickRuntime(values.runtime ?? 'nspawn');
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

console.log(`memory: core + ${AGENTS} idle agents (runtime ${runtime}), ${LOADS} page loads, ${STREAMS} live streams; Bun ${Bun.version}`);
const swarm = await startSwarm(runtime, AGENTS, Number(values.parallel ?? 4), console.log);
const baseline = Bun.spawn([process.execPath, '-e', SOCKET_PAIR_SCRIPT], { stdout: 'ignore', stderr: 'inherit' });
let streams: { kill(): void; exited: Promise<number> } | null = null;
const coreRss = () => sample(swarm.corePid)!.rssKiB;
try {
  await Bun.sleep(5000); // start-up allocations settle
  const procs = [...sampleAll(swarm.pids()).values()];
  const harnesses = procs.filter((s) => kindOf(s, swarm.corePid) === 'harness');
  const harness = harnesses.map((s) => s.rssKiB).sort((a, b) => a - b);
  const split = harnesses.map((s) => memoryOf(s.pid)).filter((m) => m !== null);
  const p50 = (f: (m: NonNullable<ReturnType<typeof memoryOf>>) => number) => mib(pct(split.map(f).sort((a, b) => a - b), 50));
  const base = memoryOf(baseline.pid)!;
  console.log(`| process | RSS | PSS | private | shared file pages |`);
  console.log(`|---|---|---|---|---|`);
  console.log(`| baseline: bare \`bun -e\` with two connected sockets | ${mib(base.rss)} | ${mib(base.pss)} | ${mib(base.private)} | ${mib(base.sharedFile)} |`);
  console.log(`| harness, idle, p50 over ${split.length} | ${p50((m) => m.rss)} | ${p50((m) => m.pss)} | ${p50((m) => m.private)} | ${p50((m) => m.sharedFile)} |`);
  console.log('');
  console.log(`| measure | RSS |`);
  console.log(`|---|---|`);
  console.log(`| harness, idle, p50 / max over ${harness.length} | ${mib(pct(harness, 50))} / ${mib(harness.at(-1)!)} |`);
  console.log(`| core with ${AGENTS} idle agents, no page loaded | ${mib(coreRss())} |`);
  const marks = new Set([1, 10, 100, 250, 500, 1000, 2000, LOADS]);
  const t0 = performance.now();
  let page = '';
  for (let i = 1; i <= LOADS; i++) {
    const res = await fetch(`${swarm.url}/`);
    if (res.status !== 200) throw new Error(`GET / answered ${res.status}`);
    page = await res.text();
    if (marks.has(i)) console.log(`| core after ${i} page loads | ${mib(coreRss())} |`);
  }
  const perLoad = (performance.now() - t0) / LOADS;
  await Bun.sleep(5000);
  console.log(`| core 5 s after the last load | ${mib(coreRss())} |`);
  // the stream a page opens names what the page has (`seen`); a bare /events gets every section
  const connect = /hx-sse:connect="([^"]+)"/.exec(page)?.[1]?.replaceAll('&amp;', '&');
  if (!connect) throw new Error('the page names no stream (hx-sse:connect)');
  for (const [what, path] of [
    ["the page's stream URL", connect],
    ['bare /events: every section in each catch-up', '/events'],
  ] as const) {
    const child = Bun.spawn([process.execPath, import.meta.path, '--child', `${swarm.url}${path}`, '--streams', String(STREAMS)], {
      stdout: 'pipe',
      stderr: 'inherit',
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(Math.max(256, STREAMS + 16)) },
    });
    streams = child;
    const reader = child.stdout.getReader();
    const dec = new TextDecoder();
    for (let out = ''; !out.includes('open'); ) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream client ended before its streams were open');
      out += dec.decode(value);
    }
    await Bun.sleep(2000);
    console.log(`| core with ${STREAMS} live streams open (${what}) | ${mib(coreRss())} |`);
    child.kill();
    await child.exited;
    streams = null;
    await Bun.sleep(5000);
  }
  console.log(`page: ${(page.length / 1024).toFixed(0)} KiB, ${perLoad.toFixed(1)} ms per load on average`);
} finally {
  streams?.kill();
  await streams?.exited;
  baseline.kill();
  await baseline.exited;
  await swarm.close();
}
process.exit(0);
