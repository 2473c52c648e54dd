import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { writeFileSync } from 'node:fs';
import { createHiveMcpServer } from '../../src/mcp/server.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { AgentOps } from '../../src/shared/wire.ts';
import { openTestHive } from '../support/hive.ts';

let t: Awaited<ReturnType<typeof openTestHive>>;
let client: Client;
const sockets: JsonLineClient<typeof AgentOps>[] = [];
const clients: Client[] = [];

/** An MCP client on `name`'s socket, offering the tools of `role`. */
async function connect(name: string, role: string): Promise<Client> {
  const sock = new JsonLineClient(new DataLayout(t.dir).agent(name).socket, AgentOps);
  sockets.push(sock);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createHiveMcpServer(sock, role).connect(a);
  const c = new Client({ name: 'test', version: '1' });
  await c.connect(b);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  // The manager exists (its socket serves) but its process is stopped: no claude turns here.
  t = await openTestHive({ 'no-manager': false });
  await t.hive.lifecycle.stop('manager');
  for (const n of ['alice', 'bob', 'carol']) {
    await t.hive.lifecycle.spawn(n, { start: false });
  }
  client = await connect('alice', 'agent');
});
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const s of sockets) s.close();
  await t.close();
});

const callOn = async (c: Client, name: string, args: Record<string, unknown>) => {
  const r = (await c.callTool({ name, arguments: args })) as { content: Array<{ text: string }>; isError?: boolean };
  return { text: r.content.map((c) => c.text).join(''), isError: !!r.isError };
};
const call = (name: string, args: Record<string, unknown>) => callOn(client, name, args);

describe('hive mcp tools', () => {
  test('an agent gets the agent tools, each described with its limits and errors', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['answer', 'ask', 'cancel_reminder', 'questions', 'recv', 'remind', 'reminders', 'send']);
    const desc = (n: string) => tools.find((t) => t.name === n)!.description!;
    expect(desc('recv')).toContain('180');
    expect(desc('recv')).toContain('inbox empty');
    expect(desc('send')).toContain('not_found');
    expect(desc('send')).toContain('forbidden');
    expect(desc('ask')).toContain('answer');
    expect(desc('answer')).toContain('conflict');
    expect(desc('remind')).toContain('in the past');
    expect(desc('remind')).toContain('ISO 8601');
  });

  test('the manager also gets the lifecycle tools and ask_operator', async () => {
    const m = await connect('manager', 'manager');
    const { tools } = await m.listTools();
    for (const n of ['agents', 'request_spawn', 'request_apply_commit', 'request_spawn_draft', 'request_spawn_commit', 'kill', 'start', 'restart', 'ask_operator'])
      expect(tools.map((t) => t.name)).toContain(n);
    expect(tools.find((t) => t.name === 'ask_operator')!.description).toContain('duplicate');
  });

  test('send stores a message from the socket owner', async () => {
    const r = await call('send', { to: 'bob', body: 'hi bob' });
    expect(r.isError).toBe(false);
    expect(r.text).toMatch(/^sent message #\d+ to bob$/);
    expect(t.hive.broker.list({ agent: 'bob' }).at(-1)).toMatchObject({ from: 'alice', to: 'bob', body: 'hi bob' });
  });

  test('recv without wait returns at once; with a wait it gets a message sent meanwhile', async () => {
    expect(await call('recv', {})).toEqual({ text: 'inbox empty', isError: false });
    const pending = call('recv', { wait_seconds: 10 });
    await Bun.sleep(50);
    const m = t.hive.policy.send('bob', 'alice', 'answer from bob');
    const r = await pending;
    expect(r.text).toContain(`message #${m.id} from bob`);
    expect(r.text).toContain('answer from bob');
  });

  test('expected failures are tool errors the model can act on', async () => {
    const unknown = await call('send', { to: 'zed', body: 'x' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/^error \(not_found\): no agent named "zed"/);
    const badName = await call('send', { to: '../../etc', body: 'x' });
    expect(badName).toMatchObject({ isError: true });
    expect(badName.text).toContain('bad_name');
  });

  test('ask puts a question in the inbox; answer sends back a message naming it; both sides see it open until then', async () => {
    const bob = await connect('bob', 'agent');
    while ((await callOn(bob, 'recv', {})).text !== 'inbox empty');
    const asked = await call('ask', { to: 'bob', question: 'which port does the api use?' });
    expect(asked.isError).toBe(false);
    const qid = Number(/question #(\d+)/.exec(asked.text)![1]);
    expect(t.hive.questions.get(qid)).toMatchObject({ from: 'alice', to: 'bob', answered_at: null, options: null });

    // open on both sides
    expect((await call('questions', {})).text).toContain(`#${qid} from alice to bob`);
    const bobOpen = (await callOn(bob, 'questions', {})).text;
    expect(bobOpen.split('you asked')[0]).toContain(`#${qid} from alice to bob`);

    // bob receives it as a question, with how to answer
    const got = await callOn(bob, 'recv', {});
    expect(got.text).toContain(`Question #${qid} from alice`);
    expect(got.text).toContain('which port does the api use?');
    expect(got.text).toContain(`answer\` tool (id ${qid})`);

    // only bob may answer, once
    const wrong = await call('answer', { id: qid, text: 'me?' });
    expect(wrong).toMatchObject({ isError: true });
    expect(wrong.text).toContain('error (forbidden): question #' + qid + ' was put to bob');
    const ans = await callOn(bob, 'answer', { id: qid, text: '8080' });
    expect(ans).toMatchObject({ isError: false });
    expect(ans.text).toContain(`answered question #${qid} from alice`);
    const again = await callOn(bob, 'answer', { id: qid, text: '8081' });
    expect(again.text).toContain('error (conflict)');
    expect((await callOn(bob, 'answer', { id: 99999, text: 'x' })).text).toContain('error (not_found): no question #99999');

    // the answer lands in alice's inbox, naming the question
    const reply = await call('recv', {});
    expect(reply.text).toContain(`Answer from bob to your question #${qid}`);
    expect(reply.text).toContain('which port does the api use?');
    expect(reply.text).toContain('8080');
    expect((await call('questions', {})).text).not.toContain(`#${qid} `);
    expect(t.hive.questions.get(qid).answer).toEqual({ text: '8080' });
  });

  test('asking the operator directly is refused with where to go instead', async () => {
    const r = await call('ask', { to: 'operator', question: 'may I?' });
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toContain('go through the manager');
  });

  test('remind: delivered to the inbox when due; listable and cancellable; the past is refused', async () => {
    const soon = await call('remind', { body: 'check the build', in_seconds: 0.3 });
    expect(soon.text).toMatch(/^set reminder #\d+ due \S+ for alice: check the build$/);
    const later = await call('remind', { body: 'weekly report', at: new Date(Date.now() + 3600_000).toISOString() });
    const laterId = Number(/#(\d+)/.exec(later.text)![1]);
    expect((await call('reminders', {})).text).toContain('weekly report');

    const got = await call('recv', { wait_seconds: 5 });
    expect(got.text).toContain('Reminder #');
    expect(got.text).toContain('from yourself');
    expect(got.text).toContain('check the build');

    expect((await call('cancel_reminder', { id: laterId })).text).toContain('cancelled reminder #' + laterId);
    expect((await call('reminders', {})).text).toBe('no pending reminders');
    expect((await call('cancel_reminder', { id: laterId })).text).toContain('error (conflict)');

    const past = await call('remind', { body: 'x', at: '2020-01-01T00:00:00Z' });
    expect(past).toMatchObject({ isError: true });
    expect(past.text).toContain('error (bad_request): at 2020-01-01T00:00:00Z is in the past');
    expect((await call('remind', { body: 'x', in_seconds: -5 })).text).toContain('error (bad_request)');
    expect((await call('remind', { body: 'x' })).text).toContain('exactly one of at');
    expect((await call('remind', { body: 'x', at: 'tomorrow' })).text).toContain('ISO 8601');
  });

  test('a reminder for someone else arrives in their inbox from its owner', async () => {
    const bob = await connect('bob', 'agent');
    while ((await callOn(bob, 'recv', {})).text !== 'inbox empty');
    await call('remind', { body: 'standup', in_seconds: 0.2, to: 'bob' });
    const got = await callOn(bob, 'recv', { wait_seconds: 5 });
    expect(got.text).toContain('Reminder #');
    expect(got.text).toContain('from alice');
    expect(got.text).toContain('standup');
  });

  test('send policy: allowedRecipients limits send, ask and remind; the manager is always reachable; nothing is stored', async () => {
    writeFileSync(new DataLayout(t.dir).agent('carol').configFile, 'allowedRecipients = ["bob"]\n');
    t.hive.configs.load('carol');
    const carol = await connect('carol', 'agent');
    const before = t.hive.broker.lastId();
    for (const [tool, args] of [
      ['send', { to: 'alice', body: 'hi' }],
      ['ask', { to: 'alice', question: 'hi?' }],
      ['remind', { to: 'alice', body: 'hi', in_seconds: 60 }],
      ['send', { to: 'operator', body: 'hi' }],
    ] as const) {
      const r = await callOn(carol, tool, args);
      expect(r).toMatchObject({ isError: true });
      expect(r.text).toContain('error (forbidden): send policy: carol\'s allowedRecipients (bob) do not include');
    }
    expect(t.hive.broker.lastId()).toBe(before);
    expect(t.hive.reminders.pending('carol')).toEqual([]);
    expect((await callOn(carol, 'send', { to: 'bob', body: 'hi bob' })).isError).toBe(false);
    expect((await callOn(carol, 'send', { to: 'manager', body: 'hi boss' })).isError).toBe(false);
    // the manager may write to carol even though carol may not write back to everyone
    expect(t.hive.policy.send('manager', 'carol', 'task').id).toBeGreaterThan(0);
  });

  test('manager tools are refused on any socket but the manager\'s', async () => {
    const pretender = await connect('alice', 'manager');
    for (const [tool, args] of [
      ['kill', { name: 'bob' }],
      ['start', { name: 'bob' }],
      ['restart', { name: 'bob' }],
      ['request_spawn', { name: 'dave' }],
      ['ask_operator', { question: 'hm?' }],
      ['agents', {}],
    ] as const) {
      const r = await callOn(pretender, tool, args);
      expect(r).toMatchObject({ isError: true });
      expect(r.text).toContain(`error (forbidden): ${tool} is a manager tool and alice is not the manager`);
    }
    expect(t.hive.approvals.list()).toEqual([]);
    expect(t.hive.questions.listFor('operator')).toEqual([]);
  });

  test('manager: request_spawn is recorded for the operator; kill/start/restart act; bad requests are refused', async () => {
    const m = await connect('manager', 'manager');
    const req = await callOn(m, 'request_spawn', { name: 'dave' });
    expect(req.text).toMatch(/^spawn of dave requested: approval #\d+ is waiting for the operator$/);
    expect(t.hive.approvals.list()).toEqual([expect.objectContaining({ kind: 'spawn', agent: 'dave', requested_by: 'manager', status: 'pending' })]);
    expect((await callOn(m, 'request_spawn', { name: 'dave' })).text).toContain('error (conflict): a spawn of "dave" is already waiting for the operator');
    expect((await callOn(m, 'request_spawn', { name: 'bob' })).text).toContain('error (exists)');
    expect((await callOn(m, 'request_spawn', { name: 'Bad/Name' })).text).toContain('error (bad_name)');
    expect((await callOn(m, 'kill', { name: 'manager' })).text).toContain('error (forbidden)');
    expect((await callOn(m, 'kill', { name: 'nobody' })).text).toContain('error (not_found)');
    const listed = (await callOn(m, 'agents', {})).text;
    expect(listed).toContain('bob (agent): offline');
    expect(listed).toContain('manager (manager)');
  });

  test('ask_operator: free text, radio and checkbox questions; bad shapes refused at the tool', async () => {
    const m = await connect('manager', 'manager');
    const free = await callOn(m, 'ask_operator', { question: 'what should bob work on?' });
    expect(free.text).toMatch(/^question #\d+ queued for the operator/);
    await callOn(m, 'ask_operator', { question: 'which db?', options: ['postgres', 'sqlite'] });
    await callOn(m, 'ask_operator', { question: 'which regions?', options: ['eu', 'us', 'ap'], multi: true });
    const pending = t.hive.questions.listFor('operator');
    expect(pending.map((q) => [q.question, q.options, q.multi])).toEqual([
      ['what should bob work on?', null, false],
      ['which db?', ['postgres', 'sqlite'], false],
      ['which regions?', ['eu', 'us', 'ap'], true],
    ]);
    for (const [args, needle] of [
      [{ question: 'q', options: [] }, 'options must list at least 2 choices (got 0)'],
      [{ question: 'q', options: ['a', 'a'] }, 'option "a" is listed twice'],
      [{ question: 'q', options: ['a', ' '] }, 'option 2 is empty'],
      [{ question: 'q', multi: true }, 'multi needs options'],
    ] as const) {
      const r = await callOn(m, 'ask_operator', args);
      expect(r).toMatchObject({ isError: true });
      expect(r.text).toContain(`error (bad_request): ${needle}`);
    }
    expect(t.hive.questions.listFor('operator')).toHaveLength(3);
  });

  test('an unreachable core is reported, not thrown', async () => {
    const dead = new JsonLineClient('/nonexistent/hive.sock', AgentOps);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await createHiveMcpServer(dead).connect(a);
    const c = new Client({ name: 'test', version: '1' });
    await c.connect(b);
    const r = (await c.callTool({ name: 'recv', arguments: {} })) as { content: Array<{ text: string }>; isError?: boolean };
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toContain('error (unavailable)');
    expect(r.content[0]!.text).toContain('not reachable');
    await c.close();
  });
});
