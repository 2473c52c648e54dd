/**
 * @module dashboard/terminal-link
 * The core's end of one terminal on an agent's `term.sock` (framing in `shared/terminal-wire.ts`):
 * connects, sends `open`, waits for `ready`, then hands every later frame to whoever relays it.
 *
 * The socket dir is writable from inside the sandbox, so whatever answers on `term.sock` is the
 * agent's to choose: the path must be a socket (a symlink to some other socket on the host is
 * refused), every frame is bounded by the reader, and every JSON frame is checked by its schema
 * before anything uses it.
 */
import { lstatSync } from 'node:fs';
import net from 'node:net';
import { HiveError, type ErrorCode } from '../../shared/errors.ts';
import {
  encodeFrame,
  FrameReader,
  frameJson,
  FrameType,
  type ErrorFrame,
  type Frame,
  type OpenFrame,
  type ReadyFrame,
} from '../../shared/terminal-wire.ts';

/** How long the harness has to answer `open`, ms. */
export const READY_TIMEOUT_MS = 10_000;

/** Error codes a harness may refuse with; anything else reads as `unavailable`. */
const CODES = new Set<ErrorCode>(['bad_request', 'too_large', 'conflict', 'forbidden', 'unavailable', 'internal']);

/** One open terminal on an agent's `term.sock`. */
export class TerminalLink {
  private handler: ((f: Frame) => void) | null = null;
  private closedHandler: (() => void) | null = null;
  private queued: Frame[] = [];
  private closed = false;

  private constructor(
    private readonly sock: net.Socket,
    /** The harness's answer to `open`. */
    readonly ready: ReadyFrame,
  ) {}

  /**
   * Connects to `path`, opens a terminal and waits for the harness's `ready`.
   * @param who the agent, for messages.
   * @throws HiveError `unavailable` when nothing serves the socket or it does not answer in time
   *   (the agent is offline or starting); the harness's own refusal (`conflict` when it has as many
   *   terminals as it may) with its message.
   */
  static async open(path: string, who: string, open: OpenFrame, timeoutMs = READY_TIMEOUT_MS): Promise<TerminalLink> {
    let isSocket = false;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      // no socket file: the agent is not serving terminals, which is said just below
    }
    const offline = `the terminal of ${who} is not being served: the agent is offline or still starting`;
    if (!isSocket) throw new HiveError('unavailable', offline);
    const sock = net.createConnection({ path });
    const reader = new FrameReader();
    return await new Promise<TerminalLink>((resolve, reject) => {
      let link: TerminalLink | null = null;
      const fail = (err: HiveError) => {
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new HiveError('unavailable', `the terminal of ${who} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      sock.once('connect', () => sock.write(encodeFrame(FrameType.open, open)));
      sock.on('error', (err) => {
        if (!link) fail(new HiveError('unavailable', `${offline} (${err.message})`));
      });
      sock.on('close', () => {
        if (!link) fail(new HiveError('unavailable', `the terminal of ${who} closed before it was ready`));
        else link.gone();
      });
      sock.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = reader.push(chunk);
        } catch (err) {
          if (!link) return fail(new HiveError('unavailable', `the terminal of ${who} sent a bad frame: ${(err as Error).message}`));
          return void sock.destroy();
        }
        for (const f of frames) {
          if (link) {
            link.deliver(f);
            continue;
          }
          try {
            if (f.type === FrameType.error) {
              const e = frameJson<ErrorFrame>(f);
              return fail(new HiveError(CODES.has(e.code as ErrorCode) ? (e.code as ErrorCode) : 'unavailable', e.message));
            }
            if (f.type !== FrameType.ready) throw new Error(`frame 0x${f.type.toString(16)} before ready`);
            clearTimeout(timer);
            link = new TerminalLink(sock, frameJson<ReadyFrame>(f));
            // held until someone relays the output, so nothing piles up in between
            sock.pause();
            resolve(link);
          } catch (err) {
            return fail(new HiveError('unavailable', `the terminal of ${who} answered wrongly: ${(err as Error).message}`));
          }
        }
      });
    });
  }

  /**
   * Starts handing frames to `onFrame` (first those that arrived since `ready`) and calls
   * `onClose` once when the harness's side is gone. Call once.
   */
  relay(onFrame: (f: Frame) => void, onClose: () => void): void {
    this.handler = onFrame;
    this.closedHandler = onClose;
    for (const f of this.queued.splice(0)) onFrame(f);
    if (this.closed) onClose();
    else this.sock.resume();
  }

  /** Sends one frame to the harness (dropped once the link is closed). */
  send(type: FrameType, payload: Uint8Array | object): void {
    if (!this.sock.destroyed) this.sock.write(encodeFrame(type, payload));
  }

  /** Stops reading from the harness (the browser is behind); the harness then holds its output. */
  pause(): void {
    this.sock.pause();
  }

  /** Reads from the harness again. */
  resume(): void {
    this.sock.resume();
  }

  /**
   * Ends the link. With `endShell` the harness is told to end the shell; without, the shell waits
   * for a reconnect (the harness's grace).
   */
  close(endShell: boolean): void {
    if (this.sock.destroyed) return;
    if (endShell) this.sock.end(encodeFrame(FrameType.close, new Uint8Array(0)));
    else this.sock.end();
  }

  private deliver(f: Frame): void {
    if (this.handler) this.handler(f);
    else this.queued.push(f);
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.closedHandler?.();
  }
}
