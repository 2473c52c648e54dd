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

/** Largest accepted request or reply line, in bytes (not counting the newline). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Largest message body, in characters. */
export const MAX_BODY_CHARS = 64 * 1024;
/** Longest `recv` long-poll, in seconds. Larger requests are clamped to it. */
export const MAX_WAIT_SECONDS = 180;

const Name = Type.String({ minLength: 1, maxLength: 64, description: 'agent name, `manager` or `operator`' });
const Body = Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS });
const Millis = Type.Integer({ minimum: 0, description: 'unix time, milliseconds' });

/** One broker message as stored and returned. Times are unix milliseconds. */
export const MessageRecord = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  from: Type.String(),
  to: Type.String(),
  body: Type.String(),
  created_at: Millis,
  delivered_at: Type.Union([Millis, Type.Null()]),
});
export type MessageRecord = Static<typeof MessageRecord>;

/** Lifecycle states an agent can be in, as the dashboard shows them. */
export const AgentStatus = Type.Union(
  ['starting', 'idle', 'thinking', 'offline', 'crashed'].map((s) => Type.Literal(s)),
);
export type AgentStatus = 'starting' | 'idle' | 'thinking' | 'offline' | 'crashed';

/** One agent in the registry, with its live state. */
export const AgentRecord = Type.Object({
  name: Type.String(),
  role: Type.Union([Type.Literal('agent'), Type.Literal('manager')]),
  runtime: Type.String(),
  /** Whether the operator wants it running; the supervisor works towards this. */
  desired: Type.Union([Type.Literal('running'), Type.Literal('stopped')]),
  status: AgentStatus,
  /** When `status` last changed, unix ms. */
  status_since: Millis,
  pid: Type.Union([Type.Integer(), Type.Null()]),
  /** Port of the agent's own page (8100–8999). */
  port: Type.Integer(),
  model: Type.String(),
  /** Crash restarts since the agent was last started by hand. */
  restarts: Type.Integer({ minimum: 0 }),
  /** How the last run ended (exit code or signal), if it did. */
  last_exit: Type.Union([Type.String(), Type.Null()]),
  created_at: Millis,
});
export type AgentRecord = Static<typeof AgentRecord>;

/** Summary of one claude turn, as the core records it. */
export const TurnRecord = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  agent: Type.String(),
  started_at: Millis,
  ended_at: Type.Union([Millis, Type.Null()]),
  trigger_message_id: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.Union([Type.Literal('running'), Type.Literal('ok'), Type.Literal('error')]),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  cost_usd: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  input_tokens: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  output_tokens: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** Names of the tools claude called during the turn, in order. */
  tools: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000 }),
  /** The turn's final text (or error), truncated to 4000 characters. */
  result: Type.Union([Type.String({ maxLength: 4000 }), Type.Null()]),
});
export type TurnRecord = Static<typeof TurnRecord>;

const Empty = Type.Object({});

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
  send: op(Type.Object({ to: Name, body: Body }), Type.Object({ id: Type.Integer() })),
  /** Pop the oldest undelivered message; long-poll up to `wait_seconds` (capped at 180) if positive. */
  recv: op(
    Type.Object({ wait_seconds: Type.Optional(Type.Number({ minimum: 0 })) }),
    Type.Object({ message: Type.Union([MessageRecord, Type.Null()]) }),
  ),
  /** The harness announces itself; the reply tells it who it is. */
  hello: op(
    Type.Object({ pid: Type.Integer() }),
    Type.Object({ name: Type.String(), role: Type.String(), model: Type.String(), port: Type.Integer() }),
  ),
  /** The harness reports that a turn began (the agent is now thinking). */
  turn_start: op(
    Type.Object({ turn_id: TurnRecord.properties.id, trigger_message_id: TurnRecord.properties.trigger_message_id }),
    Empty,
  ),
  /** The harness reports a finished turn with its usage. */
  turn_end: op(
    Type.Composite([Type.Object({ turn_id: TurnRecord.properties.id }), Type.Omit(TurnRecord, ['id', 'agent', 'started_at'])]),
    Empty,
  ),
  /** The agent's own page forwards the operator's prompt: a message from `operator` to this agent. */
  operator_send: op(Type.Object({ body: Body }), Type.Object({ id: Type.Integer() })),
} as const;

/** Operations on the admin socket `run/host.sock` (the operator's CLI). */
export const HostOps = {
  status: op(
    Empty,
    Type.Object({
      version: Type.String(),
      data_dir: Type.String(),
      runtime: Type.String(),
      dashboard: Type.String(),
      started_at: Millis,
    }),
  ),
  list: op(Empty, Type.Object({ agents: Type.Array(AgentRecord) })),
  spawn: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  start: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  stop: op(Type.Object({ name: Name }), Type.Object({ agent: AgentRecord })),
  destroy: op(Type.Object({ name: Name }), Type.Object({ name: Type.String() })),
  /** Send as the operator. */
  send: op(Type.Object({ to: Name, body: Body }), Type.Object({ id: Type.Integer() })),
  messages: op(
    Type.Object({
      agent: Type.Optional(Name),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    }),
    Type.Object({ messages: Type.Array(MessageRecord) }),
  ),
  turns: op(
    Type.Object({
      agent: Type.Optional(Name),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    }),
    Type.Object({ turns: Type.Array(TurnRecord) }),
  ),
} as const;

export type OpTable = Record<string, OpSpec<TObject, TSchema>>;
export type OpName<T extends OpTable> = keyof T & string;
export type OpArgs<T extends OpTable, K extends OpName<T>> = Static<T[K]['args']>;
export type OpResult<T extends OpTable, K extends OpName<T>> = Static<T[K]['result']>;

/** Compiled checkers for one op table, built once per process. */
export interface CompiledOps {
  args: Map<string, TypeCheck<TSchema>>;
  result: Map<string, TypeCheck<TSchema>>;
}
const compiledCache = new WeakMap<OpTable, CompiledOps>();

/** Compiles (once) the argument and result checkers of an op table. */
export function compileOps(table: OpTable): CompiledOps {
  let c = compiledCache.get(table);
  if (!c) {
    c = { args: new Map(), result: new Map() };
    for (const [name, spec] of Object.entries(table)) {
      // Requests may carry `id` and `op` beside the arguments.
      const withEnvelope = Type.Composite([spec.args, Type.Object({ id: Type.Integer(), op: Type.String() })], {
        additionalProperties: false,
      });
      c.args.set(name, TypeCompiler.Compile(withEnvelope));
      c.result.set(name, TypeCompiler.Compile(spec.result));
    }
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
  const check = compileOps(table).args.get(op);
  if (!check)
    throw new HiveError('bad_request', `unknown op "${op.slice(0, 40)}"; known: ${Object.keys(table).join(', ')}`);
  if (!check.Check(v)) throw new HiveError('bad_request', `${op}: ${describeFirstError(check, v)}`);
  return { op, req: v };
}
