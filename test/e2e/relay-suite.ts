/**
 * End to end: the real `hive core serve` and `hive ctl` binaries, real `claude` turns against the
 * scripted Messages API on loopback, real sockets and sqlite files in a temp data dir. The same
 * suite runs once per runtime (`hive.<runtime>.e2e.test.ts`): nothing in it may depend on where an
 * agent's files appear inside its sandbox, so paths inside come from the agent's own system prompt.
 */
import { expect } from 'bun:test';
import { Database } from 'bun:sqlite';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startModelServer, lastUserPrompt, toolResults, isMainTurn, systemText, type ModelServer } from '../support/model-server.ts';
import { ctlJson, harnessesUnder, hive, jitPools, processAlive, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { HarnessBundle } from '../../src/core/agents/harness-bundle.ts';
import { requires, type Prereq } from '../support/prereq.ts';

/**
 * Registers the suite for one runtime.
 * @param runtime the core's `--runtime`.
 */
export function relaySuite(runtime: 'process' | 'bwrap' | 'nspawn'): void {
  // a sandboxed runtime needs that runtime to work here; every runtime needs git for the config repos
  const needs: Prereq[] = runtime === 'process' ? ['git'] : ['git', runtime];
  const { describe, test, beforeAll, afterAll } = requires(`hive.${runtime} e2e`, ...needs);
  let model: ModelServer;
  let dir: string;
  let core: Awaited<ReturnType<typeof startCoreProcess>>;

  beforeAll(async () => {
    // The scripted model: alice, asked by the operator to relay, calls send(bob); everyone else
    // (bob, the manager) answers with text naming what woke them.
    model = await startModelServer((req) => {
      if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
      const results = toolResults(req.body);
      if (results.length) return [{ type: 'text', text: `relayed; tool said: ${results[0]!.content.split('\n')[0]}` }];
      const prompt = lastUserPrompt(req.body);
      if (prompt.includes('WRITE NOTES')) {
        // the state dir as the agent sees it: a host path under `process`, /state in a sandbox
        const stateDir = /Your durable notes live in `([^`]+)`/.exec(systemText(req.body))![1]!;
        return [{ type: 'tool_use', name: 'Write', input: { file_path: `${stateDir}/notes.md`, content: '# bob\n- met alice\n' } }];
      }
      if (prompt.includes('from operator') && prompt.includes('RELAY'))
        return [{ type: 'tool_use', name: 'mcp__hyperhive__send', input: { to: 'bob', body: 'hello bob, alice here' } }];
      return [{ type: 'text', text: `bob got it: ${prompt.includes('hello bob, alice here') ? 'the relay' : 'something else'}` }];
    });
    dir = tempDir('hv-e2e-');
    core = await startCoreProcess(dir, ['--runtime', runtime], model.env);
  });

  afterAll(async () => {
    await core?.stop();
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe(`a hive on a fresh data dir (${runtime} runtime)`, () => {
    test('creates the manager, which comes up idle', async () => {
      const { agents } = await waitFor('the manager to be idle', () => {
        const r = ctlJson(dir, 'list');
        return r.agents.find((a: any) => a.name === 'manager' && a.status === 'idle') ? r : null;
      });
      expect(agents[0]).toMatchObject({ name: 'manager', role: 'manager', runtime, desired: 'running' });
    });

    test('spawns two agents with hive ctl; bad names are refused', async () => {
      expect(ctlJson(dir, 'spawn', 'alice').agent.name).toBe('alice');
      expect(ctlJson(dir, 'spawn', 'bob').agent.name).toBe('bob');
      const bad = hive(['ctl', 'spawn', '..', '--data-dir', dir]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('bad_name');
      const dup = hive(['ctl', 'spawn', 'alice', '--data-dir', dir]);
      expect(dup.stderr).toContain('exists');
      await waitFor('both agents idle', () => {
        const s = ctlJson(dir, 'list').agents.filter((a: any) => a.status === 'idle').map((a: any) => a.name);
        return s.includes('alice') && s.includes('bob');
      });
    });

    test("every agent's harness runs the bundle built for this code, without the JIT", () => {
      const bundle = join(new HarnessBundle({ dir: join(dir, 'harness'), log: () => {} }).outDir, 'main.js');
      expect(existsSync(bundle)).toBe(true);
      // a sandbox shows the bundle's directory, not the data dir
      const main = runtime === 'process' ? bundle : '/run/hive-harness/main.js';
      const agents = ctlJson(dir, 'list').agents as any[];
      expect(agents.map((a) => a.name).sort()).toEqual(['alice', 'bob', 'manager']);
      for (const a of agents) {
        const [harness, ...more] = harnessesUnder(a.pid);
        expect(more).toEqual([]);
        expect(harness!.argv).toEqual([process.execPath, main, 'agent', 'serve']);
        // and without the JIT (core/agents/harness-jit.ts), inside the sandbox as under process
        expect(jitPools(harness!.pid)).toBe(0);
      }
    });

    test("an operator message runs alice's claude turn, whose send wakes bob's turn", async () => {
      const sent = ctlJson(dir, 'send', 'alice', 'please', 'RELAY', 'a', 'greeting', 'to', 'bob');
      expect(sent.id).toBeGreaterThan(0);

      const turns = await waitFor('turns of alice and bob', () => {
        const t = ctlJson(dir, 'turns').turns as any[];
        const a = t.find((x) => x.agent === 'alice' && x.status !== 'running');
        const b = t.find((x) => x.agent === 'bob' && x.status !== 'running');
        return a && b ? { a, b } : null;
      }, 60_000);

      // alice's turn was woken by the operator's message and called the hive's send tool
      expect(turns.a).toMatchObject({ status: 'ok', exit_code: 0, trigger_message_id: sent.id });
      expect(turns.a.tools).toContain('mcp__hyperhive__send');
      expect(turns.a.result).toContain('relayed; tool said: sent message #');
      expect(turns.a.cost_usd).toBeGreaterThan(0);
      expect(turns.a.duration_ms).toBeGreaterThan(0);
      expect(turns.a.input_tokens).toBeGreaterThan(0);

      // the broker holds alice → bob, sent from inside the turn, and it was delivered to bob's turn
      const msgs = ctlJson(dir, 'messages').messages as any[];
      const relay = msgs.find((m) => m.from === 'alice' && m.to === 'bob');
      expect(relay).toMatchObject({ body: 'hello bob, alice here' });
      expect(relay.delivered_at).toBeNumber();
      expect(turns.b).toMatchObject({ status: 'ok', trigger_message_id: relay.id });
      expect(turns.b.result).toBe('bob got it: the relay');

      // the model saw bob's wake prompt with alice's words and sender
      const bobReq = model.requests.find((r) => lastUserPrompt(r.body).includes('hello bob, alice here'));
      expect(lastUserPrompt(bobReq!.body)).toContain('from alice');
    });

    test('both turns are in the agents\' own histories', () => {
      for (const [name, needle] of [['alice', 'mcp__hyperhive__send'], ['bob', 'bob got it: the relay']] as const) {
        const db = new Database(join(dir, 'agents', name, 'state', '.hive', 'history.db'), { readonly: true });
        try {
          const kinds = db.query<{ kind: string }, []>('SELECT kind FROM events ORDER BY id').all().map((r) => r.kind);
          expect(kinds[0]).toBe('wake');
          expect(kinds).toContain('claude');
          expect(kinds.at(-1)).toBe('turn_end');
          const all = db.query<{ data: string }, []>('SELECT data FROM events').all().map((r) => r.data).join('\n');
          expect(all).toContain(needle);
          const init = db.query<{ data: string }, []>(`SELECT data FROM events WHERE data LIKE '%"subtype":"init"%'`).get();
          expect(JSON.parse(init!.data).mcp_servers).toContainEqual(expect.objectContaining({ name: 'hyperhive', status: 'connected' }));
          const turn = db.query<{ status: string }, []>('SELECT status FROM turns').get();
          expect(turn?.status).toBe('ok');
        } finally {
          db.close();
        }
      }
    });

    test('both turns and the relay are visible on the dashboard', async () => {
      const page = await (await fetch(core.url + '/')).text();
      expect(page).toContain('id="agent-alice"');
      expect(page).toContain('id="agent-bob"');
      expect(page).toContain('hello bob, alice here');
      expect(page).toMatch(/data-agent="alice" data-status="ok"/);
      expect(page).toMatch(/data-agent="bob" data-status="ok"/);
      expect(page).toContain('bob got it: the relay');
    });

    test("bob's own page, through the dashboard, shows his turn's events, backfilled from history", async () => {
      const page = await (await fetch(`${core.url}/agents/bob/page/`)).text();
      expect(page).toContain('data-kind="wake"');
      expect(page).toContain('bob got it: the relay');
    });

    test('the next turn resumes the same claude session', async () => {
      ctlJson(dir, 'send', 'bob', 'second message for bob');
      await waitFor('bob\'s second turn', () => (ctlJson(dir, 'turns', '--agent', 'bob').turns as any[]).filter((t) => t.status !== 'running').length >= 2, 60_000);
      const second = model.requests.filter((r) => lastUserPrompt(r.body).includes('second message for bob')).at(-1)!;
      const history = JSON.stringify(second.body.messages);
      expect(history).toContain('hello bob, alice here');
      expect(history).toContain('bob got it: the relay');
      // cost is per turn, not claude's running session total
      const [latest, first] = ctlJson(dir, 'turns', '--agent', 'bob').turns as any[];
      expect(latest.cost_usd).toBeGreaterThan(0);
      expect(latest.cost_usd).toBeLessThan(first.cost_usd * 3);
      const db = new Database(join(dir, 'agents', 'bob', 'state', '.hive', 'history.db'), { readonly: true });
      const results = db.query<{ data: string }, []>(`SELECT data FROM events WHERE data LIKE '{"type":"result"%' OR data LIKE '%"type":"result"%' ORDER BY id`).all()
        .map((r) => JSON.parse(r.data)).filter((e) => e.type === 'result');
      db.close();
      expect(results.at(-1).total_cost_usd).toBeCloseTo(first.cost_usd + latest.cost_usd, 6);
    });

    test('an agent can keep notes in its state dir with claude\'s file tools', async () => {
      const sent = ctlJson(dir, 'send', 'bob', 'WRITE NOTES please');
      const turn = await turnFor(dir, 'bob', sent.id);
      expect(turn).toMatchObject({ status: 'ok', tools: ['Write'] });
      expect(await Bun.file(join(dir, 'agents', 'bob', 'state', 'notes.md')).text()).toBe('# bob\n- met alice\n');
    });

    test('a crashed agent is restarted with backoff and the manager is told', async () => {
      const before = ctlJson(dir, 'list').agents.find((a: any) => a.name === 'bob');
      process.kill(before.pid, 'SIGKILL');
      const notice = await waitFor('a crash notice to the manager', () =>
        (ctlJson(dir, 'messages', '--agent', 'manager').messages as any[]).find((m) => m.from === 'hive' && m.body.includes('agent bob crashed')),
      );
      expect(notice.body).toContain('signal SIGKILL');
      const after = await waitFor('bob back and idle', () => {
        const b = ctlJson(dir, 'list').agents.find((a: any) => a.name === 'bob');
        return b.status === 'idle' && b.pid !== before.pid ? b : null;
      });
      expect(after.restarts).toBe(1);
      expect(after.last_exit).toBe('signal SIGKILL');
    });

    test('stop, start and destroy through hive ctl', async () => {
      expect(ctlJson(dir, 'stop', 'alice').agent).toMatchObject({ status: 'offline', desired: 'stopped' });
      await waitFor('alice idle again', () => ctlJson(dir, 'start', 'alice') && ctlJson(dir, 'list').agents.find((a: any) => a.name === 'alice' && a.status === 'idle'));
      expect(ctlJson(dir, 'destroy', 'alice')).toEqual({ name: 'alice' });
      expect(ctlJson(dir, 'list').agents.map((a: any) => a.name)).not.toContain('alice');
      // her state is kept for a later re-create
      expect(await Bun.file(join(dir, 'agents', 'alice', 'state', '.hive', 'history.db')).exists()).toBe(true);
      const gone = hive(['ctl', 'send', 'alice', 'hi', '--data-dir', dir]);
      expect(gone.stderr).toContain('not_found');
    });
  });

  describe(`core restarts (${runtime} runtime)`, () => {
    test('a message queued for a stopped agent survives a core restart and is handled after it', async () => {
      ctlJson(dir, 'stop', 'bob');
      const queued = ctlJson(dir, 'send', 'bob', 'queued across a restart');
      await core.stop();
      core = await startCoreProcess(dir, ['--runtime', runtime], model.env);
      const kept = (ctlJson(dir, 'messages', '--agent', 'bob').messages as any[]).find((m) => m.id === queued.id);
      expect(kept).toMatchObject({ body: 'queued across a restart', delivered_at: null });
      ctlJson(dir, 'start', 'bob');
      const turn = await waitFor('bob handles the queued message', () =>
        (ctlJson(dir, 'turns', '--agent', 'bob').turns as any[]).find((t) => t.trigger_message_id === queued.id && t.status === 'ok'),
        60_000,
      );
      expect(turn.result).toContain('bob got it');
    });

    test('when the core is killed outright its agents exit with it', async () => {
      const pids = (ctlJson(dir, 'list').agents as any[]).map((a) => a.pid).filter(Boolean) as number[];
      expect(pids.length).toBeGreaterThan(0);
      core.proc.kill('SIGKILL');
      await core.proc.exited;
      await waitFor('every agent process to exit', () => pids.every((p) => !processAlive(p)), 15_000);
      // a new core takes over the data dir and brings the agents back
      core = await startCoreProcess(dir, ['--runtime', runtime], model.env);
      await waitFor('the manager idle again', () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'manager' && a.status === 'idle'));
    });

    test('a second core on the same data dir is refused', () => {
      const r = hive(['core', 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('another hive core is already serving');
    });
  });
}
