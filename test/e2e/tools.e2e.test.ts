/**
 * The MCP surface end to end: each tool is called by a real `claude` turn (the scripted model emits
 * the `tool_use`), goes through the harness's MCP endpoint and the agent's socket to the real core
 * process, and the test checks the broker state and the tool result the model got back, refusals included. Also:
 * per-agent config (model, send policy, extra MCP servers), and that reminders and open questions
 * survive a core restart.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { isMainTurn, lastUserPrompt, systemText, toolNames, toolResults, type ModelServer, startModelServer } from '../support/model-server.ts';
import { ctlJson, hive, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('tools e2e', 'git');

// Each test drives several real claude turns.
setDefaultTimeout(120_000);

let model: ModelServer;
let dir: string;
let layout: DataLayout;
let core: Awaited<ReturnType<typeof startCoreProcess>>;

/** What the operator writes to make an agent's model call `tool` with `input`. */
const directive = (tool: string, input: unknown) => `@@CALL ${JSON.stringify({ tool, input })}@@`;

beforeAll(async () => {
  // The scripted model: a wake prompt carrying a directive becomes that tool call; the tool's result
  // becomes the turn's final text. Anything else is acknowledged.
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const results = toolResults(req.body);
    if (results.length) {
      const r = results.at(-1)!;
      return [{ type: 'text', text: `TOOL ${r.is_error ? 'ERROR' : 'OK'}: ${r.content.split('<system-reminder>')[0]!.trim()}` }];
    }
    const m = /@@CALL (\{.*\})@@/s.exec(lastUserPrompt(req.body));
    if (m) {
      const { tool, input } = JSON.parse(m[1]!) as { tool: string; input: Record<string, unknown> };
      return [{ type: 'tool_use', name: tool.startsWith('mcp__') ? tool : `mcp__hyperhive__${tool}`, input }];
    }
    return [{ type: 'text', text: 'noted' }];
  });
  dir = tempDir('hv-tools-');
  layout = new DataLayout(dir);
  core = await startCoreProcess(dir, [], model.env);
  for (const n of ['alice', 'bob', 'carol']) ctlJson(dir, 'spawn', n);
  // alice: her own model, and an extra MCP server that is `hive mcp` posing as the manager on her
  // own socket (the core must still refuse manager tools), plus one keyed like the built-in server.
  writeFileSync(
    layout.agent('alice').configFile,
    `model = "claude-hive-test-1"
[extraMcpServers.sneaky]
command = "${process.execPath}"
args = ["${ENTRY}", "mcp"]
env = { HIVE_SOCKET = "${layout.agent('alice').socket}", HIVE_ROLE = "manager" }
[extraMcpServers.hyperhive]
command = "/bin/false"
`,
  );
  // carol may only talk to bob (and, always, the manager)
  writeFileSync(layout.agent('carol').configFile, 'allowedRecipients = ["bob"]\n');
  ctlJson(dir, 'restart', 'alice');
  ctlJson(dir, 'restart', 'carol');
  await waitFor('everyone idle', () => {
    const idle = ctlJson(dir, 'list').agents.filter((a: any) => a.status === 'idle').map((a: any) => a.name);
    return ['manager', 'alice', 'bob', 'carol'].every((n) => idle.includes(n));
  });
}, 60_000);

afterAll(async () => {
  await core?.stop();
  await model?.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

/** Has `agent`'s model call `tool` with `input` in a real claude turn; returns what the tool answered. */
async function callTool(agent: string, tool: string, input: Record<string, unknown>) {
  const { id } = ctlJson(dir, 'send', agent, directive(tool, input));
  const turn = await turnFor(dir, agent, id);
  expect(turn.status).toBe('ok');
  expect(turn.tools).toContain(tool.startsWith('mcp__') ? tool : `mcp__hyperhive__${tool}`);
  const m = /^TOOL (OK|ERROR): ([\s\S]*)$/.exec(turn.result ?? '');
  if (!m) throw new Error(`unexpected turn result: ${turn.result}`);
  return { isError: m[1] === 'ERROR', text: m[2]! };
}

const messages = (): any[] => ctlJson(dir, 'messages', '--limit', '1000').messages;
const agent = (name: string) => ctlJson(dir, 'list').agents.find((a: any) => a.name === name);

describe('agent tools through claude', () => {
  test('send: delivered to the recipient; an unknown recipient is refused', async () => {
    const ok = await callTool('alice', 'send', { to: 'bob', body: 'build is green' });
    expect(ok.isError).toBe(false);
    expect(ok.text).toMatch(/^sent message #\d+ to bob$/);
    expect(messages().find((m) => m.from === 'alice' && m.body === 'build is green')).toMatchObject({ to: 'bob', kind: 'message' });

    const before = messages().length;
    const bad = await callTool('alice', 'send', { to: 'zed', body: 'hello?' });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('error (not_found): no agent named "zed"');
    expect(messages().filter((m) => m.from === 'alice' && m.body === 'hello?')).toEqual([]);
    expect(messages().length).toBe(before + 1); // only the operator's directive
  });

  test('send policy: a denied recipient is refused, naming the policy, and nothing is stored', async () => {
    const denied = await callTool('carol', 'send', { to: 'alice', body: 'psst' });
    expect(denied.isError).toBe(true);
    expect(denied.text).toContain("error (forbidden): send policy: carol's allowedRecipients (bob) do not include \"alice\"");
    expect(messages().filter((m) => m.body === 'psst')).toEqual([]);
    expect((await callTool('carol', 'send', { to: 'bob', body: 'hi bob' })).isError).toBe(false);
    expect((await callTool('carol', 'send', { to: 'manager', body: 'hi boss' })).isError).toBe(false);
  });

  test('ask and answer: the question reaches bob as a question; his answer reaches alice naming it', async () => {
    const asked = await callTool('alice', 'ask', { to: 'bob', question: 'which port does staging use?' });
    expect(asked.isError).toBe(false);
    const qid = Number(/question #(\d+)/.exec(asked.text)![1]);
    const qmsg = messages().find((m) => m.kind === 'question' && m.ref === qid)!;
    expect(qmsg).toMatchObject({ from: 'alice', to: 'bob', body: 'which port does staging use?' });
    // bob was woken by it, and his wake prompt says how to answer
    await turnFor(dir, 'bob', qmsg.id);
    const wake = model.requests.map((r) => lastUserPrompt(r.body)).find((p) => p.includes(`Question #${qid} from alice`));
    expect(wake).toContain(`\`answer\` tool (question_id ${qid})`);

    const open = await callTool('bob', 'questions', {});
    expect(open.text).toContain(`#${qid} from alice to bob`);

    const ans = await callTool('bob', 'answer', { question_id: qid, text: 'port 8443' });
    expect(ans.isError).toBe(false);
    const amsg = messages().find((m) => m.kind === 'answer' && m.ref === qid)!;
    expect(amsg).toMatchObject({ from: 'bob', to: 'alice' });
    expect(amsg.body).toContain('which port does staging use?');
    expect(amsg.body).toContain('port 8443');
    await turnFor(dir, 'alice', amsg.id);

    const twice = await callTool('bob', 'answer', { question_id: qid, text: 'again' });
    expect(twice.isError).toBe(true);
    expect(twice.text).toContain('error (conflict)');
    const notYours = await callTool('carol', 'answer', { question_id: qid, text: 'me' });
    expect(notYours.text).toContain('error (forbidden)');
  });

  test('remind: fires into the inbox and wakes the agent; listed, cancelled; a time in the past is refused', async () => {
    const set = await callTool('alice', 'remind', { body: 'look at the nightly', in_seconds: 1 });
    expect(set.text).toMatch(/^set reminder #\d+ due/);
    const rid = Number(/#(\d+)/.exec(set.text)![1]);
    const fired = await waitFor('the reminder message', () => messages().find((m) => m.kind === 'reminder' && m.ref === rid));
    expect(fired).toMatchObject({ from: 'alice', to: 'alice' });
    expect(fired.body).toContain('look at the nightly');
    await turnFor(dir, 'alice', fired.id);

    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 30 * 86_400_000).toISOString();
    const later = await callTool('alice', 'remind', { body: 'quarterly review', at });
    const laterId = Number(/#(\d+)/.exec(later.text)![1]);
    expect((await callTool('alice', 'reminders', {})).text).toContain(`reminder #${laterId} due ${at}`);
    const tooFar = await callTool('alice', 'remind', { body: 'someday', at: '2099-01-01T09:00:00Z' });
    expect(tooFar.text).toContain('error (bad_request): a reminder may be at most 366 days ahead');
    expect((await callTool('alice', 'cancel_reminder', { reminder_id: laterId })).text).toContain(`cancelled reminder #${laterId}`);

    const past = await callTool('alice', 'remind', { body: 'too late', at: '2001-01-01T00:00:00Z' });
    expect(past.isError).toBe(true);
    expect(past.text).toContain('error (bad_request): at 2001-01-01T00:00:00Z is in the past');
    expect(ctlJson(dir, 'reminders').reminders.filter((r: any) => r.owner === 'alice')).toEqual([]);
  });
});

describe('manager tools through claude', () => {
  test('an agent reaching for a manager tool is refused by the core, even through its own MCP server', async () => {
    // alice's extra server is `hive mcp` claiming the manager role: the tool exists, the core says no
    const r = await callTool('alice', 'mcp__sneaky__kill', { name: 'bob' });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('error (forbidden): kill is a manager tool and alice is not the manager');
    expect(agent('bob')).toMatchObject({ desired: 'running' });
    expect((await callTool('alice', 'mcp__sneaky__request_spawn', { name: 'eve' })).text).toContain('error (forbidden)');
    expect(ctlJson(dir, 'approvals').approvals).toEqual([]);
  });

  test('request_spawn becomes an approval the operator sees and approves; the manager hears the outcome', async () => {
    const r = await callTool('manager', 'request_spawn', { name: 'dave' });
    expect(r.text).toMatch(/^spawn of dave requested: approval #(\d+)/);
    const [approval] = ctlJson(dir, 'approvals').approvals;
    expect(approval).toMatchObject({ kind: 'spawn', agent: 'dave', requested_by: 'manager', status: 'pending' });
    expect(hive(['ctl', 'approvals', '--data-dir', dir]).stdout).toContain(`#${approval.id} `);
    const page = await (await fetch(core.url + '/fragments/approvals')).text();
    expect(page).toContain('dave');

    const dup = await callTool('manager', 'request_spawn', { name: 'dave' });
    expect(dup.text).toContain('error (conflict)');
    const bad = await callTool('manager', 'request_spawn', { name: 'Not/Valid' });
    expect(bad.text).toContain('error (bad_name)');

    expect(ctlJson(dir, 'approve', String(approval.id)).approval.status).toBe('deployed');
    expect(agent('dave')).toMatchObject({ desired: 'running' });
    const notice = await waitFor('the decision notice', () => messages().find((m) => m.kind === 'notice' && m.ref === approval.id));
    expect(notice).toMatchObject({ from: 'hive', to: 'manager' });
    expect(notice.body).toContain('approved');
  });

  test('kill, start and restart act on the agent; the manager cannot kill itself', async () => {
    expect((await callTool('manager', 'kill', { name: 'dave' })).text).toContain('dave (agent): offline');
    expect(agent('dave')).toMatchObject({ desired: 'stopped', status: 'offline' });
    expect((await callTool('manager', 'start', { name: 'dave' })).text).toContain('wanted running');
    await waitFor('dave idle', () => agent('dave').status === 'idle');
    const pid = agent('dave').pid;
    expect((await callTool('manager', 'restart', { name: 'dave' })).isError).toBe(false);
    await waitFor('dave idle again', () => agent('dave').status === 'idle');
    expect(agent('dave').pid).not.toBe(pid);
    expect((await callTool('manager', 'kill', { name: 'manager' })).text).toContain('error (forbidden)');
    expect((await callTool('manager', 'agents', {})).text).toContain('dave (agent): idle');
  });

  test('ask_operator: the operator answers a choice with hive ctl; the manager gets "operator answered"', async () => {
    const q = await callTool('manager', 'ask_operator', { question: 'which database?', options: ['postgres', 'sqlite'] });
    expect(q.text).toMatch(/^question #(\d+) queued for the operator/);
    const qid = Number(/#(\d+)/.exec(q.text)![1]);
    const [pending] = ctlJson(dir, 'questions').questions;
    expect(pending).toMatchObject({ id: qid, from: 'manager', to: 'operator', options: ['postgres', 'sqlite'], multi: false });

    const wrong = hive(['ctl', 'answer', String(qid), '--choice', 'mysql', '--data-dir', dir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('"mysql" is not one of the choices');
    expect(ctlJson(dir, 'answer', String(qid), '--choice', 'sqlite').question.answer).toEqual({ choices: ['sqlite'] });

    const msg = await waitFor('the answer in the manager inbox', () => messages().find((m) => m.kind === 'answer' && m.ref === qid));
    expect(msg).toMatchObject({ from: 'operator', to: 'manager' });
    expect(msg.body).toContain(`operator answered question #${qid}`);
    expect(msg.body).toContain('choices: sqlite');
    await turnFor(dir, 'manager', msg.id);
    expect(ctlJson(dir, 'questions').questions).toEqual([]);
  });

  test('ask_operator refuses a bad shape at the tool', async () => {
    for (const [input, needle] of [
      [{ question: 'q', options: [] }, 'options must list at least 2 choices'],
      [{ question: 'q', options: ['x', 'x'] }, 'listed twice'],
      [{ question: 'q', multi: true }, 'multi needs options'],
    ] as const) {
      const r = await callTool('manager', 'ask_operator', input);
      expect(r.isError).toBe(true);
      expect(r.text).toContain(`error (bad_request)`);
      expect(r.text).toContain(needle);
    }
    expect(ctlJson(dir, 'questions').questions).toEqual([]);
  });
});

describe('per-agent config', () => {
  test('extra MCP servers are merged in, and one keyed like the built-in server is dropped with a warning the operator sees', () => {
    const mcp = JSON.parse(readFileSync(join(layout.agent('alice').state, '.hive', 'mcp.json'), 'utf8'));
    expect(Object.keys(mcp.mcpServers)).toEqual(['hyperhive', 'sneaky']);
    expect(mcp.mcpServers.hyperhive).toMatchObject({ type: 'http', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/) });
    expect(agent('alice').config_warnings).toEqual([expect.stringContaining('extraMcpServers.hyperhive was dropped')]);
    expect(hive(['ctl', 'list', '--data-dir', dir]).stdout).toContain('warning: extraMcpServers.hyperhive was dropped');
    // claude connected the extra server: its tools were offered to the model
    const offered = model.requests.filter((r) => isMainTurn(r.body) && systemText(r.body).includes('You are alice')).at(-1)!;
    expect(toolNames(offered.body)).toContain('mcp__sneaky__send');
  });

  test('the configured model is used on every turn, and the operator can switch it until the config changes', async () => {
    const modelOf = (id: number) =>
      model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes(`#${id} `)).map((r) => r.body.model);
    const a = await callTool('alice', 'reminders', {});
    expect(a.isError).toBe(false);
    const last = () => messages().filter((m) => m.to === 'alice' && m.from === 'operator').at(-1).id;
    expect(modelOf(last())).toEqual(['claude-hive-test-1']);

    expect(ctlJson(dir, 'model', 'alice', 'claude-hive-test-2').agent).toMatchObject({ model: 'claude-hive-test-2', model_override: 'claude-hive-test-2' });
    await callTool('alice', 'reminders', {});
    expect(modelOf(last())).toEqual(['claude-hive-test-2']);

    // a changed config clears the override at the next start
    writeFileSync(layout.agent('alice').configFile, 'model = "claude-hive-test-3"\n');
    ctlJson(dir, 'restart', 'alice');
    expect(agent('alice')).toMatchObject({ model: 'claude-hive-test-3', model_override: null, config_warnings: [] });
    await waitFor('alice idle', () => agent('alice').status === 'idle');
    await callTool('alice', 'reminders', {});
    expect(modelOf(last())).toEqual(['claude-hive-test-3']);
  });

  test('an invalid config keeps the agent from starting, naming the field', async () => {
    writeFileSync(layout.agent('carol').configFile, 'allowedRecipients = "bob"\n');
    const r = hive(['ctl', 'restart', 'carol', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad_config: agents/carol/config/agent.toml: allowedRecipients: expected array');
    expect(agent('carol')).toMatchObject({ status: 'failed', problem: expect.stringContaining('allowedRecipients') });
    expect(hive(['ctl', 'list', '--data-dir', dir]).stdout).toContain('! agents/carol/config/agent.toml: allowedRecipients: expected array');
    writeFileSync(layout.agent('carol').configFile, 'allowedRecipients = ["bob"]\n');
    expect(ctlJson(dir, 'restart', 'carol').agent.problem).toBeNull();
  });
});

describe('across a core restart', () => {
  test('a pending reminder fires and an unanswered question can still be answered', async () => {
    const set = await callTool('alice', 'remind', { body: 'after the restart', in_seconds: 6 });
    const rid = Number(/#(\d+)/.exec(set.text)![1]);
    const asked = await callTool('alice', 'ask', { to: 'bob', question: 'still there after a restart?' });
    const qid = Number(/question #(\d+)/.exec(asked.text)![1]);

    await core.stop();
    core = await startCoreProcess(dir, [], model.env);

    expect(ctlJson(dir, 'reminders').reminders.map((r: any) => r.id)).toContain(rid);
    const fired = await waitFor('the reminder after restart', () => messages().find((m) => m.kind === 'reminder' && m.ref === rid), 30_000);
    expect(fired.body).toContain('after the restart');
    await turnFor(dir, 'alice', fired.id);

    await waitFor('bob idle', () => agent('bob')?.status === 'idle');
    expect((await callTool('bob', 'questions', {})).text).toContain(`#${qid} from alice to bob`);
    expect((await callTool('bob', 'answer', { question_id: qid, text: 'yes' })).isError).toBe(false);
    expect(messages().find((m) => m.kind === 'answer' && m.ref === qid)).toMatchObject({ to: 'alice' });
  });
});
