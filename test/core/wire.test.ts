import { expect } from 'bun:test';
import net from 'node:net';
import { DataLayout } from '../../src/shared/paths.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { Type } from '@sinclair/typebox';
import { AgentOps, HostOps, MAX_LINE_BYTES, compileOps, parseRequest } from '../../src/shared/wire.ts';
import { HiveError } from '../../src/shared/errors.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core wire', 'git');

/** A raw line client: write exact bytes, read reply lines in order. */
class RawConn {
  private buf = '';
  private waiting: Array<(line: string) => void> = [];
  private lines: string[] = [];
  constructor(readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }
  static open(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }
  write(text: string) {
    this.sock.write(text);
  }
  next(): Promise<any> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((resolve) => this.waiting.push((line) => resolve(JSON.parse(line))));
  }
  close() {
    this.sock.destroy();
  }
}

let t: Awaited<ReturnType<typeof openTestHive>>;
let layout: DataLayout;

beforeAll(async () => {
  t = await openTestHive({ 'no-manager': false });
  layout = new DataLayout(t.dir);
  await t.hive.lifecycle.spawn('alice');
  await t.hive.lifecycle.stop('alice');
  await t.hive.lifecycle.stop('manager');
});
afterAll(() => t.close());

const sockets = () => [
  { label: 'host.sock', path: layout.hostSocket, valid: '{"id":9,"op":"list"}' },
  { label: 'manager socket', path: layout.agent('manager').socket, valid: '{"id":9,"op":"recv"}' },
  { label: 'agent socket', path: layout.agent('alice').socket, valid: '{"id":9,"op":"recv"}' },
];

describe('every socket rejects bad requests with a clear error and keeps serving', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['not JSON', 'this is not json\n', 'bad_request', /not valid JSON/],
    ['a JSON array', '[1,2,3]\n', 'bad_request', /JSON object/],
    ['no id', '{"op":"list"}\n', 'bad_request', /integer "id"/],
    ['no op', '{"id":1}\n', 'bad_request', /string "op"/],
    ['an unknown op', '{"id":1,"op":"rm -rf"}\n', 'bad_request', /unknown op "rm -rf"; known:/],
  ];
  for (const idx of [0, 1, 2]) {
    test.each(cases)(`socket #${idx}: %s`, async (_label, line, code, message) => {
      const s = sockets()[idx]!;
      const c = await RawConn.open(s.path);
      try {
        c.write(line);
        const r = await c.next();
        expect(r.ok).toBe(false);
        expect(r.error.code).toBe(code);
        expect(r.error.message).toMatch(message);
        c.write(s.valid + '\n');
        const ok = await c.next();
        expect(ok).toMatchObject({ id: 9, ok: true });
      } finally {
        c.close();
      }
    });

    test(`socket #${idx}: an oversized line is refused and the connection survives`, async () => {
      const s = sockets()[idx]!;
      const c = await RawConn.open(s.path);
      try {
        const huge = '{"id":1,"op":"list","pad":"' + 'x'.repeat(MAX_LINE_BYTES + 10) + '"}\n';
        c.write(huge);
        const r = await c.next();
        expect(r).toMatchObject({ id: null, ok: false, error: { code: 'too_large' } });
        expect(r.error.message).toContain(String(MAX_LINE_BYTES));
        c.write(s.valid + '\n');
        expect(await c.next()).toMatchObject({ id: 9, ok: true });
      } finally {
        c.close();
      }
    });
  }

  test('arguments are checked against the op schema, naming the field', async () => {
    const c = await RawConn.open(layout.agent('alice').socket);
    try {
      c.write('{"id":1,"op":"send","to":"bob"}\n');
      expect((await c.next()).error.message).toMatch(/^send: body: /);
      c.write('{"id":2,"op":"send","to":"manager","body":""}\n');
      expect((await c.next()).error.message).toMatch(/body/);
      c.write('{"id":3,"op":"recv","wait_seconds":-1}\n');
      expect((await c.next()).error).toMatchObject({ code: 'bad_request' });
      c.write('{"id":4,"op":"recv","wait_seconds":"soon"}\n');
      expect((await c.next()).error.message).toMatch(/wait_seconds/);
      c.write('{"id":5,"op":"spawn","name":"x"}\n');
      expect((await c.next()).error.message).toMatch(/unknown op "spawn"/);
    } finally {
      c.close();
    }
  });
});

describe("a stopped agent's harness", () => {
  test('a hello or a turn read after the stop leaves the agent stopped', async () => {
    // as a line its harness wrote just before the stop, read after it
    const client = new JsonLineClient(layout.agent('alice').socket, AgentOps);
    try {
      expect(t.hive.registry.require('alice').status).toBe('offline');
      await expect(client.call('hello', { pid: 1 })).rejects.toThrow(/alice is not running here; its harness should exit/);
      const turn = crypto.randomUUID();
      await client.call('turn_start', { turn_id: turn, trigger_message_id: null });
      expect(t.hive.registry.require('alice').status).toBe('offline');
      await client.call('turn_end', {
        turn_id: turn,
        ended_at: Date.now(),
        trigger_message_id: null,
        status: 'error',
        exit_code: null,
        duration_ms: 1,
        cost_usd: null,
        input_tokens: null,
        output_tokens: null,
        tools: [],
        result: 'late',
      });
      expect(t.hive.registry.require('alice')).toMatchObject({ status: 'offline', desired: 'stopped' });
    } finally {
      client.close();
    }
  });
});

describe('identity is the socket', () => {
  test('a sender field is refused; the stored sender is the socket owner', async () => {
    const c = await RawConn.open(layout.agent('alice').socket);
    try {
      c.write('{"id":1,"op":"send","to":"manager","body":"hi","from":"operator"}\n');
      const r = await c.next();
      expect(r.ok).toBe(false);
      expect(r.error.code).toBe('bad_request');
      c.write('{"id":2,"op":"send","to":"manager","body":"hi from alice"}\n');
      const ok = await c.next();
      expect(ok.ok).toBe(true);
      const stored = t.hive.broker.list({ agent: 'manager' }).find((m) => m.id === ok.result.id);
      expect(stored).toMatchObject({ from: 'alice', to: 'manager', body: 'hi from alice' });
    } finally {
      c.close();
    }
  });

  test('the manager socket acts as the manager', async () => {
    const client = new JsonLineClient(layout.agent('manager').socket, AgentOps);
    try {
      const { id } = await client.call('send', { to: 'alice', body: 'from the manager' });
      expect(t.hive.broker.list({ agent: 'alice' }).find((m) => m.id === id)?.from).toBe('manager');
    } finally {
      client.close();
    }
  });

  test('an unknown recipient is refused and nothing is stored', async () => {
    const client = new JsonLineClient(layout.agent('alice').socket, AgentOps);
    const before = t.hive.broker.lastId();
    try {
      await expect(client.call('send', { to: 'nobody', body: 'x' })).rejects.toMatchObject({ code: 'not_found' });
      await expect(client.call('send', { to: '../etc', body: 'x' })).rejects.toMatchObject({ code: 'bad_name' });
      expect(t.hive.broker.lastId()).toBe(before);
    } finally {
      client.close();
    }
  });
});

describe('the client validates too', () => {
  test('bad arguments are refused before anything is sent', async () => {
    const client = new JsonLineClient(layout.hostSocket, HostOps);
    try {
      // @ts-expect-error deliberately wrong type
      await expect(client.call('spawn', { name: 42 })).rejects.toBeInstanceOf(HiveError);
    } finally {
      client.close();
    }
  });

  test('requests on one connection run concurrently: a long-poll does not block a send', async () => {
    const client = new JsonLineClient(layout.agent('alice').socket, AgentOps);
    const mgr = new JsonLineClient(layout.agent('manager').socket, AgentOps);
    try {
      while ((await client.call('recv', {})).message) {}
      const waiting = client.call('recv', { wait_seconds: 20 });
      await waitFor('the long-poll to wait', () => t.hive.broker.waiting('alice') === 1, 4_000);
      const t0 = performance.now();
      const { id } = await mgr.call('send', { to: 'alice', body: 'wake' });
      const got = await waiting;
      expect(got.message?.id).toBe(id);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      client.close();
      mgr.close();
    }
  });

  test('a dropped connection ends its long-poll without losing the next message', async () => {
    const c = await RawConn.open(layout.agent('alice').socket);
    c.write('{"id":1,"op":"recv","wait_seconds":30}\n');
    await waitFor('the long-poll to wait', () => t.hive.broker.waiting('alice') === 1, 4_000);
    c.close();
    await waitFor('the dropped long-poll to end', () => t.hive.broker.waiting('alice') === 0, 4_000);
    const m = t.hive.policy.send('operator', 'alice', 'after the drop');
    const client = new JsonLineClient(layout.agent('alice').socket, AgentOps);
    try {
      expect((await client.call('recv', {})).message?.id).toBe(m.id);
    } finally {
      client.close();
    }
  });
});

describe('op tables compile their checkers per op', () => {
  test('one checker per op, kept; unknown ops and inherited names have none', () => {
    const checks = compileOps(AgentOps);
    expect(compileOps(AgentOps)).toBe(checks);
    const send = checks.args('send')!;
    expect(checks.args('send')).toBe(send);
    expect(send.Check({ id: 1, op: 'send', to: 'bob', body: 'hi' })).toBe(true);
    expect(send.Check({ id: 1, op: 'send', to: 'bob' })).toBe(false);
    expect(checks.result('send')!.Check({ id: 3 })).toBe(true);
    for (const op of ['nope', 'toString', '__proto__', 'constructor']) {
      expect(checks.args(op)).toBeUndefined();
      expect(checks.result(op)).toBeUndefined();
      expect(() => parseRequest(AgentOps, { id: 1, op })).toThrow(/unknown op/);
    }
  });

  test('a table whose op takes an `id` or `op` argument is refused whole', () => {
    const table = {
      ok: { args: Type.Object({}), result: Type.Object({}) },
      bad: { args: Type.Object({ op: Type.String() }), result: Type.Object({}) },
    };
    expect(() => compileOps(table)).toThrow(/op bad: argument "op" would collide with the request envelope/);
  });
});
