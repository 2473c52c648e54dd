/**
 * The config gate when things go wrong, against real repositories and real agent processes (the
 * `process` runtime): extra MCP server commands checked at request time and at every deploy,
 * running or not; records of the audit trail that cannot be written, raised as `audit_failed`;
 * recovery of a core killed between a deploy's last tag and its database update; and auto-update
 * keyed on the code rather than on package.json's version (a real core, run from a copy of the
 * package, restarted on changed code).
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { Database } from 'bun:sqlite';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hive } from '../../src/core/hive.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { codeId, PACKAGE_ROOT, PACKAGE_VERSION } from '../../src/shared/version.ts';
import { openHiveAt, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core config gate reliability', 'git');

setDefaultTimeout(90_000);

let dir: string;
let layout: DataLayout;
let hive: Hive;
const logs: string[] = [];

const open = () => openHiveAt(dir, logs);

/** Runs git in `cwd` (as the manager's Bash tool would) and returns its stdout. */
function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(['git', ...args], { cwd, stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
}

const proposed = (name: string) => join(dir, 'proposed', name, 'config');
const applied = (name: string) => layout.agent(name).config;
const tags = (name: string) => git(applied(name), 'tag', '--list').split('\n').filter(Boolean);
const metaLog = () => git(layout.metaDir, 'log', '--format=%s').split('\n');
const auditAlerts = (agent: string) => hive.alerts.list().filter((a) => a.kind === 'audit_failed' && a.agent === agent);

/** Commits `toml` as agent.toml in `name`'s proposed repo; returns the commit id. */
function propose(name: string, toml: string, message = 'change config'): string {
  writeFileSync(join(proposed(name), 'agent.toml'), toml);
  git(proposed(name), 'commit', '-qam', message);
  return git(proposed(name), 'rev-parse', 'HEAD');
}

/** An executable stand-in for an MCP server's program; returns its path. */
function program(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return path;
}

beforeAll(async () => {
  dir = tempDir('hv-rel-');
  layout = new DataLayout(dir);
  hive = await open();
  await hive.lifecycle.spawn('alice');
  await hive.lifecycle.stop('alice');
});
afterAll(async () => {
  await hive?.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('extra MCP server commands are checked at request time and at every deploy, running or not', () => {
  test('a relative command is refused when requested, as bad_config naming the field', async () => {
    expect(hive.registry.require('alice').desired).toBe('stopped');
    const pending = hive.approvals.list().length;
    const sha = propose('alice', '[extraMcpServers.sh]\ncommand = "../../../bin/sh"\n', 'a shell as a server');
    const refused = hive.gate.requestApplyCommit('manager', 'alice', sha);
    await expect(refused).rejects.toMatchObject({ code: 'bad_config' });
    await expect(refused).rejects.toThrow(
      `/agents/alice/config@${sha.slice(0, 12)}:agent.toml: extraMcpServers.sh.command: "../../../bin/sh" is a relative path; give an absolute path, or a bare name to look up on PATH`,
    );
    const missing = propose('alice', '[extraMcpServers.chat]\ncommand = "/nonexistent/chat-mcp"\n', 'a server that is not there');
    await expect(hive.gate.requestApplyCommit('manager', 'alice', missing)).rejects.toThrow(
      `/agents/alice/config@${missing.slice(0, 12)}:agent.toml: extraMcpServers.chat.command: "/nonexistent/chat-mcp" is not an executable file`,
    );
    expect(hive.approvals.list().length).toBe(pending);
  });

  test("a stopped agent's deploy checks the command again: a program gone since the request fails it", async () => {
    const head = git(applied('alice'), 'rev-parse', 'HEAD');
    const chat = program('chat-mcp');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', `[extraMcpServers.chat]\ncommand = "${chat}"\n`, 'add chat'));
    rmSync(chat);
    const done = await hive.gate.approve(a.id);
    expect(done).toMatchObject({ status: 'failed', note: `extraMcpServers.chat.command: "${chat}" is not an executable file` });
    expect(tags('alice')).toContain(`failed/${a.id}`);
    expect(tags('alice')).not.toContain(`deployed/${a.id}`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(head);
    expect(hive.configs.get('alice').config.extraMcpServers).toEqual({}); // the previous config, not the refused one
    expect(hive.registry.require('alice').status).toBe('offline');
  });

  test('a rollback to an applied config that could not run now is refused when requested', async () => {
    const tool = program('tool-mcp');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', `[extraMcpServers.tool]\ncommand = "${tool}"\n`, 'add tool'));
    expect((await hive.gate.approve(a.id)).status).toBe('deployed');
    const b = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-1"\n', 'no tool'));
    expect((await hive.gate.approve(b.id)).status).toBe('deployed');
    rmSync(tool);
    await expect(hive.gate.rollback('alice', String(a.id))).rejects.toThrow(`extraMcpServers.tool.command: "${tool}" is not an executable file`);
  });
});

describe('the audit trail: a record that cannot be written is raised, not dropped', () => {
  test('a deploy-log commit that cannot be written raises audit_failed naming it; the deploy stands', async () => {
    const lock = join(layout.metaDir, '.git', 'index.lock');
    writeFileSync(lock, ''); // as a git killed mid-commit leaves it
    const commits = metaLog().length;
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-2"\n', 'model rel-2'));
    const done = await hive.gate.approve(a.id);
    rmSync(lock);
    expect(done.status).toBe('deployed');
    expect(tags('alice')).toContain(`deployed/${a.id}`);
    expect(metaLog().length).toBe(commits); // the record is missing …
    const [alert] = auditAlerts('alice');
    expect(alert!.text).toStartWith(`alice: the deploy-log commit "alice: approval #${a.id} deployed (${done.applied_commit!.slice(0, 12)})" in ${layout.metaDir} could not be written`);
    expect(alert!.text).toContain('index.lock');
    expect(logs.some((l) => l.startsWith('audit: alice: the deploy-log commit'))).toBe(true);
    hive.alerts.dismiss(alert!.id, 'operator');
    // … and the next one is written again
    const b = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-3"\n', 'model rel-3'));
    await hive.gate.approve(b.id);
    expect(metaLog()[0]).toBe(`alice: approval #${b.id} deployed (${hive.approvals.get(b.id).applied_commit!.slice(0, 12)})`);
    expect(auditAlerts('alice')).toEqual([]);
  });

  test('a failed/<id> tag that cannot be written raises audit_failed naming it; the failure is still recorded', async () => {
    const chat = program('chat2-mcp');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', `[extraMcpServers.chat]\ncommand = "${chat}"\n`, 'add chat again'));
    rmSync(chat);
    const lock = join(applied('alice'), '.git', 'refs', 'tags', 'failed', `${a.id}.lock`);
    mkdirSync(join(lock, '..'), { recursive: true });
    writeFileSync(lock, '');
    const done = await hive.gate.approve(a.id);
    rmSync(lock);
    expect(done.status).toBe('failed');
    expect(tags('alice')).not.toContain(`failed/${a.id}`);
    const [alert] = auditAlerts('alice');
    expect(alert!.text).toStartWith(`alice: the failed/${a.id} tag in alice's applied repo could not be written, so the audit trail lacks it: git tag in ${applied('alice')} failed (exit 128)`);
    expect(metaLog()[0]).toStartWith(`alice: approval #${a.id} failed`);
    hive.alerts.dismiss(alert!.id, 'operator');
  });

  test('an unreadable deploy-log entry is reported and replaced, not taken for "no entry"', async () => {
    writeFileSync(join(layout.metaDir, 'agents', 'alice.json'), '{ not json');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-4"\n', 'model rel-4'));
    expect((await hive.gate.approve(a.id)).status).toBe('deployed');
    const [alert] = auditAlerts('alice');
    expect(alert!.text).toContain("the deploy log's previous entry (unreadable, replaced by");
    expect(alert!.text).toContain("the deploy log's agents/alice.json is not valid JSON");
    expect(JSON.parse(readFileSync(join(layout.metaDir, 'agents', 'alice.json'), 'utf8'))).toMatchObject({ agent: 'alice', approval: a.id });
    hive.alerts.dismiss(alert!.id, 'operator');
  });
});

describe('a core killed mid-deploy: recovery ends each approval with exactly one outcome', () => {
  /**
   * Leaves the state of a core killed during approval `id`'s deploy after `stages` were tagged on
   * the staged commit (the head moved to it): the approval `building` in the database, its base
   * and applied commits recorded.
   */
  async function killedAfter(id: number, stages: Array<[string, string]>): Promise<{ base: string; staged: string }> {
    await hive.close();
    const base = git(applied('alice'), 'rev-parse', 'HEAD');
    const staged = git(applied('alice'), 'rev-parse', `proposal/${id}^{commit}`);
    git(applied('alice'), 'reset', '-q', '--hard', staged);
    for (const [stage, message] of stages) git(applied('alice'), 'tag', '-a', '-m', message, `${stage}/${id}`, staged);
    const db = new Database(layout.db);
    db.query("UPDATE approvals SET status = 'building', decided_at = ?, base_commit = ?, applied_commit = ? WHERE id = ?").run(Date.now(), base, staged, id);
    db.close();
    return { base, staged };
  }

  test('killed after deployed/<id> was tagged, before the database knew: deployed, no failed tag, one deploy-log entry', async () => {
    await hive.lifecycle.start('alice');
    await waitFor('alice idle', () => hive.registry.get('alice')?.status === 'idle');
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-killed"\n', 'killed after the tag'));
    const { staged } = await killedAfter(a.id, [
      ['approved', `approval #${a.id}: approved by the operator`],
      ['building', `approval #${a.id}: building`],
      ['deployed', `approval #${a.id}: deployed`],
    ]);
    hive = await open();
    const rec = hive.approvals.get(a.id);
    expect(rec).toMatchObject({ status: 'deployed', applied_commit: staged });
    expect(tags('alice')).toContain(`deployed/${a.id}`);
    expect(tags('alice')).not.toContain(`failed/${a.id}`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(staged);
    expect(metaLog().filter((s) => s.startsWith(`alice: approval #${a.id} `))).toEqual([`alice: approval #${a.id} deployed (${staged.slice(0, 12)})`]);
    expect(JSON.parse(readFileSync(join(layout.metaDir, 'agents', 'alice.json'), 'utf8'))).toMatchObject({ commit: staged, approval: a.id, last: { outcome: 'deployed' } });
    await waitFor('alice up on the deployed config', () => hive.registry.get('alice')?.status === 'idle' && hive.registry.get('alice')?.model === 'claude-rel-killed');
  });

  test('killed after failed/<id> was tagged: failed, with the deploy error kept, the previous config back', async () => {
    const a = await hive.gate.requestApplyCommit('manager', 'alice', propose('alice', 'model = "claude-rel-doomed"\n', 'killed after failing'));
    const { base } = await killedAfter(a.id, [
      ['approved', `approval #${a.id}: approved by the operator`],
      ['building', `approval #${a.id}: building`],
      ['failed', `approval #${a.id} failed: the agent did not come up within 60 s`],
    ]);
    hive = await open();
    expect(hive.approvals.get(a.id)).toMatchObject({ status: 'failed', note: 'the agent did not come up within 60 s (the core stopped before recording it)' });
    expect(tags('alice')).not.toContain(`deployed/${a.id}`);
    expect(git(applied('alice'), 'tag', '-l', '--format=%(contents:subject)', `failed/${a.id}`)).toBe(`approval #${a.id} failed: the agent did not come up within 60 s`);
    expect(git(applied('alice'), 'rev-parse', 'HEAD')).toBe(base);
    expect(metaLog().filter((s) => s.startsWith(`alice: approval #${a.id} `)).length).toBe(1);
    expect(metaLog()[0]).toStartWith(`alice: approval #${a.id} failed`);
  });
});

describe('auto-update follows the code, not package.json', () => {
  test('codeId changes with the files the harness runs, and with nothing else', () => {
    const root = tempDir('hv-code-');
    try {
      for (const d of ['src/agent', 'prompts', 'views']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'src/agent/loop.ts'), 'export const a = 1;\n');
      writeFileSync(join(root, 'prompts/agent.md'), 'You are an agent.\n');
      writeFileSync(join(root, 'views/page.tsx'), 'export {};\n');
      writeFileSync(join(root, 'package.json'), '{"version":"0.1.0"}\n');
      const first = codeId(root);
      expect(first).toMatch(/^[0-9a-f]{12}$/);
      expect(codeId(root)).toBe(first);
      writeFileSync(join(root, 'views/page.tsx'), 'export { x };\n'); // the dashboard's, not the harness's
      expect(codeId(root)).toBe(first);
      writeFileSync(join(root, 'src/agent/loop.ts'), 'export const a = 2;\n');
      const second = codeId(root);
      expect(second).not.toBe(first);
      writeFileSync(join(root, 'src/agent/loop.ts'), 'export const a = 1;\n');
      expect(codeId(root)).toBe(first);
      writeFileSync(join(root, 'bun.lock'), '{}\n');
      expect(codeId(root)).not.toBe(first);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a core restarted on changed code with the same version rebuilds its running agent', async () => {
    // a copy of the package to change; node_modules is shared
    const pkg = tempDir('hv-pkg-');
    const data = tempDir('hv-au-');
    for (const p of ['src', 'prompts', 'views', 'static', 'package.json', 'bun.lock', 'tsconfig.json', 'bunfig.toml'])
      if (existsSync(join(PACKAGE_ROOT, p))) cpSync(join(PACKAGE_ROOT, p), join(pkg, p), { recursive: true });
    symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const entry = join(pkg, 'src', 'main.ts');
    const env = { PATH: process.env.PATH!, HOME: data };
    const ctl = (...args: string[]) => {
      const r = Bun.spawnSync([process.execPath, entry, 'ctl', ...args, '--json', '--data-dir', data], { env, stdout: 'pipe', stderr: 'pipe' });
      if (r.exitCode !== 0) throw new Error(`hive ctl ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return JSON.parse(r.stdout.toString());
    };
    let core: ReturnType<typeof Bun.spawn> | null = null;
    const start = async () => {
      const port = 17000 + Math.floor(Math.random() * 2000);
      core = Bun.spawn([process.execPath, entry, 'core', 'serve', '--data-dir', data, '--listen', `127.0.0.1:${port}`, '--runtime', 'process', '--no-manager'], {
        env,
        stdout: Bun.file(join(data, `core-${port}.out`)),
        stderr: Bun.file(join(data, `core-${port}.err`)),
      });
      return waitFor('the core to answer', () => ctl('status'), 30_000);
    };
    const stop = async () => {
      core?.kill('SIGTERM');
      await core?.exited;
      core = null;
    };
    const ada = () => (ctl('list').agents as Array<{ name: string; status: string }>).find((a) => a.name === 'ada');
    try {
      const before = (await start()).version as string;
      expect(before).toBe(`${PACKAGE_VERSION}+${codeId(pkg)}`);
      ctl('spawn', 'ada');
      await waitFor('ada idle', () => ada()?.status === 'idle');
      await stop();

      appendFileSync(join(pkg, 'src', 'agent', 'loop.ts'), '\n// a change to the harness, without a version bump\n');
      const after = (await start()).version as string;
      expect(after).not.toBe(before);
      expect(after.split('+')[0]).toBe(before.split('+')[0]);
      await waitFor('the auto-update in the deploy log', () =>
        git(join(data, 'meta'), 'log', '--format=%s')
          .split('\n')
          .some((l) => l.startsWith(`ada: auto-update: hive ${before} → ${after} deployed`)),
      );
      await waitFor('ada idle again', () => ada()?.status === 'idle');
    } finally {
      await stop();
      rmSync(pkg, { recursive: true, force: true });
      if (!process.env.KEEP) rmSync(data, { recursive: true, force: true });
    }
  });
});
