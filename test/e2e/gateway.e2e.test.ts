/**
 * The model gateway end to end: a real core (in process, `process` runtime), real agent processes
 * and the real claude CLI, whose only way to the model is its gateway socket. The operator's key
 * reaches the scripted model; the agent's budget and model allow-list, changed through the gate,
 * stop its requests before they are forwarded, with a reason the agent's turn, the operator's
 * banner and the manager's inbox all carry.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allMessagesText, isMainTurn, startModelServer, type ModelServer } from '../support/model-server.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('gateway e2e', 'git');

setDefaultTimeout(90_000);

const KEY = 'sk-ant-e2e-operator-key';
let model: ModelServer;
let t: Awaited<ReturnType<typeof openTestHive>>;

/** Proposes `toml` as alice's agent.toml through the gate and approves it. */
async function configure(toml: string): Promise<void> {
  const dir = join(t.dir, 'proposed', 'alice', 'config');
  writeFileSync(join(dir, 'agent.toml'), toml);
  const git = (...args: string[]) => Bun.spawnSync(['git', '-C', dir, ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'gateway policy');
  const a = await t.hive.gate.requestApplyCommit('manager', 'alice', git('rev-parse', 'HEAD'));
  expect((await t.hive.gate.approve(a.id)).status).toBe('deployed');
}

/** True when some request that reached the model carried `text` (other agents' turns may reach it meanwhile). */
const reached = (text: string) => model.requests.some((r) => allMessagesText(r.body).includes(text));

/** Sends `body` to alice and waits for the turn it wakes. */
async function turn(body: string) {
  const m = t.hive.policy.send('operator', 'alice', body);
  return waitFor(`alice's turn for #${m.id}`, () => t.hive.turns.list({ agent: 'alice', limit: 20 }).find((x) => x.trigger_message_id === m.id && x.status !== 'running'), 60_000);
}

beforeAll(async () => {
  model = await startModelServer((req) => [{ type: 'text', text: isMainTurn(req.body) ? 'answered' : 'ok' }]);
  t = await openTestHive({ 'no-manager': false }, { ...model.env, ANTHROPIC_API_KEY: KEY });
  await t.hive.lifecycle.spawn('alice');
});
afterAll(async () => {
  await t?.close();
  await model?.close();
});

describe('model gateway, end to end', () => {
  test("a turn reaches the model with the operator's key; the agent's environment has none; the request is recorded against the turn", async () => {
    const done = await turn('hello');
    expect(done).toMatchObject({ status: 'ok', result: 'answered' });
    const seen = model.requests.filter((r) => isMainTurn(r.body));
    expect(seen.at(-1)!.headers['x-api-key']).toBe(KEY);
    const pid = t.hive.registry.require('alice').pid!;
    const environ = await Bun.file(`/proc/${pid}/environ`).text();
    expect(environ).not.toContain(KEY);
    const rows = t.hive.usage.recent({ agent: 'alice' });
    expect(rows.some((r) => r.turn_id === done.id && r.status === 200)).toBe(true);
    expect(t.hive.usage.byTurn([done.id]).get(done.id)!.requests).toBeGreaterThan(0);
  });

  test('over budget: nothing is forwarded; the turn, a banner and the manager say why', async () => {
    await configure('[budget]\ndailyUsd = 0\n');
    const done = await turn('this should not reach the model');
    expect(reached('this should not reach the model')).toBe(false);
    expect(done.status).not.toBe('ok');
    expect(JSON.stringify(done)).toContain('budget');
    const alert = t.hive.alerts.list().find((a) => a.kind === 'gateway_refused' && a.agent === 'alice')!;
    expect(alert.text).toContain('budget');
    const notice = t.hive.broker.list({ agent: 'manager', limit: 50 }).find((m) => m.kind === 'notice' && m.body.includes('model gateway refused a request of alice'));
    expect(notice).toBeDefined();
  });

  test('a model outside the allow-list is refused the same way; an allowed one goes through', async () => {
    await configure('model = "claude-sonnet-4-5"\nmodels = ["claude-haiku-4-5"]\n');
    const refused = await turn('sonnet, please');
    expect(reached('sonnet, please')).toBe(false);
    expect(refused.status).toBe('error');
    expect(refused.result).toContain('may not use model "claude-sonnet-4-5"');
    expect(t.hive.usage.recent({ agent: 'alice', limit: 1 })[0]).toMatchObject({ model: 'claude-sonnet-4-5', status: 403, turn_id: refused.id });
    await configure('model = "claude-haiku-4-5"\nmodels = ["claude-haiku-4-5"]\n');
    expect(await turn('haiku, please')).toMatchObject({ status: 'ok', result: 'answered' });
    expect(model.requests.find((r) => allMessagesText(r.body).includes('haiku, please'))!.body.model).toBe('claude-haiku-4-5');
  });

  test('a malformed budget, upstream or network.allow is refused at request time, naming the field', async () => {
    const dir = join(t.dir, 'proposed', 'alice', 'config');
    const git = (...args: string[]) => Bun.spawnSync(['git', '-C', dir, ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
    for (const [toml, field] of [
      ['[budget]\ndailyUsd = -1\n', 'budget.dailyUsd'],
      ['upstream = "ftp://models.example"\n', 'upstream'],
      ['[network]\nallow = ["*"]\n', 'network.allow.0'],
    ] as const) {
      writeFileSync(join(dir, 'agent.toml'), toml);
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', `bad ${field}`);
      await expect(t.hive.gate.requestApplyCommit('manager', 'alice', git('rev-parse', 'HEAD'))).rejects.toThrow(field);
    }
    expect(t.hive.approvals.list().filter((a) => a.status === 'pending')).toEqual([]);
  });
});
