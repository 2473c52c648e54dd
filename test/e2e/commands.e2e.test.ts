/**
 * The agent page's slash commands end to end: a real hive (in this process, `process` runtime), a
 * real harness serving alice's page, the dashboard's proxy in front of it, and real `claude` turns
 * against the scripted Messages API. Each command is posted as the operator's prompt box posts it
 * (`POST /agents/alice/page/send` with the session's CSRF token), and the model server's request log
 * shows what reached the model:
 *
 * - `/help`, `/cancel`, `/model`, `/clear` and an unknown command never reach the model, and queue
 *   no message; `//text` sends `/text` as a message;
 * - `/cancel` answers that nothing runs when idle, and cancels a running turn;
 * - `/model NAME` changes the model of the next turn's requests, `/model reset` restores it, and
 *   the MCP tools claude is offered do not include the op behind it;
 * - `/clear` gives the next turn a new session, with none of the old conversation;
 * - `/compact` runs Claude Code's own compaction (one summary request), and the next turn resumes
 *   the compacted session;
 * - a command button's two posts (arm, then confirm).
 */
import { expect } from 'bun:test';
import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { allMessagesText, isMainTurn, lastUserPrompt, lastUserText, startModelServer, toolNames, type ModelServer } from '../support/model-server.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('slash commands e2e', 'git');

/** Words of Claude Code's compaction request (2.1.329), which the stand-in answers with a summary. */
const COMPACT_ASK = 'create a detailed summary of the conversation so far';

let model: ModelServer;
let t: Awaited<ReturnType<typeof openTestHive>>;
let page: DashboardClient;
const held: Array<() => void> = [];
let summaries = 0;

/** Posts the prompt box's text (and any extra fields) to alice's page through the dashboard. */
const send = (body: string, extra: Record<string, string> = {}) => page.post('/agents/alice/page/send', { body, ...extra });
/** The toast a response carries. */
const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger') ?? '{}').toast as { text: string; ok: boolean };

/** alice's history rows of `kind`, oldest first, with their JSON parsed. */
function rows(kind: string): Array<{ id: number; turn_id: string | null; data: any }> {
  const db = new Database(join(t.hive.layout.agent('alice').state, '.hive', 'history.db'), { readonly: true });
  try {
    return db
      .query<{ id: number; turn_id: string | null; data: string }, [string]>('SELECT id, turn_id, data FROM events WHERE kind = ? ORDER BY id')
      .all(kind)
      .map((r) => ({ ...r, data: JSON.parse(r.data) }));
  } finally {
    db.close();
  }
}

/** alice's own record of her turns, newest first. */
function ownTurns(): Array<{ id: string; session_id: string | null; status: string; result: string | null }> {
  const db = new Database(join(t.hive.layout.agent('alice').state, '.hive', 'history.db'), { readonly: true });
  try {
    return db.query<any, []>('SELECT id, session_id, status, result FROM turns ORDER BY started_at DESC, rowid DESC').all();
  } finally {
    db.close();
  }
}

/** Waits for alice's finished turn on message `id` (as the core recorded it). */
const turnFor = (id: number) =>
  waitFor(`alice's turn for #${id}`, () => t.hive.turns.list({ agent: 'alice', limit: 50 }).find((x) => x.trigger_message_id === id && x.status !== 'running'), 60_000);

/** Sends `body` to alice as the operator from her page and waits for the turn it wakes. */
async function pageTurn(body: string) {
  const res = await send(body);
  expect(res.status).toBe(204);
  const id = Number(/queued as message #(\d+)/.exec(toast(res).text)?.[1]);
  expect(id).toBeGreaterThan(0);
  return turnFor(id);
}

/** The main-turn requests whose typed prompt includes `text`. */
const asked = (text: string) => model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes(text));

beforeAll(async () => {
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    if (lastUserText(req.body).includes(COMPACT_ASK)) return [{ type: 'text', text: `<analysis>a</analysis>\n<summary>SUMMARY-${++summaries} of the talk</summary>` }];
    const prompt = lastUserPrompt(req.body);
    if (prompt.includes('HOLD')) return new Promise((resolve) => held.push(() => resolve([{ type: 'text', text: 'released' }])));
    return [{ type: 'text', text: `noted: ${/ANSWER-\w+/.exec(prompt)?.[0] ?? 'that'}` }];
  });
  t = await openTestHive({}, model.env);
  await t.hive.lifecycle.spawn('alice');
  await waitFor('alice idle', () => t.hive.registry.require('alice').status === 'idle', 60_000);
  page = await DashboardClient.open(createDashboard(t.hive));
  // the harness says hello before its page listens: wait until the page answers through the proxy
  await waitFor("alice's page", async () => (await page.get('/agents/alice/page/')).status === 200);
});

afterAll(async () => {
  for (const release of held) release();
  await t?.close();
  await model?.close();
});

describe('slash commands on the agent page', () => {
  test('/help lists the commands as a toast and a tail row, and reaches neither the model nor the inbox', async () => {
    const before = model.requests.length;
    const lastMessage = t.hive.broker.lastId();
    const res = await send('/help');
    expect(res.status).toBe(204);
    const { text, ok } = toast(res);
    expect(ok).toBe(true);
    for (const c of ['/help', '/cancel', '/clear', '/compact', '/model', '/compact-notes']) expect(text).toContain(c);
    expect(rows('command').at(-1)!.data).toMatchObject({ input: '/help', ok: true, text });
    const html = await (await page.get('/agents/alice/page/')).text();
    expect(html).toContain('data-kind="command"');
    expect(model.requests.length).toBe(before);
    expect(t.hive.broker.lastId()).toBe(lastMessage);
  });

  test('an unknown command is refused with the list of known ones', async () => {
    const res = await send('/frobnicate the widgets');
    expect(res.status).toBe(400);
    const { text, ok } = toast(res);
    expect(ok).toBe(false);
    expect(text).toStartWith('unknown command /frobnicate; the commands are /help, /cancel, /clear, /compact, /model, /compact-notes');
    expect(await res.text()).toBe(text);
  });

  test('//text is a message starting with /; the commands before it never reached the model', async () => {
    const turn = await pageTurn('//frobnicate is a path, ANSWER-one');
    expect(turn.status).toBe('ok');
    const prompt = lastUserPrompt(asked('ANSWER-one')[0]!.body);
    expect(prompt).toContain('/frobnicate is a path, ANSWER-one');
    expect(prompt).not.toContain('//frobnicate');
    for (const r of model.requests) {
      expect(allMessagesText(r.body)).not.toContain('/help');
      expect(allMessagesText(r.body)).not.toContain('the widgets');
    }
  });

  test('/cancel says so when nothing runs, and cancels a running turn', async () => {
    const idle = await send('/cancel');
    expect(idle.status).toBe(204);
    expect(toast(idle)).toEqual({ text: 'nothing to cancel: no turn is running', ok: false });

    const res = await send('HOLD this one');
    const id = Number(/#(\d+)/.exec(toast(res).text)![1]);
    await waitFor('the held model request', () => held.length > 0, 60_000);
    const before = model.requests.length;
    const cancel = await send('/cancel');
    expect(toast(cancel)).toEqual({ text: 'cancelling the running turn', ok: true });
    const turn = await turnFor(id);
    expect(turn.status).toBe('error');
    expect(turn.result).toBe('cancelled by the operator');
    expect(model.requests.length).toBe(before);
    held.shift()!();
  });

  test('/model NAME switches the next turn’s model, /model reset goes back; the op is no MCP tool', async () => {
    const configured = t.hive.registry.require('alice').model;
    const before = model.requests.length;
    const res = await send('/model claude-sonnet-4-5');
    expect(toast(res)).toEqual({ text: 'alice uses claude-sonnet-4-5 from its next turn, until its config changes', ok: true });
    expect(t.hive.registry.require('alice')).toMatchObject({ model: 'claude-sonnet-4-5', model_override: 'claude-sonnet-4-5' });
    expect(model.requests.length).toBe(before);
    await pageTurn('which model, ANSWER-sonnet');
    expect(asked('ANSWER-sonnet').map((r) => r.body.model)).toEqual(['claude-sonnet-4-5']);

    const reset = await send('/model reset');
    expect(toast(reset)).toEqual({ text: `alice is back to its configured model, ${configured}, from its next turn`, ok: true });
    expect(t.hive.registry.require('alice').model_override).toBeNull();
    await pageTurn('and now, ANSWER-back');
    expect(asked('ANSWER-back')[0]!.body.model).not.toBe('claude-sonnet-4-5');

    const bad = await send('/model not a model!');
    expect(bad.status).toBe(400);
    expect(toast(bad).text).toBe('"not a model!" is not a model name (e.g. haiku, sonnet, claude-sonnet-4-5)');

    const tools = toolNames(asked('ANSWER-back')[0]!.body);
    expect(tools).toContain('mcp__hyperhive__send');
    expect(tools.filter((n) => n.includes('operator_'))).toEqual([]);
  });

  test('/clear: the next turn starts a new session without the old conversation, which stays in history', async () => {
    const old = ownTurns()[0]!.session_id!;
    expect(old).toBeTruthy();
    const before = model.requests.length;
    const res = await send('/clear');
    expect(toast(res)).toEqual({ text: `session cleared: the next turn starts a new one (the old one was ${old})`, ok: true });
    expect(rows('session').at(-1)!.data).toMatchObject({ action: 'cleared', session_id: old });
    expect(model.requests.length).toBe(before);

    const none = await send('/compact');
    expect(toast(none)).toEqual({ text: 'there is no session to compact yet: the next turn starts one', ok: false });

    await pageTurn('fresh start, ANSWER-fresh');
    const first = asked('ANSWER-fresh')[0]!.body;
    expect(allMessagesText(first)).not.toContain('ANSWER-one');
    const [latest] = ownTurns();
    expect(latest!.session_id).toBeTruthy();
    expect(latest!.session_id).not.toBe(old);
    expect(ownTurns().filter((x) => x.session_id === old).length).toBeGreaterThan(1);
  });

  test('/compact runs Claude Code’s compaction; the next turn resumes the compacted session', async () => {
    const session = ownTurns()[0]!.session_id!;
    const before = model.requests.length;
    const res = await send('/compact keep the fresh start');
    expect(res.status).toBe(204);
    const { text, ok } = toast(res);
    expect(ok).toBe(true);
    expect(text).toMatch(/^session compacted: about \d+ → \d+ tokens$/);
    const during = model.requests.slice(before);
    expect(during).toHaveLength(1);
    expect(lastUserText(during[0]!.body)).toContain(COMPACT_ASK);
    expect(lastUserText(during[0]!.body)).toContain('keep the fresh start');

    expect(rows('session').at(-1)!.data).toMatchObject({ action: 'compacted', session_id: session, text });
    const jobs = rows('job').filter((r) => r.data.job === 'compact');
    expect(jobs.map((r) => [r.data.phase, r.data.ok])).toEqual([['start', undefined], ['end', true]]);
    expect(rows('claude').filter((r) => r.turn_id === jobs[0]!.turn_id).some((r) => r.data.subtype === 'compact_boundary')).toBe(true);
    expect(rows('command').at(-1)!.data).toMatchObject({ input: '/compact keep the fresh start', ok: true });

    await pageTurn('after compaction, ANSWER-after');
    const resumed = asked('ANSWER-after')[0]!.body;
    expect(allMessagesText(resumed)).toContain(`SUMMARY-${summaries} of the talk`);
    expect(ownTurns()[0]!.session_id).toBe(session);
  });

  test('/compact during a turn answers at once and compacts when the turn ends', async () => {
    const res = await send('HOLD while compacting');
    const id = Number(/#(\d+)/.exec(toast(res).text)![1]);
    await waitFor('the held model request', () => held.length > 0, 60_000);
    const ends = rows('job').filter((r) => r.data.job === 'compact' && r.data.phase === 'end').length;
    const queued = await send('/compact');
    expect(toast(queued)).toEqual({ text: 'the session compaction waits for the running turn to end; the result will show in the tail', ok: true });
    expect(rows('command').at(-1)!.data).toMatchObject({ input: '/compact', text: 'the session compaction waits for the running turn to end' });
    expect(rows('job').filter((r) => r.data.job === 'compact').length).toBe(ends * 2);
    held.shift()!();
    expect((await turnFor(id)).status).toBe('ok');
    const end = await waitFor('the compaction to end', () => rows('job').filter((r) => r.data.job === 'compact' && r.data.phase === 'end')[ends]);
    expect(end.data.ok).toBe(true);
    // it ran after the turn's last event
    const turnEnd = rows('turn_end').at(-1)!;
    expect(rows('job').find((r) => r.data.job === 'compact' && r.data.phase === 'start' && r.id > turnEnd.id)).toBeTruthy();
  });

  test('a command button takes two posts: arm answers the confirmation, confirm runs it and puts the button back', async () => {
    const before = model.requests.length;
    const armed = await send('/clear', { arm: '1' });
    expect(armed.status).toBe(200);
    const confirm = await armed.text();
    expect(confirm).toContain('<form class="confirm"');
    expect(confirm).toContain('clear session? click to confirm');
    expect(confirm).toContain('name="confirm" value="1"');
    expect(rows('session').at(-1)!.data.action).toBe('compacted');

    const done = await send('/clear', { confirm: '1' });
    expect(done.status).toBe(200);
    expect(toast(done).text).toStartWith('session cleared');
    expect(await done.text()).toContain('name="arm" value="1"');
    expect(rows('session').at(-1)!.data.action).toBe('cleared');
    expect(model.requests.length).toBe(before);
  });
});
