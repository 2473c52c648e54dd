/**
 * @module terminal-wire
 * What the core and an agent's harness say on `term.sock`, the socket the harness serves the
 * agent's terminals on (see `docs/wire.md#the-terminal-socket`). One connection carries one
 * terminal. Every frame, both ways, is a 5-byte header, a type byte and the payload's length as
 * a big-endian u32, then the payload: raw bytes for terminal input and output, a JSON object
 * (UTF-8) for everything else, checked against the schemas below. The first frame the core sends
 * is `open`; the harness answers `ready` (or `error`, then closes).
 *
 * Output is numbered: byte `n` of a shell's output is at offset `n`, counted from its start. A
 * reader that fell behind, or reconnects with `resume`, learns from `ready.offset` and `lost`
 * frames which bytes it got, so it can ask for the rest (`resume.seen`) and say what was lost.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HiveError } from './errors.ts';

/** Bytes of a frame header: the type, then the payload length (u32, big-endian). */
export const FRAME_HEADER_BYTES = 5;
/** Largest payload of one frame, in bytes; a longer one ends the connection. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Frame types: core → harness below 0x80, harness → core from 0x80. */
export const FrameType = {
  /** core → harness, first and once: {@link OpenFrame}. */
  open: 0x01,
  /** core → harness: raw bytes for the terminal (keys typed, text pasted). */
  input: 0x02,
  /** core → harness: {@link TermSize}, the terminal's new size. */
  resize: 0x03,
  /** core → harness, no payload: the operator closed the terminal; end the shell now. */
  close: 0x04,
  /** harness → core, once, answering `open`: {@link ReadyFrame}. */
  ready: 0x81,
  /** harness → core: raw bytes the terminal wrote, in order, continuing at the offset reached so far. */
  output: 0x82,
  /** harness → core: {@link LostFrame}, output skipped because this connection fell behind. */
  lost: 0x83,
  /** harness → core, last: {@link ExitFrame}, the shell ended (or was ended); the harness closes. */
  exit: 0x84,
  /** harness → core, last: {@link ErrorFrame}, the connection was refused or broke the protocol. */
  error: 0x85,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** The limits of one harness's terminals, with their defaults in {@link TERMINAL_LIMITS}. */
export interface TerminalLimits {
  /** Most shells one agent keeps at once, attached or waiting for a reconnect. */
  maxSessions: number;
  /** A shell with no input and no output for this long is ended, ms. */
  idleMs: number;
  /** How long a shell whose connection dropped waits for a reconnect (`resume`) before it ends, ms. */
  graceMs: number;
  /** Output kept per shell to replay on a reconnect, and the most a slow reader may fall behind, bytes. */
  scrollbackBytes: number;
}

/** Default {@link TerminalLimits}: 4 shells, 30 min idle, 30 s to reconnect, 256 KiB kept. */
export const TERMINAL_LIMITS: Readonly<TerminalLimits> = {
  maxSessions: 4,
  idleMs: 30 * 60_000,
  graceMs: 30_000,
  scrollbackBytes: 256 * 1024,
};

/** Largest terminal width or height accepted, in cells. */
export const MAX_TERM_CELLS = 1000;

/** A session id: 22 base64url characters (16 random bytes). */
export const TerminalId = Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' });

/** A terminal's size in character cells. */
export const TermSize = Type.Object(
  { cols: Type.Integer({ minimum: 1, maximum: MAX_TERM_CELLS }), rows: Type.Integer({ minimum: 1, maximum: MAX_TERM_CELLS }) },
  { additionalProperties: false },
);
export type TermSize = Static<typeof TermSize>;

/** `open`: the terminal's size, and the shell to go back to after a dropped connection. */
export const OpenFrame = Type.Object(
  {
    cols: TermSize.properties.cols,
    rows: TermSize.properties.rows,
    /** Reattach shell `id`, replaying its output from offset `seen` (what the reader already has). */
    resume: Type.Optional(Type.Object({ id: TerminalId, seen: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type OpenFrame = Static<typeof OpenFrame>;

/** `ready`: the shell this connection is attached to. */
export const ReadyFrame = Type.Object(
  {
    id: TerminalId,
    /** The shell's process id, as the sandbox sees it. */
    pid: Type.Integer(),
    shell: Type.String(),
    cwd: Type.String(),
    user: Type.String(),
    /** True when `open` asked to resume this shell and it was still there. */
    resumed: Type.Boolean(),
    /** Offset of the first output byte this connection gets. */
    offset: Type.Integer({ minimum: 0 }),
    /** Bytes between the `seen` asked for and `offset` that are no longer kept (0 when none). */
    lost: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ReadyFrame = Static<typeof ReadyFrame>;

/** `lost`: output bytes skipped; the next output byte is at the previous offset plus these. */
export const LostFrame = Type.Object({ bytes: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type LostFrame = Static<typeof LostFrame>;

/** `exit`: how the shell ended; `reason` is a sentence for the operator. */
export const ExitFrame = Type.Object(
  { code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String(), Type.Null()]), reason: Type.String() },
  { additionalProperties: false },
);
export type ExitFrame = Static<typeof ExitFrame>;

/** `error`: a refusal, with an error code from `errors.ts` and a message for the operator. */
export const ErrorFrame = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false });
export type ErrorFrame = Static<typeof ErrorFrame>;

/** The JSON payload schema of each JSON frame type. */
const SCHEMAS: Partial<Record<FrameType, TSchema>> = {
  [FrameType.open]: OpenFrame,
  [FrameType.resize]: TermSize,
  [FrameType.ready]: ReadyFrame,
  [FrameType.lost]: LostFrame,
  [FrameType.exit]: ExitFrame,
  [FrameType.error]: ErrorFrame,
};
const CHECKS = new Map(Object.entries(SCHEMAS).map(([t, s]) => [Number(t), TypeCompiler.Compile(s)] as const));

/** One frame as read: its type and payload. */
export interface Frame {
  type: number;
  payload: Uint8Array;
}

/**
 * Encodes one frame; `payload` is raw bytes, or an object sent as JSON.
 * @throws HiveError `too_large` when the payload is over {@link MAX_FRAME_BYTES}.
 * @example encodeFrame(FrameType.resize, { cols: 120, rows: 40 })
 */
export function encodeFrame(type: FrameType, payload: Uint8Array | object): Uint8Array {
  const body = payload instanceof Uint8Array ? payload : new TextEncoder().encode(JSON.stringify(payload));
  if (body.length > MAX_FRAME_BYTES) throw new HiveError('too_large', `a terminal frame holds at most ${MAX_FRAME_BYTES} bytes, not ${body.length}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * The JSON payload of `frame`, checked against its type's schema.
 * @throws HiveError `bad_request` when it is not JSON, the type carries raw bytes, or the shape is wrong.
 */
export function frameJson<T>(frame: Frame): T {
  const check = CHECKS.get(frame.type);
  if (!check) throw new HiveError('bad_request', `terminal frame type 0x${frame.type.toString(16)} carries no JSON`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(frame.payload));
  } catch {
    throw new HiveError('bad_request', `terminal frame 0x${frame.type.toString(16)}: the payload is not JSON`);
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new HiveError('bad_request', `terminal frame 0x${frame.type.toString(16)}: ${first ? `${first.path || '/'}: ${first.message}` : 'wrong shape'}`);
  }
  return value as T;
}

/** Reassembles frames from a byte stream, chunk by chunk. */
export class FrameReader {
  private buf = new Uint8Array(0);

  /**
   * Adds `chunk` and returns the frames it completed, in order.
   * @throws HiveError `too_large` when a header announces more than {@link MAX_FRAME_BYTES}; the
   *   stream cannot be read further.
   */
  push(chunk: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const frames: Frame[] = [];
    let at = 0;
    while (joined.length - at >= FRAME_HEADER_BYTES) {
      const len = new DataView(joined.buffer, at + 1, 4).getUint32(0);
      if (len > MAX_FRAME_BYTES) throw new HiveError('too_large', `a terminal frame announced ${len} bytes; the most is ${MAX_FRAME_BYTES}`);
      if (joined.length - at < FRAME_HEADER_BYTES + len) break;
      frames.push({ type: joined[at]!, payload: joined.slice(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + len) });
      at += FRAME_HEADER_BYTES + len;
    }
    this.buf = joined.slice(at);
    return frames;
  }
}
