/**
 * @module jsonl
 * JSON-lines request/reply over unix sockets: the framing under every hive socket.
 *
 * Server side, each connection reads newline-terminated JSON requests, validates them against an
 * op table from `wire.ts`, runs the handler, validates the result and writes one reply line.
 * Requests on one connection run concurrently (a long-poll `recv` does not block a `send`);
 * replies carry the request's `id`. A malformed, unknown or oversized request gets an error
 * reply and the connection keeps serving. Client side, {@link JsonLineClient} multiplexes calls
 * over one connection, reconnecting lazily after the server restarts.
 */
import net from 'node:net';
import { mkdirSync, rmSync, lstatSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { HiveError, toErrorInfo, type ErrorCode } from './errors.ts';
import {
  MAX_LINE_BYTES,
  ReplyCheck,
  compileOps,
  describeFirstError,
  parseRequest,
  type OpArgs,
  type OpName,
  type OpResult,
  type OpTable,
  type Reply,
} from './wire.ts';

/** What a handler learns about the connection a request came on. */
export interface ConnectionContext {
  /** Aborted when the client disconnects; long-polls must stop waiting on it. */
  signal: AbortSignal;
}

/**
 * One handler per op of table `T`: each receives its op's validated arguments (without the `id`
 * and `op` envelope) and returns its result, both typed from the op's schemas, so a missing
 * handler or a wrong result shape is a compile error. Throw `HiveError` for expected failures.
 */
export type OpHandlers<T extends OpTable> = {
  [K in OpName<T>]: (args: OpArgs<T, K>, conn: ConnectionContext) => OpResult<T, K> | Promise<OpResult<T, K>>;
};

/** Options of {@link serveJsonLines}. */
export interface JsonLineServerOptions<T extends OpTable> {
  /** Socket path; its directory is created and a stale socket file is replaced. */
  path: string;
  table: T;
  handlers: OpHandlers<T>;
  /** Largest request line in bytes; default {@link MAX_LINE_BYTES}. */
  maxLineBytes?: number;
  /** File mode of the socket; default 0o600 (owner only). */
  mode?: number;
  /** Called with unexpected handler or socket errors (already answered as `internal`). */
  onError?: (err: unknown) => void;
}

/** A listening JSON-lines socket. */
export interface JsonLineServer {
  path: string;
  /** Stops accepting, ends open connections, removes the socket file. */
  close(): Promise<void>;
}

/**
 * Listens on a unix socket and serves JSON-lines requests.
 * @throws when the path exists and is not a socket, or the listen fails.
 */
export async function serveJsonLines<T extends OpTable>(opts: JsonLineServerOptions<T>): Promise<JsonLineServer> {
  const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
  const checks = compileOps(opts.table);
  mkdirSync(dirname(opts.path), { recursive: true });
  removeStaleSocket(opts.path);
  const sockets = new Set<net.Socket>();

  const server = net.createServer((sock) => {
    sockets.add(sock);
    const abort = new AbortController();
    let buf: Buffer = Buffer.alloc(0);
    let discarding = false;

    const write = (reply: Reply) => {
      if (!sock.destroyed) sock.write(JSON.stringify(reply) + '\n');
    };
    const fail = (id: number | null, code: ErrorCode, message: string) =>
      write({ id, ok: false, error: { code, message } });

    const runLine = async (line: string) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return fail(null, 'bad_request', 'request is not valid JSON');
      }
      const id = typeof value === 'object' && value && Number.isSafeInteger((value as { id?: unknown }).id)
        ? ((value as { id: number }).id)
        : null;
      try {
        const { op, req } = parseRequest(opts.table, value);
        const { id: _id, op: _op, ...args } = req;
        // parseRequest checked `args` against this op's schema, which is what the handler's type says
        const handler = opts.handlers[op as OpName<T>] as (args: unknown, conn: ConnectionContext) => unknown;
        const result = await handler(args, { signal: abort.signal });
        const check = checks.result(op)!;
        if (!check.Check(result)) {
          throw new Error(`reply to ${op} does not match its schema (${describeFirstError(check, result)})`);
        }
        write({ id, ok: true, result });
      } catch (err) {
        const info = toErrorInfo(err);
        if (info.code === 'internal') opts.onError?.(err);
        fail(id, info.code, info.message);
      }
    };

    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const nl = buf.indexOf(10);
        if (nl < 0) {
          if (buf.length > maxLine) {
            if (!discarding) fail(null, 'too_large', `request line exceeds ${maxLine} bytes`);
            discarding = true;
            buf = Buffer.alloc(0);
          }
          return;
        }
        const line = buf.subarray(0, nl);
        buf = buf.subarray(nl + 1);
        if (discarding) {
          discarding = false;
          continue;
        }
        if (line.length > maxLine) {
          fail(null, 'too_large', `request line exceeds ${maxLine} bytes`);
          continue;
        }
        const text = line.toString('utf8').trim();
        if (text) void runLine(text);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      abort.abort();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(opts.path, opts.mode ?? 0o600);
  server.on('error', (err) => opts.onError?.(err));

  return {
    path: opts.path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          rmSync(opts.path, { force: true });
          resolve();
        });
      }),
  };
}

/**
 * Removes a socket file a previous server left at `path`, so a new one can listen there.
 * @throws HiveError `conflict` when something that is not a socket is at `path` (it is left alone).
 */
export function removeStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new HiveError('conflict', `${path} exists and is not a socket; refusing to replace it`);
  rmSync(path);
}

interface Pending {
  op: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Default time a call may take before it fails with `unavailable`, ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 300_000;

/** Options of {@link JsonLineClient}. */
export interface JsonLineClientOptions {
  /** Time a call may take before it fails with `unavailable`, ms; default {@link DEFAULT_CALL_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * A client for one JSON-lines socket. Calls are multiplexed by id over one connection, which is
 * opened on first use and again after it drops. Arguments are validated before sending and results
 * after receiving, against the same op table the server uses. Every call has a deadline. A reply
 * line that is not JSON or not a reply breaks the framing: every pending call fails with
 * `internal` quoting it, and the connection is closed (the next call opens a fresh one).
 */
export class JsonLineClient<T extends OpTable> {
  private sock: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buf = '';
  private readonly timeoutMs: number;

  constructor(
    readonly path: string,
    private readonly table: T,
    opts: JsonLineClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  /**
   * Calls `op` and resolves with its validated result. `opts.timeoutMs` overrides the client's
   * deadline for this call (a long-poll passes its wait plus a margin).
   * @throws HiveError with the server's code; `unavailable` when the socket cannot be reached or
   *   drops mid-call, or when no reply came in time; `bad_request` when `args` do not match
   *   the op's schema (nothing is sent); `internal` for a reply that breaks the protocol.
   */
  async call<K extends OpName<T>>(op: K, args: OpArgs<T, K>, opts: { timeoutMs?: number } = {}): Promise<OpResult<T, K>> {
    const checks = compileOps(this.table);
    const id = this.nextId++;
    const req = { ...(args as object), id, op };
    const check = checks.args(op);
    if (!check) throw new HiveError('bad_request', `unknown op ${op}`);
    if (!check.Check(req)) throw new HiveError('bad_request', `${op}: ${describeFirstError(check, req)}`);
    const sock = await this.connect();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // a reply that still arrives later finds no pending call and is dropped (see onData)
        this.pending.delete(id);
        reject(new HiveError('unavailable', `${op} on ${this.path} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject, timer });
      sock.write(JSON.stringify(req) + '\n');
    });
  }

  /** Closes the connection; pending calls fail with `unavailable`. */
  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }

  private connect(): Promise<net.Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const sock = net.createConnection(this.path);
      sock.setEncoding('utf8');
      sock.once('connect', () => {
        this.sock = sock;
        this.connecting = null;
        resolve(sock);
      });
      sock.on('data', (chunk: string) => this.onData(sock, chunk));
      sock.on('error', (err) => {
        if (this.connecting) {
          this.connecting = null;
          reject(new HiveError('unavailable', `cannot reach ${this.path}: ${err.message}`));
        }
      });
      sock.on('close', () => {
        if (this.sock === sock) this.sock = null;
        this.buf = '';
        this.failAll(new HiveError('unavailable', `connection to ${this.path} closed`));
      });
    });
    return this.connecting;
  }

  private failAll(err: HiveError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private onData(sock: net.Socket, chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let reply: unknown;
      try {
        reply = JSON.parse(line);
      } catch {
        reply = undefined;
      }
      if (reply === undefined || !ReplyCheck.Check(reply)) {
        this.failAll(new HiveError('internal', `${this.path} sent a line that is not a reply: ${JSON.stringify(line.slice(0, 200))}`));
        this.buf = '';
        sock.destroy();
        return;
      }
      // a reply without an id answers a request the server could not read (none of ours: they are
      // validated before sending); one whose call timed out has no pending entry any more
      if (reply.id === null) continue;
      const p = this.pending.get(reply.id);
      if (!p) continue;
      this.pending.delete(reply.id);
      clearTimeout(p.timer);
      if (!reply.ok) {
        p.reject(new HiveError(reply.error.code as ErrorCode, reply.error.message));
        continue;
      }
      const check = compileOps(this.table).result(p.op)!;
      if (check.Check(reply.result)) p.resolve(reply.result);
      else p.reject(new HiveError('internal', `reply to ${p.op} does not match its schema: ${describeFirstError(check, reply.result)}`));
    }
  }
}
