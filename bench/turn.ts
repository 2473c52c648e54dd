/**
 * What a hive turn adds before claude's first model request: from the operator's send to the first
 * `POST /v1/messages` at a loopback Messages API stand-in, against a bare `claude -p` started
 * directly against the same stand-in.
 *
 *   bun bench/turn.ts [--runs 20] [--no-stdio] [--pace-ms 3000]
 *
 * Variants, run round-robin so drift on the machine hits all of them alike (one warm-up round is
 * dropped), except hive, whose runs come after all the others: its standby claude works for
 * seconds after it starts (docs/performance.md) and would slow whatever ran beside it:
 * - bare: `claude -p` with no MCP servers (`--strict-mcp-config`, no config), spawned by this
 *   process; the clock starts just before the spawn.
 * - hive: a real `hive core serve` (process runtime, no manager, the default `--standby-seconds`)
 *   with one idle agent; the clock starts just before the operator's `send` is written to
 *   host.sock, and the turn runs the way every turn does (recv wake, turn_start, history, `--resume`
 *   after the first, the model gateway, the hive's tools from the harness's HTTP endpoint). Each
 *   run follows the agent's previous turn by `--pace-ms` (3,000), so it runs on the claude its
 *   harness started after that turn (`agent/claude/standby.ts`): an agent in a conversation.
 * - cold: the same in a second core started with `--standby-seconds 0`: every turn starts its own
 *   claude, as the first turn after a quiet spell does.
 * - stdio: as bare, plus `--mcp-config` naming `hive mcp` over stdio on the same agent's socket:
 *   what each turn paid before the harness served the tools itself.
 * - http: as bare, plus `--mcp-config` naming an HTTP endpoint (`src/mcp/http.ts`) served by this
 *   process on the agent's socket: the cost of the tools alone, without the rest of a hive turn.
 * - resume: as bare, plus `--resume` of a copy of the cold agent's conversation as it is at that
 *   moment: what claude itself spends taking up a conversation of that length, which a cold turn
 *   pays and bare does not.
 *
 * Every variant but bare and resume must list `mcp__hyperhive__send` in its first request, or the bench fails.
 * The stand-in is `test/support/model-server.ts`; it timestamps the first request that carries the
 * run's marker. Each run waits for claude to finish (or the turn to end) before the next starts.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { JsonLineClient } from '../src/shared/jsonl.ts';
import { DataLayout } from '../src/shared/paths.ts';
import { ENTRY, defaultClaudeBin } from '../src/shared/version.ts';
import { AgentOps, HostOps } from '../src/shared/wire.ts';
import { serveMcpHttp } from '../src/mcp/http.ts';
import { lastUserPrompt, startModelServer, toolNames } from '../test/support/model-server.ts';
import { processTree, startCoreProcess, tempDir, waitFor } from '../test/support/hive.ts';
import { cpuNsBetween, sample, switchesBetween, type ProcSample } from './lib/swarm.ts';

const { values } = parseArgs({ options: { runs: { type: 'string' }, 'no-stdio': { type: 'boolean' }, 'pace-ms': { type: 'string' } } });
const RUNS = Number(values.runs ?? 20);
/** How long after a hive turn ends the next message comes: the pace of a conversation, ms. */
const PACE_MS = Number(values['pace-ms'] ?? 3000);
const AGENT = 'bench';
const CLAUDE = defaultClaudeBin();

type Variant = 'bare' | 'hive' | 'cold' | 'resume' | 'stdio' | 'http';
// resume follows cold, whose conversation it copies
const VARIANTS: Variant[] = values['no-stdio'] ? ['bare', 'hive', 'cold', 'resume', 'http'] : ['bare', 'hive', 'cold', 'resume', 'stdio', 'http'];

/** First request per marker: when it arrived (performance.now()) and the tools it offered. */
const first = new Map<string, { at: number; tools: string[] }>();
const model = await startModelServer((req) => {
  const m = /BENCH-[a-z0-9-]+/.exec(lastUserPrompt(req.body));
  if (m && !first.has(m[0])) first.set(m[0], { at: performance.now(), tools: toolNames(req.body) });
  return [{ type: 'text', text: 'ok' }];
});

/** A core with one idle agent, started with `flags`. */
async function hiveWith(flags: string[]) {
  const dir = tempDir('hv-bt-');
  const layout = new DataLayout(dir);
  const core = await startCoreProcess(dir, ['--no-manager', ...flags], model.env);
  const host = new JsonLineClient(layout.hostSocket, HostOps);
  await host.call('spawn', { name: AGENT });
  await waitFor('the agent idle', async () => (await host.call('list', {})).agents.find((a) => a.name === AGENT && a.status === 'idle'));
  return { dir, layout, core, host };
}
const warm = await hiveWith([]);
const cold = await hiveWith(['--standby-seconds', '0']);
const { dir, host } = warm;
const agentSocket = warm.layout.agent(AGENT).socket;

// claude as the harness runs it, minus the gateway: straight at the stand-in
const scratch = join(dir, 'bare');
mkdirSync(join(scratch, 'claude'), { recursive: true });
const claudeEnv = {
  PATH: process.env.PATH!,
  HOME: scratch,
  CLAUDE_CONFIG_DIR: join(scratch, 'claude'),
  ...model.env,
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_AUTOUPDATER: '1',
  ENABLE_TOOL_SEARCH: 'false',
};
const stdioConfig = join(scratch, 'stdio.json');
writeFileSync(
  stdioConfig,
  JSON.stringify({ mcpServers: { hyperhive: { type: 'stdio', command: process.execPath, args: [ENTRY, 'mcp'], env: { HIVE_SOCKET: agentSocket, HIVE_ROLE: 'agent' } } } }),
);
const endpointClient = new JsonLineClient(agentSocket, AgentOps);
const endpoint = await serveMcpHttp({ client: endpointClient, socket: agentSocket, role: 'agent' });
const httpConfig = join(scratch, 'http.json');
writeFileSync(
  httpConfig,
  JSON.stringify({ mcpServers: { hyperhive: { type: 'http', url: endpoint.url, headers: { Authorization: `Bearer ${endpoint.token}` } } } }),
);

/** Runs `claude -p` once with `extra` flags; resolves with send → first request, ms. */
async function direct(marker: string, extra: string[]): Promise<number> {
  const argv = [CLAUDE, '-p', '--output-format', 'stream-json', '--verbose', '--model', 'haiku', '--strict-mcp-config', ...extra, '--', `${marker} ping`];
  const t0 = performance.now();
  const proc = Bun.spawn(argv, { cwd: scratch, env: claudeEnv, stdout: 'ignore', stderr: 'pipe' });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`claude exited ${code}: ${await new Response(proc.stderr).text()}`);
  const f = first.get(marker);
  if (!f) throw new Error(`no model request for ${marker}`);
  return f.at - t0;
}

/** One hive turn on `host`'s agent: the operator's send through the first request, then waits for the turn to end. */
async function hiveTurn(host: JsonLineClient<typeof HostOps>, marker: string): Promise<number> {
  const t0 = performance.now();
  const { id } = await host.call('send', { to: AGENT, body: `${marker} ping` });
  await waitFor(`the turn for #${id}`, async () =>
    (await host.call('turns', { agent: AGENT, limit: 5 })).turns.find((t) => t.trigger_message_id === id && t.status !== 'running'),
  );
  const turn = (await host.call('turns', { agent: AGENT, limit: 5 })).turns.find((t) => t.trigger_message_id === id)!;
  if (turn.status !== 'ok') throw new Error(`turn failed: ${turn.result}`);
  const f = first.get(marker);
  if (!f) throw new Error(`no model request for ${marker}`);
  return f.at - t0;
}

/**
 * Copies the cold agent's newest conversation to where a claude started in `scratch` finds it
 * (claude keeps a conversation under `projects/<its cwd, every other character a dash>/`).
 * @returns its session id.
 */
function copyColdConversation(): string {
  const projects = join(cold.layout.agent(AGENT).claude, 'projects');
  const newest = readdirSync(projects)
    .flatMap((d) => readdirSync(join(projects, d)).filter((f) => f.endsWith('.jsonl')).map((f) => join(projects, d, f)))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error(`no conversation of the cold agent under ${projects}`);
  const dest = join(scratch, 'claude', 'projects', scratch.replace(/[^a-zA-Z0-9]/g, '-'));
  mkdirSync(dest, { recursive: true });
  const id = basename(newest, '.jsonl');
  copyFileSync(newest, join(dest, `${id}.jsonl`));
  return id;
}

const run: Record<Variant, (marker: string) => Promise<number>> = {
  bare: (m) => direct(m, []),
  hive: (m) => hiveTurn(warm.host, m),
  cold: (m) => hiveTurn(cold.host, m),
  stdio: (m) => direct(m, ['--mcp-config', stdioConfig]),
  http: (m) => direct(m, ['--mcp-config', httpConfig]),
  resume: (m) => direct(m, ['--resume', copyColdConversation()]),
};

const samples: Record<Variant, number[]> = { bare: [], hive: [], cold: [], resume: [], stdio: [], http: [] };
/** What the warm hive's standby claude holds while it waits: RSS (KiB) and CPU over the window. */
let standbyCost: Awaited<ReturnType<typeof measureStandby>> | null = null;
try {
  const measure = async (v: Variant, round: number) => {
    const marker = `BENCH-${v}-${round}-${crypto.randomUUID().slice(0, 8)}`;
    const ms = await run[v](marker);
    if (v !== 'bare' && v !== 'resume' && !first.get(marker)!.tools.includes('mcp__hyperhive__send')) {
      throw new Error(`${v}: the first request did not list the hive's tools (${first.get(marker)!.tools.join(', ')})`);
    }
    if (round > 0) samples[v].push(ms);
  };
  // no standby claude is alive during these: the cold core keeps none, the warm one has had no turn
  for (let round = 0; round <= RUNS; round++) for (const v of VARIANTS) if (v !== 'hive') await measure(v, round);
  for (let round = 0; round <= RUNS; round++) {
    await measure('hive', round);
    await Bun.sleep(PACE_MS);
  }
  standbyCost = await measureStandby();
} finally {
  await endpoint.close();
  endpointClient.close();
  for (const h of [warm, cold]) {
    h.host.close();
    await h.core.stop();
    rmSync(h.dir, { recursive: true, force: true });
  }
  await model.close();
}

/**
 * Samples the warm hive's standby claude (the harness's child reading stream-json on stdin) from
 * when it is found: its CPU time and context switches (all threads) per second over its first 15 s
 * (its start-up, and the work it defers to a few seconds later) and over the 10 s after that (what
 * it costs while it just waits), and its RSS at the end. The default 30 s standby outlives both.
 */
async function measureStandby() {
  const harness = (await host.call('list', {})).agents.find((a) => a.name === AGENT)!.pid!;
  const pid = await waitFor('the standby claude', () =>
    processTree(harness).find((p) => p !== harness && sample(p)?.cmdline.includes('--input-format stream-json')),
  );
  const at = async (ms: number) => {
    await Bun.sleep(ms);
    const s = sample(pid);
    if (!s) throw new Error('the standby claude ended while it was measured');
    return s;
  };
  const a = await at(0);
  const b = await at(15_000);
  const c = await at(10_000);
  const rate = (x: ProcSample, y: ProcSample, seconds: number) => ({ cpuPct: (cpuNsBetween(x, y) / (seconds * 1e9)) * 100, switchesPerS: switchesBetween(x, y) / seconds });
  return { rssKiB: c.rssKiB, first: rate(a, b, 15), then: rate(b, c, 10) };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const base = pct(samples.bare, 50);
console.log(`claude ${CLAUDE}, ${RUNS} runs each (after one warm-up round)\n`);
console.log('| variant | send → first model request, p50 | p90 | min | vs bare, p50 | ratio, p50 |');
console.log('|---|---|---|---|---|---|');
for (const v of VARIANTS) {
  const p50 = pct(samples[v], 50);
  const d = p50 - base;
  console.log(
    `| ${v} | ${p50.toFixed(0)} ms | ${pct(samples[v], 90).toFixed(0)} ms | ${Math.min(...samples[v]).toFixed(0)} ms | ${v === 'bare' ? '–' : `${d >= 0 ? '+' : ''}${d.toFixed(0)} ms`} | ${(p50 / base).toFixed(2)}× |`,
  );
}
if (standbyCost) {
  const r = (x: { cpuPct: number; switchesPerS: number }) => `${x.cpuPct.toFixed(2)} % of one core, ${x.switchesPerS.toFixed(0)} context switches/s`;
  console.log(`\nthe standby claude: its first 15 s ${r(standbyCost.first)}; the 10 s after ${r(standbyCost.then)}; RSS ${(standbyCost.rssKiB / 1024).toFixed(0)} MiB`);
}
