/**
 * @module mcp/http
 * The hive's MCP tools over Streamable HTTP, served by the agent's harness on loopback for the
 * whole life of the agent, so a claude turn connects to a server that is already running instead
 * of starting `hive mcp` (a Bun process, 220–350 ms) every turn.
 *
 * - Listens on 127.0.0.1 with a port the OS picks; the only path is {@link MCP_HTTP_PATH}.
 * - Every request must carry `Authorization: Bearer <token>`, a random token made at start: under
 *   the `process` runtime loopback is the host's, and any local process could otherwise call the
 *   tools as this agent. Without it: 401, before anything is parsed.
 * - Stateless: each POST gets its own MCP server (`protocol.ts`) and a JSON response (no event
 *   streams, no sessions), so claude processes never share state. GET (a server-to-client event
 *   stream) and DELETE are answered 405, which the transport spec allows; the tools send no
 *   notifications. Every response says `Allow: POST` (claude still tries one GET after `initialize`).
 * - As the Streamable HTTP transport asks (MCP specification, basic/transports): a POST must
 *   accept both `application/json` and `text/event-stream` (else 406) and send
 *   `application/json` (else 415); an `MCP-Protocol-Version` header on any request but
 *   `initialize` must name a supported revision (else 400: claude's `server/discover` probe, sent
 *   with a newer revision, is refused so, and claude then falls back to `initialize`); a body
 *   that is not JSON, or not a JSON-RPC message, gets 400 with the JSON-RPC error (-32700,
 *   -32600); one of only notifications gets 202 and no body. Bodies over {@link MAX_BODY_BYTES}
 *   get 413.
 * - Tool calls go to the core through the caller's client on the agent's socket. A `recv` that
 *   waits gets a connection of its own, closed when the HTTP request goes away (claude ended or
 *   was cancelled), so the core drops the wait instead of handing the next message to nobody.
 */
import { timingSafeEqual } from 'node:crypto';
import { JsonLineClient } from '../shared/jsonl.ts';
import { AgentOps } from '../shared/wire.ts';
import { MAX_BODY_BYTES, RpcError, SUPPORTED_PROTOCOL_VERSIONS } from './protocol.ts';
import { createHiveMcpServer, type HiveCaller } from './server.ts';

/** The path the endpoint answers on. */
export const MCP_HTTP_PATH = '/mcp';

/** A running endpoint. */
export interface McpHttpServer {
  /** `http://127.0.0.1:<port>/mcp`. */
  url: string;
  port: number;
  /** The bearer token every request must carry (43 base64url characters, 256 random bits). */
  token: string;
  /** Stops listening and drops open requests. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link serveMcpHttp}. */
export interface McpHttpOptions {
  /** The harness's client on the agent's socket; short calls share it. */
  client: HiveCaller;
  /** The agent's socket path, for the dedicated connections of waiting `recv` calls. */
  socket: string;
  /** `manager` also offers the manager's tools (the core still decides). */
  role: string;
  /** Where errors of the transport go (one line each). */
  log?: (line: string) => void;
}

/** Every response's headers: the endpoint takes POST alone. */
const ALLOW = { Allow: 'POST' };

const jsonRpcError = (status: number, message: string, code: number = -32000) =>
  Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status, headers: ALLOW });

/**
 * A caller for one HTTP request: calls go through `shared`, except a `recv` with a positive
 * `wait_seconds`, which opens its own connection to `socket` and closes it when the call ends or
 * `signal` aborts (closing the connection is how the core learns to stop waiting).
 */
function requestCaller(shared: HiveCaller, socket: string, signal: AbortSignal): HiveCaller {
  const pass = shared.call.bind(shared) as (op: string, args: unknown, opts?: { timeoutMs?: number }) => Promise<unknown>;
  return {
    call: (async (op: string, args: any, opts?: { timeoutMs?: number }) => {
      if (op !== 'recv' || !(args?.wait_seconds > 0)) return pass(op, args, opts);
      const own = new JsonLineClient(socket, AgentOps);
      const drop = () => own.close();
      signal.addEventListener('abort', drop, { once: true });
      try {
        return await own.call('recv', args, opts);
      } finally {
        signal.removeEventListener('abort', drop);
        own.close();
      }
    }) as HiveCaller['call'],
  };
}

/** Whether a parsed body is, or (a batch) holds, an `initialize` request. */
function isInitialize(body: unknown): boolean {
  const one = (m: unknown) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize';
  return Array.isArray(body) ? body.some(one) : one(body);
}

/** True when `header` is exactly `Bearer <token>`, compared in constant time. */
function authorized(header: string | null, expected: Buffer): boolean {
  if (!header) return false;
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * Starts the endpoint on 127.0.0.1 with a random port and a fresh token.
 * @returns once listening.
 * @throws when no loopback port can be bound.
 */
export async function serveMcpHttp(opts: McpHttpOptions): Promise<McpHttpServer> {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  const expected = Buffer.from(`Bearer ${token}`);
  const log = opts.log ?? (() => {});

  async function handle(req: Request): Promise<Response> {
    if (new URL(req.url).pathname !== MCP_HTTP_PATH) return jsonRpcError(404, 'not found');
    if (!authorized(req.headers.get('authorization'), expected)) return jsonRpcError(401, 'unauthorized');
    if (req.method !== 'POST') return jsonRpcError(405, 'method not allowed');
    const accept = req.headers.get('accept') ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
      return jsonRpcError(406, 'Not Acceptable: the client must accept both application/json and text/event-stream');
    if (!(req.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json'))
      return jsonRpcError(415, 'Unsupported Media Type: Content-Type must be application/json');
    if (Number(req.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) return jsonRpcError(413, `Payload Too Large: over ${MAX_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(await req.text());
    } catch {
      return jsonRpcError(400, 'Parse error: Invalid JSON', RpcError.parse);
    }
    // the revision is negotiated by initialize; every later request names it in this header
    const version = req.headers.get('mcp-protocol-version');
    if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version) && !isInitialize(body))
      return jsonRpcError(400, `Bad Request: Unsupported protocol version: ${version.slice(0, 40)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
    const server = createHiveMcpServer(requestCaller(opts.client, opts.socket, req.signal), opts.role);
    const response = await server.answer(body);
    if (response === null) return new Response(null, { status: 202, headers: ALLOW });
    // a body that is no valid message (an invalid request, a bad batch) is refused as a whole
    const refused = !Array.isArray(response) && 'error' in response && response.error.code === RpcError.invalidRequest;
    return Response.json(response, { status: refused ? 400 : 200, headers: ALLOW });
  }

  const http = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    // Bun answers 413 itself for a longer body, with or without Content-Length
    maxRequestBodySize: MAX_BODY_BYTES,
    // A `recv` tool call may wait up to 180 s without a byte on the wire.
    idleTimeout: 0,
    fetch: handle,
    error(err) {
      log(`mcp http: ${err.message}`);
      return jsonRpcError(500, 'internal error');
    },
  });
  const port = http.port!;
  let closed: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}${MCP_HTTP_PATH}`,
    port,
    token,
    close() {
      closed ??= Promise.resolve(http.stop(true)).then(() => undefined);
      return closed;
    },
  };
}
