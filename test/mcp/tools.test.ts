import { expect } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHiveMcpServer } from '../../src/mcp/server.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { AgentOps, MANAGER_OPS, MAX_BODY_CHARS, MAX_OPTION_CHARS, MAX_OPTIONS } from '../../src/shared/wire.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('mcp tools', 'git');

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
    expect(desc('remind')).toContain('every (seconds, at least 60)');
    expect(desc('remind')).toContain('count (at most 1000)');
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
    await waitFor('the long-poll to wait', () => t.hive.broker.waiting('alice') === 1, 4_000);
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
    expect(got.text).toContain(`answer\` tool (question_id ${qid})`);

    // only bob may answer, once
    const wrong = await call('answer', { question_id: qid, text: 'me?' });
    expect(wrong).toMatchObject({ isError: true });
    expect(wrong.text).toContain('error (forbidden): question #' + qid + ' was put to bob');
    const ans = await callOn(bob, 'answer', { question_id: qid, text: '8080' });
    expect(ans).toMatchObject({ isError: false });
    expect(ans.text).toContain(`answered question #${qid} from alice`);
    const again = await callOn(bob, 'answer', { question_id: qid, text: '8081' });
    expect(again.text).toContain('error (conflict)');
    expect((await callOn(bob, 'answer', { question_id: 99999, text: 'x' })).text).toContain('error (not_found): no question #99999');

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

    expect((await call('cancel_reminder', { reminder_id: laterId })).text).toContain('cancelled reminder #' + laterId);
    expect((await call('reminders', {})).text).toBe('no pending reminders');
    expect((await call('cancel_reminder', { reminder_id: laterId })).text).toContain('error (conflict)');

    const past = await call('remind', { body: 'x', at: '2020-01-01T00:00:00Z' });
    expect(past).toMatchObject({ isError: true });
    expect(past.text).toContain('error (bad_request): at 2020-01-01T00:00:00Z is in the past');
    expect((await call('remind', { body: 'x', in_seconds: -5 })).text).toContain('error (bad_request)');
    expect((await call('remind', { body: 'x' })).text).toContain('exactly one of at');
    expect((await call('remind', { body: 'x', at: 'tomorrow' })).text).toContain('ISO 8601');
  });

  test('remind with every: the reminder says how it repeats; every and count out of their limits are refused, naming the field and the limit', async () => {
    const capped = await call('remind', { body: 'stand up', every: 300, count: 10 });
    expect(capped.text).toMatch(/^set reminder #\d+ due \S+ for alice \(every 5m, fired 0×, 10 left\): stand up$/);
    const open = await call('remind', { body: 'drink water', every: 3600, in_seconds: 30 });
    expect(open.text).toMatch(/^set reminder #\d+ due \S+ for alice \(every 1h, fired 0×, until \d{4}-\d\d-\d\d \d\d:\d\d UTC\): drink water$/);
    expect((await call('reminders', {})).text).toContain('(every 5m, fired 0×, 10 left): stand up');

    for (const [args, says] of [
      [{ every: 59 }, 'every: Expected integer to be greater or equal to 60'],
      [{ every: 90.5 }, 'every: Expected integer'],
      [{ every: 60, count: 0 }, 'count: Expected integer to be greater or equal to 1'],
      [{ every: 60, count: 1001 }, 'count: Expected integer to be less or equal to 1000'],
      [{ in_seconds: 60, count: 3 }, 'count needs every'],
      [{ every: 86400, count: 400 }, 'would run past the 366-day limit'],
      [{ every: 31622401 }, 'every may be at most 366 days (31622400 s)'],
    ] as const) {
      const r = await call('remind', { body: 'x', ...args });
      expect({ args, isError: r.isError, text: r.text }).toMatchObject({ isError: true, text: expect.stringContaining('error (bad_request)') });
      expect(r.text).toContain(says);
    }

    for (const r of [capped, open]) {
      const id = Number(/#(\d+)/.exec(r.text)![1]);
      expect((await call('cancel_reminder', { reminder_id: id })).text).toMatch(new RegExp(`^cancelled reminder #${id} due \\S+ for alice \\(every `));
    }
    expect((await call('reminders', {})).text).toBe('no pending reminders');
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

type Schema = { type?: string; properties?: Record<string, { description?: string }>; required?: string[]; additionalProperties?: boolean };

/** The wire schema of `op`'s arguments as plain JSON Schema, closed to other properties: what its tool must take. */
const wireArgs = (op: string): Schema => ({
  ...JSON.parse(JSON.stringify(AgentOps[op as keyof typeof AgentOps].args)),
  additionalProperties: false,
});

/** Every tool the manager is offered (all of them), with its advertised input schema. */
async function allTools(): Promise<Map<string, Schema>> {
  const { tools } = await (await connect('manager', 'manager')).listTools();
  return new Map(tools.map((t) => [t.name, t.inputSchema as Schema]));
}

describe('tool inputs are the wire schemas', () => {
  test("each tool advertises its operation's argument schema, every parameter described", async () => {
    const tools = await allTools();
    expect(tools.size).toBeGreaterThan(MANAGER_OPS.size);
    for (const [name, schema] of tools) {
      expect(Object.keys(AgentOps)).toContain(name);
      expect({ name, schema }).toEqual({ name, schema: wireArgs(name) });
      for (const [param, p] of Object.entries(schema.properties ?? {})) expect({ name, param, described: !!p.description?.trim() }).toEqual({ name, param, described: true });
    }
    // the manager's extra tools are exactly the manager-only operations
    const agentTools = (await client.listTools()).tools.map((t) => t.name);
    expect([...tools.keys()].filter((n) => !agentTools.includes(n)).sort()).toEqual([...MANAGER_OPS].sort());
  });

  test('arguments that do not fit the schema are refused at the tool, naming each field at fault and what it should be', async () => {
    const m = await connect('manager', 'manager');
    const messagesBefore = t.hive.broker.lastId();
    const questionsBefore = t.hive.questions.listFor('operator').length;
    const cases: Array<[Client, string, Record<string, unknown>, string, string[]]> = [
      [client, 'answer', { id: 1, text: 'x' }, 'bad_request', ['question_id: missing (required)', 'id: not an argument of answer', 'answer takes: question_id (the id of the question']],
      [client, 'cancel_reminder', { id: 1 }, 'bad_request', ['reminder_id: missing (required)', 'id: not an argument of cancel_reminder']],
      [client, 'send', { to: 'bob', body: 'x'.repeat(MAX_BODY_CHARS + 1) }, 'too_large', [`body: Expected string length less or equal to ${MAX_BODY_CHARS}`]],
      [client, 'recv', { wait_seconds: 'soon' }, 'bad_request', ['wait_seconds: Expected number']],
      [client, 'remind', { body: 'x', in_seconds: 0 }, 'bad_request', ['in_seconds: Expected number to be greater than 0']],
      [client, 'questions', { all: true }, 'bad_request', ['all: not an argument of questions', 'questions takes no arguments']],
      [m, 'request_apply_commit', { agent: 'bob', sha: 'HEAD' }, 'bad_request', ['sha: Expected string to match', 'sha (a commit id in the proposed config repo: 7 to 40 hex digits']],
      [m, 'ask_operator', { question: 'q', options: Array.from({ length: MAX_OPTIONS + 1 }, (_, i) => `o${i}`) }, 'too_large', [`options: Expected array length to be less or equal to ${MAX_OPTIONS}`]],
      [m, 'ask_operator', { question: 'q', options: ['a', 'x'.repeat(MAX_OPTION_CHARS + 1)] }, 'too_large', [`options.1: Expected string length less or equal to ${MAX_OPTION_CHARS}`]],
    ];
    for (const [c, tool, args, code, needles] of cases) {
      const r = await callOn(c, tool, args);
      expect({ tool, isError: r.isError }).toEqual({ tool, isError: true });
      expect(r.text).toStartWith(`error (${code}): invalid arguments for ${tool}: `);
      for (const n of needles) expect(r.text).toContain(n);
    }
    expect(t.hive.broker.lastId()).toBe(messagesBefore);
    expect(t.hive.questions.listFor('operator')).toHaveLength(questionsBefore);
  });

  test('an option question at the limits the wire allows is one the core accepts', async () => {
    const m = await connect('manager', 'manager');
    const options = Array.from({ length: MAX_OPTIONS }, (_, i) => `${i}`.padEnd(MAX_OPTION_CHARS, 'x'));
    const r = await callOn(m, 'ask_operator', { question: 'which?', options, multi: true });
    expect(r).toMatchObject({ isError: false });
    expect(t.hive.questions.listFor('operator').at(-1)).toMatchObject({ question: 'which?', options, multi: true });
    const desc = (await m.listTools()).tools.find((x) => x.name === 'ask_operator')!.description!;
    expect(desc).toContain(`2 to ${MAX_OPTIONS} distinct`);
    expect(desc).toContain(`at most ${MAX_OPTION_CHARS} characters`);
  });

  test('a tool the caller is not offered is an error naming the tools it has', async () => {
    const r = await call('kill', { name: 'bob' });
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toStartWith('error (not_found): no tool named "kill"; the tools are send, recv,');
  });

  test('docs/tools.md lists each tool with exactly its parameters', async () => {
    const tools = await allTools();
    const documented = new Map<string, string[]>();
    let inToolTable = false;
    for (const line of readFileSync(join(import.meta.dir, '../../docs/tools.md'), 'utf8').split('\n')) {
      if (!line.startsWith('|')) inToolTable = false;
      else if (/^\| tool \| input \|/.test(line)) inToolTable = true;
      else if (inToolTable) {
        const [, tool, input] = line.split('|').map((c) => c.trim());
        const name = /^`(\w+)`$/.exec(tool!)?.[1];
        if (name) documented.set(name, [...input!.matchAll(/`(\w+)\??`/g)].map((x) => x[1]!).sort());
      }
    }
    expect([...documented.keys()].sort()).toEqual([...tools.keys()].sort());
    for (const [name, schema] of tools) expect({ name, params: documented.get(name) }).toEqual({ name, params: Object.keys(schema.properties ?? {}).sort() });
    const doc = readFileSync(join(import.meta.dir, '../../docs/tools.md'), 'utf8');
    expect(doc).toContain(`more than ${MAX_OPTIONS}`);
    expect(doc).toContain(`over ${MAX_OPTION_CHARS} characters`);
  });

  test('the prompts call each tool with its parameters, optional ones marked `?`', async () => {
    const tools = await allTools();
    const dir = join(import.meta.dir, '../../prompts');
    const seen = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.md'))) {
      for (const [, name, params] of readFileSync(join(dir, file), 'utf8').matchAll(/`(\w+)\(([^)`]*)\)`/g)) {
        const schema = tools.get(name!);
        if (!schema) continue;
        seen.add(name!);
        for (const p of params!.split(/[,|]/).map((x) => x.trim()).filter(Boolean)) {
          const param = p.replace(/\?$/, '');
          const optional = !(schema.required ?? []).includes(param);
          expect({ file, name, param, known: param in (schema.properties ?? {}), optional: p.endsWith('?') }).toEqual({ file, name, param, known: true, optional });
        }
      }
    }
    expect(seen.size).toBeGreaterThan(10);
  });
});
