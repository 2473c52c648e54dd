/**
 * @module mcp/protocol
 * The Model Context Protocol as the hive's tools need it: JSON-RPC 2.0 messages, the `initialize`
 * handshake with protocol-version negotiation, `ping`, `tools/list` and `tools/call`, and nothing
 * else (no resources, prompts, sampling, logging, sessions or server-to-client requests). Both
 * transports share it: Streamable HTTP in the harness (`http.ts`) and stdio in `hive mcp`
 * (`server.ts`).
 *
 * Source: the MCP specification (modelcontextprotocol.io/specification, revisions 2024-11-05 to
 * 2025-11-25: basic/lifecycle, basic/transports, server/tools) and JSON-RPC 2.0
 * (jsonrpc.org/specification). The official TypeScript SDK's client drives this server in the
 * tests, over all three transports (test/mcp/tools.test.ts, test/e2e/mcp-http.e2e.test.ts,
 * test/core/peers.test.ts), and so does the real claude in every e2e turn.
 *
 * The hive serves this itself rather than through the SDK's server: the SDK builds its zod schemas
 * as it loads, which cost each harness about 5 MiB of its 45, and it ran them over every message,
 * which cost half of a harness's CPU time per turn (docs/performance.md#memory-benchmemoryts).
 *
 * The server is stateless, like the harness's endpoint: any request may come first, and
 * `initialize` only negotiates the version.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, Tool } from '@modelcontextprotocol/sdk/types.js';
import { compiled, describeFirstError } from '../shared/wire.ts';

/** The newest protocol revision this server speaks; offered when a client asks for one it does not know. */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';
/** Every revision this server accepts, newest first (its tool calls are the same in each). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [LATEST_PROTOCOL_VERSION, '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
/** The most messages one batch (a JSON array, allowed before 2025-06-18) may hold. */
export const MAX_BATCH = 100;
/** The largest body accepted: an HTTP request in bytes, a stdio line in characters. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** JSON-RPC 2.0 error codes (jsonrpc.org/specification#error_object). */
export const RpcError = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
} as const;

const Id = Type.Union([Type.String(), Type.Integer()]);
/** A request (`id`) or a notification (no `id`); MCP's params are objects (checked per method). */
const Call = Type.Object({ jsonrpc: Type.Literal('2.0'), id: Type.Optional(Id), method: Type.String(), params: Type.Optional(Type.Unknown()) });
/** A reply to a request this server never sends; accepted and ignored. */
const Reply = Type.Union([
  Type.Object({ jsonrpc: Type.Literal('2.0'), id: Id, result: Type.Record(Type.String(), Type.Unknown()) }),
  Type.Object({ jsonrpc: Type.Literal('2.0'), id: Type.Union([Id, Type.Null()]), error: Type.Object({ code: Type.Integer(), message: Type.String() }) }),
]);
const InitializeParams = Type.Object({
  protocolVersion: Type.String(),
  capabilities: Type.Record(Type.String(), Type.Unknown()),
  clientInfo: Type.Object({ name: Type.String(), version: Type.String() }),
});
const CallToolParams = Type.Object({ name: Type.String(), arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown())) });

type Call = Static<typeof Call>;
type Id = Static<typeof Id>;

/** Whether `value` fits `schema` (compiled on first use: a harness that never sees a batch or a reply needs few). */
function check<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return compiled(schema).Check(value);
}

/** A response this server sends. */
export type RpcResponse = { jsonrpc: '2.0'; id: Id; result: Record<string, unknown> } | { jsonrpc: '2.0'; id: Id | null; error: { code: number; message: string } };

/** An error response. */
export function rpcError(id: Id | null, code: number, message: string): RpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** What a {@link ToolServer} serves: the tools' definitions and how to call one. */
export interface ToolHost {
  /** Every tool offered, as `tools/list` returns them. */
  tools(): Tool[];
  /** Calls tool `name`; an unknown tool or bad arguments are an `isError` result, not a throw. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
}

/**
 * An MCP server offering tools only. {@link answer} handles one parsed body (a message or a batch);
 * {@link connect} serves an SDK-shaped {@link Transport} (stdio, an in-memory pair in tests).
 */
export class ToolServer {
  private transport: Transport | null = null;

  constructor(
    private readonly info: { name: string; version: string },
    private readonly host: ToolHost,
  ) {}

  /**
   * Answers one parsed body: a message, or an array of them (a batch).
   * @returns the response, an array of responses for a batch, or null when nothing needs one
   *   (notifications and replies only).
   */
  async answer(body: unknown): Promise<RpcResponse | RpcResponse[] | null> {
    if (!Array.isArray(body)) return this.answerOne(body);
    if (body.length === 0) return rpcError(null, RpcError.invalidRequest, 'Invalid Request: an empty batch');
    if (body.length > MAX_BATCH) return rpcError(null, RpcError.invalidRequest, `Invalid Request: a batch of ${body.length} messages; at most ${MAX_BATCH}`);
    const out = (await Promise.all(body.map((m) => this.answerOne(m)))).filter((r): r is RpcResponse => r !== null);
    return out.length ? out : null;
  }

  /** Answers one message; null for a notification or a reply. */
  async answerOne(message: unknown): Promise<RpcResponse | null> {
    if (!check(Call, message)) {
      if (check(Reply, message)) return null;
      const id = typeof message === 'object' && message !== null && check(Id, (message as { id?: unknown }).id) ? (message as { id: Id }).id : null;
      return rpcError(id, RpcError.invalidRequest, `Invalid Request: ${describeFirstError(compiled(Call), message)}`);
    }
    if (message.id === undefined) return null; // notifications: initialized, cancelled, … need nothing back
    const { id, method } = message;
    const params = message.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      return rpcError(id, RpcError.invalidParams, `Invalid params for ${method.slice(0, 80)}: params must be an object`);
    try {
      switch (method) {
        case 'initialize': {
          if (!check(InitializeParams, params)) return rpcError(id, RpcError.invalidParams, `Invalid params for initialize: ${describeFirstError(compiled(InitializeParams), params)}`);
          const asked = params.protocolVersion;
          return this.result(id, {
            protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(asked) ? asked : LATEST_PROTOCOL_VERSION,
            capabilities: { tools: {} },
            serverInfo: this.info,
          });
        }
        case 'ping':
          return this.result(id, {});
        case 'tools/list':
          return this.result(id, { tools: this.host.tools() });
        case 'tools/call': {
          if (!check(CallToolParams, params)) return rpcError(id, RpcError.invalidParams, `Invalid params for tools/call: ${describeFirstError(compiled(CallToolParams), params)}`);
          return this.result(id, await this.host.call(params.name, params.arguments ?? {}));
        }
        default:
          return rpcError(id, RpcError.methodNotFound, `Method not found: ${method.slice(0, 80)}`);
      }
    } catch (err) {
      return rpcError(id, RpcError.internal, `Internal error: ${(err as Error).message}`);
    }
  }

  private result(id: Id, result: object): RpcResponse {
    return { jsonrpc: '2.0', id, result: result as Record<string, unknown> };
  }

  /** Serves `transport` until it closes: each message it delivers is answered on it. */
  async connect(transport: Transport): Promise<void> {
    this.transport = transport;
    transport.onmessage = (message: unknown) => {
      void this.answerOne(message)
        .then((response) => response && transport.send(response as JSONRPCMessage))
        .catch((err: Error) => transport.onerror?.(err));
    };
    await transport.start();
  }

  /** Closes the connected transport, if any. */
  async close(): Promise<void> {
    const t = this.transport;
    this.transport = null;
    await t?.close();
  }
}
