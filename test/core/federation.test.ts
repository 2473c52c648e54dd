/**
 * The federation layer without a NATS server: everything a hive decides on its own before or after
 * JetStream carries an envelope. Covered:
 * - hive names and addresses (`shared/names.ts`): `validateHiveName`, `hiveNameFromHost`,
 *   `parseAddress`;
 * - the core's settings `--hive` / `HIVE_NAME` and `--nats`, `--nats-creds`, `--nats-replicas`;
 * - envelopes (`federation/envelope.ts`): subjects, the sender read from a subject, the schema;
 * - a hive on its own (no `--nats`): remote recipients refused as `unavailable`, `name@<itself>`
 *   stored as plain `name`, no federation built;
 * - a federated hive whose NATS cannot be reached (a loopback port nothing listens on): sends to
 *   `name@hive` are acknowledged and wait in the outbox, in the same commit as the message;
 *   reminders and questions to remote recipients;
 * - `Federation.receive` driven directly: inbound messages stored once by origin with one receipt,
 *   refusals for unknown agents, questions put from another hive and answered here (the answer
 *   going back as an `answer` envelope), answers to this hive's questions, and receipts that mark
 *   sent messages delivered or turn into a notice.
 * The path through a real `nats-server` is `test/e2e/federation.e2e.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { loadCoreConfig, natsCredentialKind, type CoreFlags } from '../../src/core/settings.ts';
import { parseEnvelope, senderOf, subjectFor, type Envelope } from '../../src/core/federation/envelope.ts';
import { HiveError, type ErrorCode } from '../../src/shared/errors.ts';
import { hiveNameFromHost, MANAGER, MAX_HIVE_NAME_LENGTH, parseAddress, validateHiveName } from '../../src/shared/names.ts';
import { AgentOps, MAX_BODY_CHARS } from '../../src/shared/wire.ts';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { agentOps } from '../../src/core/sockets/agent-ops.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createHiveMcpServer } from '../../src/mcp/server.ts';
import { parseAgentConfig } from '../../src/shared/agent-config.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { waitFor, openTestHive, tempDir } from '../support/hive.ts';

type TestHive = Awaited<ReturnType<typeof openTestHive>>;

/** The HiveError `fn` throws; fails the test when it throws nothing or something else. */
function refusal(fn: () => unknown): HiveError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HiveError) return err;
    throw err;
  }
  throw new Error('expected a HiveError, and nothing was thrown');
}

/** Expects `fn` to throw a HiveError with `code` whose message matches `message`. */
function expectRefused(fn: () => unknown, code: ErrorCode, message?: string | RegExp): HiveError {
  const err = refusal(fn);
  expect(err.code).toBe(code);
  if (typeof message === 'string') expect(err.message).toContain(message);
  else if (message) expect(err.message).toMatch(message);
  return err;
}

/** A loopback TCP port nothing listens on (bound once by the OS, then released). */
function closedPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

interface OutboxRow {
  id: number;
  to_hive: string;
  kind: string;
  message_id: number | null;
  payload: string;
  queued_at: number;
  published_at: number | null;
  stream_seq: number | null;
}

/** An envelope without its place in its hive's order (`prev`, checked on its own below). */
const withoutPrev = (e: Envelope) => {
  const { prev: _prev, ...rest } = e;
  return rest;
};
const outbox = (t: TestHive) => t.hive.db.query<OutboxRow, []>('SELECT * FROM outbox ORDER BY id').all();
const messageCount = (t: TestHive) => t.hive.db.query<{ n: number }, []>('SELECT count(*) AS n FROM messages').get()!.n;
const originOf = (t: TestHive, id: number) => t.hive.db.query<{ origin: string | null }, [number]>('SELECT origin FROM messages WHERE id = ?').get(id)?.origin;

// ── names ───────────────────────────────────────────────────────────────────

describe('hive names', () => {
  test('validateHiveName accepts lowercase names of 1 to 32 characters', () => {
    const long = 'a'.repeat(MAX_HIVE_NAME_LENGTH);
    expect(MAX_HIVE_NAME_LENGTH).toBe(32);
    for (const name of ['lab', 'lab-01', 'h', 'a1-b2', long]) expect(validateHiveName(name)).toBe(name);
  });

  test('validateHiveName refuses bad names with bad_name, naming the name', () => {
    expectRefused(() => validateHiveName(''), 'bad_name', 'hive name is empty');
    for (const name of ['Lab', '1lab', 'lab-', 'la.b', 'la b', '-lab', 'lab_1', 'lab@x'])
      expectRefused(() => validateHiveName(name), 'bad_name', `hive name "${name}"`);
    const tooLong = 'a'.repeat(MAX_HIVE_NAME_LENGTH + 1);
    const err = expectRefused(() => validateHiveName(tooLong), 'bad_name', `longer than ${MAX_HIVE_NAME_LENGTH} characters`);
    expect(err.message).toContain(`"${tooLong}"`);
  });

  test('hiveNameFromHost makes a valid hive name of any host name', () => {
    expect(hiveNameFromHost('Build-01.example.org')).toBe('build-01-example-org');
    expect(hiveNameFromHost('123host')).toBe('host');
    expect(hiveNameFromHost('---')).toBe('hive');
    expect(hiveNameFromHost('')).toBe('hive');
    expect(hiveNameFromHost('lab')).toBe('lab');

    // cut to 32 at a "-": the "-" goes too
    const host = `${'a'.repeat(31)}.${'b'.repeat(28)}`;
    expect(host.length).toBe(60);
    const cut = hiveNameFromHost(host);
    expect(cut.length).toBeLessThanOrEqual(MAX_HIVE_NAME_LENGTH);
    expect(cut.endsWith('-')).toBe(false);
    expect(cut).toBe('a'.repeat(31));
    const plain = hiveNameFromHost('x'.repeat(60));
    expect(plain).toBe('x'.repeat(32));

    const odd = [
      host,
      'x'.repeat(200),
      '1234',
      '...',
      '9-lives.local',
      'ÄÖÜ-host',
      'höst.example',
      'my_host',
      'a',
      'A',
      '-a-',
      'a--',
      '0.0.0.0',
      '::1',
      'localhost',
      'host.with.trailing.dot.',
      `${'a'.repeat(32)}-`,
      `${'a'.repeat(31)}--x`,
      ' spaced host ',
      '🐝hive',
      'UPPER.CASE.HOST',
    ];
    for (const h of odd) {
      const name = hiveNameFromHost(h);
      expect(() => validateHiveName(name)).not.toThrow();
    }
  });
});

describe('addresses (parseAddress)', () => {
  test('a bare name is of this hive', () => {
    expect(parseAddress('bob', 'home')).toEqual({ name: 'bob', hive: null });
    expect(parseAddress('operator', 'home')).toEqual({ name: 'operator', hive: null });
  });

  test('name@hive names another hive; name@<this hive> is this hive', () => {
    expect(parseAddress('bob@lab', 'home')).toEqual({ name: 'bob', hive: 'lab' });
    expect(parseAddress('bob@home', 'home')).toEqual({ name: 'bob', hive: null });
    expect(parseAddress('operator@lab', 'home')).toEqual({ name: 'operator', hive: 'lab' });
    expect(parseAddress('manager@lab', 'home')).toEqual({ name: 'manager', hive: 'lab' });
  });

  test('either part breaking its rules is refused with bad_name', () => {
    for (const to of ['Bob@lab', 'bob@', '@lab', 'bob@la.b', 'bob@Lab', 'bob@lab@x', 'hive@lab', 'Bob'])
      expectRefused(() => parseAddress(to, 'home'), 'bad_name');
    expectRefused(() => parseAddress('bob@la.b', 'home'), 'bad_name', 'hive name "la.b"');
    expectRefused(() => parseAddress('bob@', 'home'), 'bad_name', 'hive name is empty');
    expectRefused(() => parseAddress('@lab', 'home'), 'bad_name', 'agent name is empty');
  });
});

// ── settings ────────────────────────────────────────────────────────────────

describe('settings: --hive and --nats', () => {
  const dir = tempDir('hv-fset-');
  const dataDir = join(dir, 'data');
  const load = (flags: CoreFlags = {}, env: Record<string, string> = {}) => loadCoreConfig({ 'data-dir': dataDir, ...flags }, env);
  const creds = join(dir, 'hive.creds');
  writeFileSync(creds, '-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n');
  mkdirSync(join(dir, 'a-dir'));

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the hive is named after this host by default', () => {
    const cfg = load();
    expect(cfg.hive).toBe(hiveNameFromHost(hostname()));
    expect(() => validateHiveName(cfg.hive)).not.toThrow();
  });

  test('--hive and HIVE_NAME are honoured; the flag wins', () => {
    expect(load({ hive: 'lab' }).hive).toBe('lab');
    expect(load({}, { HIVE_NAME: 'lab-02' }).hive).toBe('lab-02');
    expect(load({ hive: 'flag' }, { HIVE_NAME: 'env' }).hive).toBe('flag');
  });

  test('a bad hive name is refused as bad_request naming --hive', () => {
    for (const hive of ['Lab', '1lab', 'lab-', 'la.b', 'a'.repeat(33), '']) {
      const err = expectRefused(() => load({ hive }), 'bad_request');
      expect(err.message.startsWith('--hive')).toBe(true);
    }
    expectRefused(() => load({}, { HIVE_NAME: 'No_Good' }), 'bad_request', /^--hive/);
  });

  test('no federation by default', () => {
    expect(load().nats).toBeNull();
    expect(load({}, { HIVE_NATS: '' }).nats).toBeNull();
    expect(load({ nats: ' , ' }).nats).toBeNull();
  });

  test('--nats: a comma-separated list of server URLs, trimmed; one replica, no credentials', () => {
    expect(load({ nats: 'nats://127.0.0.1:4222, nats://127.0.0.1:4223' }).nats).toEqual({
      servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'],
      credsFile: null,
      replicas: 1,
    });
    expect(load({}, { HIVE_NATS: 'tls://nats.example.org:4222' }).nats?.servers).toEqual(['tls://nats.example.org:4222']);
    expect(load({ nats: 'nats://flag:4222' }, { HIVE_NATS: 'nats://env:4222' }).nats?.servers).toEqual(['nats://flag:4222']);
  });

  test('a URL that is not a NATS server URL is refused naming --nats', () => {
    for (const url of ['http://x', 'nats://', 'nats://a/b', '127.0.0.1:4222', 'nats://a b']) {
      const err = expectRefused(() => load({ nats: url }), 'bad_request', '--nats');
      expect(err.message).toContain('is not a NATS server URL');
    }
    expectRefused(() => load({ nats: 'nats://ok:4222,http://bad' }), 'bad_request', '"http://bad"');
  });

  test('--nats-creds: a readable file, made absolute; a missing file (or a directory) is refused', () => {
    const rel = relative(process.cwd(), creds);
    expect(rel.startsWith('/')).toBe(false);
    expect(load({ nats: 'nats://127.0.0.1:4222', 'nats-creds': rel }).nats?.credsFile).toBe(creds);
    expect(load({ nats: 'nats://127.0.0.1:4222' }, { HIVE_NATS_CREDS: creds }).nats?.credsFile).toBe(creds);
    const missing = join(dir, 'missing.creds');
    expectRefused(() => load({ nats: 'nats://127.0.0.1:4222', 'nats-creds': missing }), 'bad_request', `--nats-creds ${missing}`);
    expectRefused(() => load({ nats: 'nats://127.0.0.1:4222', 'nats-creds': join(dir, 'a-dir') }), 'bad_request', '--nats-creds');
  });

  test('--nats-creds: a bare user nkey seed is accepted; a file that is neither creds nor a seed is refused', () => {
    const seed = join(dir, 'user.nk');
    writeFileSync(seed, `SU${'A'.repeat(56)}\n`);
    expect(load({ nats: 'nats://127.0.0.1:4222', 'nats-creds': seed }).nats?.credsFile).toBe(seed);
    const junk = join(dir, 'junk.creds');
    writeFileSync(junk, 'hello\n');
    expectRefused(() => load({ nats: 'nats://127.0.0.1:4222', 'nats-creds': junk }), 'bad_request', `--nats-creds ${junk}: neither`);
    expect(natsCredentialKind('-----BEGIN NATS USER JWT-----\neyJ0\n------END NATS USER JWT------')).toBe('creds');
    expect(natsCredentialKind(`  SU${'B'.repeat(56)}\n`)).toBe('nkey');
    expect(natsCredentialKind(`SU${'B'.repeat(55)}`)).toBeNull();
    expect(natsCredentialKind(`SA${'B'.repeat(56)}`)).toBeNull();
    expect(natsCredentialKind('')).toBeNull();
  });

  test('--nats-creds or --nats-replicas without --nats is refused', () => {
    expectRefused(() => load({ 'nats-creds': creds }), 'bad_request', '--nats-creds needs --nats');
    expectRefused(() => load({ 'nats-replicas': '3' }), 'bad_request', '--nats-replicas needs --nats');
    expectRefused(() => load({}, { HIVE_NATS_REPLICAS: '3' }), 'bad_request', '--nats-replicas needs --nats');
  });

  test('--nats-replicas: 1 to 5', () => {
    const nats = 'nats://127.0.0.1:4222';
    expect(load({ nats, 'nats-replicas': '3' }).nats?.replicas).toBe(3);
    expect(load({ nats, 'nats-replicas': '5' }).nats?.replicas).toBe(5);
    expect(load({ nats }, { HIVE_NATS_REPLICAS: '2' }).nats?.replicas).toBe(2);
    for (const n of ['0', '6', 'x', '1.5', '-1', '10'])
      expectRefused(() => load({ nats, 'nats-replicas': n }), 'bad_request', `--nats-replicas ${n}: expected 1 to 5`);
  });
});

// ── envelopes ───────────────────────────────────────────────────────────────

describe('envelopes', () => {
  const message = { v: 1, type: 'message', id: 7, from: 'carol', to: 'alice', kind: 'message', body: 'hi', created_at: 1_700_000_000_000 };
  const receipt = { v: 1, type: 'receipt', id: 7, ok: true, at: 1_700_000_000_001 };

  test('subjects: hive.<to>.<from>, and the sender read back from the subject', () => {
    expect(subjectFor('hb', 'ha')).toBe('hive.hb.ha');
    expect(senderOf('hive.hb.ha', 'hb')).toBe('ha');
    expect(senderOf(subjectFor('hb', 'lab-01'), 'hb')).toBe('lab-01');
  });

  test('senderOf refuses a subject of another shape or for another hive', () => {
    for (const subject of ['hive.hc.ha', 'hive.hb', 'hive.hb.ha.x', 'other.hb.ha', 'hive.hb.', ''])
      expectRefused(() => senderOf(subject, 'hb'), 'bad_request', `subject "${subject}" is not hive.hb.<hive>`);
  });

  test('parseEnvelope accepts a message and a receipt (with or without an error)', () => {
    expect(parseEnvelope(JSON.stringify(message))).toEqual(message as Envelope);
    expect(parseEnvelope(JSON.stringify(receipt))).toEqual(receipt as Envelope);
    const refused = { ...receipt, ok: false, error: 'no agent named "bob" in hive hb' };
    expect(parseEnvelope(JSON.stringify(refused))).toEqual(refused as Envelope);
    const full = { ...message, body: 'x'.repeat(MAX_BODY_CHARS) };
    expect(parseEnvelope(JSON.stringify(full))).toEqual(full as Envelope);
    const question = { ...message, kind: 'question', ref: 3, body: 'q?' };
    expect(parseEnvelope(JSON.stringify(question))).toEqual(question as Envelope);
    const answer = { ...message, kind: 'answer', ref: 4, body: 'yes' };
    expect(parseEnvelope(JSON.stringify(answer))).toEqual(answer as Envelope);
  });

  test('parseEnvelope refuses what is not JSON or not an envelope, as bad_request', () => {
    expectRefused(() => parseEnvelope('not json'), 'bad_request', 'an envelope that is not JSON');
    expectRefused(() => parseEnvelope(''), 'bad_request', 'not JSON');
    const bad: Record<string, unknown> = {
      'a wrong v': { ...message, v: 2 },
      'an unknown type': { ...message, type: 'gossip' },
      'an unknown kind': { ...message, kind: 'reminder' },
      'no kind': { v: 1, type: 'message', id: 1, from: 'a', to: 'b', body: 'x', created_at: 1 },
      'a zero ref': { ...message, kind: 'question', ref: 0 },
      'an extra property': { ...message, extra: 1 },
      'a body over MAX_BODY_CHARS': { ...message, body: 'x'.repeat(MAX_BODY_CHARS + 1) },
      'a negative id': { ...message, id: -1 },
      'a zero id': { ...receipt, id: 0 },
      'a fractional id': { ...message, id: 1.5 },
      'an empty from': { ...message, from: '' },
      'a receipt with a non-boolean ok': { ...receipt, ok: 'yes' },
      'a receipt with an extra property': { ...receipt, body: 'x' },
      'a missing field': { v: 1, type: 'message', id: 1, from: 'a', to: 'b', kind: 'message', body: 'x' },
      'an array': [message],
      'null': null,
      'a number': 1,
    };
    for (const [what, value] of Object.entries(bad)) {
      const err = refusal(() => parseEnvelope(JSON.stringify(value)));
      expect({ what, code: err.code }).toEqual({ what, code: 'bad_request' });
      // the message says the schema refused it and where (for the union, TypeBox reports its root)
      expect(err.message).toMatch(/^an envelope that does not match its schema: \S.*: /);
    }
  });
});

// ── a hive on its own ─────────────────────────────────────────────────────

describe('a hive on its own (no --nats)', () => {
  let t: TestHive;
  beforeAll(async () => {
    t = await openTestHive();
    await t.hive.lifecycle.spawn('alice', { start: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('no federation is built; status names the hive and no federation', () => {
    expect(t.hive.config.nats).toBeNull();
    expect(t.hive.federation).toBeNull();
    expect(t.hive.broker.remote).toBeNull();
    const status = t.hive.status();
    expect(status.hive).toBe(t.hive.config.hive);
    expect(status.hive).toBe(hiveNameFromHost(hostname()));
    expect(status.federation).toBeNull();
  });

  test('a recipient in another hive is refused as unavailable, mentioning --nats; nothing is stored', () => {
    const before = messageCount(t);
    const err = expectRefused(() => t.hive.policy.send('operator', 'bob@elsewhere', 'hi'), 'unavailable', '--nats');
    expect(err.message).toContain('elsewhere');
    expectRefused(() => t.hive.policy.send('alice', 'bob@elsewhere', 'hi'), 'unavailable', '--nats');
    expect(messageCount(t)).toBe(before);
    expect(outbox(t)).toEqual([]);
  });

  test('name@<this hive> is this hive\'s agent, stored as the bare name', async () => {
    const here = t.hive.config.hive;
    const msg = t.hive.policy.send('operator', `alice@${here}`, 'local after all');
    expect(msg).toMatchObject({ from: 'operator', to: 'alice', body: 'local after all', delivered_at: null });
    expect(t.hive.broker.message(msg.id)?.to).toBe('alice');
    const grouped = await t.hive.policy.sendGrouped('operator', `alice@${here}`, 'grouped');
    expect(grouped.to).toBe('alice');
    // oneself written with this hive's name is still oneself
    expectRefused(() => t.hive.policy.send('alice', `alice@${here}`, 'me'), 'bad_request', 'itself');
    // an unknown agent of this hive is not found here, with or without the hive's name
    expectRefused(() => t.hive.policy.send('operator', `nobody@${here}`, 'x'), 'not_found', '"nobody"');
    expect(outbox(t)).toEqual([]);
  });
});

// ── a federated hive, NATS unreachable ─────────────────────────────────────

describe('a federated hive whose NATS cannot be reached', () => {
  let t: TestHive;
  let natsUrl: string;
  beforeAll(async () => {
    natsUrl = `nats://127.0.0.1:${closedPort()}`;
    t = await openTestHive({ hive: 'ha', nats: natsUrl });
    await t.hive.lifecycle.spawn('alice', { start: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Clears the outbox between tests (the pump never runs here: there is no connection). */
  const clearOutbox = () => t.hive.db.run('DELETE FROM outbox');

  test('the federation is built and reports its link and empty outbox', () => {
    expect(t.hive.config.hive).toBe('ha');
    expect(t.hive.federation).not.toBeNull();
    expect(t.hive.broker.remote).toBeFunction();
    const status = t.hive.status();
    expect(status.hive).toBe('ha');
    expect(status.federation).toMatchObject({ hive: 'ha', servers: [natsUrl], outbox: 0 });
    expect(['connecting', 'down']).toContain(status.federation!.link);
  });

  test('a send to bob@hb is acknowledged, stored undelivered, and waits in the outbox with its envelope', () => {
    clearOutbox();
    const before = Date.now();
    const msg = t.hive.policy.send('operator', 'bob@hb', 'hello');
    expect(msg).toMatchObject({ from: 'operator', to: 'bob@hb', body: 'hello', kind: 'message', delivered_at: null });
    // committed: read back from the database
    expect(t.hive.broker.message(msg.id)).toEqual(msg);

    const rows = outbox(t);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ to_hive: 'hb', kind: 'message', message_id: msg.id, published_at: null, stream_seq: null });
    expect(row.queued_at).toBeGreaterThanOrEqual(before);
    expect(withoutPrev(parseEnvelope(row.payload))).toEqual({ v: 1, type: 'message', id: msg.id, from: 'operator', to: 'bob', kind: 'message', body: 'hello', created_at: msg.created_at });

    const status = t.hive.status().federation!;
    expect(status).toMatchObject({ hive: 'ha', outbox: 1 });
    expect(['connecting', 'down']).toContain(status.link);
  });

  test('a send the policy refuses writes no outbox row', () => {
    clearOutbox();
    const before = messageCount(t);
    expectRefused(() => t.hive.policy.send('operator', 'Bob@hb', 'x'), 'bad_name');
    expectRefused(() => t.hive.policy.send('operator', 'bob@Hb', 'x'), 'bad_name');
    expectRefused(() => t.hive.policy.send('operator', 'bob@hb', 'x'.repeat(MAX_BODY_CHARS + 1)), 'too_large');
    expect(outbox(t)).toEqual([]);
    expect(messageCount(t)).toBe(before);
    expect(t.hive.status().federation!.outbox).toBe(0);
  });

  test('an agent may send to name@hive; a local recipient written with this hive\'s name gets no outbox row', () => {
    clearOutbox();
    const remote = t.hive.policy.send('alice', 'carol@hb', 'from alice');
    expect(remote.to).toBe('carol@hb');
    const local = t.hive.policy.send('operator', 'alice@ha', 'stays here');
    expect(local.to).toBe('alice');
    const rows = outbox(t);
    expect(rows.map((r) => r.message_id)).toEqual([remote.id]);
    expect(parseEnvelope(rows[0]!.payload)).toMatchObject({ from: 'alice', to: 'carol', kind: 'message' });
  });

  test('group-committed sends get their outbox rows too, in order', async () => {
    clearOutbox();
    const sent = await Promise.all([
      t.hive.policy.sendGrouped('operator', 'bob@hb', 'g1'),
      t.hive.policy.sendGrouped('operator', 'alice', 'g2 (local)'),
      t.hive.policy.sendGrouped('alice', 'dave@hc', 'g3'),
    ]);
    expect(sent.map((m) => m.to)).toEqual(['bob@hb', 'alice', 'dave@hc']);
    const rows = outbox(t);
    expect(rows.map((r) => [r.message_id, r.to_hive, r.kind])).toEqual([
      [sent[0]!.id, 'hb', 'message'],
      [sent[2]!.id, 'hc', 'message'],
    ]);
    expect(parseEnvelope(rows[0]!.payload)).toMatchObject({ id: sent[0]!.id, from: 'operator', to: 'bob', body: 'g1' });
    expect(parseEnvelope(rows[1]!.payload)).toMatchObject({ id: sent[2]!.id, from: 'alice', to: 'dave', body: 'g3' });
    // a refused grouped send rejects before anything is queued
    expect(() => t.hive.policy.sendGrouped('operator', 'x@Bad', 'no')).toThrow(HiveError);
    expect(outbox(t)).toHaveLength(2);
  });

  test('a reminder may be for a remote recipient; it is stored with that recipient', () => {
    clearOutbox();
    const r = t.hive.policy.remind('alice', { in_seconds: 3600 }, 'ping bob', 'bob@hb');
    expect(r).toMatchObject({ owner: 'alice', to: 'bob@hb', body: 'ping bob', fired_at: null });
    const row = t.hive.db.query<{ recipient: string }, [number]>('SELECT recipient FROM reminders WHERE id = ?').get(r.id);
    expect(row?.recipient).toBe('bob@hb');
    // not fired yet: nothing waits in the outbox
    expect(outbox(t)).toEqual([]);
    expectRefused(() => t.hive.policy.remind('alice', { in_seconds: 3600 }, 'x', 'Bob@hb'), 'bad_name');
    t.hive.reminders.cancel('alice', r.id);
  });

  test('a question to an agent of another hive is stored here and queued as a question envelope', () => {
    clearOutbox();
    const { question, message } = t.hive.policy.ask('alice', 'bob@hb', 'q?');
    expect(question).toMatchObject({ from: 'alice', to: 'bob@hb', question: 'q?', answered_at: null });
    expect(message).toMatchObject({ from: 'alice', to: 'bob@hb', kind: 'question', ref: question.id, delivered_at: null });
    const rows = outbox(t);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ to_hive: 'hb', kind: 'message', message_id: message.id });
    expect(withoutPrev(parseEnvelope(rows[0]!.payload))).toEqual({
      v: 1,
      type: 'message',
      id: message.id,
      from: 'alice',
      to: 'bob',
      kind: 'question',
      ref: question.id,
      body: 'q?',
      created_at: message.created_at,
    });
  });

  test("a question for another hive's operator is refused: it goes through that hive's manager", () => {
    clearOutbox();
    const before = messageCount(t);
    expectRefused(() => t.hive.policy.ask('alice', 'operator@hb', 'q?'), 'bad_request', 'ask "manager@hb"');
    expectRefused(() => t.hive.policy.ask('alice', 'operator', 'q?'), 'bad_request', 'manager');
    expect(messageCount(t)).toBe(before);
    expect(outbox(t)).toEqual([]);
  });
});

// ── receiving ─────────────────────────────────────────────────────────────

describe('Federation.receive', () => {
  let t: TestHive;
  beforeAll(async () => {
    t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    await t.hive.lifecycle.spawn('alice', { start: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  const fed = () => t.hive.federation!;
  const clearOutbox = () => t.hive.db.run('DELETE FROM outbox');
  const envelope = (over: Partial<Record<string, unknown>> = {}) =>
    JSON.stringify({ v: 1, type: 'message', id: 7, from: 'carol', to: 'alice', kind: 'message', body: 'hi from hb', created_at: 1_700_000_000_000, ...over });
  const receipts = () => outbox(t).filter((r) => r.kind === 'receipt');

  test('a message is stored once by its origin, and one receipt goes back', () => {
    clearOutbox();
    const text = envelope();
    fed().receive('hive.ha.hb', text);
    fed().receive('hive.ha.hb', text);

    const got = t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => m.from === 'carol@hb');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ from: 'carol@hb', to: 'alice', body: 'hi from hb', kind: 'message', delivered_at: null });
    expect(originOf(t, got[0]!.id)).toBe('hb:7');
    expect(t.hive.db.query<{ n: number }, []>("SELECT count(*) AS n FROM messages WHERE origin = 'hb:7'").get()!.n).toBe(1);

    const rows = receipts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ to_hive: 'hb', kind: 'receipt', message_id: null, published_at: null });
    expect(withoutPrev(parseEnvelope(rows[0]!.payload))).toEqual({ v: 1, type: 'receipt', id: 7, ok: true, at: got[0]!.created_at });
    // the received message is not sent on: the outbox holds the receipt only
    expect(outbox(t)).toHaveLength(1);
  });

  test('the same id from another hive is another message', () => {
    clearOutbox();
    fed().receive('hive.ha.hc', envelope({ from: 'carol' }));
    const got = t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => m.from === 'carol@hc');
    expect(got).toHaveLength(1);
    expect(originOf(t, got[0]!.id)).toBe('hc:7');
    expect(receipts().map((r) => r.to_hive)).toEqual(['hc']);
  });

  test('a message for the operator is stored', () => {
    clearOutbox();
    fed().receive('hive.ha.hb', envelope({ id: 8, from: 'erin', to: 'operator', body: 'for the operator' }));
    const got = t.hive.broker.list({ agent: 'operator', limit: 1000 }).filter((m) => m.from === 'erin@hb');
    expect(got.map((m) => [m.to, m.body])).toEqual([['operator', 'for the operator']]);
    expect(parseEnvelope(receipts()[0]!.payload)).toMatchObject({ id: 8, ok: true });
  });

  test('a message for an agent this hive does not have is refused with a receipt naming it and this hive', () => {
    clearOutbox();
    const before = messageCount(t);
    fed().receive('hive.ha.hb', envelope({ id: 9, to: 'nobody' }));
    expect(messageCount(t)).toBe(before);
    const rows = receipts();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.to_hive).toBe('hb');
    const r = parseEnvelope(rows[0]!.payload);
    expect(r).toMatchObject({ v: 1, type: 'receipt', id: 9, ok: false });
    expect((r as { error?: string }).error).toBe('no agent named "nobody" in hive ha');
  });

  test('a malformed envelope or a foreign subject is refused as bad_request and stores nothing', () => {
    clearOutbox();
    const before = messageCount(t);
    expectRefused(() => fed().receive('hive.ha.hb', 'not json'), 'bad_request', 'not JSON');
    expectRefused(() => fed().receive('hive.ha.hb', envelope({ v: 2 })), 'bad_request', 'schema');
    expectRefused(() => fed().receive('hive.ha.hb', envelope({ extra: true })), 'bad_request', 'schema');
    expectRefused(() => fed().receive('hive.hb.hc', envelope({ id: 10 })), 'bad_request', 'hive.ha.<hive>');
    expectRefused(() => fed().receive('hive.ha', envelope({ id: 11 })), 'bad_request');
    expectRefused(() => fed().receive('other.ha.hb', envelope({ id: 12 })), 'bad_request');
    expect(messageCount(t)).toBe(before);
    expect(outbox(t)).toEqual([]);
  });

  test('a question put from another hive is stored once with its origin; the answer here goes back as an answer envelope', () => {
    clearOutbox();
    const text = envelope({ id: 20, kind: 'question', ref: 5, body: 'ready?' });
    fed().receive('hive.ha.hb', text);
    fed().receive('hive.ha.hb', text);
    const got = t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => originOf(t, m.id) === 'hb:20');
    expect(got).toHaveLength(1);
    const msg = got[0]!;
    expect(msg).toMatchObject({ from: 'carol@hb', to: 'alice', kind: 'question', body: 'ready?' });
    const q = t.hive.questions.get(msg.ref!);
    expect(q).toMatchObject({ from: 'carol@hb', to: 'alice', question: 'ready?', options: null, answered_at: null });
    expect(t.hive.db.query<{ origin: string | null }, [number]>('SELECT origin FROM questions WHERE id = ?').get(q.id)?.origin).toBe('hb:5');
    expect(t.hive.db.query<{ n: number }, []>("SELECT count(*) AS n FROM questions WHERE origin = 'hb:5'").get()!.n).toBe(1);
    expect(t.hive.questions.open('alice').to_answer.map((x) => x.id)).toContain(q.id);
    expect(receipts().map((r) => withoutPrev(parseEnvelope(r.payload)))).toEqual([{ v: 1, type: 'receipt', id: 20, ok: true, at: msg.created_at }]);

    clearOutbox();
    const { message: reply, question: answered } = t.hive.policy.answer('alice', q.id, { text: 'yes' });
    expect(answered.answer).toEqual({ text: 'yes' });
    expect(reply).toMatchObject({ from: 'alice', to: 'carol@hb', kind: 'answer', ref: q.id });
    const rows = outbox(t);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ to_hive: 'hb', kind: 'message', message_id: reply.id });
    // the question's id in the asking hive, and the answer's bare text
    expect(withoutPrev(parseEnvelope(rows[0]!.payload))).toEqual({ v: 1, type: 'message', id: reply.id, from: 'alice', to: 'carol', kind: 'answer', ref: 5, body: 'yes', created_at: reply.created_at });
  });

  test('a question from another hive for the operator or an unknown agent is refused with a receipt', () => {
    clearOutbox();
    const questions = () => t.hive.db.query<{ n: number }, []>('SELECT count(*) AS n FROM questions').get()!.n;
    const [qBefore, mBefore] = [questions(), messageCount(t)];
    fed().receive('hive.ha.hb', envelope({ id: 21, kind: 'question', ref: 6, to: 'operator', body: 'boss?' }));
    fed().receive('hive.ha.hb', envelope({ id: 22, kind: 'question', ref: 7, to: 'nobody', body: 'hello?' }));
    expect(questions()).toBe(qBefore);
    expect(messageCount(t)).toBe(mBefore);
    const rs = receipts().map((r) => parseEnvelope(r.payload) as { id: number; ok: boolean; error?: string });
    expect(rs.map((r) => [r.id, r.ok])).toEqual([
      [21, false],
      [22, false],
    ]);
    expect(rs[0]!.error).toBe('questions for the operator of hive ha go through its manager');
    expect(rs[1]!.error).toBe('no agent named "nobody" in hive ha');
  });

  test("an answer to this hive's question is taken from the hive it was put to, once", () => {
    const { question } = t.hive.policy.ask('alice', 'bob@hb', 'how many?');
    clearOutbox();
    const answer = (id: number, body: string) => envelope({ id, kind: 'answer', ref: question.id, from: 'bob', to: 'alice', body });

    // from another hive than the one asked: refused, the question stays open
    fed().receive('hive.ha.hc', answer(30, '41'));
    expect(t.hive.questions.get(question.id).answered_at).toBeNull();
    const refused = parseEnvelope(receipts()[0]!.payload) as { id: number; ok: boolean; error?: string };
    expect(receipts()[0]!.to_hive).toBe('hc');
    expect(refused).toMatchObject({ id: 30, ok: false });
    expect(refused.error).toBe(`question #${question.id} of hive ha is not open for an answer from bob@hc`);

    clearOutbox();
    fed().receive('hive.ha.hb', answer(31, '42'));
    fed().receive('hive.ha.hb', answer(31, '42'));
    const q = t.hive.questions.get(question.id);
    expect(q.answer).toEqual({ text: '42' });
    expect(q.answered_at).not.toBeNull();
    const got = t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => m.kind === 'answer' && m.ref === question.id);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ from: 'bob@hb', to: 'alice', delivered_at: null });
    expect(got[0]!.body).toContain(`#${question.id}`);
    expect(got[0]!.body).toContain('42');
    expect(originOf(t, got[0]!.id)).toBe('hb:31');
    expect(receipts().map((r) => withoutPrev(parseEnvelope(r.payload)))).toEqual([{ v: 1, type: 'receipt', id: 31, ok: true, at: got[0]!.created_at }]);

    // a second answer (another message) finds the question closed
    clearOutbox();
    fed().receive('hive.ha.hb', answer(32, '43'));
    expect(t.hive.questions.get(question.id).answer).toEqual({ text: '42' });
    expect(parseEnvelope(receipts()[0]!.payload)).toMatchObject({ id: 32, ok: false });
  });

  test('a receipt from the recipient\'s hive marks the sent message delivered', () => {
    const sent = t.hive.policy.send('operator', 'bob@hb', 'will arrive');
    expect(sent.delivered_at).toBeNull();
    const at = Date.now();
    fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: sent.id, ok: true, at }));
    expect(t.hive.broker.message(sent.id)?.delivered_at).toBe(at);
    // a repeat changes nothing and adds no notice
    const count = messageCount(t);
    fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: sent.id, ok: true, at: at + 5 }));
    expect(t.hive.broker.message(sent.id)?.delivered_at).toBe(at);
    expect(messageCount(t)).toBe(count);
  });

  test('a receipt from another hive than the recipient\'s, or for an unknown message, changes nothing', () => {
    const sent = t.hive.policy.send('operator', 'bob@hb', 'not yet');
    const count = messageCount(t);
    const logged = t.logs.length;
    fed().receive('hive.ha.hc', JSON.stringify({ v: 1, type: 'receipt', id: sent.id, ok: true, at: Date.now() }));
    fed().receive('hive.ha.hc', JSON.stringify({ v: 1, type: 'receipt', id: sent.id, ok: false, error: 'spoofed', at: Date.now() }));
    fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: 999_999, ok: true, at: Date.now() }));
    // a local message is no one's to confirm from outside
    const local = t.hive.policy.send('operator', 'alice', 'local');
    fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: local.id, ok: true, at: Date.now() }));
    expect(t.hive.broker.message(sent.id)?.delivered_at).toBeNull();
    expect(t.hive.broker.message(local.id)?.delivered_at).toBeNull();
    expect(messageCount(t)).toBe(count + 1);
    expect(t.logs.slice(logged).filter((l) => l.includes('which was not sent there')).length).toBe(4);
  });

  test('a refusing receipt becomes one notice to the sender, naming the message and the reason', () => {
    const sent = t.hive.policy.send('alice', 'bob@hb', 'anyone there?');
    const before = t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => m.from === 'hive');
    expect(before).toEqual([]);
    const error = 'no agent named "bob" in hive hb';
    const text = JSON.stringify({ v: 1, type: 'receipt', id: sent.id, ok: false, error, at: Date.now() });
    fed().receive('hive.ha.hb', text);
    const notices = () => t.hive.broker.list({ agent: 'alice', limit: 1000 }).filter((m) => m.from === 'hive' && m.to === 'alice');
    expect(notices()).toHaveLength(1);
    const notice = notices()[0]!;
    expect(notice.body).toContain(`#${sent.id}`);
    expect(notice.body).toContain('bob@hb');
    expect(notice.body).toContain(error);
    // the refused message is settled, so a redelivered receipt tells the sender nothing more
    expect(t.hive.broker.message(sent.id)?.delivered_at).not.toBeNull();
    fed().receive('hive.ha.hb', text);
    expect(notices()).toHaveLength(1);
    // the notice stays here: it is not sent to another hive
    expect(outbox(t).some((r) => r.message_id === notice.id)).toBe(false);
  });

  test("a question another hive refused is closed here, so it no longer counts as open", () => {
    const { question, message } = t.hive.policy.ask('alice', 'bob@hb', 'are you there?');
    expect(t.hive.questions.open('alice').asked.map((q) => q.id)).toContain(question.id);
    fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: message.id, ok: false, error: 'no agent named "bob" in hive hb', at: Date.now() }));
    expect(t.hive.questions.open('alice').asked.map((q) => q.id)).not.toContain(question.id);
    expect(t.hive.questions.get(question.id).answer).toEqual({ text: '(not delivered: no agent named "bob" in hive hb)' });
    expect(t.hive.broker.list({ agent: 'alice', limit: 1000 }).some((m) => m.from === 'hive' && m.body.startsWith(`Your question #${message.id} to bob@hb was not delivered`))).toBe(true);
  });

  test('a sender that is not an agent name, "manager" or "operator" is refused as bad_request; nothing is stored', () => {
    const before = messageCount(t);
    expectRefused(() => fed().receive('hive.ha.hb', envelope({ id: 90, from: 'x@hc' })), 'bad_request', /not an agent name/);
    expect(messageCount(t)).toBe(before);
  });

  test("a refused envelope names the field at fault in its type's schema", () => {
    expectRefused(() => fed().receive('hive.ha.hb', envelope({ id: -1 })), 'bad_request', '/id');
    expectRefused(() => fed().receive('hive.ha.hb', JSON.stringify({ v: 1, type: 'receipt', id: 3, ok: 'yes', at: 1 })), 'bad_request', '/ok');
  });
});

describe('the link while NATS cannot be reached', () => {
  test('the link reads down with the reason; a stop ends the connection tries', async () => {
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      const status = await waitFor('the link down', () => (t.hive.status().federation?.link === 'down' ? t.hive.status().federation : null), 10_000);
      expect(status!.last_error).toMatch(/^connect: /);
    } finally {
      await t.close();
    }
  });

  test('a reminder to oneself written with this hive\'s name is a reminder to oneself', async () => {
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      await t.hive.lifecycle.spawn('alice', { start: false });
      const r = t.hive.policy.remind('alice', { in_seconds: 3600 }, 'stretch', 'alice@ha');
      expect(r.to).toBe('alice');
    } finally {
      await t.close();
    }
  });
});

describe("the manager's tools act on its own hive", () => {
  test('kill, start, restart and the requests for change refuse an agent of another hive, naming its manager; name@<this hive> is this hive\'s', async () => {
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      await t.hive.lifecycle.spawn('alice', { start: false });
      const ops = agentOps(t.hive, MANAGER);
      const calls: Array<[string, () => unknown]> = [
        ['kill', () => ops.kill({ name: 'bob@hb' }, undefined as never)],
        ['start', () => ops.start({ name: 'bob@hb' }, undefined as never)],
        ['restart', () => ops.restart({ name: 'bob@hb' }, undefined as never)],
        ['request_spawn', () => ops.request_spawn({ name: 'bob@hb' }, undefined as never)],
        ['request_apply_commit', () => ops.request_apply_commit({ agent: 'bob@hb', sha: 'a'.repeat(40) }, undefined as never)],
      ];
      for (const [tool, call] of calls) {
        const err = await Promise.resolve().then(call).then(() => null, (e: unknown) => e as HiveError);
        expect(err).toBeInstanceOf(HiveError);
        expect(err!.code).toBe('forbidden');
        expect(err!.message).toBe(`${tool} acts on this hive (ha) only, and bob@hb is in hive hb: ask its manager (manager@hb) to do it`);
      }
      // this hive's own name is this hive
      const started = (await ops.start({ name: 'alice@ha' }, undefined as never)) as { agent: { name: string } };
      expect(started.agent.name).toBe('alice');
      await t.hive.lifecycle.stop('alice');
    } finally {
      await t.close();
    }
  });
});

describe('without --nats nothing of NATS is loaded', () => {
  test('src/ imports the NATS client only as types or inside the federation, when it starts', () => {
    const glob = new Bun.Glob('src/**/*.{ts,tsx}');
    const found: string[] = [];
    for (const file of glob.scanSync({ cwd: PACKAGE_ROOT })) {
      const text = readFileSync(join(PACKAGE_ROOT, file), 'utf8');
      for (const [i, line] of text.split('\n').entries()) {
        if (!line.includes("'@nats-io/")) continue;
        // a type import is erased; a dynamic import runs only where it stands
        if (/^import type .* from '@nats-io\//.test(line) || /await import\('@nats-io\//.test(line)) {
          found.push(`${file}:${i + 1}`);
          continue;
        }
        throw new Error(`${file}:${i + 1} loads the NATS client at import time: ${line.trim()}`);
      }
    }
    // the dynamic imports are in Federation.run and Presence.start, which only a core with --nats calls
    expect(found.filter((f) => !f.startsWith('src/core/federation/'))).toEqual([]);
    expect(found.length).toBeGreaterThan(0);
  });
});

describe('allowedRecipients and the manager\'s agents tool in a federation', () => {
  test('allowedRecipients may list name@hive; the send policy then lets that address through and no other of that hive', async () => {
    expect(parseAgentConfig('allowedRecipients = ["bob@hb", "manager@hb", "carol"]').config.allowedRecipients).toEqual(['bob@hb', 'manager@hb', 'carol']);
    expectRefused(() => parseAgentConfig('allowedRecipients = ["bob@HB"]'), 'bad_config', 'allowedRecipients.0: "bob@HB" is not an agent name');
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      await t.hive.lifecycle.spawn('alice', { start: false });
      writeFileSync(new DataLayout(t.dir).agent('alice').configFile, 'allowedRecipients = ["bob@hb"]\n');
      t.hive.configs.load('alice');
      expect(t.hive.policy.send('alice', 'bob@hb', 'hi').to).toBe('bob@hb');
      expectRefused(() => t.hive.policy.send('alice', 'carol@hb', 'hi'), 'forbidden', "alice's allowedRecipients (bob@hb) do not include \"carol@hb\"");
    } finally {
      await t.close();
    }
  });

  test("the manager's agents tool lists the other hives' agents as name@hive, with their last-known state", async () => {
    const t = await openTestHive({ 'no-manager': false, hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    const sock = new JsonLineClient(new DataLayout(t.dir).agent(MANAGER).socket, AgentOps);
    const c = new Client({ name: 'test', version: '1' });
    try {
      await t.hive.lifecycle.stop(MANAGER);
      t.hive.federation!.presence.take('agent.hb.alice', 'PUT', JSON.stringify({ role: 'agent', status: 'idle', model: 'haiku', at: Date.UTC(2026, 10, 22, 12) }));
      const [a, b] = InMemoryTransport.createLinkedPair();
      await createHiveMcpServer(sock, 'manager').connect(a);
      await c.connect(b);
      const r = (await c.callTool({ name: 'agents', arguments: {} })) as { content: Array<{ text: string }> };
      const text = r.content.map((x) => x.text).join('');
      expect(text).toContain('manager (manager):');
      expect(text).toContain('alice@hb (agent of hive hb, not managed here): idle as of 2026-11-22T12:00:00.000Z, model haiku');
    } finally {
      await c.close();
      sock.close();
      await t.close();
    }
  });
});

describe("a hive's envelopes are taken in the order it wrote them", () => {
  test('each outbox row names the one written to the same hive before it', async () => {
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      const a = t.hive.policy.send('operator', 'bob@hb', 'one');
      t.hive.policy.send('operator', 'bob@hc', 'elsewhere');
      const b = t.hive.policy.send('operator', 'bob@hb', 'two');
      const rows = outbox(t);
      const env = (i: number) => parseEnvelope(rows[i]!.payload);
      expect(rows.map((r) => r.to_hive)).toEqual(['hb', 'hc', 'hb']);
      expect([env(0).prev, env(1).prev, env(2).prev]).toEqual([null, null, rows[0]!.id]);
      expect([env(0).id, env(2).id]).toEqual([a.id, b.id]);
    } finally {
      await t.close();
    }
  });

  test("one that comes before the one it follows waits ('later'); taken in order once that one is in; a repeat is ignored", async () => {
    const t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    try {
      await t.hive.lifecycle.spawn('alice', { start: false });
      const fed = t.hive.federation!;
      const env = (id: number, prev: number | null, body: string) =>
        JSON.stringify({ v: 1, type: 'message', id, prev, from: 'carol', to: 'alice', kind: 'message', body, created_at: 1 });
      const bodies = () => t.hive.broker.list({ agent: 'alice', limit: 100 }).filter((m) => m.from === 'carol@hb').map((m) => m.body);
      // outbox 10 (first), then 11; 11 is consumed first
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(101, 10, 'second'), msgId: 'hb:11' }])).toEqual(['later']);
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(100, null, 'first'), msgId: 'hb:10' }])).toEqual([null]);
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(101, 10, 'second'), msgId: 'hb:11', deliveries: 2 }])).toEqual([null]);
      expect(bodies()).toEqual(['first', 'second']);
      // a redelivery of 10 is at or below the last taken: ignored
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(100, null, 'first'), msgId: 'hb:10', deliveries: 3 }])).toEqual([null]);
      expect(bodies()).toEqual(['first', 'second']);
      // 13 follows 12, which never comes: after enough deliveries it is taken anyway
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(103, 12, 'fourth'), msgId: 'hb:13', deliveries: 5 }])).toEqual(['later']);
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(103, 12, 'fourth'), msgId: 'hb:13', deliveries: 300 }])).toEqual([null]);
      expect(bodies()).toEqual(['first', 'second', 'fourth']);
      // a malformed one passes its place in the order, so the next is not held up by it
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: '{"v":1}', msgId: 'hb:14' }])[0]).toBeInstanceOf(HiveError);
      expect(fed.receiveBatch([{ subject: 'hive.ha.hb', text: env(105, 14, 'fifth'), msgId: 'hb:15' }])).toEqual([null]);
      expect(bodies()).toEqual(['first', 'second', 'fourth', 'fifth']);
    } finally {
      await t.close();
    }
  });
});
