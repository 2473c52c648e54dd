/**
 * The example sessions of the docs run against a real core. Every ```jsonl block in docs/*.md is
 * one connection: its first line names the socket (`$ socat - UNIX-CONNECT:<data>/run/…` or
 * `$ nc -U <data>/run/…`), `→` lines are sent as typed, `←` lines are the replies expected. A
 * request is sent once every reply shown above it has arrived. Replies are matched by `id` (in
 * order for `null`), every key is compared, and a string `"<…>"` in an expected reply is a
 * placeholder: alone it matches any value, inside a longer string any text. A reply the block
 * does not show fails it too. The blocks run in document order on one core: no manager, the
 * process runtime, and agents `alice` and `bob` registered but not running.
 */
import { expect } from 'bun:test';
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { openTestHive } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('docs wire examples', 'git');

const DOCS = join(PACKAGE_ROOT, 'docs');

/** One step of a session: a line to send, or a reply to expect. */
type Step = { send: string; line: number } | { expect: unknown; text: string; line: number };

/** One example session: a connection to `socket` (relative to the data dir) and its steps. */
interface Session {
  file: string;
  line: number;
  socket: string;
  steps: Step[];
}

/**
 * Reads the ```jsonl blocks of a Markdown file as sessions.
 * @throws Error naming the file and line of a block that does not follow the convention.
 */
function parseSessions(file: string, text: string): Session[] {
  const lines = text.split('\n');
  const sessions: Session[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```jsonl\s*$/.test(lines[i]!)) continue;
    const where = (n: number) => `${file}:${n + 1}`;
    const start = i;
    const connect = /^\$ (?:socat - UNIX-CONNECT:|nc -U )<data>\/(\S+)\s*$/.exec(lines[++i] ?? '');
    if (!connect) throw new Error(`${where(i)}: a jsonl block starts with "$ socat - UNIX-CONNECT:<data>/…" or "$ nc -U <data>/…"`);
    const session: Session = { file, line: start + 1, socket: connect[1]!, steps: [] };
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) {
      const l = lines[i]!;
      if (l.startsWith('→ ')) session.steps.push({ send: l.slice(2), line: i + 1 });
      else if (l.startsWith('← ')) {
        try {
          session.steps.push({ expect: JSON.parse(l.slice(2)), text: l.slice(2), line: i + 1 });
        } catch (err) {
          throw new Error(`${where(i)}: a ← line must be JSON: ${(err as Error).message}`);
        }
      } else if (l.trim() !== '') throw new Error(`${where(i)}: a line of a jsonl block starts with "→ " or "← "`);
    }
    if (i >= lines.length) throw new Error(`${where(start)}: the jsonl block is not closed`);
    sessions.push(session);
  }
  return sessions;
}

/** A placeholder of an expected reply, e.g. `<ms>`. */
const PLACEHOLDER = /<[a-z][a-z0-9_ -]*>/;
const PLACEHOLDERS = new RegExp(PLACEHOLDER.source, 'g');

/**
 * Compares a reply with the documented one.
 * @returns null when it matches, else where and how it differs.
 */
function mismatch(expected: unknown, actual: unknown, path = 'reply'): string | null {
  if (typeof expected === 'string' && /^<[a-z][a-z0-9_ -]*>$/.test(expected)) return actual === undefined ? `${path} is missing` : null;
  if (typeof expected === 'string' && PLACEHOLDER.test(expected)) {
    const re = new RegExp(`^${expected.split(PLACEHOLDERS).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?')}$`);
    return typeof actual === 'string' && re.test(actual) ? null : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(expected[i], actual[i], `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const extra = Object.keys(a).filter((k) => !(k in e));
    if (extra.length) return `${path} has keys the doc does not show: ${extra.join(', ')} (${JSON.stringify(actual)})`;
    for (const k of Object.keys(e)) {
      if (!(k in a)) return `${path}.${k} is missing (${JSON.stringify(actual)})`;
      const m = mismatch(e[k], a[k], `${path}.${k}`);
      if (m) return m;
    }
    return null;
  }
  return Object.is(expected, actual) ? null : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/** A connection that collects reply lines and lets the test wait for the next one. */
class Conn {
  private buf = '';
  private lines: string[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }
  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path);
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  send(line: string) {
    this.sock.write(line + '\n');
  }
  /** The next reply line, or an error after `ms`. */
  async next(ms: number, waitingFor: string): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error(`the core closed the connection while ${waitingFor}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms while ${waitingFor}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.lines.shift()!;
  }
  close() {
    this.sock.destroy();
  }
}

/** A request no example uses: its reply, which comes after those of every earlier answered line, ends a session. */
const SENTINEL_ID = 2 ** 40;

/**
 * Runs one session on a fresh connection.
 * @throws Error naming the doc line whose reply differs, is missing, or was not shown.
 */
async function runSession(dataDir: string, s: Session): Promise<void> {
  const conn = await Conn.open(join(dataDir, s.socket));
  const pending: Array<Extract<Step, { expect: unknown }>> = [];
  const take = (raw: string) => {
    let reply: { id?: unknown };
    try {
      reply = JSON.parse(raw);
    } catch {
      throw new Error(`${s.file}: the core sent a line that is not JSON: ${raw}`);
    }
    const i = pending.findIndex((p) => (p.expect as { id?: unknown }).id === reply.id);
    if (i < 0) throw new Error(`${s.file}:${s.line}: the core sent a reply the example does not show: ${raw}`);
    const [step] = pending.splice(i, 1);
    const m = mismatch(step!.expect, reply);
    if (m) throw new Error(`${s.file}:${step!.line}: ${m}\n  doc:  ${step!.text}\n  core: ${raw}`);
  };
  const drain = async (waitingFor: string) => {
    while (pending.length) take(await conn.next(15_000, `${waitingFor} (for ${s.file}:${pending.map((p) => p.line).join(', ')})`));
  };
  try {
    for (const step of s.steps) {
      if ('send' in step) {
        await drain(`waiting to send ${s.file}:${step.line}`);
        conn.send(step.send);
      } else pending.push(step);
    }
    await drain('waiting for the last replies');
    conn.send(JSON.stringify({ id: SENTINEL_ID, op: 'a-request-no-example-sends' }));
    for (;;) {
      const raw = await conn.next(15_000, 'waiting for the end of the session');
      if ((JSON.parse(raw) as { id?: unknown }).id === SENTINEL_ID) break;
      take(raw);
    }
  } finally {
    conn.close();
  }
}

const files = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .sort();
const sessions = files.flatMap((f) => parseSessions(relative(PACKAGE_ROOT, join(DOCS, f)), readFileSync(join(DOCS, f), 'utf8')));

describe('the example sessions of the docs', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  beforeAll(async () => {
    t = await openTestHive();
    for (const name of ['alice', 'bob']) await t.hive.lifecycle.spawn(name, { start: false });
  });
  afterAll(() => t?.close());

  test('docs/wire.md has example sessions on the admin socket and an agent socket', () => {
    const wire = sessions.filter((s) => s.file === 'docs/wire.md').map((s) => s.socket);
    expect(wire).toContain('run/host.sock');
    expect(wire.some((p) => /^run\/agents\/[a-z0-9-]+\/mcp\.sock$/.test(p))).toBe(true);
  });

  for (const s of sessions)
    test(`${s.file}:${s.line} (${s.socket})`, async () => {
      await runSession(t.dir, s);
    });
});

describe('the example checker itself', () => {
  test('a placeholder alone matches any value; inside a string, any text', () => {
    expect(mismatch({ a: '<ms>', b: 'v<version>!' }, { a: 17, b: 'v0.1.0!' })).toBeNull();
    expect(mismatch({ a: '<ms>' }, {})).toContain('reply.a is missing');
    expect(mismatch({ b: 'v<version>!' }, { b: 'x0.1.0!' })).toContain('reply.b');
  });

  test('every key counts: one the doc lacks or one it shows too many fails', () => {
    expect(mismatch({ id: 1 }, { id: 1, kind: 'message' })).toContain('keys the doc does not show: kind');
    expect(mismatch({ id: 1, kind: 'message' }, { id: 1 })).toContain('reply.kind is missing');
    expect(mismatch([1, 2], [1])).toContain('reply');
    expect(mismatch({ ok: true }, { ok: false })).toContain('reply.ok');
  });

  test('a block that breaks the convention is refused with its line', () => {
    expect(() => parseSessions('x.md', '```jsonl\n> {"id":1}\n```\n')).toThrow('x.md:2');
    expect(() => parseSessions('x.md', '```jsonl\n$ nc -U <data>/run/host.sock\n> {"id":1}\n```\n')).toThrow('x.md:3');
    expect(parseSessions('x.md', '```jsonl\n$ nc -U <data>/run/host.sock\n→ x\n← {"id":null}\n```\n')).toEqual([
      { file: 'x.md', line: 1, socket: 'run/host.sock', steps: [{ send: 'x', line: 3 }, { expect: { id: null }, text: '{"id":null}', line: 4 }] },
    ]);
  });
});
