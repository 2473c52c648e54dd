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
 * - Stateless: each POST gets its own MCP server and transport (the SDK's web-standard transport,
 *   JSON responses, no sessions), so claude processes never share state. GET (a server-to-client
 *   event stream) and DELETE are answered 405, which the transport spec allows; the tools send no
 *   notifications. Every response says `Allow: POST`, from which claude learns not to try the GET.
 * - Tool calls go to the core through the caller's client on the agent's socket. A `recv` that
 *   waits gets a connection of its own, closed when the HTTP request goes away (claude ended or
 *   was cancelled), so the core drops the wait instead of handing the next message to nobody.
 */
import { timingSafeEqual } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { JsonLineClient } from '../shared/jsonl.ts';
import { AgentOps } from '../shared/wire.ts';
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

const jsonRpcError = (status: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }, { status, headers });

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
    if (req.method !== 'POST') return jsonRpcError(405, 'method not allowed', { Allow: 'POST' });
    const server = createHiveMcpServer(requestCaller(opts.client, opts.socket, req.signal), opts.role);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    transport.onerror = (err) => log(`mcp http: ${err.message}`);
    await server.connect(transport);
    try {
      const res = await transport.handleRequest(req);
      // Tells claude the endpoint has no listen stream, so it does not try a GET after initialize.
      res.headers.set('Allow', 'POST');
      return res;
    } finally {
      // The response is complete (JSON mode), so the per-request server has nothing left to do.
      void server.close().catch((err: Error) => log(`mcp http: close failed: ${err.message}`));
    }
  }

  const http = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
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
