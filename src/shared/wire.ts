/**
 * @module wire
 * Every message that crosses a hive socket, as TypeBox schemas. This module is the only definition
 * of these shapes: types are derived from the schemas and both ends validate with the compiled
 * checkers below. Framing (JSON lines, size limits) lives in `jsonl.ts`; see `docs/wire.md`.
 *
 * A request is one JSON object per line: `{"id": <int>, "op": "<name>", ...args}`.
 * A reply is `{"id": <int|null>, "ok": true, "result": {...}}` or
 * `{"id": <int|null>, "ok": false, "error": {"code": "...", "message": "..."}}`.
 * `id` is chosen by the client and echoed; it is `null` only when the request line could not be read.
 */
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { HiveError } from './errors.ts';
import { ModelName } from './agent-config-shape.ts';

/** Largest accepted request or reply line, in bytes (not counting the newline). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Largest message body, in characters. */
export const MAX_BODY_CHARS = 64 * 1024;
/** Longest `recv` long-poll, in seconds. Larger requests are clamped to it. */
export const MAX_WAIT_SECONDS = 180;
/**
 * How long an agent keeps a claude started ahead of its next turn after a turn ends, seconds
 * (`--standby-seconds`; 0 turns standbys off; see `agent/claude/standby.ts`).
 */
export const DEFAULT_STANDBY_SECONDS = 30;
/** The longest `--standby-seconds` accepted. */
export const MAX_STANDBY_SECONDS = 3600;
/** Longest question text, in characters. */
export const MAX_QUESTION_CHARS = 8192;
/** Most options a choice question may offer (and so most choices an answer may pick). */
export const MAX_OPTIONS = 20;
/** Longest option of a choice question, in characters. */
export const MAX_OPTION_CHARS = 200;
/** Most unanswered questions one asker may have open at once. */
export const MAX_OPEN_QUESTIONS = 200;
/** Longest turn result kept in a turn summary, in characters. */
export const MAX_TURN_RESULT_CHARS = 4000;
/** Most tool calls a turn summary lists. */
export const MAX_TURN_TOOLS = 1000;
/** Longest tool name a turn summary lists, in characters. */
export const MAX_TOOL_NAME_CHARS = 200;
/** Most entries one listing (`messages`, `turns`, `config_repo`, `deploys`) returns; its `limit` may not exceed it. */
export const MAX_LIST_LIMIT = 1000;
/** Longest tag retention, in days. */
export const MAX_RETENTION_DAYS = 99999;
/** Shortest interval of a recurring reminder (`remind`'s `every`), in seconds. */
export const MIN_REMINDER_EVERY_SECONDS = 60;
/** Most firings a recurring reminder may be given (`remind`'s `count`). */
export const MAX_REMINDER_COUNT = 1000;

/** A commit id as people and agents type it, full or abbreviated: 7 to 40 lowercase hex digits (unanchored). */
const COMMIT_ID_HEX = '[0-9a-f]{7,40}';
/** {@link COMMIT_ID_RE} as a JSON Schema `pattern`. */
export const COMMIT_ID_PATTERN = `^${COMMIT_ID_HEX}$`;
/**
 * Matches a whole commit id, full or abbreviated: 7 to 40 lowercase hex digits.
 * @example COMMIT_ID_RE.test('3f2a9c1') // true
 */
export const COMMIT_ID_RE = new RegExp(COMMIT_ID_PATTERN);

/** A union of string literals, from the one list of its values. */
function literals<T extends string>(values: readonly T[]) {
  return Type.Union(values.map((v) => Type.Literal(v)));
}

/** `schema` with its own `description` (replacing any it had), for a field that reuses a shared schema. */
function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

const Name = Type.String({ minLength: 1, maxLength: 64, description: 'agent name, `manager` or `operator`' });
const Body = Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS });
const Millis = Type.Integer({ minimum: 0, description: 'unix time, milliseconds' });

/** Every {@link MessageKind}. */
export const MESSAGE_KINDS = ['message', 'question', 'answer', 'reminder', 'notice'] as const;
/**
 * What a message is: a plain `message`; a `question` (ref = question id) the recipient may
 * `answer`; an `answer` (ref = the question answered); a `reminder` (ref = reminder id); or a
 * `notice` from the hive itself (crashes, approval decisions; ref = approval id when there is one).
 */
export type MessageKind = (typeof MESSAGE_KINDS)[number];
export const MessageKind = literals(MESSAGE_KINDS);

/** One broker message as stored and returned. Times are unix milliseconds. */
export const MessageRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  from: Type.String(),
  to: Type.String(),
  body: Type.String(),
  kind: MessageKind,
  /** The question, reminder or approval this message is about (see {@link MessageKind}). */
  ref: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Millis,
  delivered_at: Type.Union([Millis, Type.Null()]),
  /**
   * Which delivery this is: 1, or 2 when a turn it started was interrupted (a core or harness
   * crash or restart) and it was handed out again once.
   */
  attempt: Type.Integer({ minimum: 1 }),
});
export type MessageRecord = Static<typeof MessageRecord>;

/** Lifecycle states an agent can be in, as the dashboard shows them. */
export const AGENT_STATUSES = ['starting', 'building', 'idle', 'thinking', 'offline', 'crashed', 'failed', 'connected', 'away'] as const;
/**
 * `building`: being rebuilt (a deploy, an auto-update or the operator's rebuild) until it says hello;
 * `crashed`: the process died and a restart is pending; `failed`: it cannot start (see `problem`).
 * A peer's are `connected` (something waits in `recv` on its socket, or did within the last minute),
 * `away` (nothing does) and `thinking` (its harness reports a turn).
 */
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const AgentStatus = literals(AGENT_STATUSES);

/**
 * What an agent is: a plain agent, the manager, or a peer (an identity on the broker for a
 * container or process the hive does not run; see `core/agents/peers.ts`).
 */
export const AGENT_ROLES = ['agent', 'manager', 'peer'] as const;
/** See {@link AGENT_ROLES}. */
export type AgentRole = (typeof AGENT_ROLES)[number];
export const AgentRole = literals(AGENT_ROLES);

/** Whether the operator wants an agent running; the supervisor works towards it. */
export const DESIRED_STATES = ['running', 'stopped'] as const;
/** See {@link DESIRED_STATES}. */
export type DesiredState = (typeof DESIRED_STATES)[number];
export const DesiredState = literals(DESIRED_STATES);

/** One agent in the registry, with its live state. */
export const AgentRecord = Type.Object({
  name: Type.String(),
  role: AgentRole,
  runtime: Type.String(),
  /** Whether the operator wants it running; the supervisor works towards this. */
  desired: DesiredState,
  status: AgentStatus,
  /** When `status` last changed, unix ms. */
  status_since: Millis,
  pid: Type.Union([Type.Integer(), Type.Null()]),
  /** The model the next turn uses: the operator's override, else the config's, else the core's default. */
  model: Type.String(),
  /** Set by the operator at runtime; cleared when the agent's config changes. */
  model_override: Type.Union([Type.String(), Type.Null()]),
  /** Why the agent cannot run (e.g. an invalid config), or null. */
  problem: Type.Union([Type.String(), Type.Null()]),
  /** Config warnings the operator should see (e.g. a dropped MCP server). */
  config_warnings: Type.Array(Type.String()),
  /** Crash restarts since the agent was last started by hand. */
  restarts: Type.Integer({ minimum: 0 }),
  /** How the last run ended (exit code or signal), if it did. */
  last_exit: Type.Union([Type.String(), Type.Null()]),
  /** The applied config commit its sandbox last came up with, or null before the first start. */
  built_commit: Type.Union([Type.String(), Type.Null()]),
  /** The hive version its sandbox last came up with. */
  built_version: Type.Union([Type.String(), Type.Null()]),
  created_at: Millis,
});
export type AgentRecord = Static<typeof AgentRecord>;

/**
 * A peer as the operator added it: an agent identity on the broker for a container or process the
 * hive does not run. Its live state is its {@link AgentRecord} (role `peer`).
 */
export const PeerRecord = Type.Object({
  name: Type.String(),
  /** The host directory to bind into the peer at `/run/hive`: its `mcp.sock` and, with model access, `model.sock`. */
  socket_dir: Type.String(),
  /** Whom it may `send`/`ask` besides the manager; null: anyone. */
  allowed_recipients: Type.Union([Type.Array(Type.String()), Type.Null()]),
  /** Whether the core serves it the model gateway (`model.sock`, the operator's credentials). */
  model_access: Type.Boolean(),
  /** The uid that owns its sockets (the core's): the peer must connect as this uid. */
  owner_uid: Type.Integer(),
  created_at: Millis,
});
export type PeerRecord = Static<typeof PeerRecord>;

/** An agent of another hive of the federation, as this hive last heard of it (`federation/presence.ts`). */
export const RemoteAgentRecord = Type.Object({
  hive: Type.String(),
  name: Type.String(),
  role: Type.String(),
  status: Type.String(),
  model: Type.String(),
  /** When its hive wrote this state, unix ms (that host's clock). */
  at: Millis,
});
export type RemoteAgentRecord = Static<typeof RemoteAgentRecord>;

/** An agent root filesystem (`core/images/`), as `hive ctl images` lists it. */
export const ImageRecord = Type.Object({
  key: Type.String(),
  distribution: Type.String(),
  suite: Type.String(),
  architecture: Type.String(),
  /** Every package asked for (the hive's base set and the agents'), sorted. */
  packages: Type.Array(Type.String()),
  /** Disk use, bytes. */
  bytes: Type.Integer(),
  built_at: Millis,
  /** How long its build took, ms. */
  build_ms: Type.Integer(),
  /** Agents whose applied config or running sandbox uses it. */
  users: Type.Array(Type.String()),
});
export type ImageRecord = Static<typeof ImageRecord>;

/**
 * Where a turn is: still `running`, or ended `ok` or with an `error`, or `interrupted` by a core
 * or harness crash or restart (its result says whether its message was re-queued).
 */
export const TURN_STATUSES = ['running', 'ok', 'error', 'interrupted'] as const;
/** See {@link TURN_STATUSES}. */
export type TurnStatus = (typeof TURN_STATUSES)[number];
export const TurnStatus = literals(TURN_STATUSES);

/** Summary of one claude turn, as the core records it. */
export const TurnRecord = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  agent: Type.String(),
  started_at: Millis,
  ended_at: Type.Union([Millis, Type.Null()]),
  trigger_message_id: Type.Union([Type.Integer(), Type.Null()]),
  status: TurnStatus,
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  cost_usd: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  input_tokens: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  output_tokens: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** Names of the tools claude called during the turn, in order. */
  tools: Type.Array(Type.String({ maxLength: MAX_TOOL_NAME_CHARS }), { maxItems: MAX_TURN_TOOLS }),
  /** The turn's final text (or error), truncated to {@link MAX_TURN_RESULT_CHARS} characters. */
  result: Type.Union([Type.String({ maxLength: MAX_TURN_RESULT_CHARS }), Type.Null()]),
});
export type TurnRecord = Static<typeof TurnRecord>;

/** A question from one party to another; `options` makes it a choice (`multi`: several). */
export const QuestionRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  from: Type.String(),
  to: Type.String(),
  question: Type.String(),
  /** null: free text. Otherwise the choices, in order. */
  options: Type.Union([Type.Array(Type.String()), Type.Null()]),
  multi: Type.Boolean(),
  created_at: Millis,
  answered_at: Type.Union([Millis, Type.Null()]),
  /** The answer: `text` for free text, `choices` for option questions. */
  answer: Type.Union([Type.Object({ text: Type.Optional(Type.String()), choices: Type.Optional(Type.Array(Type.String())) }), Type.Null()]),
});
export type QuestionRecord = Static<typeof QuestionRecord>;

/**
 * A scheduled message, one-shot or recurring. `due_at` is the next firing while it is pending (the
 * last one once it is done); `fired_at` is set when it fired for the last time, so a pending
 * reminder has `fired_at` and `cancelled_at` null. `message_id` is the message of its latest firing.
 */
export const ReminderRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  owner: Type.String(),
  to: Type.String(),
  body: Type.String(),
  due_at: Millis,
  created_at: Millis,
  fired_at: Type.Union([Millis, Type.Null()]),
  cancelled_at: Type.Union([Millis, Type.Null()]),
  message_id: Type.Union([Type.Integer(), Type.Null()]),
  /** Seconds between firings; null for a one-shot reminder. */
  every: Type.Union([Type.Number(), Type.Null()]),
  /** How many times it has fired. */
  fired: Type.Integer({ minimum: 0 }),
  /** Firings left (a one-shot reminder: 1, then 0); null for a recurring one without `count`, which runs until `ends_at`. */
  remaining: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** A recurring reminder fires no later than this (unix ms, 366 days after it was set); null for a one-shot one. */
  ends_at: Type.Union([Millis, Type.Null()]),
});
export type ReminderRecord = Static<typeof ReminderRecord>;

/** Kinds of change that wait for the operator. */
export const APPROVAL_KINDS = ['spawn', 'apply_commit'] as const;
/** See {@link APPROVAL_KINDS}. */
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];
export const ApprovalKind = literals(APPROVAL_KINDS);
/** Where an approval is: waiting, refused, or approved and then carried out (or not). */
export const APPROVAL_STATUSES = ['pending', 'building', 'denied', 'deployed', 'failed'] as const;
/** `building`: approved and being carried out; then `deployed` or `failed`. */
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export const ApprovalStatus = literals(APPROVAL_STATUSES);

/** A change the manager asked for and the operator decides on. */
export const ApprovalRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  kind: ApprovalKind,
  agent: Type.String(),
  requested_by: Type.String(),
  /** The proposed commit (full id in the agent's proposed repo), or null for a default-config spawn. */
  sha: Type.Union([Type.String(), Type.Null()]),
  /** The proposed commit's subject line. */
  subject: Type.Union([Type.String(), Type.Null()]),
  status: ApprovalStatus,
  /** The applied head before the deploy (what a failed deploy returns to). */
  base_commit: Type.Union([Type.String(), Type.Null()]),
  /** The applied-repo commit this approval deployed (or tried to). */
  applied_commit: Type.Union([Type.String(), Type.Null()]),
  created_at: Millis,
  decided_at: Type.Union([Millis, Type.Null()]),
  /** The deny reason or the failure. */
  note: Type.Union([Type.String(), Type.Null()]),
});
export type ApprovalRecord = Static<typeof ApprovalRecord>;

/** Conditions that need a human, shown as banners on the dashboard and by `hive ctl alerts`. */
export const ALERT_KINDS = ['deploy_failed', 'crash_loop', 'gateway_refused', 'audit_failed', 'agent_stuck', 'hive_unreachable'] as const;
/**
 * `deploy_failed`: a deploy or rebuild failed; `crash_loop`: an agent keeps crashing;
 * `gateway_refused`: the model gateway refused an agent's request (over budget, or a model its
 * config does not allow); `audit_failed`: a record of the audit trail (a `failed/<id>` tag, a
 * deploy-log commit) could not be written, so the trail is missing a step; `agent_stuck`: an agent
 * has been in one turn longer than the stuck threshold, or messages wait in its inbox while it is
 * idle and takes none; `hive_unreachable`: in a federation, another hive (agent `@<hive>`) has not
 * been heard, or this hive has not reached NATS, for longer than the threshold.
 */
export type AlertKind = (typeof ALERT_KINDS)[number];
export const AlertKind = literals(ALERT_KINDS);

/**
 * An open alert. One per kind and agent: raising it again updates `text`, `count` and
 * `updated_at`. It closes when the condition clears (the agent comes up, a deploy succeeds, a run
 * lasts) or when the operator dismisses it.
 */
export const AlertRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  kind: AlertKind,
  /** The agent it concerns (for a refused spawn, the name that was asked for). */
  agent: Type.String(),
  /** What happened and what to do, for a person. */
  text: Type.String(),
  /** How many times it was raised while open. */
  count: Type.Integer({ minimum: 1 }),
  created_at: Millis,
  updated_at: Millis,
});
export type AlertRecord = Static<typeof AlertRecord>;

/** An agent's config as the core hands it to the harness (defaults applied; see `agent-config.ts`). */
export const AgentConfigWire = Type.Object({
  model: Type.Union([Type.String(), Type.Null()]),
  allowedRecipients: Type.Union([Type.Array(Type.String()), Type.Null()]),
  allowedTools: Type.Union([Type.Array(Type.String()), Type.Null()]),
  extraMcpServers: Type.Record(
    Type.String(),
    Type.Object({
      command: Type.String(),
      args: Type.Array(Type.String()),
      env: Type.Record(Type.String(), Type.String()),
      allowedTools: Type.Array(Type.String()),
    }),
  ),
  prompt: Type.String(),
  models: Type.Union([Type.Array(Type.String()), Type.Null()]),
  upstream: Type.Union([Type.String(), Type.Null()]),
  budget: Type.Object({ dailyUsd: Type.Optional(Type.Number()), monthlyUsd: Type.Optional(Type.Number()) }),
  network: Type.Object({ allow: Type.Array(Type.String()) }),
  env: Type.Record(Type.String(), Type.String()),
  mounts: Type.Array(Type.Object({ host: Type.String(), at: Type.String(), readOnly: Type.Boolean() })),
  shared: Type.Boolean(),
  packages: Type.Array(Type.String()),
  notes: Type.Object({ compactAt: Type.Union([Type.Integer(), Type.Null()]), keep: Type.Integer() }),
});

const Empty = Type.Object({});
const Question = Type.String({ minLength: 1, maxLength: MAX_QUESTION_CHARS, description: 'the question' });
/** The options of a choice question, or the choices an answer picks. */
const Options = Type.Array(Type.String({ maxLength: MAX_OPTION_CHARS }), { maxItems: MAX_OPTIONS });
const AgentResult = Type.Object({ agent: AgentRecord });
/** A commit id as typed by people and agents: 7 to 40 lowercase hex digits. */
const Sha = Type.String({ pattern: COMMIT_ID_PATTERN, description: 'a commit id (7 to 40 hex digits)' });
/** A commit of an agent's proposed config repo, as the manager names it. */
const ProposedSha = described(Sha, 'a commit id in the proposed config repo: 7 to 40 hex digits, e.g. from `git rev-parse HEAD`');
/** Where a spawn draft lives, as the manager sees it. */
const Draft = Type.Object({ name: Type.String(), config_dir: Type.String(), state_dir: Type.String(), head: Type.String() });
const Commit = Type.Object({ sha: Type.String(), at: Millis, subject: Type.String() });
const Tag = Type.Object({
  name: Type.String(),
  stage: Type.Union([Type.String(), Type.Null()]),
  approval: Type.Union([Type.Integer(), Type.Null()]),
  commit: Type.String(),
  created_at: Millis,
  message: Type.String(),
});

/** An operation: the schema of its arguments and of its result. */
interface OpSpec<A extends TObject, R extends TSchema> {
  args: A;
  result: R;
}
function op<A extends TObject, R extends TSchema>(args: A, result: R): OpSpec<A, R> {
  return { args, result };
}

/**
 * Operations on an agent's own socket (`run/agents/<name>/mcp.sock`, `run/manager/mcp.sock`).
 * The caller's name is the socket's owner; no request carries a sender.
 */
export const AgentOps = {
  /** Queue `body` for `to`. Committed before the reply. */
  send: op(
    Type.Object({ to: described(Name, 'recipient: an agent name, "manager" or "operator"'), body: described(Body, 'the message text') }),
    Type.Object({ id: Type.Integer() }),
  ),
  /** Pop the oldest undelivered message; long-poll up to `wait_seconds` (capped at {@link MAX_WAIT_SECONDS}) if positive. */
  recv: op(
    Type.Object({
      wait_seconds: Type.Optional(
        Type.Number({ minimum: 0, description: `seconds to wait for a message, at most ${MAX_WAIT_SECONDS}; omit to not wait` }),
      ),
    }),
    Type.Object({ message: Type.Union([MessageRecord, Type.Null()]) }),
  ),
  /** The harness announces itself; the reply tells it who it is and how it is configured. */
  hello: op(
    Type.Object({ pid: Type.Integer() }),
    Type.Object({
      name: Type.String(),
      role: Type.String(),
      model: Type.String(),
      config: AgentConfigWire,
      config_warnings: Type.Array(Type.String()),
    }),
  ),
  /** The harness reports that a turn began (the agent is now thinking); the reply is the turn's model. */
  turn_start: op(
    Type.Object({ turn_id: TurnRecord.properties.id, trigger_message_id: TurnRecord.properties.trigger_message_id }),
    Type.Object({ model: Type.String() }),
  ),
  /** The harness reports a finished turn with its usage. */
  turn_end: op(
    Type.Composite([Type.Object({ turn_id: TurnRecord.properties.id }), Type.Omit(TurnRecord, ['id', 'agent', 'started_at'])]),
    Empty,
  ),
  /** The agent's own page forwards the operator's prompt: a message from `operator` to this agent. */
  operator_send: op(Type.Object({ body: Body }), Type.Object({ id: Type.Integer() })),
  /**
   * The agent's own page switches this agent's model for the operator (`/model`), as the
   * dashboard's override does: from its next turn on, until its config next changes; `null`
   * returns to the configured model. Not an MCP tool.
   */
  operator_set_model: op(
    Type.Object({ model: Type.Union([ModelName, Type.Null()]) }),
    Type.Object({ model: Type.String(), model_override: Type.Union([Type.String(), Type.Null()]) }),
  ),
  /** Ask `to` a question; it arrives as a `question` message the recipient can `answer`. */
  ask: op(
    Type.Object({ to: described(Name, 'an agent name or "manager"'), question: Question }),
    Type.Object({ question: QuestionRecord, message_id: Type.Integer() }),
  ),
  /** Answer a question put to the caller; the answer reaches the asker as an `answer` message. */
  answer: op(
    Type.Object({
      question_id: Type.Integer({ minimum: 1, description: 'the id of the question you answer, as in "Question #id"' }),
      text: described(Body, 'your answer'),
    }),
    Type.Object({ question: QuestionRecord, message_id: Type.Integer() }),
  ),
  /** Unanswered questions the caller asked and was asked. */
  questions: op(Empty, Type.Object({ asked: Type.Array(QuestionRecord), to_answer: Type.Array(QuestionRecord) })),
  /**
   * Schedule a message: `at` (ISO 8601) or `in_seconds` from now; to the caller unless `to` is
   * given. With `every` it repeats (first firing one interval from now when neither `at` nor
   * `in_seconds` is given), `count` times in all or until 366 days after it was set.
   */
  remind: op(
    Type.Object({
      body: described(Body, 'what to be reminded of'),
      at: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'when, as an ISO 8601 time with zone' })),
      in_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'when, as seconds from now' })),
      to: Type.Optional(described(Name, 'recipient; default yourself')),
      every: Type.Optional(
        Type.Integer({
          minimum: MIN_REMINDER_EVERY_SECONDS,
          description: `repeat every this many seconds (at least ${MIN_REMINDER_EVERY_SECONDS}); without at/in_seconds the first one is one interval from now`,
        }),
      ),
      count: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: MAX_REMINDER_COUNT,
          description: `with every: how many times in all (at most ${MAX_REMINDER_COUNT}); default: until 366 days after it was set`,
        }),
      ),
    }),
    Type.Object({ reminder: ReminderRecord }),
  ),
  /** The caller's pending reminders, soonest first. */
  reminders: op(Empty, Type.Object({ reminders: Type.Array(ReminderRecord) })),
  /** Cancel one of the caller's pending reminders. */
  cancel_reminder: op(
    Type.Object({ reminder_id: Type.Integer({ minimum: 1, description: 'the id of the reminder to cancel' }) }),
    Type.Object({ reminder: ReminderRecord }),
  ),

  // Manager only: served on every agent socket but refused unless the socket is the manager's.
  /** Every agent with its state. */
  agents: op(
    Empty,
    Type.Object({
      agents: Type.Array(AgentRecord),
      /** Agents of the federation's other hives with their last-known state (address them as name@hive); empty without a federation. */
      remote: Type.Array(RemoteAgentRecord),
    }),
  ),
  /** Ask the operator to approve a new agent with the default config. */
  request_spawn: op(Type.Object({ name: described(Name, "the new agent's name") }), Type.Object({ approval: ApprovalRecord })),
  /** Ask to apply commit `sha` of agent `agent`'s proposed config repo; checked now, deployed on approval. */
  request_apply_commit: op(
    Type.Object({ agent: described(Name, 'the agent whose config changes'), sha: ProposedSha }),
    Type.Object({ approval: ApprovalRecord }),
  ),
  /** Two-step spawn, step 1: a proposed config repo and staged /state for a new agent, with no sandbox. */
  request_spawn_draft: op(Type.Object({ name: described(Name, "the new agent's name") }), Type.Object({ draft: Draft })),
  /** Two-step spawn, step 2: ask to spawn the draft from commit `sha` of its proposed repo. */
  request_spawn_commit: op(
    Type.Object({ name: described(Name, 'the drafted agent'), sha: ProposedSha }),
    Type.Object({ approval: ApprovalRecord }),
  ),
  /** Stop an agent (it stays registered and can be started again). */
  kill: op(Type.Object({ name: described(Name, 'the agent') }), AgentResult),
  start: op(Type.Object({ name: described(Name, 'the agent') }), AgentResult),
  /** Stop and start an agent: a fresh process with its state, session and config re-read. */
  restart: op(Type.Object({ name: described(Name, 'the agent') }), AgentResult),
  /** Queue a question for the operator: free text, or a single (radio) or `multi` (checkbox) choice. */
  ask_operator: op(
    Type.Object({
      question: Question,
      options: Type.Optional(described(Options, `the choices (2 to ${MAX_OPTIONS}); omit for free text`)),
      multi: Type.Optional(Type.Boolean({ description: 'allow several choices (checkboxes)' })),
    }),
    Type.Object({ question: QuestionRecord }),
  ),
} as const;

/** Ops of {@link AgentOps} that only the manager's socket may call. */
export const MANAGER_OPS: ReadonlySet<keyof typeof AgentOps> = new Set<keyof typeof AgentOps>([
  'agents',
  'request_spawn',
  'request_apply_commit',
  'request_spawn_draft',
  'request_spawn_commit',
  'kill',
  'start',
  'restart',
  'ask_operator',
]);

/** Operations on the admin socket `run/host.sock` (the operator's CLI). */
export const HostOps = {
  status: op(
    Empty,
    Type.Object({
      version: Type.String(),
      data_dir: Type.String(),
      runtime: Type.String(),
      /** False for the `process` runtime: agents see the host. */
      sandboxed: Type.Boolean(),
      /** True when root in an agent's sandbox is root on the host. */
      privileged: Type.Boolean(),
      /** True when each agent has its own network namespace (loopback only; the model and allowed hosts through the core's sockets). */
      network_isolated: Type.Boolean(),
      dashboard: Type.String(),
      started_at: Millis,
      /** This hive's name: other hives reach its agents as `name@<hive>`. */
      hive: Type.String(),
      /** Its link to the federation's NATS servers and what waits to be published, or null without `--nats`. */
      federation: Type.Union([
        Type.Null(),
        Type.Object({
          hive: Type.String(),
          servers: Type.Array(Type.String()),
          link: Type.Union([Type.Literal('connecting'), Type.Literal('up'), Type.Literal('down')]),
          /** When the link last changed, unix ms. */
          since: Millis,
          /** Envelopes stored here that JetStream has not acknowledged yet. */
          outbox: Type.Integer({ minimum: 0 }),
          last_error: Type.Union([Type.String(), Type.Null()]),
        }),
      ]),
    }),
  ),
  /** Every agent, and what the core's runtime isolates (the same for all of them). */
  list: op(
    Empty,
    Type.Object({
      agents: Type.Array(AgentRecord),
      isolation: Type.Object({ sandboxed: Type.Boolean(), privileged: Type.Boolean(), network_isolated: Type.Boolean() }),
      /** Agents of other hives of the federation, with their last-known state (empty without `--nats`). */
      remote: Type.Array(RemoteAgentRecord),
      /** Other hives heard since this core started: when last, and whether within the unreachable threshold. */
      hives: Type.Array(Type.Object({ name: Type.String(), heard_at: Millis, reachable: Type.Boolean(), agents: Type.Integer({ minimum: 0 }) })),
    }),
  ),
  spawn: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  start: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  stop: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  destroy: op(Type.Object({ name: Name }), Type.Object({ name: Type.String() })),
  /** Send as the operator. */
  send: op(Type.Object({ to: Name, body: Body }), Type.Object({ id: Type.Integer() })),
  messages: op(
    Type.Object({
      agent: Type.Optional(Name),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT })),
    }),
    Type.Object({ messages: Type.Array(MessageRecord) }),
  ),
  turns: op(
    Type.Object({
      agent: Type.Optional(Name),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT })),
    }),
    Type.Object({ turns: Type.Array(TurnRecord) }),
  ),
  restart: op(Type.Object({ name: Name }), AgentResult),
  /** Switch an agent's model until its config next changes; `null` returns to the configured model. */
  set_model: op(Type.Object({ name: Name, model: Type.Union([ModelName, Type.Null()]) }), AgentResult),
  /** Questions put to the operator: the unanswered ones, or all with `all`. */
  questions: op(Type.Object({ all: Type.Optional(Type.Boolean()) }), Type.Object({ questions: Type.Array(QuestionRecord) })),
  /** Answer a question put to the operator: `text` for free text, `choices` for option questions. */
  answer: op(
    Type.Object({
      question_id: Type.Integer({ minimum: 1 }),
      text: Type.Optional(Body),
      choices: Type.Optional(Options),
    }),
    Type.Object({ question: QuestionRecord }),
  ),
  /** Approvals: the pending ones, or the most recent with `all`. */
  approvals: op(Type.Object({ all: Type.Optional(Type.Boolean()) }), Type.Object({ approvals: Type.Array(ApprovalRecord) })),
  approve: op(Type.Object({ approval_id: Type.Integer({ minimum: 1 }) }), Type.Object({ approval: ApprovalRecord })),
  deny: op(
    Type.Object({ approval_id: Type.Integer({ minimum: 1 }), reason: Type.Optional(Type.String({ maxLength: 2000 })) }),
    Type.Object({ approval: ApprovalRecord }),
  ),
  /** One approval with the change it makes, as a unified diff. */
  approval: op(Type.Object({ approval_id: Type.Integer({ minimum: 1 }) }), Type.Object({ approval: ApprovalRecord, diff: Type.String() })),
  /** The operator queues commit `sha` of `name`'s proposed repo, as the manager's request_apply_commit does. */
  request_apply_commit: op(Type.Object({ name: Name, sha: Sha }), Type.Object({ approval: ApprovalRecord })),
  /** Rebuild an agent: a fresh sandbox with its applied config; resolves once it is up. */
  rebuild: op(Type.Object({ name: Name }), AgentResult),
  /** Queue a return to an earlier applied config: `to` is a deploy's approval id or an applied commit id. */
  rollback: op(
    Type.Object({ name: Name, to: Type.String({ pattern: `^([0-9]{1,9}|${COMMIT_ID_HEX})$`, description: 'an approval id or an applied commit id' }) }),
    Type.Object({ approval: ApprovalRecord }),
  ),
  /** Spawn drafts the manager is preparing. */
  drafts: op(
    Empty,
    Type.Object({
      drafts: Type.Array(
        Type.Object({ name: Type.String(), requested_by: Type.String(), created_at: Millis, approval: Type.Union([Type.Integer(), Type.Null()]) }),
      ),
    }),
  ),
  /** Drop a spawn draft (and deny its pending spawn). */
  discard_draft: op(Type.Object({ name: Name }), Type.Object({ name: Type.String() })),
  /** An agent's applied config repo: its tags (newest first) and log. */
  config_repo: op(
    Type.Object({ name: Name, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT })) }),
    Type.Object({ head: Type.Union([Type.String(), Type.Null()]), tags: Type.Array(Tag), log: Type.Array(Commit) }),
  ),
  /** The deploy log (meta repo), newest first. */
  deploys: op(Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT })) }), Type.Object({ deploys: Type.Array(Commit) })),
  /** Run tag retention now; `days` overrides the core's setting for `failed/` and `denied/` tags. */
  retention: op(
    Type.Object({ days: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_RETENTION_DAYS })) }),
    Type.Object({ removed: Type.Record(Type.String(), Type.Array(Type.String())) }),
  ),
  /** Destroyed agents whose state is kept. */
  kept: op(Empty, Type.Object({ kept: Type.Array(Type.Object({ name: Type.String(), modified_at: Millis })) })),
  /** Delete a destroyed agent's kept state for good. */
  purge: op(Type.Object({ name: Name }), Type.Object({ name: Type.String() })),
  /** Open alerts (conditions that need the operator), newest first. */
  alerts: op(Empty, Type.Object({ alerts: Type.Array(AlertRecord) })),
  /** Close an alert by hand. */
  dismiss_alert: op(Type.Object({ alert_id: Type.Integer({ minimum: 1 }) }), Type.Object({ alert: AlertRecord })),
  /**
   * Model spend through the gateway per agent since `since` (unix ms; default: the start of the
   * current UTC month), optionally of one agent.
   */
  costs: op(
    Type.Object({ agent: Type.Optional(Name), since: Type.Optional(Millis) }),
    Type.Object({
      since: Millis,
      totals: Type.Array(
        Type.Object({
          agent: Type.String(),
          requests: Type.Integer(),
          input_tokens: Type.Integer(),
          output_tokens: Type.Integer(),
          cache_write_tokens: Type.Integer(),
          cache_read_tokens: Type.Integer(),
          /** USD of the priced requests. */
          cost_usd: Type.Number(),
          /** Requests of a model with no price in the table (not in `cost_usd`). */
          unpriced: Type.Integer(),
        }),
      ),
    }),
  ),
  /** Pending reminders, of one agent or all. */
  reminders: op(Type.Object({ agent: Type.Optional(Name) }), Type.Object({ reminders: Type.Array(ReminderRecord) })),
  /**
   * Give a container or process the hive does not run an identity on the broker: a socket dir to
   * bind into it. `allowed_recipients` limits whom it may send to (default: anyone; the manager is
   * always reachable); `model_access: false` withholds the model gateway (default: served).
   */
  peer_add: op(
    Type.Object({
      name: Name,
      allowed_recipients: Type.Optional(Type.Array(Name, { maxItems: 1000 })),
      model_access: Type.Optional(Type.Boolean()),
    }),
    Type.Object({ peer: PeerRecord, agent: AgentRecord }),
  ),
  /** Revoke a peer: its sockets close and its socket dir goes; messages queued for it stay in the broker. */
  peer_remove: op(Type.Object({ name: Name }), Type.Object({ name: Type.String() })),
  /** Every peer, by name. */
  peers: op(Empty, Type.Object({ peers: Type.Array(PeerRecord) })),
  /**
   * Agents' root filesystems with their sizes and users; with `prune`, those no agent uses are
   * removed first. `dir` is null (and `problem` says why) when this core's sandboxes use no images.
   */
  images: op(
    Type.Object({ prune: Type.Optional(Type.Boolean()) }),
    Type.Object({
      dir: Type.Union([Type.String(), Type.Null()]),
      /** Why images are not used or cannot be built here, or null. */
      problem: Type.Union([Type.String(), Type.Null()]),
      images: Type.Array(ImageRecord),
      removed: Type.Array(Type.Object({ key: Type.String(), bytes: Type.Integer() })),
    }),
  ),
} as const;

export type OpTable = Record<string, OpSpec<TObject, TSchema>>;
export type OpName<T extends OpTable> = keyof T & string;
export type OpArgs<T extends OpTable, K extends OpName<T>> = Static<T[K]['args']>;
export type OpResult<T extends OpTable, K extends OpName<T>> = Static<T[K]['result']>;

const compiledSchemas = new WeakMap<TSchema, TypeCheck<TSchema>>();

/**
 * `schema`'s compiled checker, compiled on first use and kept for as long as the schema object
 * lives. A compiled checker is generated code: a process that checks a few of the schemas it
 * knows (a harness calls about a dozen of `AgentOps`' ops) would otherwise hold every one's
 * (about 6 MiB for `AgentOps`, docs/performance.md#memory-benchmemoryts).
 */
export function compiled<T extends TSchema>(schema: T): TypeCheck<T> {
  let check = compiledSchemas.get(schema);
  if (!check) compiledSchemas.set(schema, (check = TypeCompiler.Compile(schema)));
  return check as TypeCheck<T>;
}

/** The checkers of one op table, each compiled on its op's first use (see {@link compiled}). */
export interface CompiledOps {
  /** The checker for `op`'s request (its arguments plus the `id`/`op` envelope); undefined for an unknown op. */
  args(op: string): TypeCheck<TSchema> | undefined;
  /** The checker for `op`'s result; undefined for an unknown op. */
  result(op: string): TypeCheck<TSchema> | undefined;
}
const compiledCache = new WeakMap<OpTable, CompiledOps>();

/**
 * The checkers of an op table (one object per table and process).
 * @throws Error when an op's arguments name `id` or `op`, which the request envelope uses.
 */
export function compileOps(table: OpTable): CompiledOps {
  let c = compiledCache.get(table);
  if (!c) {
    const ops = new Map(Object.entries(table));
    for (const [name, spec] of ops)
      for (const reserved of ['id', 'op'])
        if (reserved in spec.args.properties) throw new Error(`op ${name}: argument "${reserved}" would collide with the request envelope`);
    const requests = new Map<string, TSchema>();
    c = {
      args(op) {
        const spec = ops.get(op);
        if (!spec) return undefined;
        let request = requests.get(op);
        // requests may carry `id` and `op` beside the arguments
        if (!request) requests.set(op, (request = Type.Composite([spec.args, Type.Object({ id: Type.Integer(), op: Type.String() })], { additionalProperties: false })));
        return compiled(request);
      },
      result: (op) => {
        const spec = ops.get(op);
        return spec && compiled(spec.result);
      },
    };
    compiledCache.set(table, c);
  }
  return c;
}

/** A reply line as it travels. */
export const Reply = Type.Union([
  Type.Object({ id: Type.Union([Type.Integer(), Type.Null()]), ok: Type.Literal(true), result: Type.Unknown() }),
  Type.Object({
    id: Type.Union([Type.Integer(), Type.Null()]),
    ok: Type.Literal(false),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  }),
]);
export type Reply = Static<typeof Reply>;
export const ReplyCheck = TypeCompiler.Compile(Reply);

/** Renders the first schema violation as `field: problem`, for error replies. */
export function describeFirstError(check: TypeCheck<TSchema>, value: unknown): string {
  const first = check.Errors(value).First();
  if (!first) return 'invalid value';
  const path = first.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : '(root)';
  return `${path}: ${first.message}`;
}

/**
 * Validates a parsed request against an op table.
 * @returns the op name and the request (arguments plus `id`/`op`).
 * @throws HiveError `bad_request` naming the op or field at fault.
 */
export function parseRequest(table: OpTable, value: unknown): { op: string; req: Record<string, unknown> } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HiveError('bad_request', 'request must be a JSON object');
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.id)) throw new HiveError('bad_request', 'request needs an integer "id"');
  if (typeof v.op !== 'string') throw new HiveError('bad_request', 'request needs a string "op"');
  const op = v.op;
  const check = compileOps(table).args(op);
  if (!check)
    throw new HiveError('bad_request', `unknown op "${op.slice(0, 40)}"; known: ${Object.keys(table).join(', ')}`);
  if (!check.Check(v)) throw new HiveError('bad_request', `${op}: ${describeFirstError(check, v)}`);
  return { op, req: v };
}
