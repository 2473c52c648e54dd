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

/** Runs one validated request. Throw `HiveError` for expected failures. */
export type OpHandler = (op: string, req: Record<string, unknown>, conn: ConnectionContext) => unknown;

/** Options of {@link serveJsonLines}. */
export interface JsonLineServerOptions {
  /** Socket path; its directory is created and a stale socket file is replaced. */
  path: string;
  table: OpTable;
  handle: OpHandler;
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
export async function serveJsonLines(opts: JsonLineServerOptions): Promise<JsonLineServer> {
  const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
  const results = compileOps(opts.table).result;
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
        const result = await opts.handle(op, req, { signal: abort.signal });
        const check = results.get(op)!;
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
}

/**
 * A client for one JSON-lines socket. Calls are multiplexed by id over one connection, which is
 * opened on first use and again after it drops. Arguments are validated before sending and results
 * after receiving, against the same op table the server uses.
 */
export class JsonLineClient<T extends OpTable> {
  private sock: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buf = '';

  constructor(
    readonly path: string,
    private readonly table: T,
  ) {}

  /**
   * Calls `op` and resolves with its validated result.
   * @throws HiveError with the server's code; `unavailable` when the socket cannot be reached or
   *   drops mid-call; `bad_request` when `args` do not match the op's schema (nothing is sent).
   */
  async call<K extends OpName<T>>(op: K, args: OpArgs<T, K>): Promise<OpResult<T, K>> {
    const checks = compileOps(this.table);
    const id = this.nextId++;
    const req = { ...(args as object), id, op };
    const check = checks.args.get(op);
    if (!check) throw new HiveError('bad_request', `unknown op ${op}`);
    if (!check.Check(req)) throw new HiveError('bad_request', `${op}: ${describeFirstError(check, req)}`);
    const sock = await this.connect();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject });
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
      sock.on('data', (chunk: string) => this.onData(chunk));
      sock.on('error', (err) => {
        if (this.connecting) {
          this.connecting = null;
          reject(new HiveError('unavailable', `cannot reach ${this.path}: ${err.message}`));
        }
      });
      sock.on('close', () => {
        if (this.sock === sock) this.sock = null;
        this.buf = '';
        const err = new HiveError('unavailable', `connection to ${this.path} closed`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
    return this.connecting;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let reply: unknown;
      try {
        reply = JSON.parse(line);
      } catch {
        continue;
      }
      if (!ReplyCheck.Check(reply) || reply.id === null) continue;
      const p = this.pending.get(reply.id);
      if (!p) continue;
      this.pending.delete(reply.id);
      if (!reply.ok) {
        p.reject(new HiveError(reply.error.code as ErrorCode, reply.error.message));
        continue;
      }
      const check = compileOps(this.table).result.get(p.op)!;
      if (check.Check(reply.result)) p.resolve(reply.result);
      else p.reject(new HiveError('internal', `reply to ${p.op} does not match its schema: ${describeFirstError(check, reply.result)}`));
    }
  }
}
