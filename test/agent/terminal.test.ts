/**
 * The harness's terminal server on its own: a real `TerminalServer` on a unix socket in a temp dir,
 * real shells on real PTYs, and the core's real `TerminalLink` (or a raw socket, to break the
 * protocol). Covers what the end-to-end suite cannot wait for at the real limits: the idle timeout,
 * the reconnect grace, making room at the session limit, a reader that falls behind, and malformed
 * frames; plus the output ring and the choice of shell.
 */
import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import net from 'node:net';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputRing } from '../../src/agent/terminal-session.ts';
import { passwdEntry, pickShell, TerminalServer } from '../../src/agent/terminal.ts';
import { TerminalLink } from '../../src/core/dashboard/terminal-link.ts';
import { encodeFrame, FrameReader, FrameType, frameJson, MAX_FRAME_BYTES, type ErrorFrame, type Frame, type TerminalLimits } from '../../src/shared/terminal-wire.ts';
import { tempDir, waitFor } from '../support/hive.ts';

const dir = tempDir('hv-term-');
let server: TerminalServer | null = null;
let n = 0;

afterEach(async () => {
  await server?.close();
  server = null;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server on a fresh socket with `limits`. */
async function serve(limits: Partial<TerminalLimits> = {}): Promise<string> {
  const socketPath = join(dir, `t${n++}.sock`);
  server = new TerminalServer({ socketPath, cwd: dir, env: { PATH: process.env.PATH!, HOME: dir }, name: 'alice', limits, log: () => {} });
  await server.listen();
  return socketPath;
}

/** A link and what came on it, decoded. */
async function link(path: string, open: Parameters<typeof TerminalLink.open>[2] = { cols: 80, rows: 24 }) {
  const l = await TerminalLink.open(path, 'alice', open);
  const got = { out: '', frames: [] as Frame[], closed: false };
  l.relay(
    (f) => {
      got.frames.push(f);
      if (f.type === FrameType.output) got.out += new TextDecoder().decode(f.payload);
    },
    () => (got.closed = true),
  );
  const type = (line: string) => l.send(FrameType.input, new TextEncoder().encode(line + '\r'));
  const json = (t: number) => got.frames.filter((f) => f.type === t).map((f) => frameJson<any>(f));
  return { l, got, type, json };
}

describe('the terminal server', () => {
  test('ends a shell with no input and no output for the idle time, and says so', async () => {
    const path = await serve({ idleMs: 400 });
    const { got, json } = await link(path);
    await waitFor('the exit frame', () => json(FrameType.exit)[0], 10_000);
    expect(json(FrameType.exit)[0].reason).toBe('idle for 400 ms');
    await waitFor('the link to close', () => got.closed);
    expect(server!.count).toBe(0);
  });

  test('keeps a dropped shell for the grace, then ends it; resuming later starts a new one', async () => {
    const path = await serve({ graceMs: 300 });
    const first = await link(path);
    const id = first.l.ready.id;
    first.l.close(false);
    expect(server!.count).toBe(1);
    await waitFor('the dropped shell to end', () => server!.count === 0, 10_000);
    const again = await link(path, { cols: 80, rows: 24, resume: { id, seen: 0 } });
    expect(again.l.ready).toMatchObject({ resumed: false, offset: 0, lost: 0 });
    expect(again.l.ready.id).not.toBe(id);
  });

  test('at the limit, a new shell replaces the one waiting longest for its reconnect; with none waiting, it is refused', async () => {
    const path = await serve({ maxSessions: 2 });
    const a = await link(path);
    const b = await link(path);
    await expect(TerminalLink.open(path, 'alice', { cols: 80, rows: 24 })).rejects.toThrow('already has 2 terminals open');
    a.l.close(false);
    await waitFor('a to be waiting for a reconnect', () => server!.waiting === 1);
    const c = await link(path);
    expect(server!.count).toBe(2);
    // a's shell is gone: resuming it gives a new one (which replaces nobody: b and c are attached)
    await expect(TerminalLink.open(path, 'alice', { cols: 80, rows: 24, resume: { id: a.l.ready.id, seen: 0 } })).rejects.toThrow('already has 2');
    b.l.close(true);
    c.l.close(true);
  });

  test('a reader that falls behind skips ahead with a lost frame, and the shell still takes Ctrl-C', async () => {
    const path = await serve({ scrollbackBytes: 64 * 1024 });
    const t = await link(path);
    t.l.pause();
    // far more than the ring holds, while nobody reads
    const done = join(dir, `flood-${n}`);
    t.type(`head -c 3000000 /dev/zero | tr "\\0" x; echo; echo flood-$((1+1)); touch ${done}`);
    await waitFor('the flood to be written', () => existsSync(done), 20_000);
    t.l.resume();
    await waitFor('the end of the flood', () => t.got.out.includes('flood-2'), 20_000);
    const lost = t.json(FrameType.lost).reduce((s, f) => s + f.bytes, 0);
    expect(lost).toBeGreaterThan(0);
    const outBytes = t.got.frames.filter((f) => f.type === FrameType.output).reduce((s, f) => s + f.payload.length, 0);
    expect(outBytes).toBeLessThan(3_000_000);
    // still interactive: a running command is interrupted
    t.type('echo sl""eeping; sleep 30; echo sl""ept');
    await waitFor('the sleep to run', () => t.got.out.includes('sleeping\r\n'), 10_000);
    t.l.send(FrameType.input, new Uint8Array([3]));
    t.type('echo after-$((2+2))');
    await waitFor('the shell to answer after Ctrl-C', () => t.got.out.includes('after-4'), 10_000);
    expect(t.got.out.slice(-2000)).not.toContain('slept');
  });

  test('refuses a connection that does not start with open, or sends a bad frame, with an error frame', async () => {
    const path = await serve();
    const raw = async (bytes: Uint8Array) => {
      const sock = net.createConnection({ path });
      const reader = new FrameReader();
      const frames: Frame[] = [];
      sock.on('data', (c: Buffer) => frames.push(...reader.push(c)));
      const closed = new Promise((resolve) => sock.on('close', resolve));
      sock.on('connect', () => sock.write(bytes));
      await closed;
      const error = frames.find((f) => f.type === FrameType.error);
      if (!error) throw new Error('no error frame came');
      return frameJson<ErrorFrame>(error);
    };
    expect(await raw(encodeFrame(FrameType.input, new Uint8Array([65])))).toMatchObject({ code: 'bad_request', message: 'the first terminal frame must be open' });
    expect((await raw(encodeFrame(FrameType.open, { cols: 0, rows: 24 }))).message).toContain('/cols');
    expect((await raw(encodeFrame(FrameType.open, new TextEncoder().encode('{not json')))).message).toContain('not JSON');
    const huge = new Uint8Array(5);
    huge[0] = FrameType.open;
    new DataView(huge.buffer).setUint32(1, MAX_FRAME_BYTES + 1);
    expect(await raw(huge)).toMatchObject({ code: 'too_large' });
    expect(server!.count).toBe(0);
  });
});

describe('the output ring', () => {
  test('keeps the last bytes by offset, across the wrap', () => {
    const r = new OutputRing(8);
    r.push(new TextEncoder().encode('abcdef'));
    expect(new TextDecoder().decode(r.read(0, 100))).toBe('abcdef');
    r.push(new TextEncoder().encode('ghijk'));
    expect(r.total).toBe(11);
    expect(r.start).toBe(3);
    expect(new TextDecoder().decode(r.read(3, 100))).toBe('defghijk');
    expect(new TextDecoder().decode(r.read(0, 3))).toBe('def');
    expect(new TextDecoder().decode(r.read(9, 100))).toBe('jk');
    r.push(new TextEncoder().encode('0123456789'));
    expect(r.total).toBe(21);
    expect(new TextDecoder().decode(r.read(0, 100))).toBe('23456789');
  });
});

describe('the shell', () => {
  test('is the login shell from /etc/passwd when it can run, else /bin/bash, else /bin/sh', () => {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:r:/root:/bin/sh\nagent:x:1000:1000::/home/a:/usr/sbin/nologin\n');
    expect(passwdEntry(0, passwd)).toEqual({ name: 'root', shell: '/bin/sh' });
    expect(passwdEntry(1000, passwd)).toEqual({ name: 'agent', shell: '/usr/sbin/nologin' });
    expect(passwdEntry(7, passwd)).toBeNull();
    expect(pickShell('/bin/sh')).toBe('/bin/sh');
    expect(pickShell('/usr/sbin/nologin')).toBe(Bun.which('bash') ? '/bin/bash' : '/bin/sh');
    expect(pickShell('/no/such/shell')).toBe(Bun.which('bash') ? '/bin/bash' : '/bin/sh');
    expect(pickShell(undefined)).toBe(Bun.which('bash') ? '/bin/bash' : '/bin/sh');
  });
});
