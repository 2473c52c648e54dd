/**
 * Standby claudes end to end: the real `hive core serve` (process runtime, `--standby-seconds 10`),
 * a real harness and real `claude` turns against the scripted Messages API on loopback.
 *
 * - after a turn, the harness holds a claude started for the next turn (a child of the harness
 *   reading stream-json on stdin), and the next turn runs on it: its first model request comes
 *   from that process's conversation, and the harness records how long it waited;
 * - a model change between turns ends the standby and the turn runs on a fresh claude with the new
 *   model;
 * - a transcript that changed since the standby started (someone else resumed the session) is not
 *   answered from the stale copy;
 * - a session cleared from the agent's page ends the standby;
 * - a standby ends by itself after `--standby-seconds`, and with the agent when it stops;
 * - a core started with `--standby-seconds 0` holds none.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMainTurn, lastUserPrompt, startModelServer, type ModelServer } from '../support/model-server.ts';
import { argvOf, ctlJson, processAlive, processTree, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';
import { DashboardClient } from '../support/dashboard.ts';

const { describe, test, beforeAll, afterAll } = requires('standby claude e2e', 'git');

setDefaultTimeout(120_000);

const STANDBY_SECONDS = 10;

let model: ModelServer;
let dir: string;
let core: Awaited<ReturnType<typeof startCoreProcess>>;

const alice = () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'alice');

/** The pids of the processes under `harness` whose command line holds `--input-format stream-json`: standby or turn claudes. */
const streamClaudes = (harness: number): number[] =>
  processTree(harness).filter((p) => p !== harness && argvOf(p).join(' ').includes('--input-format stream-json'));

/** Waits for alice's harness to hold exactly one standby claude; returns its pid. */
const standbyOf = (harness: number, not?: number) =>
  waitFor('a standby claude', () => {
    const pids = streamClaudes(harness).filter((p) => p !== not);
    return pids.length === 1 ? pids[0] : null;
  });

/** alice's `turn_end` history rows, oldest first. */
function turnEnds(): any[] {
  const db = new Database(join(dir, 'agents', 'alice', 'state', '.hive', 'history.db'), { readonly: true });
  try {
    return db.query<{ data: string }, []>(`SELECT data FROM events WHERE kind = 'turn_end' ORDER BY id`).all().map((r) => JSON.parse(r.data));
  } finally {
    db.close();
  }
}

/** Sends `body` to alice and waits for its turn; returns the turn's history row. */
async function turn(body: string): Promise<any> {
  const { id } = ctlJson(dir, 'send', 'alice', body);
  const t = await turnFor(dir, 'alice', id);
  expect(t.status).toBe('ok');
  return waitFor(`alice's history of turn ${t.id}`, () => turnEnds().find((r) => r.id === t.id));
}

/** The model requests of alice's main turns whose prompt holds `marker`. */
const requestsFor = (marker: string) => model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes(marker));

beforeAll(async () => {
  model = await startModelServer((req) => [{ type: 'text', text: `reply to: ${lastUserPrompt(req.body).slice(-40)}` }]);
  dir = tempDir('hv-sb-');
  core = await startCoreProcess(dir, ['--no-manager', '--standby-seconds', String(STANDBY_SECONDS)], model.env);
  ctlJson(dir, 'spawn', 'alice');
  await waitFor('alice idle', () => alice()?.status === 'idle');
});

afterAll(async () => {
  await core?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a claude started ahead of the next turn', () => {
  test('after a turn the harness holds one, and the next turn runs on it', async () => {
    const first = await turn('first message SB-ONE');
    expect(first.standby_ms).toBeNull(); // the agent's first turn: nothing was started ahead
    const harness = alice().pid as number;
    const pid = await standbyOf(harness);

    const second = await turn('second message SB-TWO');
    expect(second.standby_ms).toBeGreaterThan(0);
    expect(processAlive(pid)).toBe(false); // it ran the turn and ended
    // the conversation carried over: the second request holds the first exchange
    const [req] = requestsFor('SB-TWO');
    expect(JSON.stringify(req!.body.messages)).toContain('SB-ONE');
    expect(req!.body.tools.map((t: any) => t.name)).toContain('mcp__hyperhive__send');
    // and the next one is already waiting
    await standbyOf(harness, pid);
  });

  test('a model change ends the standby; the turn runs on a fresh claude with the new model', async () => {
    const harness = alice().pid as number;
    const pid = await standbyOf(harness);
    ctlJson(dir, 'model', 'alice', 'sonnet');
    const t = await turn('after the model change SB-MODEL');
    expect(t.standby_ms).toBeNull();
    expect(processAlive(pid)).toBe(false);
    expect(requestsFor('SB-MODEL')[0]!.body.model).toContain('sonnet');
    ctlJson(dir, 'model', 'alice', '--reset');
    // the reset applies from the next turn, so this standby still has sonnet and is not used
    await standbyOf(harness);
    expect((await turn('back to the default SB-RESET')).standby_ms).toBeNull();
    expect(requestsFor('SB-RESET')[0]!.body.model).not.toContain('sonnet');
  });

  test('a transcript that changed while the standby waited is not answered from the stale copy', async () => {
    const harness = alice().pid as number;
    const pid = await standbyOf(harness);
    const session = turnEnds().at(-1)!.session_id as string;
    const projects = join(dir, 'agents', 'alice', 'claude', 'projects');
    const transcript = readdirSync(projects)
      .map((p) => join(projects, p, `${session}.jsonl`))
      .find((f) => Bun.file(f).size > 0)!;
    // what another `claude --resume` of the session would do: append to it
    appendFileSync(transcript, '\n');
    const t = await turn('after the transcript grew SB-STALE');
    expect(t.standby_ms).toBeNull();
    expect(processAlive(pid)).toBe(false);
    expect(readFileSync(join(dir, 'logs', 'alice.log'), 'utf8')).toContain(`turn ${t.id}: the standby claude was not used (transcript)`);
  });

  test('clearing the session ends the standby', async () => {
    const harness = alice().pid as number;
    const pid = await standbyOf(harness);
    const page = await DashboardClient.open({ handle: (req) => fetch(req) }, core.url);
    const res = await page.post('/agents/alice/page/send', { body: '/clear' });
    expect(res.status).toBe(204);
    expect(JSON.parse(res.headers.get('hx-trigger') ?? '{}').toast.text).toContain('session cleared');
    await waitFor('the standby to end', () => !processAlive(pid));
    const t = await turn('in a new session SB-CLEAR');
    expect(t.standby_ms).toBeNull();
    expect(JSON.stringify(requestsFor('SB-CLEAR')[0]!.body.messages)).not.toContain('SB-ONE');
  });

  test(`a standby ends by itself after ${STANDBY_SECONDS} s, and with its agent`, async () => {
    const harness = alice().pid as number;
    const pid = await standbyOf(harness);
    const since = Date.now();
    await waitFor('the standby to expire', () => !processAlive(pid), (STANDBY_SECONDS + 20) * 1000);
    expect(Date.now() - since).toBeGreaterThan((STANDBY_SECONDS - 2) * 1000);
    expect(streamClaudes(harness)).toEqual([]);
    // an agent stopped with a standby waiting leaves no claude behind
    await turn('one more SB-STOP');
    const again = await standbyOf(harness);
    ctlJson(dir, 'stop', 'alice');
    await waitFor('alice stopped', () => alice()?.status === 'offline');
    await waitFor('the standby to end with its agent', () => !processAlive(again), 15_000);
  });
});

describe('--standby-seconds 0', () => {
  test('holds no standby claude', async () => {
    await core.stop();
    core = await startCoreProcess(dir, ['--no-manager', '--standby-seconds', '0'], model.env);
    ctlJson(dir, 'start', 'alice');
    await waitFor('alice idle', () => alice()?.status === 'idle');
    const harness = alice().pid as number;
    await turn('with standbys off SB-OFF');
    const second = await turn('and again SB-OFF2');
    expect(second.standby_ms).toBeNull();
    expect(streamClaudes(harness)).toEqual([]);
  });
});
