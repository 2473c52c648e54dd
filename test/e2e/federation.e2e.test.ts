/**
 * Two hives as one, over a real `nats-server` with JetStream on loopback: two real `hive core serve`
 * processes (`--hive ha` and `--hive hb`, both `--nats`), agents whose real claude turns (scripted
 * by the test's model) send to `name@hive` through the hive's MCP tools, and `hive ctl` on each
 * side. Then the link is cut (the NATS server stopped) while the operator keeps sending, and
 * healed; and the sending core is SIGKILLed while it publishes a run of acknowledged sends. Each time,
 * every acknowledged send arrives exactly once, in order.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { HostOps } from '../../src/shared/wire.ts';
import { isMainTurn, lastUserPrompt, startModelServer, toolResults, type ModelServer } from '../support/model-server.ts';
import { ctlJson, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { hiveUser, newUserKey, startNats, type NatsServer } from '../support/nats.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('federation e2e', 'git', 'nats-server');

setDefaultTimeout(120_000);

let model: ModelServer;
let nats: NatsServer;
let natsDir: string;
/** A third hive's key, used to try speaking as another hive. */
let forger: { seed: string; publicKey: string };
let dirA: string;
let dirB: string;
let coreA: Awaited<ReturnType<typeof startCoreProcess>>;
let coreB: Awaited<ReturnType<typeof startCoreProcess>>;

// a hive unheard for 3 s is unreachable (checked at each 15 s heartbeat)
const flags = (hive: string) => ['--no-manager', '--hive', hive, '--nats', nats.url, '--nats-creds', join(natsDir, `${hive}.nk`), '--hive-unreachable-minutes', '0.05'];

beforeAll(async () => {
  // "@@SEND <to> <text>@@" in the wake prompt becomes the hive's send tool; its answer ends the turn
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const results = toolResults(req.body);
    if (results.length) return [{ type: 'text', text: `SENT: ${results.at(-1)!.content.split('<system-reminder>')[0]!.trim()}` }];
    const prompt = lastUserPrompt(req.body);
    const m = /@@SEND (\S+) (.+?)@@/s.exec(prompt);
    if (m) return [{ type: 'tool_use', name: 'mcp__hyperhive__send', input: { to: m[1], body: m[2] } }];
    const remind = /@@REMIND (\S+) (.+?)@@/s.exec(prompt);
    if (remind) return [{ type: 'tool_use', name: 'mcp__hyperhive__remind', input: { to: remind[1], in_seconds: 1, body: remind[2] } }];
    const ask = /@@ASK (\S+) (.+?)@@/s.exec(prompt);
    if (ask) return [{ type: 'tool_use', name: 'mcp__hyperhive__ask', input: { to: ask[1], question: ask[2] } }];
    const q = /Question #(\d+) from \S+@/.exec(prompt);
    if (q) return [{ type: 'tool_use', name: 'mcp__hyperhive__answer', input: { question_id: Number(q[1]), text: 'forty-two' } }];
    return [{ type: 'text', text: 'noted' }];
  });
  natsDir = tempDir('hv-nats-');
  // each hive signs in with its own nkey and may publish only as itself (see hiveUser)
  const users = ['ha', 'hb'].map((hive) => {
    const key = newUserKey();
    writeFileSync(join(natsDir, `${hive}.nk`), `${key.seed}\n`);
    return hiveUser(hive, key.publicKey);
  });
  forger = newUserKey();
  nats = await startNats(natsDir, [...users, hiveUser('hc', forger.publicKey)]);
  dirA = tempDir('hv-fa-');
  dirB = tempDir('hv-fb-');
  coreA = await startCoreProcess(dirA, flags('ha'), model.env);
  coreB = await startCoreProcess(dirB, flags('hb'), model.env);
  ctlJson(dirA, 'spawn', 'bob');
  ctlJson(dirB, 'spawn', 'alice');
  ctlJson(dirB, 'spawn', 'carol');
  // carol's mail waits in her inbox: the order it arrived in stays readable
  ctlJson(dirB, 'stop', 'carol');
  await waitFor('both hives linked', () => ctlJson(dirA, 'status').federation?.link === 'up' && ctlJson(dirB, 'status').federation?.link === 'up');
}, 60_000);

afterAll(async () => {
  await coreA?.stop();
  await coreB?.stop();
  await nats?.stop();
  await model?.close();
  for (const d of [dirA, dirB, natsDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const messages = (dir: string, agent: string) => ctlJson(dir, 'messages', '--agent', agent, '--limit', '1000').messages as any[];
/** Bodies of the messages `carol` on hb got from `from`, in the order her inbox holds them. */
const carolGot = (from: string) => messages(dirB, 'carol').filter((m) => m.from === from && m.to === 'carol').map((m) => m.body as string);

describe('two hives on one NATS JetStream', () => {
  test("each hive lists the other's agents with their last-known state, and the other hive as reachable", async () => {
    const list = await waitFor("hb's agents in ha's list", () => {
      const l = ctlJson(dirA, 'list');
      return l.remote.some((a: any) => a.name === 'carol' && a.status === 'offline') && l.remote.some((a: any) => a.name === 'alice' && a.status === 'idle') ? l : null;
    });
    expect(list.remote.filter((a: any) => a.hive === 'hb').map((a: any) => a.name)).toEqual(['alice', 'carol']);
    await waitFor('hb heard with its two agents', () => ctlJson(dirA, 'list').hives.find((h: any) => h.name === 'hb' && h.agents === 2));
    expect(ctlJson(dirA, 'list').hives).toEqual([expect.objectContaining({ name: 'hb', reachable: true, agents: 2 })]);
    // the other way round too, and none of a hive's own agents among its remote ones
    await waitFor("bob in hb's list", () => ctlJson(dirB, 'list').remote.some((a: any) => a.name === 'bob' && a.hive === 'ha'));
    expect(ctlJson(dirA, 'list').remote.some((a: any) => a.hive === 'ha')).toBe(false);
  });

  test('an operator message to alice@hb runs her turn on the other hive; her send to bob@ha wakes bob here', async () => {
    const { id } = ctlJson(dirA, 'send', 'alice@hb', '@@SEND bob@ha hello from hb@@');
    // acknowledged here at once, and durable here: stored with its remote recipient
    expect(ctlJson(dirA, 'messages', '--limit', '5').messages.find((m: any) => m.id === id)).toMatchObject({ from: 'operator', to: 'alice@hb' });
    const arrived = await waitFor('the message in alice\'s inbox on hb', () => messages(dirB, 'alice').find((m) => m.from === 'operator@ha'));
    expect(arrived).toMatchObject({ to: 'alice', body: '@@SEND bob@ha hello from hb@@' });
    const aliceTurn = await turnFor(dirB, 'alice', arrived.id);
    expect(aliceTurn).toMatchObject({ status: 'ok', tools: ['mcp__hyperhive__send'] });
    const reply = await waitFor('alice\'s reply in bob\'s inbox on ha', () => messages(dirA, 'bob').find((m) => m.from === 'alice@hb'));
    expect(reply).toMatchObject({ to: 'bob', body: 'hello from hb' });
    expect((await turnFor(dirA, 'bob', reply.id)).status).toBe('ok');
    // delivered: hb's receipt came back and marked the sent message
    await waitFor('the receipt for the operator\'s message', () => ctlJson(dirA, 'messages', '--limit', '50').messages.find((m: any) => m.id === id)?.delivered_at);
  });

  test("alice on hb asks bob@ha; bob answers the question as his hive shows it; the answer comes back to alice's question", async () => {
    const { id } = ctlJson(dirB, 'send', 'alice', '@@ASK bob@ha what is six times seven?@@');
    const asked = await turnFor(dirB, 'alice', id);
    expect(asked).toMatchObject({ status: 'ok', tools: ['mcp__hyperhive__ask'] });
    const question = await waitFor('the question in bob\'s inbox on ha', () => messages(dirA, 'bob').find((m) => m.from === 'alice@hb' && m.kind === 'question'));
    expect(question.body).toBe('what is six times seven?');
    const answered = await turnFor(dirA, 'bob', question.id);
    expect(answered).toMatchObject({ status: 'ok', tools: ['mcp__hyperhive__answer'] });
    // on hb the question is alice's own, answered by bob@ha, and the answer is in her inbox
    const answer = await waitFor('the answer in alice\'s inbox on hb', () => messages(dirB, 'alice').find((m) => m.from === 'bob@ha' && m.kind === 'answer'));
    const qs = ctlJson(dirB, 'messages', '--agent', 'alice', '--limit', '50').messages.find((m: any) => m.kind === 'question' && m.to === 'bob@ha');
    expect(answer.ref).toBe(qs.ref);
    expect(answer.body).toBe(`Re: question #${qs.ref} ("what is six times seven?")\n\nforty-two`);
  });

  test("bob on ha sets a reminder for carol@hb; when it fires it is carol's mail on hb", async () => {
    const { id } = ctlJson(dirA, 'send', 'bob', '@@REMIND carol@hb water the plants@@');
    expect(await turnFor(dirA, 'bob', id)).toMatchObject({ status: 'ok', tools: ['mcp__hyperhive__remind'] });
    const got = await waitFor('the reminder at carol on hb', () => messages(dirB, 'carol').find((m) => m.from === 'bob@ha' && m.body.includes('water the plants')), 30_000);
    expect(got.to).toBe('carol');
  });

  test('a message to an agent the other hive does not have comes back to its sender as a notice', async () => {
    const { id } = ctlJson(dirA, 'send', 'nobody@hb', 'anyone there?');
    const notice = await waitFor('the notice', () => messages(dirA, 'operator').find((m) => m.from === 'hive' && m.body.includes(`#${id}`)));
    expect(notice.body).toContain('to nobody@hb was not delivered: no agent named "nobody" in hive hb');
  });

  test('refused at once: a remote address with a bad hive name', () => {
    const bad = Bun.spawnSync([process.execPath, 'src/main.ts', 'ctl', 'send', 'bob@Not_A_Hive', 'hi', '--json', '--data-dir', dirA], { stdout: 'pipe' });
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.stdout.toString()).error).toMatchObject({ code: 'bad_name' });
  });

  test('a hive cannot speak for another: the server refuses a publish on a subject naming another sender; the sender is taken from the subject', async () => {
    const nc = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(forger.seed)) });
    try {
      const js = jetstream(nc);
      const forged = JSON.stringify({ v: 1, type: 'message', id: 1, from: 'bob', to: 'alice', kind: 'message', body: 'I am bob@ha', created_at: Date.now() });
      // hc may publish hive.*.hc only: as ha it is refused by the server
      await expect(js.publish('hive.hb.ha', forged, { timeout: 3000 })).rejects.toThrow();
      // as itself it may publish, and hb takes the sender from the subject: hc, whatever the body says
      await js.publish('hive.hb.hc', forged, { timeout: 3000 });
      const got = await waitFor('the message from hc at alice', () => messages(dirB, 'alice').find((m) => m.body === 'I am bob@ha'));
      expect(got.from).toBe('bob@hc');
      expect(messages(dirB, 'alice').filter((m) => m.body === 'I am bob@ha').map((m) => m.from)).toEqual(['bob@hc']);
    } finally {
      await nc.close();
    }
  });

  test('a cut link: sends are acknowledged and queued; healed, each arrives once, in order', async () => {
    await nats.stop();
    await waitFor('ha sees the link down', () => ctlJson(dirA, 'status').federation.link === 'down');
    const sent: string[] = [];
    for (let i = 1; i <= 20; i++) {
      sent.push(`p${i}`);
      expect(ctlJson(dirA, 'send', 'carol@hb', `p${i}`).id).toBeGreaterThan(0);
    }
    expect(ctlJson(dirA, 'status').federation.outbox).toBeGreaterThanOrEqual(20);
    expect(carolGot('operator@ha')).toEqual([]);
    // cut off past the threshold, ha says so (at its next heartbeat)
    const alert = await waitFor('hive_unreachable for ha itself', () => ctlJson(dirA, 'alerts').alerts.find((a: any) => a.kind === 'hive_unreachable' && a.agent === '@ha'), 40_000);
    expect(alert.text).toContain('has not reached the federation');
    await nats.start();
    await waitFor('all 20 at carol', () => carolGot('operator@ha').length >= 20, 60_000);
    await waitFor('ha\'s outbox empty', () => ctlJson(dirA, 'status').federation.outbox === 0, 30_000);
    expect(carolGot('operator@ha')).toEqual(sent);
  });

  test('the sending core SIGKILLed in the middle of publishing: restarted, every acknowledged send arrives once, in order', async () => {
    // 3,000 sends acknowledged while the link is cut, so that the kill below lands while they are published
    await nats.stop();
    await waitFor('ha sees the link down', () => ctlJson(dirA, 'status').federation.link === 'down');
    const host = new JsonLineClient(new DataLayout(dirA).hostSocket, HostOps);
    const sent = Array.from({ length: 3000 }, (_, i) => `k${i + 1}`);
    try {
      const acks = await Promise.all(sent.map((body) => host.call('send', { to: 'carol@hb', body })));
      expect(acks.every((a) => a.id > 0)).toBe(true);
    } finally {
      host.close();
    }
    // carol's inbox on hb, read straight from hb's database while hb runs (WAL: readers do not block it)
    const db = new Database(new DataLayout(dirB).db, { readonly: true });
    const got = () => db.query<{ body: string }, []>("SELECT body FROM messages WHERE recipient = 'carol' AND sender = 'operator@ha' AND body LIKE 'k%' ORDER BY id").all().map((r) => r.body);
    try {
      await nats.start();
      // watched closely (every 2 ms), since they flow at thousands a second once the link is back
      const deadline = Date.now() + 30_000;
      while (got().length === 0 && Date.now() < deadline) await Bun.sleep(2);
      coreA.proc.kill('SIGKILL');
      await coreA.proc.exited;
      const atKill = got().length;
      // the kill came in the middle: some were delivered, some still waited in ha's outbox
      expect(atKill).toBeGreaterThan(0);
      expect(atKill).toBeLessThan(3000);
      coreA = await startCoreProcess(dirA, flags('ha'), model.env);
      await waitFor('all 3,000 at carol', () => got().length >= 3000, 60_000);
      await waitFor("ha's outbox empty", () => ctlJson(dirA, 'status').federation.outbox === 0, 30_000);
      expect(got()).toEqual(sent);
    } finally {
      db.close();
    }
  });

  test('a hive that stops being heard raises hive_unreachable on the other; heard again, it closes', async () => {
    // none open to begin with (one the cut link above raised closes at hb's next heartbeat)
    const open = () => ctlJson(dirA, 'alerts').alerts.some((a: any) => a.kind === 'hive_unreachable' && a.agent === '@hb');
    await waitFor('no hive_unreachable for hb', () => !open(), 40_000);
    await coreB.stop();
    const alert = await waitFor('hive_unreachable for hb on ha', () => ctlJson(dirA, 'alerts').alerts.find((a: any) => a.kind === 'hive_unreachable' && a.agent === '@hb'), 45_000);
    expect(alert.text).toContain('hive hb has not been heard');
    expect(ctlJson(dirA, 'list').hives.find((h: any) => h.name === 'hb').reachable).toBe(false);
    coreB = await startCoreProcess(dirB, flags('hb'), model.env);
    await waitFor('the alert closed', () => !ctlJson(dirA, 'alerts').alerts.some((a: any) => a.kind === 'hive_unreachable' && a.agent === '@hb'), 30_000);
    expect(ctlJson(dirA, 'list').hives.find((h: any) => h.name === 'hb').reachable).toBe(true);
  });
});
