/**
 * Config as git against real repositories: a real core (in process) with real agent processes (the
 * `process` runtime; no claude turn is needed for a harness to say hello), real `git` for the
 * proposed, applied and meta repos. The proposing side is played by plain git commands in the
 * proposed repo, as the manager's Bash tool would run them (the manager itself drives the same
 * flow through claude in test/e2e/config.e2e.test.ts).
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HiveEvent } from '../../src/core/bus.ts';
import type { Hive } from '../../src/core/hive.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { VERSION } from '../../src/shared/version.ts';
import { openHiveAt, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core config-repos', 'git');

setDefaultTimeout(90_000);

let dir: string;
let layout: DataLayout;
let hive: Hive;
const logs: string[] = [];
const events: HiveEvent[] = [];

async function open(): Promise<Hive> {
  const h = await openHiveAt(dir, logs);
  h.bus.on((e) => events.push(e));
  return h;
}

/** Runs git in `cwd` (as the manager's Bash tool would) and returns its stdout. */
function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(['git', ...args], { cwd, stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
}

const proposed = (name: string) => join(dir, 'proposed', name, 'config');
const applied = (name: string) => layout.agent(name).config;

/** Commits `toml` as agent.toml in `name`'s proposed repo; returns the commit id. */
function propose(name: string, toml: string, message = 'change config'): string {
  writeFileSync(join(proposed(name), 'agent.toml'), toml);
  git(proposed(name), 'commit', '-qam', message);
  return git(proposed(name), 'rev-parse', 'HEAD');
}

const tags = (name: string) => git(applied(name), 'tag', '--list').split('\n').filter(Boolean).sort();
const idle = (name: string) => waitFor(`${name} idle`, () => hive.registry.get(name)?.status === 'idle');

beforeAll(async () => {
  dir = tempDir('hv-cfg-');
  layout = new DataLayout(dir);
  hive = await open();
});
afterAll(async () => {
  await hive.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('repos and the operator spawn', () => {
  test('a spawn is recorded like an approved one: applied repo with its tag chain, proposed clone, meta commit', async () => {
    await hive.lifecycle.spawn('alice');
    const a = hive.registry.require('alice');
    expect(a.status).toBe('idle');
    const [spawn] = hive.approvals.list(true);
    expect(spawn).toMatchObject({ kind: 'spawn', agent: 'alice', requested_by: 'operator', status: 'deployed' });
    const id = spawn!.id;
    expect(tags('alice')).toEqual([`approved/${id}`, `building/${id}`, `deployed/${id}`, `proposal/${id}`].sort());
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    expect(a.built_commit).toBe(head);
    expect(a.built_version).toBe(VERSION);
    expect(readFileSync(join(applied('alice'), 'agent.toml'), 'utf8')).toContain('# agent.toml of alice');
    // the proposed repo is a clone with the same history, committing as the manager
    expect(git(proposed('alice'), 'rev-parse', 'HEAD')).toBe(head);
    expect(git(proposed('alice'), 'config', 'user.name')).toBe('manager');
    expect(git(proposed('alice'), 'remote')).toBe('');
    // the meta repo has one commit for it and names the applied commit
    expect(git(layout.metaDir, 'log', '-1', '--format=%s')).toBe(`alice: spawn, approval #${id} deployed (${head.slice(0, 12)})`);
    const entry = JSON.parse(readFileSync(join(layout.metaDir, 'agents', 'alice.json'), 'utf8'));
    expect(entry).toMatchObject({ agent: 'alice', commit: head, approval: id, runtime: 'process', last: { outcome: 'deployed' } });
  });
});

describe('propose → approve → deployed', () => {
  test('a valid commit is staged and tagged at request time; the diff shows the change', async () => {
    const sha = propose('alice', 'model = "claude-cfg-test-2"\nallowedRecipients = ["bob"]\n', 'alice: own model, talks to bob only');
    const before = git(applied('alice'), 'rev-parse', 'HEAD');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', sha.slice(0, 10));
    expect(a).toMatchObject({ kind: 'apply_commit', agent: 'alice', sha, subject: 'alice: own model, talks to bob only', status: 'pending' });
    expect(tags('alice')).toContain(`proposal/${a.id}`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(before); // nothing applied yet
    const diff = await hive.gate.diff(a.id);
    expect(diff).toContain('+model = "claude-cfg-test-2"');
    expect(diff).toContain('-# agent.toml of alice');
    // the same commit twice is one request
    await expect(hive.gate.requestApplyCommit('manager', 'alice', sha)).rejects.toThrow(`already waiting for the operator (approval #${a.id})`);
  });

  test('approve: tags approved → building → deployed, the agent is rebuilt with the new config, meta records it', async () => {
    const a = hive.approvals.list().find((x) => x.agent === 'alice')!;
    const oldPid = hive.registry.require('alice').pid;
    const from = events.length;
    const done = await hive.gate.approve(a.id);
    expect(done).toMatchObject({ status: 'deployed', note: null });
    expect(tags('alice')).toEqual(expect.arrayContaining([`proposal/${a.id}`, `approved/${a.id}`, `building/${a.id}`, `deployed/${a.id}`]));
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    expect(git(applied('alice'), 'rev-parse', `deployed/${a.id}^{commit}`)).toBe(head);
    expect(done.applied_commit).toBe(head);
    expect(git(applied('alice'), 'log', '-1', '--format=%s')).toBe(`alice: own model, talks to bob only (approval #${a.id})`);
    // the rebuilt agent runs the new config
    const agent = hive.registry.require('alice');
    expect(agent.pid).not.toBe(oldPid);
    expect(agent.status).toBe('idle');
    expect(agent.model).toBe('claude-cfg-test-2');
    expect(agent.built_commit).toBe(head);
    expect(hive.configs.get('alice').config.allowedRecipients).toEqual(['bob']);
    // the rebuild streamed its steps and the sandbox's own output, in order, while it happened
    const all = () => events.slice(from).flatMap((e) => (e.type === 'build' && e.agent === 'alice' ? [e.line] : []));
    const first = all().findIndex((l) => l.startsWith(`rebuild of alice (approval #${a.id}) in the process runtime`));
    expect(first).toBeGreaterThanOrEqual(0);
    // before its header, only the previous sandbox's own output may still have been streaming
    expect(all().slice(0, first).every((l) => l.startsWith('| '))).toBe(true);
    const lines = () => all().slice(first);
    expect(lines()).toContain('stopping the running sandbox');
    expect(lines()).toContain('up: the harness said hello');
    // the sandbox's own output is followed too (its first lines come right after its hello)
    await waitFor("alice's own start-up line", () => lines().some((l) => l.startsWith('| agent alice (agent) up; model claude-cfg-test-2')));
    const statuses = events.slice(from).flatMap((e) => (e.type === 'agent' && e.agent.name === 'alice' ? [e.agent.status] : []));
    expect(statuses).toContain('building');
    expect(logs.some((l) => l === `build alice: rebuild of alice (approval #${a.id}) in the process runtime`)).toBe(true);
    expect(git(layout.metaDir, 'log', '-1', '--format=%s')).toBe(`alice: approval #${a.id} deployed (${head.slice(0, 12)})`);
    // approving again is refused
    await expect(hive.gate.approve(a.id)).rejects.toThrow(`approval #${a.id} is already deployed`);
  });

  test('deny: tagged denied/<id>, nothing applied', async () => {
    const sha = propose('alice', 'model = "claude-cfg-test-3"\n', 'try another model');
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', sha);
    const d = await hive.gate.deny(a.id, 'not now');
    expect(d).toMatchObject({ status: 'denied', note: 'not now' });
    expect(tags('alice')).toContain(`denied/${a.id}`);
    expect(git(applied('alice'), 'tag', '-l', '--format=%(contents:subject)', `denied/${a.id}`)).toBe(`approval #${a.id} denied: not now`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(head);
    expect(hive.registry.require('alice').model).toBe('claude-cfg-test-2');
  });

  test('invalid proposals are refused at request time, naming the field, and nothing is queued', async () => {
    const pending = hive.approvals.list().length;
    const good = git(proposed('alice'), 'rev-parse', 'HEAD');
    const bad = propose('alice', 'model = 3\n', 'broken');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', bad)).rejects.toThrow(`/agents/alice/config@${bad.slice(0, 12)}:agent.toml: model: expected string`);
    const unknown = propose('alice', 'modle = "x"\n', 'typo');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', unknown)).rejects.toThrow('modle: is not a known option');
    writeFileSync(join(proposed('alice'), 'agent.toml'), 'model = "x"\n');
    symlinkSync('/etc/passwd', join(proposed('alice'), 'notes'));
    git(proposed('alice'), 'add', '-A');
    git(proposed('alice'), 'commit', '-qm', 'sneak a link in');
    const link = git(proposed('alice'), 'rev-parse', 'HEAD');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', link)).rejects.toThrow('notes is a symlink; config trees hold regular files only');
    git(proposed('alice'), 'rm', '-q', 'agent.toml', 'notes');
    git(proposed('alice'), 'commit', '-qm', 'no config at all');
    const none = git(proposed('alice'), 'rev-parse', 'HEAD');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', none)).rejects.toThrow('has no agent.toml at the top of the tree');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', 'deadbeef00')).rejects.toThrow("no commit deadbeef00 in alice's proposed repo");
    await expect(hive.gate.requestApplyCommit('manager', 'alice', 'HEAD~1; rm -rf /')).rejects.toThrow('is not a commit id');
    await expect(hive.gate.requestApplyCommit('manager', 'zed', 'deadbeef00')).rejects.toThrow('no agent named "zed"');
    expect(hive.approvals.list().length).toBe(pending);
    git(proposed('alice'), 'reset', '-q', '--hard', good);
  });

  test('a deploy that fails is tagged failed/<id> with the error, and the previous config comes back', async () => {
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    // the server's program exists when the commit is requested and is gone by the time it deploys
    const chat = join(dir, 'chat-mcp');
    writeFileSync(chat, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const sha = propose('alice', `[extraMcpServers.chat]\ncommand = "${chat}"\n`, 'add a chat server');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', sha);
    rmSync(chat);
    const from = events.length;
    const done = await hive.gate.approve(a.id);
    // the rebuild's stream says why it stopped
    expect(events.slice(from).flatMap((e) => (e.type === 'build' ? [e.line] : []))).toContain(
      `failed: extraMcpServers.chat.command: "${chat}" is not an executable file`,
    );
    expect(done.status).toBe('failed');
    expect(done.note).toBe(`extraMcpServers.chat.command: "${chat}" is not an executable file`);
    expect(tags('alice')).toEqual(expect.arrayContaining([`building/${a.id}`, `failed/${a.id}`]));
    expect(tags('alice')).not.toContain(`deployed/${a.id}`);
    expect(git(applied('alice'), 'tag', '-l', '--format=%(contents:subject)', `failed/${a.id}`)).toContain('is not an executable file');
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(head);
    await idle('alice');
    expect(hive.registry.require('alice').built_commit).toBe(head);
    expect(git(layout.metaDir, 'log', '-1', '--format=%s')).toStartWith(`alice: approval #${a.id} failed`);
    const entry = JSON.parse(readFileSync(join(layout.metaDir, 'agents', 'alice.json'), 'utf8'));
    expect(entry.commit).toBe(head); // still what runs
    expect(entry.last).toMatchObject({ outcome: 'failed', error: done.note });
  });

  test('two approvals for one agent deploy one after the other, never at once', async () => {
    const s1 = propose('alice', 'model = "claude-cfg-a"\n', 'model a');
    const a1 = await hive.gate.requestApplyCommit('manager', 'alice', s1);
    const s2 = propose('alice', 'model = "claude-cfg-b"\n', 'model b');
    const a2 = await hive.gate.requestApplyCommit('manager', 'alice', s2);
    const from = events.length;
    const [d1, d2] = await Promise.all([hive.gate.approve(a1.id), hive.gate.approve(a2.id)]);
    expect([d1.status, d2.status]).toEqual(['deployed', 'deployed']);
    const lines = events.slice(from).flatMap((e) => (e.type === 'build' && e.agent === 'alice' ? [e.line] : []));
    const starts = lines.flatMap((l, i) => (l.startsWith('rebuild of alice') ? [i] : []));
    const ups = lines.flatMap((l, i) => (l === 'up: the harness said hello' ? [i] : []));
    expect(starts.length).toBe(2);
    expect(ups[0]!).toBeLessThan(starts[1]!);
    // the second was staged on the old head; it is re-committed on top of the first
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    expect(git(applied('alice'), 'rev-parse', 'HEAD^')).toBe(d1.applied_commit!);
    expect(head).toBe(d2.applied_commit!);
    expect(readFileSync(join(applied('alice'), 'agent.toml'), 'utf8')).toBe('model = "claude-cfg-b"\n');
    expect(hive.registry.require('alice').model).toBe('claude-cfg-b');
  });

  test('rollback: an earlier deploy is queued through the same gate and deployed', async () => {
    const first = hive.approvals.list(true).find((x) => x.kind === 'apply_commit' && x.subject === 'alice: own model, talks to bob only')!;
    const r = await hive.gate.rollback('alice', String(first.id));
    expect(r).toMatchObject({ kind: 'apply_commit', status: 'pending', requested_by: 'operator' });
    expect(await hive.gate.diff(r.id)).toContain('+model = "claude-cfg-test-2"');
    expect((await hive.gate.approve(r.id)).status).toBe('deployed');
    expect(hive.registry.require('alice').model).toBe('claude-cfg-test-2');
    await expect(hive.gate.rollback('alice', '99999')).rejects.toThrow('alice has no deployed/99999 tag');
  });

  test('an approval for a stopped agent is applied and takes effect at its next start', async () => {
    await hive.lifecycle.stop('alice');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-cfg-c"\n', 'model c'));
    const done = await hive.gate.approve(a.id);
    expect(done).toMatchObject({ status: 'deployed', note: 'the agent is stopped; the config takes effect at its next start' });
    expect(hive.registry.require('alice').status).toBe('offline');
    await hive.lifecycle.start('alice');
    await idle('alice');
    expect(hive.registry.require('alice').model).toBe('claude-cfg-c');
  });
});

describe('two-step spawn', () => {
  test('draft → commit → approve creates the agent from that commit with its staged state', async () => {
    const d = await hive.gate.requestSpawnDraft('manager', 'bob');
    expect(d).toMatchObject({ name: 'bob', config_dir: `${join(dir, 'proposed', 'bob')}/config`, state_dir: `${join(dir, 'proposed', 'bob')}/state` });
    expect(hive.gate.drafts()).toEqual([expect.objectContaining({ name: 'bob', requested_by: 'manager', approval: null })]);
    expect(hive.kept.list()).toEqual([]);
    await expect(hive.gate.requestSpawnDraft('manager', 'bob')).rejects.toThrow('a draft of "bob" already exists');
    await expect(hive.gate.requestSpawnCommit('manager', 'carl', 'deadbeef00')).rejects.toThrow('there is no draft of "carl"');
    writeFileSync(join(d.state_dir, 'notes.md'), 'bob: you review patches\n');
    const sha = propose('bob', 'model = "claude-cfg-bob"\nprompt = "You review patches."\n', 'bob reviews');
    const a = await hive.gate.requestSpawnCommit('manager', 'bob', sha);
    expect(a).toMatchObject({ kind: 'spawn', agent: 'bob', sha, status: 'pending' });
    expect(hive.gate.drafts()[0]!.approval).toBe(a.id);
    const diff = await hive.gate.diff(a.id);
    expect(diff).toContain('+model = "claude-cfg-bob"');
    expect(hive.registry.has('bob')).toBe(false);

    const done = await hive.gate.approve(a.id);
    expect(done.status).toBe('deployed');
    const bob = hive.registry.require('bob');
    expect(bob).toMatchObject({ status: 'idle', model: 'claude-cfg-bob' });
    expect(readFileSync(join(layout.agent('bob').state, 'notes.md'), 'utf8')).toBe('bob: you review patches\n');
    expect(readFileSync(join(applied('bob'), 'agent.toml'), 'utf8')).toContain('You review patches.');
    expect(tags('bob')).toEqual([`approved/${a.id}`, `building/${a.id}`, `deployed/${a.id}`, `proposal/${a.id}`]);
    expect(hive.gate.drafts()).toEqual([]);
  });

  test('a draft can be discarded; its pending spawn is denied', async () => {
    await hive.gate.requestSpawnDraft('manager', 'cleo');
    const a = await hive.gate.requestSpawnCommit('manager', 'cleo', git(proposed('cleo'), 'rev-parse', 'HEAD'));
    await hive.gate.discardDraft('cleo');
    expect(hive.approvals.get(a.id)).toMatchObject({ status: 'denied', note: 'the operator discarded the draft' });
    expect(existsSync(join(dir, 'proposed', 'cleo'))).toBe(false);
    expect(hive.gate.drafts()).toEqual([]);
  });
});

describe('restarts', () => {
  test('a core stopped mid-deploy: the approval ends failed on restart and the old config is back in place', async () => {
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-cfg-crash"\n', 'crash test'));
    await hive.close();
    // The state a core leaves when it dies after moving the applied head, before the rebuild ends:
    // the approval building, base recorded, head on the new commit.
    const staged = git(applied('alice'), 'rev-parse', `proposal/${a.id}^{commit}`);
    git(applied('alice'), 'reset', '-q', '--hard', staged);
    git(applied('alice'), 'tag', `building/${a.id}`, staged);
    const db = new Database(layout.db);
    db.query("UPDATE approvals SET status = 'building', decided_at = ?, base_commit = ?, applied_commit = ? WHERE id = ?").run(Date.now(), head, staged, a.id);
    db.close();

    hive = await open();
    const rec = hive.approvals.get(a.id);
    expect(rec.status).toBe('failed');
    expect(rec.note).toBe(`the core stopped during the deploy; the previous config (${head.slice(0, 12)}) is back in place`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(head);
    expect(readFileSync(join(applied('alice'), 'agent.toml'), 'utf8')).toBe('model = "claude-cfg-c"\n');
    expect(tags('alice')).toContain(`failed/${a.id}`);
    await idle('alice');
    expect(hive.registry.require('alice').model).toBe('claude-cfg-c');
  });

  test('auto-update: an agent whose hive version or applied config changed since its sandbox started is rebuilt at core start', async () => {
    await idle('bob');
    await hive.close();
    const db = new Database(layout.db);
    db.query("UPDATE agents SET built_version = '0.0.0-old' WHERE name = 'bob'").run();
    db.close();
    // alice's applied config changes on disk while the core is down (e.g. restored from a backup)
    writeFileSync(join(applied('alice'), 'agent.toml'), 'model = "claude-cfg-restored"\n');
    git(applied('alice'), 'commit', '-qam', 'restored');
    const fromLog = logs.length;
    hive = await open();
    await idle('bob');
    await waitFor('alice rebuilt', () => hive.registry.get('alice')?.model === 'claude-cfg-restored' && hive.registry.get('alice')?.status === 'idle');
    // the rebuilds begin while the core opens, so read them from its log (events may precede a listener)
    const lines = logs.slice(fromLog);
    expect(lines).toContain(`build bob: rebuild of bob (auto-update: hive 0.0.0-old → ${VERSION}) in the process runtime`);
    expect(lines.some((l) => l.startsWith('build alice: rebuild of alice (auto-update: config '))).toBe(true);
    expect(hive.registry.require('bob').built_version).toBe(VERSION);
    await waitFor('the auto-updates in the deploy log', () => {
      const meta = git(layout.metaDir, 'log', '-4', '--format=%s');
      return meta.includes(`bob: auto-update: hive 0.0.0-old → ${VERSION} deployed`) && /alice: auto-update: config \S+ → \S+ deployed/.test(meta);
    });
  });
});

describe('tag retention', () => {
  test('keeps every deployed/*, drops stage tags of finished approvals and old failed/denied, on a repo with hundreds of approvals', async () => {
    await hive.lifecycle.spawn('rita');
    const repo = applied('rita');
    const head = git(repo, 'rev-parse', 'HEAD');
    // 400 approvals worth of tags, written the way the deployer writes them, some dated 90 days back
    const old = Math.floor(Date.now() / 1000) - 90 * 86400;
    const oldCommit = Bun.spawnSync(['git', 'commit-tree', `${head}^{tree}`, '-m', 'old'], {
      cwd: repo,
      env: { ...process.env, GIT_AUTHOR_DATE: `${old} +0000`, GIT_COMMITTER_DATE: `${old} +0000`, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    }).stdout.toString().trim();
    const lines: string[] = [];
    const expectKept: string[] = [];
    for (let id = 1000; id < 1400; id++) {
      const outcome = ['deployed', 'failed', 'denied', 'pending'][id % 4]!;
      const at = id % 8 < 4 ? oldCommit : head; // half of them old
      const stages = outcome === 'denied' ? ['proposal'] : outcome === 'pending' ? ['proposal'] : ['proposal', 'approved', 'building'];
      for (const s of stages) lines.push(`create refs/tags/${s}/${id} ${at}`);
      if (outcome === 'pending') expectKept.push(`proposal/${id}`);
      else lines.push(`create refs/tags/${outcome}/${id} ${at}`);
      if (outcome === 'deployed') expectKept.push(`deployed/${id}`);
      if ((outcome === 'failed' || outcome === 'denied') && at === head) expectKept.push(`${outcome}/${id}`);
    }
    const p = Bun.spawn(['git', 'update-ref', '--stdin'], { cwd: repo, stdin: 'pipe' });
    p.stdin.write(lines.join('\n') + '\n');
    p.stdin.end();
    expect(await p.exited).toBe(0);
    const before = tags('rita');
    expect(before.length).toBeGreaterThan(1000);

    const removed = await hive.retention.run(30);
    const after = tags('rita');
    const spawnTags = before.filter((t) => !/\/1\d{3}$/.test(t) && t.startsWith('deployed/'));
    expect(after.filter((t) => /\/1\d{3}$/.test(t)).sort()).toEqual(expectKept.sort());
    expect(after).toEqual(expect.arrayContaining(spawnTags));
    expect(removed.rita!.length).toBe(before.length - after.length);
    // running it again changes nothing
    expect(await hive.retention.run(30)).toEqual({});
  });
});
