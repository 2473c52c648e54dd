/**
 * The JSON-lines client against a peer that misbehaves: one that never answers, and one that
 * answers with a line that is not a reply. Each call ends with an error saying what happened, and
 * the client recovers on a fresh connection.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { JsonLineClient, serveJsonLines } from '../../src/shared/jsonl.ts';
import { HostOps } from '../../src/shared/wire.ts';
import { tempDir } from '../support/hive.ts';

const dir = tempDir('hv-jsonl-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A raw unix-socket peer that answers each request line with `answer(request)` (or not at all when it returns null). */
async function peer(path: string, answer: (req: { id: number; op: string }, n: number) => string | null) {
  let n = 0;
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const reply = answer(JSON.parse(line), n++);
        if (reply !== null) sock.write(reply + '\n');
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('JSON-lines client', () => {
  test('a call with no reply fails after its deadline, naming the op and the wait', async () => {
    const path = join(dir, 'silent.sock');
    const p = await peer(path, () => null);
    const client = new JsonLineClient(path, HostOps, { timeoutMs: 150 });
    const started = Date.now();
    const err = await client.call('status', {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'unavailable' });
    expect(err.message).toContain('status');
    expect(err.message).toContain('no reply within 150 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // a per-call deadline overrides the client's
    const err2 = await client.call('status', {}, { timeoutMs: 50 }).catch((e) => e);
    expect(err2.message).toContain('no reply within 50 ms');
    client.close();
    await p.close();
  });

  test('a reply line that is not JSON fails the pending call, quoting it, and the next call reconnects', async () => {
    const path = join(dir, 'garbled.sock');
    const p = await peer(path, (req, n) =>
      n === 0 ? 'this is not json' : JSON.stringify({ id: req.id, ok: false, error: { code: 'not_found', message: 'second call answered' } }),
    );
    const client = new JsonLineClient(path, HostOps, { timeoutMs: 5000 });
    const err = await client.call('alerts', {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'internal' });
    expect(err.message).toContain('"this is not json"');
    const err2 = await client.call('alerts', {}).catch((e) => e);
    expect(err2).toMatchObject({ code: 'not_found', message: 'second call answered' });
    client.close();
    await p.close();
  });

  test('JSON that is not a reply is refused the same way', async () => {
    const path = join(dir, 'wrongshape.sock');
    const p = await peer(path, (req) => JSON.stringify({ id: req.id, result: 'no ok field' }));
    const client = new JsonLineClient(path, HostOps);
    const err = await client.call('alerts', {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'internal' });
    expect(err.message).toContain('not a reply');
    client.close();
    await p.close();
  });

  test('a typed server answers, and a reply that breaks its own schema is an internal error, not a crash', async () => {
    const path = join(dir, 'typed.sock');
    const errors: unknown[] = [];
    const server = await serveJsonLines({
      path,
      table: HostOps,
      handlers: new Proxy({} as never, {
        get: (_t, op) => (op === 'alerts' ? () => ({ alerts: 'not an array' }) : () => ({ kept: [] })),
      }),
      onError: (e) => errors.push(e),
    });
    const client = new JsonLineClient(path, HostOps);
    expect(await client.call('kept', {})).toEqual({ kept: [] });
    const err = await client.call('alerts', {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'internal' });
    expect(err.message).toContain('does not match its schema');
    expect(errors.length).toBe(1);
    client.close();
    await server.close();
  });
});
