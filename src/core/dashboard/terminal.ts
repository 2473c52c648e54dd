/**
 * @module dashboard/terminal
 * An agent's terminal in the operator's browser: the WebSocket `GET /agents/<name>/terminal`,
 * relayed to a shell the agent's harness runs on `term.sock` (`terminal-link.ts`,
 * `agent/terminal.ts`). See `docs/wire.md#the-terminal-socket` for both framings.
 *
 * Operator only, like every dashboard route: the operator token and the Host check run first
 * (`dashboard.tsx`). A WebSocket upgrade is a GET, which the CSRF guard lets through and on which
 * browsers send no custom header, so the upgrade must also carry the session's CSRF token as the
 * `csrf` query parameter and an `Origin` that is this dashboard; anything else is refused with 403
 * and the reason, before the upgrade. A plain GET of the same path runs the same checks but the
 * Origin (it opens nothing) and answers 426 when an upgrade would be let through: the page uses it
 * to say why an upgrade was refused, which a browser does not show to scripts.
 *
 * On the WebSocket, binary messages are the terminal's bytes both ways; text messages are JSON
 * control: from the browser `{"type":"resize","cols":…,"rows":…}`, to it `ready`, `lost`, `exit`
 * and `error`. The browser closing with 1000 ends the shell; any other close leaves it waiting for
 * a reconnect (`resume`).
 */
import type { AnyElysia } from 'elysia';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HiveError, toErrorInfo } from '../../shared/errors.ts';
import { MANAGER, validateAgentName } from '../../shared/names.ts';
import { FrameType, frameJson, MAX_FRAME_BYTES, TermSize, type ExitFrame, type Frame, type LostFrame, type OpenFrame } from '../../shared/terminal-wire.ts';
import type { Hive } from '../hive.ts';
import type { RequestGuard } from './guard.ts';
import { TerminalLink } from './terminal-link.ts';

/** Largest WebSocket message the browser may send, bytes (one input frame; `terminal.js` splits pastes). */
export const MAX_TERMINAL_MESSAGE_BYTES = MAX_FRAME_BYTES;

/** The dashboard server's WebSocket settings: its only WebSockets are terminals. */
export const TERMINAL_WEBSOCKET = { maxPayloadLength: MAX_TERMINAL_MESSAGE_BYTES, idleTimeout: 60, sendPings: true } as const;

/** Bytes queued to a browser beyond which the shell's output is held at the harness. */
const HIGH_WATER = 256 * 1024;

const checkSize = TypeCompiler.Compile(TermSize);

/** What the upgrade's checks found: the agent and how to open its terminal. */
interface Upgrade {
  name: string;
  open: OpenFrame;
}

/**
 * The checks an upgrade must pass besides the operator token and Host (see the module comment).
 * @param needOrigin false for the plain-GET diagnosis, which opens nothing.
 * @throws HiveError `forbidden` (Origin, CSRF), `bad_name`, `not_found` (also for a peer), `bad_request` (the query).
 */
export function checkTerminalRequest(hive: Hive, guard: RequestGuard, name: string, request: Request, needOrigin = true): Upgrade {
  if (name !== MANAGER) validateAgentName(name);
  if (hive.registry.require(name).role === 'peer') throw new HiveError('not_found', `${name} is a peer: the hive does not run it, and it has no terminal here`);
  const url = new URL(request.url);
  if (needOrigin) {
    const origin = request.headers.get('origin');
    let same = false;
    try {
      same = origin !== null && new URL(origin).host.toLowerCase() === (request.headers.get('host') ?? url.host).toLowerCase();
    } catch {
      // an Origin that is not a URL is not this dashboard's: refused just below
    }
    if (!same) throw new HiveError('forbidden', origin === null ? 'a terminal needs an Origin header naming this dashboard' : 'cross-origin terminal refused');
  }
  const session = guard.session(request);
  const given = url.searchParams.get('csrf');
  if (session.setCookie || !given || given !== session.token)
    throw new HiveError('forbidden', 'this terminal request carries no valid CSRF token (the csrf query parameter) for its session; reload the page and try again');
  const int = (key: string, fallback: number) => {
    const v = url.searchParams.get(key);
    if (v === null) return fallback;
    if (!/^\d{1,10}$/.test(v)) throw new HiveError('bad_request', `${key} must be a whole number, not "${v.slice(0, 20)}"`);
    return Number(v);
  };
  const size = { cols: int('cols', 80), rows: int('rows', 24) };
  if (!checkSize.Check(size)) throw new HiveError('bad_request', 'cols and rows must be 1 to 1000');
  const open: OpenFrame = { ...size };
  const resume = url.searchParams.get('resume');
  if (resume !== null) {
    if (!/^[A-Za-z0-9_-]{22}$/.test(resume)) throw new HiveError('bad_request', 'resume must be a terminal id from a ready message');
    open.resume = { id: resume, seen: int('seen', 0) };
  }
  return { name, open };
}

/** Per WebSocket: the link once it is open, the size asked for before it was. */
interface Bridge {
  upgrade: Upgrade;
  link: TerminalLink | null;
  closed: boolean;
  /** The browser closed with 1000: end the shell once the link is open. */
  endShell: boolean;
  size: TermSize | null;
}

/** The routes of the agents' terminals: the WebSocket and its plain-GET diagnosis. */
export function terminalRoutes(hive: Hive, guard: RequestGuard) {
  const bridges = new WeakMap<Request, Bridge>();
  const path = '/agents/:name/terminal';

  return (app: AnyElysia) =>
    app
      .ws(path, {
        upgrade(ctx: { params: { name: string }; request: Request }) {
          const upgrade = checkTerminalRequest(hive, guard, ctx.params.name, ctx.request);
          bridges.set(ctx.request, { upgrade, link: null, closed: false, endShell: false, size: null });
        },
        open(ws: ElysiaSocket) {
          const b = bridges.get(ws.data.request);
          if (!b) return void ws.raw.close(4500, 'no terminal for this connection');
          void openLink(hive, ws.raw, b);
        },
        message(ws: ElysiaSocket, message: unknown) {
          const b = bridges.get(ws.data.request);
          if (!b) return;
          if (message instanceof Uint8Array) {
            b.link?.send(FrameType.input, message);
            return;
          }
          const m = message as { type?: unknown; cols?: unknown; rows?: unknown } | null;
          const size = { cols: m?.cols, rows: m?.rows };
          if (m && typeof m === 'object' && m.type === 'resize' && checkSize.Check(size)) {
            if (b.link) b.link.send(FrameType.resize, size);
            else b.size = size;
            return;
          }
          ws.raw.close(4400, closeReason('unknown message: text is JSON control ({"type":"resize",…}); terminal input is binary'));
        },
        drain(ws: ElysiaSocket) {
          const b = bridges.get(ws.data.request);
          if (b?.link && ws.raw.getBufferedAmount() < HIGH_WATER) b.link.resume();
        },
        close(ws: ElysiaSocket, code: number) {
          const b = bridges.get(ws.data.request);
          if (!b) return;
          b.closed = true;
          b.endShell = code === 1000;
          b.link?.close(b.endShell);
        },
        // Elysia's typed WebSocket options do not describe `upgrade` and the raw socket used here
      } as any)
      .get(path, ({ params, request }) => {
        checkTerminalRequest(hive, guard, params.name, request, false);
        return new Response('connect with a WebSocket (Origin and the csrf parameter as here) to open a terminal', {
          status: 426,
          headers: { upgrade: 'websocket', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
        });
      });
}

/** The subset of Bun's ServerWebSocket the relay uses. */
interface Socket {
  sendText(data: string): number;
  sendBinary(data: Uint8Array): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

/** What Elysia hands the WebSocket handlers: the raw socket, and the upgrade's context. */
interface ElysiaSocket {
  raw: Socket;
  data: { request: Request };
}

/** Opens the harness's terminal for `b` and relays it to `ws` until either side ends. */
async function openLink(hive: Hive, ws: Socket, b: Bridge): Promise<void> {
  const { name, open } = b.upgrade;
  let link: TerminalLink;
  try {
    link = await TerminalLink.open(hive.layout.agent(name).termSocket, name, open);
  } catch (err) {
    const info = toErrorInfo(err);
    if (info.code === 'internal') hive.log(`terminal of ${name}: ${info.message}`);
    if (!b.closed) {
      ws.sendText(JSON.stringify({ type: 'error', ...info }));
      ws.close(4000 + (err instanceof HiveError ? err.status : 500), closeReason(info.message));
    }
    return;
  }
  if (b.closed) return link.close(b.endShell);
  b.link = link;
  ws.sendText(JSON.stringify({ type: 'ready', ...link.ready }));
  if (b.size) link.send(FrameType.resize, b.size);
  let exited = false;
  link.relay(
    (f: Frame) => {
      try {
        if (f.type === FrameType.output) {
          ws.sendBinary(f.payload);
          if (ws.getBufferedAmount() >= HIGH_WATER) link.pause();
        } else if (f.type === FrameType.lost) {
          ws.sendText(JSON.stringify({ type: 'lost', ...frameJson<LostFrame>(f) }));
        } else if (f.type === FrameType.exit) {
          const e = frameJson<ExitFrame>(f);
          exited = true;
          ws.sendText(JSON.stringify({ type: 'exit', ...e }));
          ws.close(1000, closeReason(e.reason));
        } else throw new HiveError('bad_request', `unexpected frame 0x${f.type.toString(16)}`);
      } catch (err) {
        hive.log(`terminal of ${name}: the harness sent a bad frame: ${(err as Error).message}`);
        link.close(false);
      }
    },
    () => {
      if (!exited && !b.closed) ws.close(1011, "the agent's terminal went away");
    },
  );
}

/** A WebSocket close reason: at most 123 bytes of UTF-8. */
function closeReason(text: string): string {
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  if (bytes(text) <= 123) return text;
  let out = text;
  while (bytes(out) > 120) out = out.slice(0, -1);
  return out + '…';
}
