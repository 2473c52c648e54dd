/**
 * Telemetry end to end, with the real `hive core serve`, real harnesses and real `claude` turns
 * against the scripted Messages API on loopback (the `process` runtime):
 *
 * - the samples written as turns end (turns, tools, messages by party, inbox depth, tokens, notes
 *   size, approval queue) come back from `GET /api/stats` for the agent and for the swarm;
 * - a turn running past `--stuck-turn-minutes` raises `agent_stuck`, which closes when it ends;
 * - messages left waiting for an idle agent whose harness takes nothing (stopped with SIGSTOP)
 *   raise `agent_stuck` after `--stuck-inbox-minutes`, which closes when it moves again.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { DataLayout } from '../../src/shared/paths.ts';
import type { StatsResponse } from '../../src/shared/stats.ts';
import { isMainTurn, lastUserPrompt, systemText, toolResults, startModelServer, type ModelServer } from '../support/model-server.ts';
import { ctlJson, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('telemetry e2e', 'git');

setDefaultTimeout(120_000);

let model: ModelServer;
let dir: string;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
const held: Array<() => void> = [];
const startedAt = Date.now();

/** What the operator writes to make an agent's model call `tool` with `input`. */
const directive = (tool: string, input: unknown) => `@@CALL ${JSON.stringify({ tool, input })}@@`;
const agentNamed = (name: string) => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === name);
const stuckAlert = (name: string) => (ctlJson(dir, 'alerts').alerts as any[]).find((a) => a.kind === 'agent_stuck' && a.agent === name);

async function stats(query: string): Promise<StatsResponse> {
  const res = await fetch(`${core.url}/api/stats?${query}`);
  if (res.status !== 200) throw new Error(`GET /api/stats?${query}: ${res.status} ${await res.text()}`);
  return (await res.json()) as StatsResponse;
}
const total = (xs: Array<number | null> | undefined) => (xs ?? []).reduce<number>((a, b) => a + (b ?? 0), 0);

beforeAll(async () => {
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const results = toolResults(req.body);
    if (results.length) return [{ type: 'text', text: 'done' }];
    const prompt = lastUserPrompt(req.body);
    if (prompt.includes('HOLD')) return new Promise((resolve) => held.push(() => resolve([{ type: 'text', text: 'released' }])));
    const m = /@@CALL (\{.*\})@@/s.exec(prompt);
    if (m && systemText(req.body).includes('You are alice')) {
      const { tool, input } = JSON.parse(m[1]!) as { tool: string; input: Record<string, unknown> };
      return [{ type: 'tool_use', name: `mcp__hyperhive__${tool}`, input }];
    }
    return [{ type: 'text', text: 'noted' }];
  });
  dir = tempDir('hv-st-');
  core = await startCoreProcess(dir, ['--stuck-turn-minutes', '0.05', '--stuck-inbox-minutes', '0.05'], model.env);
  ctlJson(dir, 'spawn', 'alice');
  ctlJson(dir, 'spawn', 'bob');
  await waitFor('everyone idle', () => ['manager', 'alice', 'bob'].every((n) => agentNamed(n)?.status === 'idle'), 60_000);
});

afterAll(async () => {
  for (const release of held) release();
  await core?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('telemetry', () => {
  test('turns end with their samples, and /api/stats serves them for the agent and the swarm', async () => {
    writeFileSync(`${new DataLayout(dir).agent('alice').state}/notes.md`, 'x'.repeat(1234));
    const first = ctlJson(dir, 'send', 'alice', directive('send', { to: 'bob', body: 'hello bob' }));
    await turnFor(dir, 'alice', first.id);
    const second = ctlJson(dir, 'send', 'alice', directive('send', { to: 'operator', body: 'hello operator' }));
    await turnFor(dir, 'alice', second.id);
    const toBob = await waitFor('bob to get alice\'s message', () =>
      (ctlJson(dir, 'messages', '--agent', 'bob').messages as any[]).find((m) => m.from === 'alice' && m.to === 'bob'),
    );
    await turnFor(dir, 'bob', toBob.id);

    const since = Math.floor(startedAt / 3_600_000) * 3_600_000;
    const q = `since=${since}&step=1h`;
    const alice = await stats(`agent=alice&${q}`);
    const turns = alice.series.turns_per_min!.map((v) => Math.round((v ?? 0) * 60));
    expect(total(turns)).toBe(2);
    expect(total(alice.series.turns_ok)).toBe(2);
    expect(total(alice.series.turns_error)).toBe(0);
    // one send to a peer and one to the operator over two turns
    const perTurn = (name: string) => alice.series[name]!.reduce<number>((a, v, i) => a + (v ?? 0) * turns[i]!, 0);
    expect(perTurn('sent_peer')).toBe(1);
    expect(perTurn('sent_operator')).toBe(1);
    expect(perTurn('received_operator')).toBe(2);
    expect(perTurn('tool_calls_per_turn')).toBe(2);
    expect(alice.tools).toEqual(['mcp__hyperhive__send']);
    expect(alice.specs.turn_p50_ms!.unit).toBe('ms');
    expect(alice.series.turn_p50_ms!.some((v) => v !== null && v > 0)).toBe(true);
    // the gateway saw both turns' model requests
    expect(total(alice.series.input_tokens)).toBeGreaterThan(0);
    expect(alice.series.notes_bytes!.at(-1)).toBe(1234);
    expect(alice.now.notes_bytes).toBe(1234);
    expect(alice.now.since_last_turn_ms).not.toBeNull();
    expect(alice.now.inbox_depth).toBe(0);

    const perTool = await stats(`agent=alice&${q}&series=tool:mcp__hyperhive__send`);
    expect(total(perTool.series['tool:mcp__hyperhive__send'])).toBe(2);

    const bob = await stats(`agent=bob&${q}`);
    const bobTurns = bob.series.turns_per_min!.map((v) => Math.round((v ?? 0) * 60));
    expect(bob.series.received_peer!.reduce<number>((a, v, i) => a + (v ?? 0) * bobTurns[i]!, 0)).toBe(1);

    const swarm = await stats(q);
    expect(swarm.agent).toBeNull();
    // alice's two turns and bob's (the manager's hello turns, if any, only add)
    expect(total(swarm.series.turns_per_min!.map((v) => Math.round((v ?? 0) * 60)))).toBeGreaterThanOrEqual(3);
    expect(swarm.series.approval_queue!.at(-1)).toBe(0);
  });

  test('a turn running past the threshold raises agent_stuck; it closes when the turn ends', async () => {
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD this turn');
    const alert = await waitFor('the stuck-turn alert', () => stuckAlert('alice'), 30_000);
    expect(alert.text).toMatch(/^has been in turn \S+ for \d+ s \(threshold 3 s\)/);
    held.shift()!();
    await turnFor(dir, 'alice', sent.id);
    await waitFor('the alert to close', () => !stuckAlert('alice'));
  });

  test('messages waiting for an idle agent that takes nothing raise agent_stuck; it closes when it moves', async () => {
    const pid = agentNamed('bob').pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      // the first message goes to the harness's waiting long-poll; the second has nobody to take it
      const a = ctlJson(dir, 'send', 'bob', 'one');
      const b = ctlJson(dir, 'send', 'bob', 'two');
      const alert = await waitFor('the stuck-inbox alert', () => stuckAlert('bob'), 30_000);
      expect(alert.text).toMatch(/^is idle with 1 message waiting for \d+ s \(threshold 3 s\)/);
      expect((await stats('agent=bob&since=1h')).now.inbox_depth).toBe(1);
      process.kill(pid, 'SIGCONT');
      await turnFor(dir, 'bob', a.id);
      await turnFor(dir, 'bob', b.id);
      await waitFor('the alert to close', () => !stuckAlert('bob'));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
