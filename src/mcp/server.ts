/**
 * @module mcp/server
 * The hive's MCP tools. The harness serves them over Streamable HTTP on loopback (`mcp/http.ts`);
 * `hive mcp` serves the same tools over stdio. Each tool call is forwarded over the agent's socket
 * (`HIVE_SOCKET`, default `/run/hive/mcp.sock`); the core decides who the caller is from the
 * socket alone. Expected failures (unknown recipient, core unreachable,
 * bad arguments) come back as tool results with `isError: true` and a message the model can act
 * on; only bugs throw.
 *
 * Every tool is one operation of {@link AgentOps}, under the same name: its input schema is that
 * operation's argument schema from `shared/wire.ts`, advertised as JSON Schema (TypeBox schemas
 * are JSON Schema) and checked with the same schema before the call goes out. Parameter
 * descriptions come from the schema's `description` fields. The protocol itself (the handshake,
 * `tools/list`, `tools/call`) is `protocol.ts`.
 */
import type { TObject } from '@sinclair/typebox';
import { ValueErrorType, type TypeCheck } from '@sinclair/typebox/compiler';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { HiveError, toErrorInfo, type ErrorCode } from '../shared/errors.ts';
import { describeMessage } from '../shared/messages.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { eachLine } from '../shared/lines.ts';
import { MAX_NAME_LENGTH } from '../shared/names.ts';
import { repeatText } from '../shared/reminders.ts';
import { VERSION } from '../shared/version.ts';
import { MAX_BODY_BYTES, RpcError, ToolServer, rpcError } from './protocol.ts';
import {
  AgentOps,
  compiled,
  MANAGER_OPS,
  MAX_BODY_CHARS,
  MAX_OPEN_QUESTIONS,
  MAX_OPTION_CHARS,
  MAX_OPTIONS,
  MAX_REMINDER_COUNT,
  MAX_WAIT_SECONDS,
  MIN_REMINDER_EVERY_SECONDS,
  type AgentRecord,
  type MessageRecord,
  type OpArgs,
  type OpName,
  type QuestionRecord,
  type ReminderRecord,
} from '../shared/wire.ts';

/** Renders a received message for the model: its heading by kind, time, body and any hint. */
export function formatMessage(m: MessageRecord): string {
  const { heading, hint } = describeMessage(m);
  return `${heading} at ${new Date(m.created_at).toISOString()}:\n\n${m.body}${hint ? `\n\n(${hint})` : ''}`;
}

const text = (t: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(isError ? { isError } : {}) });

/** Runs a tool body, turning thrown errors into an `isError` result naming the error code. */
async function run(fn: () => Promise<string>): Promise<CallToolResult> {
  try {
    return text(await fn());
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    const hint = code === 'unavailable' ? ' (the hive core is not reachable; try again shortly)' : '';
    return text(`error (${code}): ${message}${hint}`, true);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One line per question, for `questions`. */
function formatQuestion(q: QuestionRecord): string {
  const opts = q.options ? ` [${q.multi ? 'choose any' : 'choose one'}: ${q.options.join(' | ')}]` : '';
  return `#${q.id} from ${q.from} to ${q.to} at ${iso(q.created_at)}: ${q.question}${opts}`;
}

/** One line per reminder, for `reminders` and `remind`; a recurring one says how it repeats. */
function formatReminder(r: ReminderRecord): string {
  const repeat = repeatText(r);
  return `reminder #${r.id} due ${iso(r.due_at)} for ${r.to}${repeat ? ` (${repeat})` : ''}: ${r.body}`;
}

/** One line per agent, for `agents`. */
function formatAgent(a: AgentRecord): string {
  const extra = [a.problem ? `problem: ${a.problem}` : '', a.config_warnings.length ? `warnings: ${a.config_warnings.join('; ')}` : '']
    .filter(Boolean)
    .join('; ');
  if (a.role === 'peer') return `${a.name} (peer: runs outside the hive, which cannot start or stop it): ${a.status} since ${iso(a.status_since)}, model ${a.model}`;
  return `${a.name} (${a.role}): ${a.status} since ${iso(a.status_since)}, wanted ${a.desired}, model ${a.model}, restarts ${a.restarts}${extra ? `; ${extra}` : ''}`;
}

/** An operation of {@link AgentOps}; every tool is one, under the same name. */
type ToolOp = OpName<typeof AgentOps>;
/**
 * What a tool needs of the core: one call on the agent's socket. A {@link JsonLineClient} on that
 * socket is one; the HTTP endpoint (`mcp/http.ts`) hands in a wrapper that gives long-polls a
 * connection of their own.
 */
export type HiveCaller = Pick<JsonLineClient<typeof AgentOps>, 'call'>;
type Client = HiveCaller;

/** What the server adds to an operation to make it a tool: a title, a description and what the model reads back. */
interface ToolSpec<K extends ToolOp> {
  title: string;
  description: string;
  /** Calls the operation with the checked arguments; returns the text the model gets. */
  run(client: Client, args: OpArgs<typeof AgentOps, K>): Promise<string>;
}

type ToolSpecs = { [K in ToolOp]?: ToolSpec<K> };

/** Agent-lifecycle tools: the operation, then the agent as it is now. */
const lifecycle = (op: 'kill' | 'start' | 'restart', title: string, description: string): ToolSpec<typeof op> => ({
  title,
  description,
  run: async (c, args) => formatAgent((await c.call(op, args)).agent),
});

/**
 * The tools, by operation. The core decides which of them the caller may use: the ones in
 * {@link MANAGER_OPS} are offered only to the manager and refused by the core on any other socket.
 */
const TOOLS: ToolSpecs = {
  send: {
    title: 'Send a message',
    description:
      'Queue a message for another agent (by name), for "manager", or for "operator" (the human). ' +
      `The message is stored durably before this returns. Body: 1 to ${MAX_BODY_CHARS} characters. ` +
      "Fails with not_found for an unknown recipient, forbidden when your config's allowedRecipients do not " +
      'include the recipient (the manager is always allowed), and too_large for an over-long body.',
    run: async (c, args) => `sent message #${(await c.call('send', args)).id} to ${args.to}`,
  },
  recv: {
    title: 'Receive a message',
    description:
      'Take the oldest unread message from your inbox. Without wait_seconds (or with 0) it returns at once, ' +
      `saying "inbox empty" when there is nothing. With a positive wait_seconds it waits up to that long (at most ${MAX_WAIT_SECONDS} s) ` +
      'for a message to arrive. A message you receive is removed from the inbox. Questions, answers, reminders and ' +
      'notices arrive here too, each introduced by its kind.',
    run: async (c, args) => {
      const { message } = await c.call('recv', args);
      return message ? formatMessage(message) : 'inbox empty';
    },
  },
  ask: {
    title: 'Ask a question',
    description:
      'Ask another agent or "manager" a question. It arrives in their inbox as question #id, which they answer with ' +
      'the answer tool; the answer then arrives in your inbox as a message naming the question. Returns the question id ' +
      'at once (it does not wait for the answer). The same send policy as send applies. Questions for the human ' +
      `operator go through the manager. Fails with not_found, forbidden (policy), or conflict when you have ${MAX_OPEN_QUESTIONS} unanswered questions.`,
    run: async (c, args) => {
      const r = await c.call('ask', args);
      return `asked question #${r.question.id} of ${args.to} (message #${r.message_id}); the answer will arrive in your inbox`;
    },
  },
  answer: {
    title: 'Answer a question',
    description:
      'Answer a question that was put to you: question_id is the id in the question message ("Question #id"), or see the ' +
      'questions tool. The answer is delivered to the asker as a message naming the question. A question can be answered once. ' +
      'Fails with not_found for an unknown id, forbidden when the question was put to someone else, conflict when already answered.',
    run: async (c, args) => {
      const r = await c.call('answer', args);
      return `answered question #${args.question_id} from ${r.question.from} (message #${r.message_id})`;
    },
  },
  questions: {
    title: 'List open questions',
    description: 'List the unanswered questions you asked (waiting for others) and those put to you (waiting for your answer).',
    run: async (c, args) => {
      const r = await c.call('questions', args);
      const part = (title: string, qs: QuestionRecord[]) => `${title}:\n${qs.length ? qs.map(formatQuestion).join('\n') : '(none)'}`;
      return `${part('waiting for your answer', r.to_answer)}\n\n${part('you asked, not answered yet', r.asked)}`;
    },
  },
  remind: {
    title: 'Set a reminder',
    description:
      'Schedule a message for later: to yourself by default, or to another recipient (same policy as send). Give exactly one of ' +
      'at (an ISO 8601 time with zone, e.g. 2026-01-31T09:00:00Z) or in_seconds (with every, neither is needed). The hive delivers it to the inbox when due, ' +
      'even across restarts; it wakes the recipient like any message. At most a year ahead. ' +
      `With every (seconds, at least ${MIN_REMINDER_EVERY_SECONDS}) it repeats at that interval, the first time at at/in_seconds ` +
      `or, given neither, one interval from now; count (at most ${MAX_REMINDER_COUNT}) caps how many times it fires in all, ` +
      'otherwise it repeats for 366 days. If the hive was down through several firings it fires once, then keeps its ' +
      'schedule. cancel_reminder stops every later firing. Fails with bad_request for a time in the past, a malformed ' +
      'time, or every/count out of their limits.',
    run: async (c, args) => `set ${formatReminder((await c.call('remind', args)).reminder)}`,
  },
  reminders: {
    title: 'List reminders',
    description: 'List your pending reminders, soonest first; a recurring one shows its interval, how often it fired and how many firings are left.',
    run: async (c, args) => {
      const { reminders } = await c.call('reminders', args);
      return reminders.length ? reminders.map(formatReminder).join('\n') : 'no pending reminders';
    },
  },
  cancel_reminder: {
    title: 'Cancel a reminder',
    description:
      'Cancel one of your pending reminders by its id (reminder_id). Fails with not_found for an id that is not yours, conflict when it already fired.',
    run: async (c, args) => `cancelled ${formatReminder((await c.call('cancel_reminder', args)).reminder)}`,
  },

  agents: {
    title: 'List agents',
    description:
      'List every agent with its state, desired state, model, restarts and any config problem. Peers (role peer) are agents the hive does not run: they send and receive like any agent, but cannot be started, stopped or given a config. In a federation, the agents of other hives follow as name@hive with their last-known state: message them, but their own hive manages them.',
    run: async (c, args) => {
      const r = await c.call('agents', args);
      const remote = r.remote.map((a) => `${a.name}@${a.hive} (${a.role} of hive ${a.hive}, not managed here): ${a.status} as of ${iso(a.at)}, model ${a.model}`);
      return [...r.agents.map(formatAgent), ...remote].join('\n');
    },
  },
  request_spawn: {
    title: 'Request a new agent',
    description:
      `Ask the operator to approve creating a new agent. Names: 1-${MAX_NAME_LENGTH} characters, a-z, 0-9 and "-", starting with a letter. ` +
      'Returns the approval id at once; the decision arrives later in your inbox as a notice. Fails with bad_name, exists ' +
      '(the agent exists), or conflict (already requested).',
    run: async (c, args) => {
      const { approval } = await c.call('request_spawn', args);
      return `spawn of ${args.name} requested: approval #${approval.id} is waiting for the operator`;
    },
  },
  request_apply_commit: {
    title: 'Propose a config change',
    description:
      "Ask the operator to apply a commit of an agent's proposed config repo (/agents/<agent>/config, a git repo holding " +
      'agent.toml: edit, `git commit`, then pass the commit id). The commit and its agent.toml are checked now: an invalid config ' +
      'is refused with the field and the reason. A valid one waits for the operator; on approval the agent is rebuilt with it, ' +
      'and the outcome (deployed, or failed with the error) arrives later in your inbox as a notice. To roll back, commit the old ' +
      'config again (e.g. `git revert`) and request that. Fails with not_found (agent or commit), bad_request (not a commit id), ' +
      'bad_config, or conflict (that commit is already waiting).',
    run: async (c, args) => {
      const { approval } = await c.call('request_apply_commit', args);
      return `commit ${approval.sha?.slice(0, 12)} for ${args.agent} is valid and staged: approval #${approval.id} is waiting for the operator`;
    },
  },
  request_spawn_draft: {
    title: 'Draft a new agent',
    description:
      "First step of a two-step spawn: creates the new agent's proposed config repo (with the default agent.toml committed) and " +
      'a directory for files its /state should start with, but no sandbox. Edit and commit the config, put notes or prompt ' +
      'material in the state directory, then call request_spawn_commit with the commit id. Returns both paths. Fails with ' +
      'bad_name or exists (the agent or the draft exists).',
    run: async (c, args) => {
      const { draft } = await c.call('request_spawn_draft', args);
      return `draft of ${args.name}: config repo ${draft.config_dir} (head ${draft.head.slice(0, 12)}), first /state files in ${draft.state_dir}`;
    },
  },
  request_spawn_commit: {
    title: 'Request a drafted agent',
    description:
      'Second step of a two-step spawn: ask the operator to create the drafted agent from a commit of its proposed config repo. ' +
      'The config is checked now. On approval the agent is created from that commit with the staged /state files; the outcome ' +
      'arrives later as a notice. Fails with not_found (no draft, or no such commit), bad_config, or conflict (already requested).',
    run: async (c, args) => {
      const { approval } = await c.call('request_spawn_commit', args);
      return `spawn of ${args.name} from ${approval.sha?.slice(0, 12)} requested: approval #${approval.id} is waiting for the operator`;
    },
  },
  kill: lifecycle(
    'kill',
    'Stop an agent',
    'Stop an agent; it stays registered, keeps its state and can be started again. You cannot kill yourself. Fails with not_found, or forbidden for a peer (the hive does not run peers).',
  ),
  start: lifecycle('start', 'Start an agent', 'Start a stopped agent. Fails with not_found, forbidden for a peer, or bad_config when its config is invalid (the message names the field).'),
  restart: lifecycle(
    'restart',
    'Restart an agent',
    'Stop and start an agent: a fresh process that re-reads its config and resumes its conversation. Fails with not_found, forbidden for a peer, or bad_config.',
  ),
  ask_operator: {
    title: 'Ask the operator',
    description:
      `Queue a question for the human operator on the dashboard. Without options it is free text; with options (2 to ${MAX_OPTIONS} distinct, ` +
      `non-empty choices of at most ${MAX_OPTION_CHARS} characters) the operator picks one, or any number with multi: true. Returns the ` +
      'question id at once; the answer arrives later in your inbox as "operator answered question #id" with the text or the choices. ' +
      'Fails with bad_request for a bad shape (empty or duplicate options, multi without options).',
    run: async (c, args) => {
      const q = (await c.call('ask_operator', args)).question;
      return `question #${q.id} queued for the operator; the answer will arrive in your inbox`;
    },
  },
};

/** A tool ready to serve: its advertised definition, the checker of its arguments, and its body. */
interface ServedTool {
  definition: Tool;
  schema: TObject;
  run(client: Client, args: unknown): Promise<string>;
}

/**
 * The input schema of the tool for `op`: the operation's argument schema from {@link AgentOps},
 * closed to other properties (as the core's socket is). It is both what the tool advertises and
 * what its arguments are checked against.
 */
function toolInputSchema(op: ToolOp): TObject {
  return { ...(AgentOps[op].args as TObject), additionalProperties: false };
}

/** Builds every tool once per process: input schemas closed, definitions rendered (their checkers compile on first call). */
function buildTools(): Map<string, ServedTool> {
  const out = new Map<string, ServedTool>();
  for (const [op, spec] of Object.entries(TOOLS) as [ToolOp, ToolSpec<ToolOp>][]) {
    const schema = toolInputSchema(op);
    out.set(op, {
      // JSON round trip: the plain JSON Schema, without TypeBox's symbol-keyed bookkeeping.
      definition: { name: op, title: spec.title, description: spec.description, inputSchema: JSON.parse(JSON.stringify(schema)) },
      schema,
      run: (client, args) => spec.run(client, args as never),
    });
  }
  return out;
}

let served: Map<string, ServedTool> | undefined;

/** The names of the tools offered to `role`: every tool for the manager, else those not in {@link MANAGER_OPS}. */
function toolNames(role: string): ToolOp[] {
  return (Object.keys(TOOLS) as ToolOp[]).filter((op) => role === 'manager' || !MANAGER_OPS.has(op));
}

const SIZE_ERRORS: ReadonlySet<ValueErrorType> = new Set([ValueErrorType.StringMaxLength, ValueErrorType.ArrayMaxItems]);

/**
 * Why `args` do not fit `tool`'s input schema, for the model to act on: each field at fault with
 * what is wrong with it, then the arguments the tool takes with their descriptions.
 * @returns `too_large` when every problem is a size limit, else `bad_request`.
 */
function describeArgumentErrors(tool: string, schema: TObject, check: TypeCheck<TObject>, args: unknown): HiveError {
  const problems = new Map<string, string>();
  let code: ErrorCode = 'too_large';
  for (const e of check.Errors(args)) {
    const field = e.path.replace(/^\//, '').replace(/\//g, '.') || '(arguments)';
    if (problems.has(field)) continue;
    if (!SIZE_ERRORS.has(e.type)) code = 'bad_request';
    problems.set(
      field,
      e.type === ValueErrorType.ObjectRequiredProperty
        ? 'missing (required)'
        : e.type === ValueErrorType.ObjectAdditionalProperties
          ? `not an argument of ${tool}`
          : e.message,
    );
    if (problems.size === 5) break;
  }
  const params = Object.entries(schema.properties).map(([k, s]) => (s.description ? `${k} (${s.description})` : k));
  const takes = params.length ? `${tool} takes: ${params.join('; ')}` : `${tool} takes no arguments`;
  const what = [...problems].map(([field, problem]) => `${field}: ${problem}`).join('; ');
  return new HiveError(code, `invalid arguments for ${tool}: ${what || 'invalid value'}. ${takes}`);
}

/**
 * Builds the MCP server with the agent tools, talking to the core through `client`; with
 * `role: 'manager'` also the manager's tools. The core refuses manager tools on any other socket,
 * so offering them is a convenience, not the guard. Serve it with `answer` (one parsed body, as
 * the HTTP endpoint does) or `connect` (a transport: stdio, an in-memory pair in tests).
 */
export function createHiveMcpServer(client: Client, role = 'agent'): ToolServer {
  served ??= buildTools();
  const tools = new Map<string, ServedTool>(toolNames(role).map((name) => [name, served!.get(name)!]));
  return new ToolServer(
    { name: 'hyperhive', version: VERSION },
    {
      tools: () => [...tools.values()].map((t) => t.definition),
      call: (name, args) => {
        const tool = tools.get(name);
        return run(async () => {
          if (!tool) throw new HiveError('not_found', `no tool named "${name.slice(0, 64)}"; the tools are ${[...tools.keys()].join(', ')}`);
          const check = compiled(tool.schema);
          if (!check.Check(args)) throw describeArgumentErrors(name, tool.schema, check, args);
          return tool.run(client, args);
        });
      },
    },
  );
}

/**
 * `hive mcp`: serves the tools on stdin/stdout until stdin closes. One JSON-RPC message (or batch)
 * per line each way (the MCP stdio transport); a line that is not JSON gets a parse error with a
 * null id, and one longer than {@link MAX_BODY_BYTES} characters an invalid-request error.
 * Requests are answered concurrently, each as soon as it is done. When stdin closes, the
 * connection to the core closes at once, so a `recv` still waiting there is dropped instead of
 * taking a message nobody would read; answers still in flight are not written.
 */
export async function runMcpStdio(socket: string, role = 'agent'): Promise<void> {
  const client = new JsonLineClient(socket, AgentOps);
  const server = createHiveMcpServer(client, role);
  let open = true;
  const write = (response: unknown) => {
    if (open && response !== null) process.stdout.write(JSON.stringify(response) + '\n');
  };
  const pending = new Set<Promise<void>>();
  const answer = (text: string) => {
    const line = text.replace(/\r$/, '');
    if (!line.trim()) return;
    let body: unknown;
    try {
      body = JSON.parse(line);
    } catch {
      return write(rpcError(null, RpcError.parse, 'Parse error: a line that is not JSON'));
    }
    const p = server
      .answer(body)
      .then(write)
      .catch((err: Error) => {
        process.stderr.write(`hive mcp: ${err.message}\n`);
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  await eachLine(Bun.stdin.stream(), answer, {
    maxChars: MAX_BODY_BYTES,
    onTooLong: () => write(rpcError(null, RpcError.invalidRequest, `Invalid Request: a line of more than ${MAX_BODY_BYTES} characters`)),
  });
  open = false;
  client.close();
  await Promise.all(pending);
}
