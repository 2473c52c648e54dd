/**
 * @module core/configs/repos
 * The two git repositories behind every agent's config, and the swarm-wide meta repo.
 *
 * - **proposed** (`<data>/proposed/<name>/config`): the manager's working copy, seen in its sandbox
 *   as `/agents/<name>/config`. The manager edits and commits here; nothing here takes effect.
 * - **applied** (`<data>/agents/<name>/config`): what the agent runs with. Only the core writes it.
 *   A proposal is fetched in, re-committed on top of the applied head, and tagged through its life:
 *   `proposal/<id>` → `approved/<id>` → `building/<id>` → `deployed/<id>` or `failed/<id>`;
 *   `denied/<id>` when the operator says no. Tags are annotated; the message says who and why.
 * - **meta** (`<data>/meta`): one commit per deploy, outcome and all, with a file per agent naming
 *   the applied commit it runs (see {@link MetaRepo}).
 *
 * The proposed repos are writable by the manager, so the core treats them as hostile input: it only
 * reads objects from them (never checks out, never runs a diff driver), validates the tree (no
 * symlinks, no submodules, bounded size) and the config before anything is staged.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_CONFIG_FILE, defaultAgentConfigText, parseAgentConfig, type LoadedAgentConfig } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import type { DataLayout } from '../../shared/paths.ts';
import { COMMIT_ID_RE, MAX_LIST_LIMIT } from '../../shared/wire.ts';
import { TAG_STAGES, type RepoCommit, type RepoTag, type TagStage } from '../../shared/repo-tags.ts';
import type { EventBus } from '../bus.ts';
import { checkExtraMcpServers } from './agent-configs.ts';
import { NO_MOUNTS, resolveMounts, type MountPolicy } from './mounts.ts';
import { git, validateSha, type Git } from './git.ts';

export { TAG_STAGES, type RepoCommit, type RepoTag, type TagStage };

/** Most files a config tree may hold. */
export const MAX_CONFIG_FILES = 200;
/** Largest `agent.toml` accepted, bytes. */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** The id of git's empty tree (SHA-1 repositories). */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
/** A proposed commit that passed the checks. */
export interface CheckedProposal {
  /** Full commit id in the proposed repo. */
  sha: string;
  /** The commit's subject line. */
  subject: string;
  config: LoadedAgentConfig;
}

/**
 * The proposed and applied config repos of every agent. Besides the errors each method names, any
 * method rejects with a `GitError` (git's exit code and stderr) when git itself fails; "absent"
 * (no repo, no such commit or tag) is never an error but the documented null or empty result.
 */
export class ConfigRepos {
  /**
   * @param mounts what this host allows of an agent's `mounts`, checked with every proposal and
   *   rollback (default: no mounts at all).
   */
  constructor(
    private readonly layout: DataLayout,
    private readonly mounts: MountPolicy = NO_MOUNTS,
  ) {}

  /** The applied repo of `name` (its config dir). */
  appliedDir(name: string): string {
    return this.layout.agent(name).config;
  }
  /** The proposed repo of `name` (the manager's `/agents/<name>/config`). */
  proposedDir(name: string): string {
    return join(this.layout.proposedDir, name, 'config');
  }
  /** Files the manager stages for a draft agent's `/state` (the manager's `/agents/<name>/state`). */
  draftStateDir(name: string): string {
    return join(this.layout.proposedDir, name, 'state');
  }

  /**
   * Makes sure the applied repo exists with at least one commit: a fresh one gets `agent.toml`
   * (the commented default); a config dir from before config repos is adopted as it is.
   * @returns the applied head.
   */
  async ensureApplied(name: string): Promise<string> {
    const dir = this.appliedDir(name);
    mkdirSync(dir, { recursive: true });
    const g = git(dir);
    const fresh = !isRepo(dir);
    if (fresh) await g.run(['init']);
    const head = fresh ? null : await this.head(name);
    if (head) return head;
    const file = join(dir, AGENT_CONFIG_FILE);
    const adopted = existsSync(file);
    if (!adopted) writeFileSync(file, defaultAgentConfigText(name));
    await g.run(['add', '-A']);
    await g.run(['commit', '--allow-empty', '-m', adopted ? `adopt the existing config of ${name}` : `default config of ${name}`]);
    return (await this.head(name))!;
  }

  /**
   * Makes sure the proposed repo exists: a clone of the applied repo (history included, so the
   * manager can see and revert to what was deployed), committing as `manager`.
   */
  async ensureProposed(name: string): Promise<void> {
    const dir = this.proposedDir(name);
    if (isRepo(dir)) return;
    mkdirSync(join(this.layout.proposedDir, name), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    const applied = this.appliedDir(name);
    if (await this.head(name)) {
      await git(this.layout.proposedDir).run(['clone', '--quiet', '--no-hardlinks', applied, dir]);
      await git(dir).run(['remote', 'remove', 'origin']);
    } else {
      mkdirSync(dir, { recursive: true });
      await git(dir).run(['init']);
    }
    const g = git(dir);
    await g.run(['config', 'user.name', 'manager']);
    await g.run(['config', 'user.email', 'manager@hyperhive.invalid']);
  }

  /**
   * Creates a draft's proposed repo (the default config, committed) and its staging state dir.
   * @throws HiveError `exists` when a proposed repo for `name` is already there.
   */
  async createDraft(name: string): Promise<string> {
    const dir = this.proposedDir(name);
    mkdirSync(this.draftStateDir(name), { recursive: true });
    if (!isRepo(dir)) {
      mkdirSync(dir, { recursive: true });
      await git(dir).run(['init']);
      appendManagerIdentity(dir);
    }
    const g = git(dir);
    const head = await g.revParse('HEAD');
    if (head) return head;
    writeFileSync(join(dir, AGENT_CONFIG_FILE), defaultAgentConfigText(name));
    await g.run(['add', AGENT_CONFIG_FILE]);
    await g.run(['commit', '-m', `draft of ${name}: default config`]);
    return (await g.revParse('HEAD'))!;
  }

  /** True when `name` has an applied repo (its config dir holds `.git`); a file system check, no git. */
  hasApplied(name: string): boolean {
    return isRepo(this.appliedDir(name));
  }

  /** True when `name` has a proposed repo. */
  hasProposed(name: string): boolean {
    return isRepo(this.proposedDir(name));
  }

  /**
   * Checks a commit of `name`'s proposed repo: it exists, its tree has an `agent.toml` and no
   * symlinks or submodules, the config is valid, each extra MCP server's `command` is an
   * executable file (absolute, or a bare name found on the core's `PATH`), and each mount is one
   * this host allows (see `mounts.ts`).
   * @throws HiveError `bad_request` for a malformed sha, `not_found` when there is no such commit,
   *   `bad_config` naming the field or the file at fault, e.g.
   *   `/agents/alice/config@3f9c1e2a7b4d:agent.toml: extraMcpServers.chat.command: "../bin/sh" is a relative path; …`.
   */
  async checkProposal(name: string, sha: string): Promise<CheckedProposal> {
    validateSha(sha);
    if (!this.hasProposed(name)) throw new HiveError('not_found', `agent "${name}" has no proposed config repo`);
    const g = git(this.proposedDir(name));
    const full = await g.revParse(`${sha}^{commit}`);
    if (!full) throw new HiveError('not_found', `no commit ${sha} in ${name}'s proposed repo (/agents/${name}/config); commit first, then pass the id`);
    const label = `/agents/${name}/config@${full.slice(0, 12)}`;
    const entries = parseLsTree(await g.run(['ls-tree', '-r', '-z', '--full-tree', full]));
    if (entries.length > MAX_CONFIG_FILES) throw new HiveError('bad_config', `${label}: ${entries.length} files; the limit is ${MAX_CONFIG_FILES}`);
    for (const e of entries) {
      if (e.mode === '120000') throw new HiveError('bad_config', `${label}: ${e.path} is a symlink; config trees hold regular files only`);
      if (e.type !== 'blob') throw new HiveError('bad_config', `${label}: ${e.path} is a ${e.type === 'commit' ? 'submodule' : e.type}; config trees hold regular files only`);
    }
    const config = await readConfigAt(g, entries, label, this.mounts);
    const subject = (await g.run(['log', '-1', '--format=%s', full])).trim();
    return { sha: full, subject, config };
  }

  /**
   * Brings proposed commit `sha` into the applied repo as a commit on top of the applied head (same
   * tree), tagged `proposal/<id>`. The applied head does not move.
   * @returns the staged commit's id.
   */
  async stage(name: string, id: number, proposal: CheckedProposal, by: string): Promise<string> {
    const dir = this.appliedDir(name);
    mkdirSync(dir, { recursive: true });
    const g = git(dir);
    if (!isRepo(dir)) await g.run(['init']);
    await g.run(['fetch', '--quiet', '--no-tags', this.proposedDir(name), proposal.sha]);
    const head = await this.head(name);
    const message = `${proposal.subject || 'config change'} (approval #${id})\n\nProposed by ${by} as ${proposal.sha} in /agents/${name}/config.`;
    const staged = (await g.run(['commit-tree', `${proposal.sha}^{tree}`, ...(head ? ['-p', head] : []), '-m', message])).trim();
    await this.tag(name, 'proposal', id, staged, `approval #${id}: ${by} proposes ${proposal.sha.slice(0, 12)} for ${name}`);
    return staged;
  }

  /**
   * Stages an earlier applied commit (a rollback) as approval `id`: its tree on top of the applied
   * head, tagged `proposal/<id>`. Its config is checked as a proposal's is.
   * @returns the staged commit's id.
   * @throws HiveError `bad_request` for a malformed id, `not_found` when absent, `bad_config` when
   *   that config would not run now.
   */
  async stageApplied(name: string, id: number, commit: string, subject: string, by: string): Promise<string> {
    const g = git(this.appliedDir(name));
    const full = await g.revParse(`${validateSha(commit)}^{commit}`);
    if (!full) throw new HiveError('not_found', `no commit ${commit} in ${name}'s applied repo`);
    // the config may have been fine when it ran and not be now (a server's command removed since)
    const entries = parseLsTree(await g.run(['ls-tree', '-z', full, '--', AGENT_CONFIG_FILE]));
    await readConfigAt(g, entries, `${name}'s applied config@${full.slice(0, 12)}`, this.mounts);
    const head = await this.head(name);
    const message = `${subject} (approval #${id})\n\nRequested by ${by}: the config of applied commit ${full}.`;
    const staged = (await g.run(['commit-tree', `${full}^{tree}`, ...(head ? ['-p', head] : []), '-m', message])).trim();
    await this.tag(name, 'proposal', id, staged, `approval #${id}: ${by} asks to return ${name} to ${full.slice(0, 12)}`);
    return staged;
  }

  /** A git client on `name`'s applied repo, or null when it does not exist yet. */
  private appliedGit(name: string): Git | null {
    const dir = this.appliedDir(name);
    return isRepo(dir) ? git(dir) : null;
  }

  /** The full id of commit `sha` in `name`'s applied repo, or null. */
  async resolveApplied(name: string, sha: string): Promise<string | null> {
    const g = this.appliedGit(name);
    return g && g.revParse(`${validateSha(sha)}^{commit}`);
  }

  /**
   * Makes the staged proposal of approval `id` the applied head, re-committed on top of the current
   * head when that moved since staging, and checks it out.
   * @returns the head before (`base`, null for a new repo) and the new head (`commit`).
   */
  async apply(name: string, id: number): Promise<{ base: string | null; commit: string }> {
    const g = git(this.appliedDir(name));
    const staged = await g.revParse(`refs/tags/proposal/${id}^{commit}`);
    if (!staged) throw new HiveError('internal', `approval #${id} has no proposal/${id} tag in ${name}'s applied repo`);
    const base = await this.head(name);
    const parent = await g.revParse(`${staged}^`);
    let commit = staged;
    if ((parent ?? null) !== base) {
      const message = (await g.run(['log', '-1', '--format=%B', staged])).trimEnd();
      commit = (await g.run(['commit-tree', `${staged}^{tree}`, ...(base ? ['-p', base] : []), '-m', message])).trim();
    }
    await g.run(['reset', '--hard', commit]);
    return { base, commit };
  }

  /** Moves the applied head back to `commit` and checks it out (undoing a failed deploy). */
  async resetTo(name: string, commit: string): Promise<void> {
    await git(this.appliedDir(name)).run(['reset', '--hard', validateSha(commit)]);
  }

  /** Adds the annotated tag `<stage>/<id>` on `ref` (replacing one of that name). */
  async tag(name: string, stage: TagStage, id: number, ref: string, message: string): Promise<void> {
    await git(this.appliedDir(name)).run(['tag', '-f', '-a', '-m', message, `${stage}/${id}`, ref]);
  }

  /** The applied head, or null when the repo has no commit (or does not exist). */
  async head(name: string): Promise<string | null> {
    const g = this.appliedGit(name);
    return g && g.revParse('HEAD');
  }

  /** The commit a tag points at in `name`'s applied repo, or null. */
  async tagCommit(name: string, tag: string): Promise<string | null> {
    const g = this.appliedGit(name);
    return g && g.revParse(`refs/tags/${tag}^{commit}`);
  }

  /**
   * What approval `id` changes, as a unified diff: the staged proposal against the applied head
   * (or, once decided, against its parent). For a spawn not yet staged, `sha` in the proposed repo
   * against an empty tree. Diff drivers and external diff programs are never run.
   */
  async diff(name: string, id: number, opts: { pending: boolean; proposedSha: string | null }): Promise<string> {
    const flags = ['diff', '--no-color', '--no-ext-diff', '--no-textconv'];
    const applied = this.appliedGit(name);
    const staged = applied ? await applied.revParse(`refs/tags/proposal/${id}^{commit}`) : null;
    if (applied && staged) {
      const head = await this.head(name);
      const parent = await applied.revParse(`${staged}^`);
      const from = opts.pending ? (head ?? EMPTY_TREE) : (parent ?? EMPTY_TREE);
      return applied.run([...flags, from, staged]);
    }
    if (opts.proposedSha && this.hasProposed(name)) {
      const g = git(this.proposedDir(name));
      if (await g.revParse(`${validateSha(opts.proposedSha)}^{commit}`)) return g.run([...flags, EMPTY_TREE, opts.proposedSha]);
    }
    return '';
  }

  /** Lifecycle and other tags of `name`'s applied repo, newest first. */
  async tags(name: string): Promise<RepoTag[]> {
    const g = this.appliedGit(name);
    if (!g) return [];
    const out = await g.run([
      'for-each-ref',
      '--sort=-creatordate',
      '--format=%(refname:strip=2)%00%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)%00%(creatordate:unix)%00%(contents:subject)',
      'refs/tags',
    ]);
    return out
      .split('\n')
      .filter((r) => r.trim())
      .map((rec) => {
        const [tag = '', commit = '', date = '0', message = ''] = rec.split('\0');
        const m = /^([a-z]+)\/(\d+)$/.exec(tag);
        const stage = m && (TAG_STAGES as readonly string[]).includes(m[1]!) ? (m[1] as TagStage) : null;
        return { name: tag, stage, approval: stage ? Number(m![2]) : null, commit, created_at: Number(date) * 1000, message };
      });
  }

  /**
   * One commit of the applied repo: its header and its change against its parent, as a unified
   * diff (no diff drivers, no text conversion).
   * @throws HiveError `bad_request` for a malformed id, `not_found` when absent.
   */
  async commitDiff(name: string, sha: string): Promise<string> {
    const full = await this.resolveApplied(name, sha);
    if (!full) throw new HiveError('not_found', `no commit ${sha} in ${name}'s applied repo`);
    return git(this.appliedDir(name)).run(['show', '--no-color', '--no-ext-diff', '--no-textconv', '--format=commit %H%nDate: %cI%n%n%B', full]);
  }

  /** The newest `limit` commits reachable from `ref` (default: the applied head). */
  async log(name: string, limit = 50, ref = 'HEAD'): Promise<RepoCommit[]> {
    return logOf(this.appliedDir(name), limit, ref);
  }

  /**
   * A file's text at a commit or tag of the applied repo.
   * @throws HiveError `bad_request` for an unsafe path or ref, `not_found` when absent.
   */
  async show(name: string, ref: string, path: string): Promise<string> {
    if (!/^[A-Za-z0-9._/-]{1,200}$/.test(ref) || ref.includes('..')) throw new HiveError('bad_request', `"${ref.slice(0, 60)}" is not a tag or commit id`);
    if (!/^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,200}$/.test(path) || path.split('/').includes('..'))
      throw new HiveError('bad_request', `"${path.slice(0, 60)}" is not a path in the config tree`);
    const g = this.appliedGit(name);
    if (!g) throw new HiveError('not_found', `agent "${name}" has no applied config repo`);
    const commit = (await g.revParse(`refs/tags/${ref}^{commit}`)) ?? (COMMIT_ID_RE.test(ref) ? await g.revParse(`${ref}^{commit}`) : null);
    if (!commit) throw new HiveError('not_found', `no tag or commit "${ref}" in ${name}'s applied repo`);
    // ls-tree prints nothing (and succeeds) for a path the commit does not have: that is "absent";
    // a failure of git itself stays an error
    const [entry] = parseLsTree(await g.run(['ls-tree', '-z', commit, '--', path]));
    if (!entry || entry.path !== path) throw new HiveError('not_found', `${path} does not exist at ${ref}`);
    if (entry.type !== 'blob') throw new HiveError('not_found', `${path} is not a file at ${ref}`);
    return g.run(['cat-file', 'blob', entry.oid]);
  }

  /**
   * Tag retention for `name`'s applied repo: keeps every `deployed/*`; drops `proposal/`,
   * `approved/` and `building/` once the same approval has a terminal tag (`deployed`, `failed`,
   * `denied`); drops `failed/` and `denied/` older than `maxAgeDays`.
   * @returns the deleted tag names.
   */
  async retain(name: string, maxAgeDays: number, now = Date.now()): Promise<string[]> {
    const tags = await this.tags(name);
    const terminal = new Set(tags.filter((t) => t.stage === 'deployed' || t.stage === 'failed' || t.stage === 'denied').map((t) => t.approval));
    const cutoff = now - maxAgeDays * 86_400_000;
    const drop = tags
      .filter((t) => {
        if (t.stage === 'proposal' || t.stage === 'approved' || t.stage === 'building') return terminal.has(t.approval);
        if (t.stage === 'failed' || t.stage === 'denied') return t.created_at < cutoff;
        return false;
      })
      .map((t) => t.name);
    const g = git(this.appliedDir(name));
    for (let i = 0; i < drop.length; i += 200) await g.run(['tag', '-d', ...drop.slice(i, i + 200)]);
    return drop;
  }
}

/** What the meta repo records for one agent. */
export interface DeployEntry {
  agent: string;
  /** The applied commit the agent runs, or null when it never deployed one. */
  commit: string | null;
  approval: number | null;
  /** When that commit went live, ISO 8601. */
  since: string | null;
  hive_version: string;
  runtime: string;
  /** The latest attempt, successful or not. */
  last: { what: string; outcome: 'deployed' | 'failed'; at: string; commit: string | null; error: string | null };
}

/**
 * The swarm-wide deploy log: `<data>/meta`, a git repo with `agents/<name>.json` per agent. Every
 * deploy, failed deploy, spawn and destroy is one commit, so `git log` answers "what runs where,
 * since when" and `git show` the details.
 */
export class MetaRepo {
  /** @param bus hears `deploys` after every commit this repo gains; omitted, nothing is told. */
  constructor(
    readonly dir: string,
    private readonly bus?: Pick<EventBus, 'emit'>,
  ) {}

  /** Creates the repo on first use. */
  async ensure(): Promise<void> {
    mkdirSync(join(this.dir, 'agents'), { recursive: true });
    if (isRepo(this.dir)) return;
    const g = git(this.dir);
    await g.run(['init']);
    writeFileSync(join(this.dir, 'README'), 'hyperhive deploy log: agents/<name>.json is what each agent runs; `git log` is the history.\n');
    await g.run(['add', 'README']);
    await g.run(['commit', '-m', 'start the deploy log']);
    this.bus?.emit({ type: 'deploys' });
  }

  /**
   * The recorded entry of `name`, or null when it has none (no `agents/<name>.json`).
   * @throws HiveError `internal` when the file is there but cannot be read or is not JSON.
   */
  entry(name: string): DeployEntry | null {
    const rel = `agents/${name}.json`;
    let text: string;
    try {
      text = readFileSync(join(this.dir, rel), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // never recorded, or removed at destroy
      throw new HiveError('internal', `the deploy log's ${rel} cannot be read: ${(err as Error).message}`);
    }
    try {
      return JSON.parse(text) as DeployEntry;
    } catch (err) {
      throw new HiveError('internal', `the deploy log's ${rel} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /**
   * Writes `entry` and commits it with `subject`.
   * @throws GitError (or a file system error) when the file or the commit cannot be written.
   */
  async record(entry: DeployEntry, subject: string): Promise<void> {
    await this.ensure();
    const rel = `agents/${entry.agent}.json`;
    writeFileSync(join(this.dir, rel), JSON.stringify(entry, null, 2) + '\n');
    const g = git(this.dir);
    await g.run(['add', rel]);
    await g.run(['commit', '--allow-empty', '-m', subject]);
    this.bus?.emit({ type: 'deploys' });
  }

  /**
   * Removes `name`'s entry (the agent was destroyed) and commits; nothing when it has none.
   * @throws GitError when the removal cannot be committed.
   */
  async remove(name: string, subject: string): Promise<void> {
    await this.ensure();
    const rel = `agents/${name}.json`;
    if (!existsSync(join(this.dir, rel))) return;
    const g = git(this.dir);
    await g.run(['rm', rel]);
    await g.run(['commit', '-m', subject]);
    this.bus?.emit({ type: 'deploys' });
  }

  /** The newest `limit` commits of the deploy log. */
  async log(limit = 100): Promise<RepoCommit[]> {
    return logOf(this.dir, limit, 'HEAD');
  }
}

async function logOf(dir: string, limit: number, ref: string): Promise<RepoCommit[]> {
  if (!isRepo(dir)) return [];
  const g = git(dir);
  if (!(await g.revParse(`${ref}^{commit}`))) return [];
  const out = await g.run(['log', `-${Math.max(1, Math.min(limit, MAX_LIST_LIMIT))}`, '--format=%H%x00%ct%x00%s', ref, '--']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [sha = '', at = '0', subject = ''] = line.split('\0');
      return { sha, at: Number(at) * 1000, subject };
    });
}

/** True when `dir` is the top of a git work tree (has `.git`). */
function isRepo(dir: string): boolean {
  return existsSync(join(dir, '.git'));
}

/** Makes commits in the freshly initialised repo at `dir` the manager's (its local git config). */
function appendManagerIdentity(dir: string): void {
  appendFileSync(join(dir, '.git', 'config'), '[user]\n\tname = manager\n\temail = manager@hyperhive.invalid\n');
}

/**
 * Reads and checks the `agent.toml` among `entries` (a commit's tree, from `ls-tree -z`): present,
 * within {@link MAX_CONFIG_BYTES}, valid, every extra MCP server's command executable, and every
 * mount allowed by `mounts` (see `mounts.ts`).
 * @param label names the commit in messages, e.g. `/agents/alice/config@3f9c1e2a7b4d`.
 * @throws HiveError `bad_config` naming the file and the field.
 */
async function readConfigAt(g: Git, entries: ReturnType<typeof parseLsTree>, label: string, mounts: MountPolicy): Promise<LoadedAgentConfig> {
  const toml = entries.find((e) => e.path === AGENT_CONFIG_FILE);
  if (!toml || toml.type !== 'blob' || toml.mode === '120000') throw new HiveError('bad_config', `${label}: has no ${AGENT_CONFIG_FILE} at the top of the tree`);
  const size = Number((await g.run(['cat-file', '-s', toml.oid])).trim());
  if (size > MAX_CONFIG_BYTES) throw new HiveError('bad_config', `${label}: ${AGENT_CONFIG_FILE} is ${size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
  const source = `${label}:${AGENT_CONFIG_FILE}`;
  const loaded = parseAgentConfig(await g.run(['cat-file', 'blob', toml.oid]), source);
  checkExtraMcpServers(loaded.config, process.env.PATH ?? '', source);
  resolveMounts(loaded.config, mounts, source);
  return loaded;
}

/** Parses `git ls-tree [-r] -z` output. */
function parseLsTree(out: string): Array<{ mode: string; type: string; oid: string; path: string }> {
  return out
    .split('\0')
    .filter(Boolean)
    .map((rec) => {
      const tab = rec.indexOf('\t');
      const [mode = '', type = '', oid = ''] = rec.slice(0, tab).split(' ');
      return { mode, type, oid, path: rec.slice(tab + 1) };
    });
}
