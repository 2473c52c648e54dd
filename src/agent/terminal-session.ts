/**
 * @module agent/terminal-session
 * One shell of the agent's terminal: a PTY made with `Bun.Terminal`, the shell on it, the output it
 * wrote (the last {@link TerminalLimits.scrollbackBytes}, numbered from the shell's start), and the
 * one connection from the core it is attached to, if any. The harness serves these on `term.sock`
 * (`terminal.ts`).
 *
 * Output goes to the attached connection as fast as the connection drains; a connection that falls
 * further behind than the kept output skips ahead and is told how much it lost (`lost`), so a
 * flood (`yes`) neither grows memory nor stops Ctrl-C from getting through. A dropped connection
 * leaves the shell running for {@link TerminalLimits.graceMs}: a new connection that names it
 * (`resume`) gets the output it missed and carries on. The shell ends when it exits, when nobody
 * reconnects in time, after {@link TerminalLimits.idleMs} with no input and no output, or when the
 * harness stops; then the PTY is closed (the kernel hangs up the shell's session), the shell gets
 * SIGHUP and, a second later, every process still in its session gets SIGKILL.
 */
import type { Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { encodeFrame, FrameType, MAX_FRAME_BYTES, type ExitFrame, type ReadyFrame, type TerminalLimits, type TermSize } from '../shared/terminal-wire.ts';

/** Bytes queued on a connection beyond which output waits for it to drain. */
const HIGH_WATER = 64 * 1024;
/** How long an ending shell gets between SIGHUP and SIGKILL, ms. */
const KILL_AFTER_MS = 1000;
/** How long the last output may trail the shell's exit (read from the PTY until it reports EOF), ms. */
const EOF_WAIT_MS = 500;

/** What a shell is started with. */
export interface ShellSpec {
  /** The shell program and its arguments. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** The user the shell runs as (the harness's own), for `ready`. */
  user: string;
}

/** The last `cap` bytes of a stream, addressed by their offset from the stream's start. */
export class OutputRing {
  private readonly buf: Uint8Array;
  /** Bytes written since the start. */
  total = 0;

  constructor(readonly cap: number) {
    this.buf = new Uint8Array(cap);
  }

  /** Offset of the oldest byte still kept. */
  get start(): number {
    return Math.max(0, this.total - this.cap);
  }

  /** Appends `data`; bytes older than the last `cap` are dropped. */
  push(data: Uint8Array): void {
    const src = data.length > this.cap ? data.subarray(data.length - this.cap) : data;
    this.total += data.length - src.length;
    let at = this.total % this.cap;
    let done = 0;
    while (done < src.length) {
      const n = Math.min(src.length - done, this.cap - at);
      this.buf.set(src.subarray(done, done + n), at);
      done += n;
      at = (at + n) % this.cap;
    }
    this.total += src.length;
  }

  /** A copy of up to `max` bytes from offset `from` (at least {@link start}), ending at {@link total}. */
  read(from: number, max: number): Uint8Array {
    const begin = Math.max(from, this.start);
    const len = Math.min(max, this.total - begin);
    const out = new Uint8Array(Math.max(0, len));
    let at = begin % this.cap;
    let done = 0;
    while (done < out.length) {
      const n = Math.min(out.length - done, this.cap - at);
      out.set(this.buf.subarray(at, at + n), done);
      done += n;
      at = (at + n) % this.cap;
    }
    return out;
  }
}

/** One connection's place in a shell's output. */
interface Attachment {
  sock: Socket;
  /** Offset of the next output byte to send. */
  sent: number;
}

/** One shell on a PTY; see the module comment. */
export class TerminalSession {
  readonly id: string;
  readonly proc: Bun.Subprocess;
  /** Set once the shell has ended (see {@link closing} for ending). */
  ended = false;
  /** Resolves when the shell has ended and its session's processes are gone. */
  readonly done: Promise<void>;
  /** When the shell last had input or output, ms since the epoch. */
  lastActive = Date.now();
  /** When the connection last dropped, ms since the epoch (null while attached). */
  detachedAt: number | null = null;
  private readonly ring: OutputRing;
  private readonly terminal: Bun.Terminal;
  private conn: Attachment | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private eof!: () => void;
  private readonly ptyClosed = new Promise<void>((resolve) => (this.eof = resolve));
  private endReason: string | null = null;

  /**
   * Starts the shell.
   * @param onEnd called once the shell has ended, after the attached connection was told.
   * @throws when the shell cannot be started.
   */
  constructor(
    readonly spec: ShellSpec,
    size: TermSize,
    private readonly limits: TerminalLimits,
    private readonly onEnd: (s: TerminalSession) => void,
  ) {
    this.id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
    this.ring = new OutputRing(limits.scrollbackBytes);
    // the terminal as options, not a `new Bun.Terminal`: only then is it the shell's controlling
    // terminal in a session of its own (see docs/pitfalls.md)
    this.proc = Bun.spawn(spec.argv, {
      cwd: spec.cwd,
      env: { ...spec.env, HIVE_TERMINAL: this.id },
      terminal: { cols: size.cols, rows: size.rows, name: 'xterm-256color', data: (_t, data) => this.output(data), exit: () => this.eof() },
    });
    this.terminal = this.proc.terminal!;
    this.armIdle();
    this.done = this.proc.exited.then(async () => {
      await Promise.race([this.ptyClosed, Bun.sleep(EOF_WAIT_MS)]);
      this.finish();
      await this.sweep();
    });
  }

  /** Whether a connection is attached. */
  get attached(): boolean {
    return this.conn !== null;
  }

  /** Whether the shell is ending or has ended (it no longer counts against the limit). */
  get closing(): boolean {
    return this.ended || this.endReason !== null;
  }

  /**
   * Attaches `sock` (detaching any other connection, which is closed), replaying the kept output
   * from offset `seen` on (0 for a new shell: all of it).
   * @returns the `ready` frame to send first; call {@link pump} after sending it.
   */
  attach(sock: Socket, resumed: boolean, seen = 0): ReadyFrame {
    if (this.conn && this.conn.sock !== sock) this.conn.sock.destroy();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.detachedAt = null;
    const offset = Math.min(Math.max(seen, this.ring.start), this.ring.total);
    this.conn = { sock, sent: offset };
    sock.on('drain', () => this.pump());
    return { id: this.id, pid: this.proc.pid, shell: this.spec.argv[0]!, cwd: this.spec.cwd, user: this.spec.user, resumed, offset, lost: Math.max(0, offset - seen) };
  }

  /** Detaches `sock` if it is the attached connection; the shell waits {@link TerminalLimits.graceMs} for a reconnect. */
  detach(sock: Socket): void {
    if (this.conn?.sock !== sock) return;
    this.conn = null;
    if (this.closing) return;
    this.detachedAt = Date.now();
    this.graceTimer = setTimeout(() => this.end(`nobody reconnected within ${formatMs(this.limits.graceMs)}`), this.limits.graceMs);
  }

  /** Writes `data` (keys, pasted text) to the shell. */
  input(data: Uint8Array): void {
    if (this.closing) return;
    this.lastActive = Date.now();
    this.terminal.write(data);
  }

  /** Resizes the PTY; the shell gets SIGWINCH. */
  resize(size: TermSize): void {
    if (!this.closing) this.terminal.resize(size.cols, size.rows);
  }

  /**
   * Ends the shell: closes the PTY, sends SIGHUP, and SIGKILL to whatever is left of its session
   * a second later. The attached connection gets `exit` with `reason`. Returns once it is gone.
   */
  async end(reason: string): Promise<void> {
    if (!this.closing) {
      this.endReason = reason;
      this.terminal.close();
      try {
        this.proc.kill('SIGHUP');
      } catch {
        // already exited: `done` is settling
      }
      const timer = setTimeout(() => void this.sweep(), KILL_AFTER_MS);
      void this.done.finally(() => clearTimeout(timer));
    }
    await this.done;
  }

  /** Sends queued output to the attached connection while it keeps up. */
  pump(): void {
    const c = this.conn;
    if (!c || c.sock.destroyed) return;
    while (c.sent < this.ring.total && c.sock.writableLength < HIGH_WATER) {
      if (c.sent < this.ring.start) {
        c.sock.write(encodeFrame(FrameType.lost, { bytes: this.ring.start - c.sent }));
        c.sent = this.ring.start;
      }
      const chunk = this.ring.read(c.sent, MAX_FRAME_BYTES);
      c.sock.write(encodeFrame(FrameType.output, chunk));
      c.sent += chunk.length;
    }
  }

  private output(data: Uint8Array): void {
    this.lastActive = Date.now();
    this.ring.push(data);
    this.pump();
  }

  /** The idle timer fires at the last activity plus the idle limit, and re-arms until it is reached. */
  private armIdle(): void {
    const left = this.lastActive + this.limits.idleMs - Date.now();
    this.idleTimer = setTimeout(() => {
      if (this.closing) return;
      if (Date.now() - this.lastActive >= this.limits.idleMs) void this.end(`idle for ${formatMs(this.limits.idleMs)}`);
      else this.armIdle();
    }, Math.max(left, 0));
  }

  /** Runs once the shell exited: tells the attached connection how, and hands the session back. */
  private finish(): void {
    this.ended = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (!this.terminal.closed) this.terminal.close();
    const code = this.proc.exitCode;
    const signal = this.proc.signalCode === null ? null : String(this.proc.signalCode);
    const exit: ExitFrame = {
      code,
      signal,
      reason: this.endReason ?? (signal ? `the shell was killed by ${signal}` : `the shell exited with code ${code ?? '?'}`),
    };
    const c = this.conn;
    if (c && !c.sock.destroyed) {
      // the rest of the kept output first, whatever the connection's backlog: it is bounded by the ring
      if (c.sent < this.ring.start) {
        c.sock.write(encodeFrame(FrameType.lost, { bytes: this.ring.start - c.sent }));
        c.sent = this.ring.start;
      }
      while (c.sent < this.ring.total) {
        const chunk = this.ring.read(c.sent, MAX_FRAME_BYTES);
        c.sock.write(encodeFrame(FrameType.output, chunk));
        c.sent += chunk.length;
      }
      c.sock.end(encodeFrame(FrameType.exit, exit));
    }
    this.conn = null;
    this.onEnd(this);
  }

  /** SIGKILLs every process still in the shell's session (what ignored the hangup). */
  private async sweep(): Promise<void> {
    for (const pid of sessionMembers(this.proc.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone in the meantime
      }
    }
  }
}

/** Pids of the processes whose session id is `sid`, read from `/proc` (empty where there is none). */
export function sessionMembers(sid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // after "pid (comm) ": state ppid pgrp session …; comm may hold spaces and parentheses
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid) out.push(Number(e));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** `30 min`, `45 s`, `400 ms`: a duration for the operator. */
function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
