/**
 * `GET /agents/<name>/status` on the dashboard (over `app.handle`, a real core in a temp dir, no
 * agent process): one agent's state as its page shows it while the harness is away, as JSON and
 * as an SSE stream that follows the agent's changes until it is destroyed; the reasons the page
 * gives for not sending; the same checks as every dashboard route.
 */
import { expect } from 'bun:test';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { pageStatus, type AgentPageStatus } from '../../src/core/dashboard/agent-status.ts';
import type { AgentRecord } from '../../src/shared/wire.ts';
import { openTestHive } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('dashboard agent status', 'git');

const ORIGIN = 'http://127.0.0.1:7000';
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;

beforeAll(async () => {
  t = await openTestHive();
  await t.hive.lifecycle.spawn('bob', { start: false });
  app = createDashboard(t.hive);
});

afterAll(async () => {
  await t?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(ORIGIN + path, { headers }));

/** Reads SSE `data:` objects from `res` until `until` holds for the ones so far (or the stream ends). */
async function events(res: Response, until: (all: AgentPageStatus[]) => boolean) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const all: AgentPageStatus[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { all, ended: true };
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) all.push(JSON.parse(data.slice(6)) as AgentPageStatus);
    }
    if (until(all)) {
      reader.releaseLock();
      return { all, ended: false };
    }
  }
}

describe('one agent’s status for its page', () => {
  test('JSON: a stopped agent is not up, and the page says how to get it back', async () => {
    const res = await get('/agents/bob/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const s = (await res.json()) as AgentPageStatus;
    expect(s).toMatchObject({ name: 'bob', status: 'offline', desired: 'stopped', up: false, reason: 'bob is stopped; start it from the dashboard to send it a message' });
    expect(typeof s.since).toBe('number');
  });

  test('unknown or malformed names are refused; only GET is served', async () => {
    expect((await get('/agents/nobody/status')).status).toBe(404);
    expect((await get('/agents/Bad%20Name/status')).status).toBe(400);
    expect((await app.handle(new Request(ORIGIN + '/agents/bob/status', { method: 'POST' }))).status).toBe(403);
    expect((await app.handle(new Request('http://evil.example/agents/bob/status'))).status).toBe(403);
  });

  test('SSE: the state now, each change as it happens, and `gone` when the agent is destroyed', async () => {
    const res = await get('/agents/bob/status', { accept: 'text/event-stream' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const first = await events(res, (all) => all.length >= 1);
    expect(first.all[0]).toMatchObject({ status: 'offline', up: false });
    t.hive.registry.setLive('bob', { status: 'building' });
    const building = await events(res, (all) => all.some((s) => s.status === 'building'));
    expect(building.all.at(-1)).toMatchObject({ status: 'building', up: false, reason: 'bob is being rebuilt; the prompt comes back when it is up' });
    t.hive.registry.setDesired('bob', 'running');
    t.hive.registry.setLive('bob', { status: 'idle' });
    const idle = await events(res, (all) => all.some((s) => s.status === 'idle'));
    expect(idle.all.at(-1)).toMatchObject({ status: 'idle', up: true, reason: null });
    t.hive.registry.setLive('bob', { status: 'offline' });
    await t.hive.lifecycle.destroy('bob');
    const gone = await events(res, () => false);
    expect(gone.ended).toBe(true);
    expect(gone.all.at(-1)).toMatchObject({ name: 'bob', status: 'gone', up: false, reason: 'bob no longer exists' });
  });

  test('the reasons, for each state the core can report', () => {
    const rec = (p: Partial<AgentRecord>): AgentRecord =>
      ({ name: 'manager', status: 'idle', status_since: 1, desired: 'running', problem: null, last_exit: null, ...p }) as AgentRecord;
    const reason = (p: Partial<AgentRecord>) => pageStatus('manager', rec(p)).reason;
    expect(reason({})).toBeNull();
    expect(reason({ status: 'thinking' })).toBeNull();
    expect(reason({ desired: 'stopped' })).toBe('hm1nd is being stopped');
    expect(reason({ status: 'starting' })).toBe('hm1nd is starting; the prompt comes back when it is up');
    expect(reason({ status: 'crashed', last_exit: 'exit 1' })).toBe('hm1nd crashed (exit 1); the core restarts it shortly');
    expect(reason({ status: 'failed', problem: 'agent.toml: bad model' })).toBe('hm1nd cannot start: agent.toml: bad model');
    expect(reason({ status: 'offline' })).toBe('hm1nd is offline; the core starts it when it can');
    expect(pageStatus('manager', rec({ status: 'thinking' })).up).toBe(true);
  });
});
