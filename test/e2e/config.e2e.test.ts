/**
 * Config as git, driven by the manager through the real `claude` binary: its scripted model edits
 * and commits in the proposed repo with claude's Bash tool, calls `request_apply_commit` with the
 * commit id it read from the output, and the operator decides with `hive ctl`. The agent's next
 * claude turn shows the new config in effect (the model in the API request, the send policy in the
 * system prompt). Also: a real SIGKILL of the core in the middle of a deploy.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { isMainTurn, lastUserPrompt, systemText, toolResults, type ModelServer, startModelServer } from '../support/model-server.ts';
import { ctlJson, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('config e2e', 'git');

setDefaultTimeout(120_000);

let model: ModelServer;
let dir: string;
let layout: DataLayout;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
const FLAGS: string[] = [];

beforeAll(async () => {
  // The scripted manager: "@@PROPOSE <agent> <toml line>@@" makes it write agent.toml in the
  // agent's proposed repo and commit with Bash; when the Bash output shows the commit id, it calls
  // request_apply_commit with it; the tool's answer becomes the turn's final text.
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const results = toolResults(req.body);
    const prompt = lastUserPrompt(req.body);
    const m = /@@PROPOSE (\w+) (.+?)@@/s.exec(prompt);
    if (results.length) {
      const last = results.at(-1)!.content.split('<system-reminder>')[0]!.trim();
      const done = /PROPOSED (\w+) SHA=([0-9a-f]{40})/.exec(last);
      if (done) return [{ type: 'tool_use', name: 'mcp__hyperhive__request_apply_commit', input: { agent: done[1], sha: done[2] } }];
      return [{ type: 'text', text: `TOOL ${results.at(-1)!.is_error ? 'ERROR' : 'OK'}: ${last}` }];
    }
    if (m) {
      const repo = `${process.env.HIVE_TEST_AGENTS_DIR}/${m[1]}/config`;
      const toml = m[2]!.replace(/\\n/g, '\n');
      const command = `cd ${repo} && printf '%s\\n' '${toml}' > agent.toml && git commit -qam 'manager: ${m[1]} config' && echo PROPOSED ${m[1]} SHA=$(git rev-parse HEAD)`;
      return [{ type: 'tool_use', name: 'Bash', input: { command, description: 'commit the config' } }];
    }
    return [{ type: 'text', text: 'noted' }];
  });
  dir = tempDir('hv-cfge-');
  layout = new DataLayout(dir);
  process.env.HIVE_TEST_AGENTS_DIR = layout.proposedDir;
  core = await startCoreProcess(dir, FLAGS, model.env);
  ctlJson(dir, 'spawn', 'alice');
  ctlJson(dir, 'spawn', 'bob');
  await waitFor('everyone idle', () => ctlJson(dir, 'list').agents.every((a: any) => a.status === 'idle'));
}, 60_000);

afterAll(async () => {
  await core?.stop();
  await model?.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

/** The operator asks the manager to propose `toml` for `agent`; returns the manager's finished turn. */
async function managerProposes(agent: string, toml: string) {
  const { id } = ctlJson(dir, 'send', 'manager', `@@PROPOSE ${agent} ${toml}@@`);
  const turn = await turnFor(dir, 'manager', id);
  expect(turn.status).toBe('ok');
  return turn;
}

/** Has `agent` take one turn; returns the main-turn API requests it made. */
async function agentTurn(agent: string) {
  const before = model.requests.length;
  const { id } = ctlJson(dir, 'send', agent, 'status?');
  await turnFor(dir, agent, id);
  return model.requests.slice(before).filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('status?'));
}

describe('the manager proposes, the operator decides', () => {
  test('commit in the proposed repo → request_apply_commit → approve → alice runs the new config', async () => {
    const turn = await managerProposes('alice', 'model = "claude-e2e-cfg"\\nallowedRecipients = ["bob"]');
    expect(turn.tools).toEqual(['Bash', 'mcp__hyperhive__request_apply_commit']);
    const m = /^TOOL OK: commit ([0-9a-f]{12}) for alice is valid and staged: approval #(\d+) is waiting for the operator$/.exec(turn.result);
    expect(m).not.toBeNull();
    const id = Number(m![2]);
    const shown = ctlJson(dir, 'approval', String(id));
    expect(shown.approval).toMatchObject({ kind: 'apply_commit', agent: 'alice', requested_by: 'manager', status: 'pending', subject: 'manager: alice config' });
    expect(shown.diff).toContain('+model = "claude-e2e-cfg"');

    const done = ctlJson(dir, 'approve', String(id)).approval;
    expect(done.status).toBe('deployed');
    const tags = ctlJson(dir, 'repo', 'alice').tags.map((t: any) => t.name);
    expect(tags).toEqual(expect.arrayContaining([`proposal/${id}`, `approved/${id}`, `building/${id}`, `deployed/${id}`]));
    expect(ctlJson(dir, 'deploys').deploys[0].subject).toStartWith(`alice: approval #${id} deployed`);
    // the manager hears the outcome
    await waitFor('the notice to the manager', () =>
      ctlJson(dir, 'messages', '--agent', 'manager', '--limit', '100').messages.find((x: any) => x.kind === 'notice' && x.ref === id && x.body.includes('approved and done')),
    );
    // alice's next turn runs with the new model, and her prompt carries the new send policy
    const reqs = await agentTurn('alice');
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs[0]!.body.model).toBe('claude-e2e-cfg');
    expect(systemText(reqs[0]!.body)).toContain('`manager`, `bob` only');
  });

  test('an invalid config is refused to the manager at request time, with the field', async () => {
    const turn = await managerProposes('bob', 'model = 3');
    expect(turn.result).toMatch(/^TOOL ERROR: error \(bad_config\): \/agents\/bob\/config@[0-9a-f]{12}:agent\.toml: model: expected string$/);
    expect(ctlJson(dir, 'approvals').approvals).toEqual([]);
  });

  test('deny: the manager is told, nothing changes', async () => {
    const turn = await managerProposes('bob', 'model = "claude-e2e-denied"');
    const id = Number(/approval #(\d+)/.exec(turn.result)![1]);
    const r = ctlJson(dir, 'deny', String(id), '--reason', 'keep bob as he is');
    expect(r.approval).toMatchObject({ status: 'denied', note: 'keep bob as he is' });
    await waitFor('the denial notice', () =>
      ctlJson(dir, 'messages', '--agent', 'manager', '--limit', '100').messages.find((x: any) => x.ref === id && x.body.includes('denied: keep bob as he is')),
    );
    expect(ctlJson(dir, 'repo', 'bob').tags.map((t: any) => t.name)).toContain(`denied/${id}`);
    const reqs = await agentTurn('bob');
    expect(reqs[0]!.body.model).not.toBe('claude-e2e-denied');
  });
});

describe('crash in the middle of a deploy', () => {
  test('a SIGKILLed core leaves no approval building: on restart it is failed and the old config is in place', async () => {
    const turn = await managerProposes('bob', 'model = "claude-e2e-crash"');
    const id = Number(/approval #(\d+)/.exec(turn.result)![1]);
    const before = readFileSync(join(layout.agent('bob').config, 'agent.toml'), 'utf8');
    // approve in the background and kill the core as soon as the deploy is under way
    const approver = Bun.spawn([process.execPath, ENTRY, 'ctl', 'approve', String(id), '--data-dir', dir], { stdout: 'ignore', stderr: 'ignore' });
    const db = new Database(layout.db, { readonly: true });
    await waitFor('the deploy to begin', () => db.query<{ status: string }, [number]>('SELECT status FROM approvals WHERE id = ?').get(id)?.status === 'building', 20_000);
    db.close();
    core.proc.kill('SIGKILL');
    await core.proc.exited;
    await approver.exited;

    core = await startCoreProcess(dir, FLAGS, model.env);
    const a = ctlJson(dir, 'approval', String(id)).approval;
    expect(a.status).toBe('failed');
    expect(a.note).toStartWith('the core stopped during the deploy');
    expect(readFileSync(join(layout.agent('bob').config, 'agent.toml'), 'utf8')).toBe(before);
    expect(ctlJson(dir, 'repo', 'bob').tags.map((t: any) => t.name)).toContain(`failed/${id}`);
    await waitFor('bob back up', () => ctlJson(dir, 'list').agents.find((x: any) => x.name === 'bob')?.status === 'idle');
    const reqs = await agentTurn('bob');
    expect(reqs[0]!.body.model).not.toBe('claude-e2e-crash');
  });
});
