/**
 * An agent's terminal end to end, per runtime: a real core with a real agent (its harness serving
 * `term.sock` in its sandbox), the real dashboard on a loopback port, and a WebSocket client that
 * behaves like the page's script (the operator's session cookie, the CSRF session cookie, a
 * same-origin `Origin`, the CSRF token in the query). It types into a real shell on a real PTY and reads what the shell writes back; checks the
 * refusals before the upgrade, resize, the limit of terminals, a reconnect across a dashboard
 * restart, and that the shell (and what it left running) is gone when the terminal closes and when
 * the agent stops.
 */
import { expect } from 'bun:test';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { TERMINAL_LIMITS } from '../../src/shared/terminal-wire.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires, type Prereq } from '../support/prereq.ts';

/** What the page's script gets on the WebSocket, decoded. */
export class TermClient {
  /** Everything the shell wrote, as text. */
  out = '';
  /** Output bytes received (the page's `seen`). */
  bytes = 0;
  /** The JSON control messages, in order. */
  controls: any[] = [];
  closed: Promise<CloseEvent>;
  private readonly decoder = new TextDecoder();

  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') this.controls.push(JSON.parse(e.data));
      else {
        this.bytes += (e.data as ArrayBuffer).byteLength;
        this.out += this.decoder.decode(e.data as ArrayBuffer, { stream: true });
      }
    };
    this.closed = new Promise((resolve) => (ws.onclose = resolve));
  }

  /** The control message of `type`, once it came. */
  control(type: string, ms = 15_000): Promise<any> {
    return waitFor(`a ${type} message`, () => this.controls.find((c) => c.type === type), ms);
  }

  /** Types `line` and a newline (as xterm.js sends keys: binary). */
  type(line: string): void {
    this.ws.send(new TextEncoder().encode(line + '\r'));
  }

  /** Waits until the output contains `text`. */
  async sees(text: string | RegExp, ms = 15_000): Promise<void> {
    await waitFor(`the terminal to show ${text}`, () => (typeof text === 'string' ? this.out.includes(text) : text.test(this.out)), ms).catch((err) => {
      throw new Error(`${(err as Error).message}; the terminal showed: ${JSON.stringify(this.out.slice(-600))}`);
    });
  }

  resize(cols: number, rows: number): void {
    this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }
}

/** Host pids of the processes a terminal started (they carry `HIVE_TERMINAL=<id>`), read from `/proc`. */
export function terminalProcesses(id: string): number[] {
  const marker = `HIVE_TERMINAL=${id}`;
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(marker)) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Registers the terminal suite for `runtime`. */
export function terminalSuite(runtime: 'process' | 'bwrap' | 'nspawn'): void {
  const needs: Prereq[] = runtime === 'process' ? [] : runtime === 'bwrap' ? ['root', 'bwrap'] : ['root', 'nspawn'];
  const { describe, test, beforeAll, afterAll } = requires(`terminal.${runtime} e2e`, 'git', ...needs);
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let app: ReturnType<typeof createDashboard>;
  let port: number;
  let base: string;
  let client: DashboardClient;
  /** The operator's session cookie (`hive_session`) and the CSRF session cookie, as a browser sends them. */
  let cookies: string;
  let operator: string;
  const TOKEN = 'op-' + 'a1b2c3d4'.repeat(6);
  const open: TermClient[] = [];
  const inside = runtime !== 'process';

  const termUrl = (query: Record<string, string> = {}, name = 'alice') => {
    const u = new URL(`/agents/${name}/terminal`, base.replace('http', 'ws'));
    for (const [k, v] of Object.entries({ csrf: client.token, ...query })) u.searchParams.set(k, v);
    return u.toString();
  };

  /** Opens a terminal as the page does; resolves once it is `ready`. */
  async function connect(query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TermClient> {
    const ws = new WebSocket(termUrl(query), { headers: { origin: base, cookie: cookies, ...headers } } as any);
    const c = new TermClient(ws);
    open.push(c);
    await c.control('ready');
    return c;
  }

  /** An upgrade request sent with fetch, so the refusal's status and text can be read. */
  function upgrade(url: string, headers: Record<string, string>): Promise<Response> {
    return fetch(url.replace('ws', 'http'), {
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...headers },
    });
  }

  function serve(at = 0): void {
    app = createDashboard(t.hive);
    app.listen({ hostname: '127.0.0.1', port: at });
    port = app.server!.port!;
    base = `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    t = await openTestHive({ runtime }, { HIVE_OPERATOR_TOKEN: TOKEN });
    await t.hive.lifecycle.spawn('alice');
    serve();
    // the operator opens the dashboard once with the token; the browser keeps the session cookie
    const login = await fetch(`${base}/?token=${TOKEN}`, { redirect: 'manual' });
    operator = /hive_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
    client = await DashboardClient.open({ handle: (r) => fetch(new Request(r, { headers: { cookie: operator } })) }, base);
    cookies = `${operator}; ${client.cookie}`;
    const sock = t.hive.layout.agent('alice').termSocket;
    await waitFor("alice's term.sock", () => lstatSync(sock, { throwIfNoEntry: false })?.isSocket());
  }, 120_000);

  afterAll(async () => {
    for (const c of open) c.ws.close();
    await app?.stop(true);
    await t?.close();
  });

  describe(`${runtime}: a shell in the agent's sandbox`, () => {
    test('runs what is typed, in the state dir, as the agent’s user', async () => {
      const c = await connect();
      const ready = c.controls[0];
      expect(ready).toMatchObject({ type: 'ready', resumed: false, offset: 0, lost: 0 });
      const dir = inside ? '/state' : t.hive.layout.agent('alice').state;
      const user = inside ? 'root' : Bun.spawnSync(['id', '-un']).stdout.toString().trim();
      expect(ready).toMatchObject({ cwd: dir, user });
      // the login shell: bash, which the sandbox's passwd names where the host has it
      if (existsSync('/bin/bash')) expect(ready.shell).toBe('/bin/bash');
      c.type('echo hi-$((6*7))');
      await c.sees('hi-42');
      c.type('echo "in:$(pwd)"; echo "as:$(id -un)"; echo "term:$TERM"');
      await c.sees(`in:${dir}\r\n`);
      await c.sees(`as:${user}\r\n`);
      await c.sees('term:xterm-256color\r\n');
      c.ws.close(1000);
      await c.closed;
    });

    test('follows the size the page asks for, at the start and on resize', async () => {
      const c = await connect({ cols: '91', rows: '27' });
      c.type('stty size');
      await c.sees('27 91\r\n');
      c.resize(133, 41);
      c.type('stty size');
      await c.sees('41 133\r\n');
      c.ws.close(1000);
      await c.closed;
    });

    test('refuses no operator token, a foreign Host or Origin, no Origin, and a missing or wrong CSRF token, with the reason', async () => {
      const cookie = cookies;
      const cases: Array<[string, Record<string, string>, string, number, RegExp]> = [
        ['no operator token', { origin: base, cookie: client.cookie }, termUrl(), 401, /needs the operator token/],
        ['foreign host', { origin: 'http://evil.example', host: 'evil.example', cookie }, termUrl(), 403, /does not answer to the host "evil.example"/],
        ['foreign origin', { origin: 'http://evil.example', cookie }, termUrl(), 403, /cross-origin terminal refused/],
        ['no origin', { cookie }, termUrl(), 403, /needs an Origin header/],
        ['no token', { origin: base, cookie }, termUrl().replace(/csrf=[^&]+/, ''), 403, /no valid CSRF token/],
        ['wrong token', { origin: base, cookie }, termUrl({ csrf: 'x'.repeat(43) }), 403, /no valid CSRF token/],
        ['no CSRF session', { origin: base, cookie: operator }, termUrl(), 403, /no valid CSRF token/],
      ];
      for (const [what, headers, url, status, reason] of cases) {
        const res = await upgrade(url, headers);
        expect({ what, status: res.status }).toEqual({ what, status });
        expect(await res.text()).toMatch(reason);
      }
      // an unknown agent is said so, before anything is opened
      const res = await upgrade(termUrl({}, 'nobody'), { origin: base, cookie });
      expect(res.status).toBe(404);
      // the browser's own client is refused too, and nothing starts
      const ws = new WebSocket(termUrl({ csrf: 'nope' }), { headers: { origin: base, cookie } } as any);
      const closed = await new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
      expect(closed.code).toBe(1006);
      // the plain GET says why an upgrade would be refused, or that it would be let through
      expect((await fetch(termUrl().replace('ws', 'http'), { headers: { cookie } })).status).toBe(426);
      const why = await fetch(termUrl({ csrf: 'nope' }).replace('ws', 'http'), { headers: { cookie } });
      expect(why.status).toBe(403);
      expect(await why.text()).toMatch(/no valid CSRF token/);
    });

    test('bounds input messages: one over 64 KiB closes the connection', async () => {
      const c = await connect();
      c.ws.send(new Uint8Array(64 * 1024 + 1));
      expect((await c.closed).code).toBe(1009);
    });

    test(`allows ${TERMINAL_LIMITS.maxSessions} terminals at once and says so for one more`, async () => {
      const four = await Promise.all(Array.from({ length: TERMINAL_LIMITS.maxSessions }, () => connect()));
      const ws = new WebSocket(termUrl(), { headers: { origin: base, cookie: cookies } } as any);
      const fifth = new TermClient(ws);
      const error = await fifth.control('error');
      expect(error).toMatchObject({ code: 'conflict' });
      expect(error.message).toContain(`already has ${TERMINAL_LIMITS.maxSessions} terminals open`);
      expect((await fifth.closed).code).toBe(4409);
      // closing one makes room
      four[0]!.ws.close(1000);
      await four[0]!.closed;
      const id0 = four[0]!.controls[0].id;
      await waitFor('the first shell to end', () => terminalProcesses(id0).length === 0);
      const again = await connect();
      again.type('echo room-$((1+1))');
      await again.sees('room-2');
      for (const c of [...four.slice(1), again]) {
        c.ws.close(1000);
        await c.closed;
        await waitFor('its shell to end', () => terminalProcesses(c.controls[0].id).length === 0);
      }
    });

    test('a dropped connection reconnects to the same shell and gets only what it missed', async () => {
      const c = await connect();
      const id = c.controls[0].id;
      c.type('MARK=kept-$((20+1)); echo "set-$((3*3))"');
      await c.sees('set-9\r\n');
      const seen = c.bytes;
      // the dashboard goes away (closing every connection) and comes back on the same port
      await app.stop(true);
      await c.closed;
      serve(port);
      const back = await connect({ resume: id, seen: String(seen) });
      expect(back.controls[0]).toMatchObject({ type: 'ready', id, resumed: true, offset: seen, lost: 0 });
      back.type('echo "mark:$MARK"');
      await back.sees('mark:kept-21\r\n');
      // nothing it had already seen came again
      expect(back.out).not.toContain('set-9');
      back.type('exit 7');
      expect(await back.control('exit')).toMatchObject({ code: 7, reason: 'the shell exited with code 7' });
      expect((await back.closed).code).toBe(1000);
      // too late to resume: a new shell, and the page is told
      const fresh = await connect({ resume: id, seen: '0' });
      expect(fresh.controls[0]).toMatchObject({ resumed: false });
      expect(fresh.controls[0].id).not.toBe(id);
      fresh.ws.close(1000);
      await fresh.closed;
    });

    test('closing the terminal ends the shell and what it started, even what ignores the hangup', async () => {
      const c = await connect();
      const id = c.controls[0].id;
      c.type(`(trap '' HUP; exec sleep 4321) & echo st""arted`);
      await c.sees('started\r\n');
      await waitFor('the shell and its sleep', () => terminalProcesses(id).length >= 2);
      c.ws.close(1000);
      await c.closed;
      await waitFor('every process of the terminal to be gone', () => terminalProcesses(id).length === 0, 10_000);
    });

    test('the shell ends when the agent stops, and the page is told why', async () => {
      const c = await connect();
      const id = c.controls[0].id;
      c.type(`(trap '' HUP; exec sleep 4322) & echo st""arted`);
      await c.sees('started\r\n');
      await waitFor('the shell and its sleep', () => terminalProcesses(id).length >= 2);
      await t.hive.lifecycle.stop('alice');
      const closed = await c.closed;
      const exit = c.controls.find((m) => m.type === 'exit');
      // the harness says why as it stops; a sandbox torn down under it may cut it short
      if (exit) expect(exit.reason).toBe('the agent is stopping');
      else expect(closed.code).toBe(1011);
      await waitFor('every process of the terminal to be gone', () => terminalProcesses(id).length === 0, 10_000);
      // with the agent stopped there is no terminal to open, and the page is told so
      const ws = new WebSocket(termUrl(), { headers: { origin: base, cookie: cookies } } as any);
      const none = new TermClient(ws);
      expect(await none.control('error')).toMatchObject({ code: 'unavailable' });
      expect((await none.closed).code).toBe(4503);
    });
  });
}
