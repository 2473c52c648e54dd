/**
 * @module agent/terminal
 * The agent's terminals, served by the harness on `term.sock` in its socket dir, for the core to
 * relay to the operator's browser (the dashboard's `/agents/<name>/terminal`). One connection is
 * one terminal; the framing is in `shared/terminal-wire.ts` and `docs/wire.md`. Each shell
 * (`terminal-session.ts`) runs as the harness's own user, which is the agent's user in its
 * sandbox, in the state dir, with the environment claude's tools get, and lives no longer than
 * the harness.
 *
 * At most {@link TerminalLimits.maxSessions} shells at once, counting those waiting for a
 * reconnect; when full, a new one replaces the one that has waited longest for its reconnect, or
 * is refused when every shell is attached.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, accessSync, constants } from 'node:fs';
import net from 'node:net';
import { basename, dirname } from 'node:path';
import { removeStaleSocket } from '../shared/jsonl.ts';
import { HiveError, toErrorInfo } from '../shared/errors.ts';
import {
  encodeFrame,
  FrameReader,
  frameJson,
  FrameType,
  TERMINAL_LIMITS,
  type OpenFrame,
  type TerminalLimits,
  type TermSize,
} from '../shared/terminal-wire.ts';
import { claudeEnv } from './claude/argv.ts';
import type { AgentEnv } from './env.ts';
import { TerminalSession, type ShellSpec } from './terminal-session.ts';

/** How long a new connection has to send its `open` frame, ms. */
const OPEN_TIMEOUT_MS = 10_000;
/** How long {@link TerminalServer.close} waits for the connections to take their `exit`, ms. */
const FLUSH_MS = 500;

/** Options of {@link TerminalServer}. */
export interface TerminalServerOptions {
  /** Where to serve (`term.sock` in the socket dir); a stale socket file there is replaced. */
  socketPath: string;
  /** The shells' working directory (the state dir). */
  cwd: string;
  /** The shells' environment (`TERM`, `HIVE_TERMINAL` and, for bash, `PS1` are added). */
  env: Record<string, string>;
  /** Shown in bash's prompt. */
  name: string;
  limits?: Partial<TerminalLimits>;
  log: (line: string) => void;
}

/** The terminals of one harness; see the module comment. */
export class TerminalServer {
  readonly limits: TerminalLimits;
  private readonly sessions = new Map<string, TerminalSession>();
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private closing = false;

  constructor(private readonly o: TerminalServerOptions) {
    this.limits = { ...TERMINAL_LIMITS, ...o.limits };
  }

  /** The shells alive now (attached or waiting for a reconnect), not counting those ending. */
  get count(): number {
    return [...this.sessions.values()].filter((s) => !s.closing).length;
  }

  /** The shells whose connection dropped, waiting for a reconnect. */
  get waiting(): number {
    return [...this.sessions.values()].filter((s) => !s.attached && !s.closing).length;
  }

  /**
   * Listens on the socket (mode 0600).
   * @throws when the path is taken by something that is not a socket, or the listen fails.
   */
  async listen(): Promise<void> {
    if (this.closing) throw new Error('the terminal server is closed');
    mkdirSync(dirname(this.o.socketPath), { recursive: true });
    removeStaleSocket(this.o.socketPath);
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.log(`terminal: ${err.message}`));
    if (this.closing) return void server.close();
    chmodSync(this.o.socketPath, 0o600);
    this.server = server;
  }

  /**
   * Ends every shell (its connection is told `reason`), gives the connections {@link FLUSH_MS} to
   * take that, stops listening and removes the socket.
   */
  async close(reason = 'the agent is stopping'): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = null;
    await Promise.all([...this.sessions.values()].map((s) => s.end(reason)));
    const open = [...this.sockets].filter((s) => !s.destroyed);
    const closed = open.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    await Promise.race([Promise.all(closed), Bun.sleep(FLUSH_MS)]);
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(sock: net.Socket): void {
    if (this.closing) return void sock.destroy();
    this.sockets.add(sock);
    const reader = new FrameReader();
    let session: TerminalSession | null = null;
    /** Set once the connection was refused: what else it sends is ignored while the error goes out. */
    let refused = false;
    const refuse = (err: unknown) => {
      refused = true;
      const info = toErrorInfo(err);
      if (info.code === 'internal') this.o.log(`terminal: ${info.message}`);
      if (!sock.destroyed) sock.end(encodeFrame(FrameType.error, info));
    };
    const opening = setTimeout(() => refuse(new HiveError('bad_request', `no open frame within ${OPEN_TIMEOUT_MS / 1000} s`)), OPEN_TIMEOUT_MS);
    sock.on('data', (chunk: Buffer) => {
      if (refused) return;
      try {
        for (const frame of reader.push(chunk)) {
          if (!session) {
            if (frame.type !== FrameType.open) throw new HiveError('bad_request', 'the first terminal frame must be open');
            clearTimeout(opening);
            session = this.open(sock, frameJson<OpenFrame>(frame));
            continue;
          }
          if (frame.type === FrameType.input) session.input(frame.payload);
          else if (frame.type === FrameType.resize) session.resize(frameJson<TermSize>(frame));
          else if (frame.type === FrameType.close) void session.end('closed by the operator');
          else throw new HiveError('bad_request', `unexpected terminal frame type 0x${frame.type.toString(16)}`);
        }
      } catch (err) {
        refuse(err);
      }
    });
    sock.on('error', () => {
      // the core went away; 'close' follows and detaches
    });
    sock.on('close', () => {
      clearTimeout(opening);
      this.sockets.delete(sock);
      session?.detach(sock);
    });
  }

  /** Attaches `sock` to the shell `open` names, or to a new one. */
  private open(sock: net.Socket, open: OpenFrame): TerminalSession {
    const old = open.resume ? this.sessions.get(open.resume.id) : undefined;
    const session = old && !old.closing ? old : this.start(open);
    const ready = session.attach(sock, session === old, session === old ? open.resume!.seen : 0);
    sock.write(encodeFrame(FrameType.ready, ready));
    if (session === old) session.resize(open);
    session.pump();
    return session;
  }

  /** Starts a shell of `size`, making room first (see the module comment). */
  private start(size: TermSize): TerminalSession {
    const live = [...this.sessions.values()].filter((s) => !s.closing);
    if (live.length >= this.limits.maxSessions) {
      const waiting = live.filter((s) => !s.attached).sort((a, b) => a.detachedAt! - b.detachedAt!);
      if (!waiting[0])
        throw new HiveError('conflict', `this agent already has ${live.length} terminals open, the most it may have; close one and connect again`);
      void waiting[0].end(`replaced by a new terminal (this agent may keep ${this.limits.maxSessions})`);
    }
    let session: TerminalSession;
    try {
      session = new TerminalSession(this.shellSpec(), size, this.limits, (s) => this.sessions.delete(s.id));
    } catch (err) {
      throw new HiveError('internal', `cannot start a shell: ${(err as Error).message}`);
    }
    this.sessions.set(session.id, session);
    this.o.log(`terminal ${session.id.slice(0, 6)}: ${session.spec.argv[0]} started (pid ${session.proc.pid})`);
    void session.done.then(() => this.o.log(`terminal ${session.id.slice(0, 6)}: ended`));
    return session;
  }

  private shellSpec(): ShellSpec {
    const me = passwdEntry(process.getuid?.() ?? 0);
    const shell = pickShell(me?.shell);
    const env: Record<string, string> = { ...this.o.env, TERM: 'xterm-256color', COLORTERM: 'truecolor', SHELL: shell };
    if (me) env.USER = env.LOGNAME = me.name;
    if (basename(shell) === 'bash') env.PS1 = `\\u@${this.o.name}:\\w\\$ `;
    return { argv: [shell], cwd: this.o.cwd, env, user: me?.name ?? String(process.getuid?.() ?? '?') };
  }
}

/** Options of {@link startTerminals}. */
export interface StartTerminalsOptions extends TerminalServerOptions {
  /** Aborts the retries (the harness is stopping). */
  signal: AbortSignal;
}

/**
 * Starts a {@link TerminalServer} and serves it, retrying every 2 s until it can listen (the socket
 * dir can be missing for a while while a sandbox is set up) or `signal` aborts.
 */
export function startTerminals(o: StartTerminalsOptions): TerminalServer {
  const server = new TerminalServer(o);
  void (async () => {
    for (let attempt = 1; !o.signal.aborted; attempt++) {
      try {
        await server.listen();
        o.log(`terminals on ${o.socketPath}`);
        return;
      } catch (err) {
        if (attempt <= 3) o.log(`WARN terminal: cannot serve ${o.socketPath}: ${(err as Error).message}; retrying`);
        await Bun.sleep(2000);
      }
    }
  })();
  return server;
}

/**
 * The environment of the agent's shells: what claude's tools get (PATH, HOME, locale, the egress
 * proxy on `proxyPort`, the model gateway), so a command runs there as it would for the agent.
 */
export function shellEnv(env: AgentEnv, proxyPort: number | null): Record<string, string> {
  return claudeEnv(env.passEnv, env.claudeDir, { modelSocket: env.modelSocket, proxyPort });
}

/** The user `uid` in `/etc/passwd`: name and login shell, or null when it has no entry. */
export function passwdEntry(uid: number, file = '/etc/passwd'): { name: string; shell: string } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 7 && Number(f[2]) === uid && f[2] !== '') return { name: f[0]!, shell: f[6]!.trim() };
  }
  return null;
}

/** The login shell when it can run, else /bin/bash, else /bin/sh. */
export function pickShell(login: string | undefined): string {
  for (const s of [login, '/bin/bash', '/bin/sh']) {
    if (!s || !s.startsWith('/') || /nologin$|\/false$/.test(s) || !existsSync(s)) continue;
    try {
      accessSync(s, constants.X_OK);
      return s;
    } catch {
      // not executable: try the next
    }
  }
  return '/bin/sh';
}
