/**
 * @module mcp/server
 * `hive mcp`: the stdio MCP server that claude spawns inside the sandbox. Each tool call is
 * forwarded over the agent's socket (`HIVE_SOCKET`, default `/run/hive/mcp.sock`); the core decides
 * who the caller is from the socket alone. Expected failures (unknown recipient, core unreachable,
 * bad arguments) come back as tool results with `isError: true` and a message the model can act
 * on; only bugs throw.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { toErrorInfo } from '../shared/errors.ts';
import { describeMessage } from '../shared/messages.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { VERSION } from '../shared/version.ts';
import { AgentOps, MAX_BODY_CHARS, MAX_WAIT_SECONDS, type AgentRecord, type MessageRecord, type QuestionRecord, type ReminderRecord } from '../shared/wire.ts';

/** Renders a received message for the model: its heading by kind, time, body and any hint. */
export function formatMessage(m: MessageRecord): string {
  const { heading, hint } = describeMessage(m);
  return `${heading} at ${new Date(m.created_at).toISOString()}:\n\n${m.body}${hint ? `\n\n(${hint})` : ''}`;
}

const text = (t: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(isError ? { isError } : {}) });

/** Runs a tool body, turning thrown errors into an `isError` result naming the error code. */
async function tool(fn: () => Promise<string>): Promise<CallToolResult> {
  try {
    return text(await fn());
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    const hint = code === 'unavailable' ? ' (the hive core is not reachable; try again shortly)' : '';
    return text(`error (${code}): ${message}${hint}`, true);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const Name = z.string().min(1).max(64);

/** One line per question, for `questions`. */
function formatQuestion(q: QuestionRecord): string {
  const opts = q.options ? ` [${q.multi ? 'choose any' : 'choose one'}: ${q.options.join(' | ')}]` : '';
  return `#${q.id} from ${q.from} to ${q.to} at ${iso(q.created_at)}: ${q.question}${opts}`;
}

/** One line per reminder, for `reminders` and `remind`. */
function formatReminder(r: ReminderRecord): string {
  return `reminder #${r.id} due ${iso(r.due_at)} for ${r.to}: ${r.body}`;
}

/** One line per agent, for `agents`. */
function formatAgent(a: AgentRecord): string {
  const extra = [a.problem ? `problem: ${a.problem}` : '', a.config_warnings.length ? `warnings: ${a.config_warnings.join('; ')}` : '']
    .filter(Boolean)
    .join('; ');
  return `${a.name} (${a.role}): ${a.status} since ${iso(a.status_since)}, wanted ${a.desired}, model ${a.model}, restarts ${a.restarts}${extra ? `; ${extra}` : ''}`;
}

/**
 * Builds the MCP server with the agent tools, talking to the core through `client`; with
 * `role: 'manager'` also the manager's tools. The core refuses manager tools on any other socket,
 * so offering them is a convenience, not the guard.
 */
export function createHiveMcpServer(client: JsonLineClient<typeof AgentOps>, role = 'agent'): McpServer {
  const server = new McpServer({ name: 'hyperhive', version: VERSION });

  server.registerTool(
    'send',
    {
      title: 'Send a message',
      description:
        'Queue a message for another agent (by name), for "manager", or for "operator" (the human). ' +
        `The message is stored durably before this returns. Body: 1 to ${MAX_BODY_CHARS} characters. ` +
        'Fails with not_found for an unknown recipient, forbidden when your config\'s allowedRecipients do not ' +
        'include the recipient (the manager is always allowed), and too_large for an over-long body.',
      inputSchema: {
        to: Name.describe('recipient: an agent name, "manager" or "operator"'),
        body: z.string().min(1).max(MAX_BODY_CHARS).describe('the message text'),
      },
    },
    ({ to, body }) => tool(async () => `sent message #${(await client.call('send', { to, body })).id} to ${to}`),
  );

  server.registerTool(
    'recv',
    {
      title: 'Receive a message',
      description:
        'Take the oldest unread message from your inbox. Without wait_seconds (or with 0) it returns at once, ' +
        `saying "inbox empty" when there is nothing. With a positive wait_seconds it waits up to that long (at most ${MAX_WAIT_SECONDS} s) ` +
        'for a message to arrive. A message you receive is removed from the inbox. Questions, answers, reminders and ' +
        'notices arrive here too, each introduced by its kind.',
      inputSchema: {
        wait_seconds: z.number().min(0).optional().describe(`seconds to wait for a message, at most ${MAX_WAIT_SECONDS}; omit to not wait`),
      },
    },
    ({ wait_seconds }) =>
      tool(async () => {
        const args = wait_seconds === undefined ? {} : { wait_seconds };
        const { message } = await client.call('recv', args);
        return message ? formatMessage(message) : 'inbox empty';
      }),
  );

  server.registerTool(
    'ask',
    {
      title: 'Ask a question',
      description:
        'Ask another agent or "manager" a question. It arrives in their inbox as question #id, which they answer with ' +
        'the answer tool; the answer then arrives in your inbox as a message naming the question. Returns the question id ' +
        'at once (it does not wait for the answer). The same send policy as send applies. Questions for the human ' +
        'operator go through the manager. Fails with not_found, forbidden (policy), or conflict when you have 200 unanswered questions.',
      inputSchema: {
        to: Name.describe('an agent name or "manager"'),
        question: z.string().min(1).max(8192).describe('the question'),
      },
    },
    ({ to, question }) =>
      tool(async () => {
        const r = await client.call('ask', { to, question });
        return `asked question #${r.question.id} of ${to} (message #${r.message_id}); the answer will arrive in your inbox`;
      }),
  );

  server.registerTool(
    'answer',
    {
      title: 'Answer a question',
      description:
        'Answer a question that was put to you (its id is in the question message, or see the questions tool). The answer ' +
        'is delivered to the asker as a message naming the question. A question can be answered once. Fails with not_found ' +
        'for an unknown id, forbidden when the question was put to someone else, conflict when already answered.',
      inputSchema: {
        id: z.number().int().min(1).describe('the question id'),
        text: z.string().min(1).max(MAX_BODY_CHARS).describe('your answer'),
      },
    },
    ({ id, text }) =>
      tool(async () => {
        const r = await client.call('answer', { question_id: id, text });
        return `answered question #${id} from ${r.question.from} (message #${r.message_id})`;
      }),
  );

  server.registerTool(
    'questions',
    {
      title: 'List open questions',
      description: 'List the unanswered questions you asked (waiting for others) and those put to you (waiting for your answer).',
      inputSchema: {},
    },
    () =>
      tool(async () => {
        const r = await client.call('questions', {});
        const part = (title: string, qs: QuestionRecord[]) => `${title}:\n${qs.length ? qs.map(formatQuestion).join('\n') : '(none)'}`;
        return `${part('waiting for your answer', r.to_answer)}\n\n${part('you asked, not answered yet', r.asked)}`;
      }),
  );

  server.registerTool(
    'remind',
    {
      title: 'Set a reminder',
      description:
        'Schedule a message for later: to yourself by default, or to another recipient (same policy as send). Give exactly one of ' +
        'at (an ISO 8601 time with zone, e.g. 2026-01-31T09:00:00Z) or in_seconds. The hive delivers it to the inbox when due, ' +
        'even across restarts; it wakes the recipient like any message. At most a year ahead. Fails with bad_request for a time ' +
        'in the past or a malformed time.',
      inputSchema: {
        body: z.string().min(1).max(MAX_BODY_CHARS).describe('what to be reminded of'),
        at: z.string().optional().describe('when, as an ISO 8601 time with zone'),
        in_seconds: z.number().optional().describe('when, as seconds from now'),
        to: Name.optional().describe('recipient; default yourself'),
      },
    },
    ({ body, at, in_seconds, to }) =>
      tool(async () => {
        const args = { body, ...(at !== undefined ? { at } : {}), ...(in_seconds !== undefined ? { in_seconds } : {}), ...(to !== undefined ? { to } : {}) };
        const { reminder } = await client.call('remind', args);
        return `set ${formatReminder(reminder)}`;
      }),
  );

  server.registerTool(
    'reminders',
    { title: 'List reminders', description: 'List your pending reminders, soonest first.', inputSchema: {} },
    () =>
      tool(async () => {
        const { reminders } = await client.call('reminders', {});
        return reminders.length ? reminders.map(formatReminder).join('\n') : 'no pending reminders';
      }),
  );

  server.registerTool(
    'cancel_reminder',
    {
      title: 'Cancel a reminder',
      description: 'Cancel one of your pending reminders by id. Fails with not_found for an id that is not yours, conflict when it already fired.',
      inputSchema: { id: z.number().int().min(1).describe('the reminder id') },
    },
    ({ id }) => tool(async () => `cancelled ${formatReminder((await client.call('cancel_reminder', { reminder_id: id })).reminder)}`),
  );

  if (role === 'manager') registerManagerTools(server, client);
  return server;
}

/** The manager's tools: the swarm's lifecycle and questions for the operator. */
function registerManagerTools(server: McpServer, client: JsonLineClient<typeof AgentOps>): void {
  server.registerTool(
    'agents',
    { title: 'List agents', description: 'List every agent with its state, desired state, model, restarts and any config problem.', inputSchema: {} },
    () => tool(async () => (await client.call('agents', {})).agents.map(formatAgent).join('\n')),
  );

  server.registerTool(
    'request_spawn',
    {
      title: 'Request a new agent',
      description:
        'Ask the operator to approve creating a new agent. Names: 1-9 characters, a-z, 0-9 and "-", starting with a letter. ' +
        'Returns the approval id at once; the decision arrives later in your inbox as a notice. Fails with bad_name, exists ' +
        '(the agent exists), or conflict (already requested).',
      inputSchema: { name: Name.describe('the new agent\'s name') },
    },
    ({ name }) =>
      tool(async () => {
        const { approval } = await client.call('request_spawn', { name });
        return `spawn of ${name} requested: approval #${approval.id} is waiting for the operator`;
      }),
  );

  const Sha = z
    .string()
    .regex(/^[0-9a-f]{7,40}$/, 'a commit id: 7 to 40 hex digits, e.g. from `git rev-parse HEAD`')
    .describe('commit id in the proposed repo (7 to 40 hex digits)');

  server.registerTool(
    'request_apply_commit',
    {
      title: 'Propose a config change',
      description:
        "Ask the operator to apply a commit of an agent's proposed config repo (/agents/<agent>/config, a git repo holding " +
        'agent.toml: edit, `git commit`, then pass the commit id). The commit and its agent.toml are checked now: an invalid config ' +
        'is refused with the field and the reason. A valid one waits for the operator; on approval the agent is rebuilt with it, ' +
        'and the outcome (deployed, or failed with the error) arrives later in your inbox as a notice. To roll back, commit the old ' +
        'config again (e.g. `git revert`) and request that. Fails with not_found (agent or commit), bad_request (not a commit id), ' +
        'bad_config, or conflict (that commit is already waiting).',
      inputSchema: { agent: Name.describe('the agent whose config changes'), sha: Sha },
    },
    ({ agent, sha }) =>
      tool(async () => {
        const { approval } = await client.call('request_apply_commit', { agent, sha });
        return `commit ${approval.sha?.slice(0, 12)} for ${agent} is valid and staged: approval #${approval.id} is waiting for the operator`;
      }),
  );

  server.registerTool(
    'request_spawn_draft',
    {
      title: 'Draft a new agent',
      description:
        "First step of a two-step spawn: creates the new agent's proposed config repo (with the default agent.toml committed) and " +
        'a directory for files its /state should start with, but no sandbox. Edit and commit the config, put notes or prompt ' +
        'material in the state directory, then call request_spawn_commit with the commit id. Returns both paths. Fails with ' +
        'bad_name or exists (the agent or the draft exists).',
      inputSchema: { name: Name.describe("the new agent's name") },
    },
    ({ name }) =>
      tool(async () => {
        const { draft } = await client.call('request_spawn_draft', { name });
        return `draft of ${name}: config repo ${draft.config_dir} (head ${draft.head.slice(0, 12)}), first /state files in ${draft.state_dir}`;
      }),
  );

  server.registerTool(
    'request_spawn_commit',
    {
      title: 'Request a drafted agent',
      description:
        "Second step of a two-step spawn: ask the operator to create the drafted agent from a commit of its proposed config repo. " +
        'The config is checked now. On approval the agent is created from that commit with the staged /state files; the outcome ' +
        'arrives later as a notice. Fails with not_found (no draft, or no such commit), bad_config, or conflict (already requested).',
      inputSchema: { name: Name.describe('the drafted agent'), sha: Sha },
    },
    ({ name, sha }) =>
      tool(async () => {
        const { approval } = await client.call('request_spawn_commit', { name, sha });
        return `spawn of ${name} from ${approval.sha?.slice(0, 12)} requested: approval #${approval.id} is waiting for the operator`;
      }),
  );

  const lifecycle = (op: 'kill' | 'start' | 'restart', title: string, description: string) =>
    server.registerTool(op, { title, description, inputSchema: { name: Name.describe('the agent') } }, ({ name }) =>
      tool(async () => formatAgent((await client.call(op, { name })).agent)),
    );
  lifecycle('kill', 'Stop an agent', 'Stop an agent; it stays registered, keeps its state and can be started again. You cannot kill yourself. Fails with not_found.');
  lifecycle('start', 'Start an agent', 'Start a stopped agent. Fails with not_found, or bad_config when its config is invalid (the message names the field).');
  lifecycle(
    'restart',
    'Restart an agent',
    'Stop and start an agent: a fresh process that re-reads its config and resumes its conversation. Fails with not_found or bad_config.',
  );

  server.registerTool(
    'ask_operator',
    {
      title: 'Ask the operator',
      description:
        'Queue a question for the human operator on the dashboard. Without options it is free text; with options (2 to 20 distinct, ' +
        'non-empty choices) the operator picks one, or any number with multi: true. Returns the question id at once; the answer ' +
        'arrives later in your inbox as "operator answered question #id" with the text or the choices. Fails with bad_request for ' +
        'a bad shape (empty or duplicate options, multi without options).',
      inputSchema: {
        question: z.string().min(1).max(8192).describe('the question'),
        options: z.array(z.string().max(500)).max(50).optional().describe('choices; omit for free text'),
        multi: z.boolean().optional().describe('allow several choices (checkboxes)'),
      },
    },
    ({ question, options, multi }) =>
      tool(async () => {
        const args = { question, ...(options !== undefined ? { options } : {}), ...(multi !== undefined ? { multi } : {}) };
        const q = (await client.call('ask_operator', args)).question;
        return `question #${q.id} queued for the operator; the answer will arrive in your inbox`;
      }),
  );
}

/** `hive mcp`: serves the tools on stdin/stdout until stdin closes. */
export async function runMcpStdio(socket: string, role = 'agent'): Promise<void> {
  const client = new JsonLineClient(socket, AgentOps);
  const server = createHiveMcpServer(client, role);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  process.stdin.on('end', () => void server.close());
  await closed;
  client.close();
}
