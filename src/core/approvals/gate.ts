/**
 * @module core/approvals/gate
 * The approval gate: every change to what an agent is (a new agent, a config commit, a rollback)
 * is requested here, waits as a `pending` approval, and is carried out only when the operator
 * approves it (by the deployer, `configs/deploy.ts`). Requests are checked when they are made, so
 * a bad config is refused to the requester at once, naming the field. The manager is told every
 * outcome of what it asked for.
 *
 * Spawns come in two forms: `requestSpawn` (the default config) and the two-step draft
 * (`requestSpawnDraft`, then `requestSpawnCommit` from a commit of the draft's proposed repo).
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, OPERATOR, SYSTEM, validateAgentName } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';
import type { ApprovalRecord } from '../../shared/wire.ts';
import type { Registry } from '../agents/registry.ts';
import type { Alerts } from '../alerts.ts';
import type { Broker } from '../broker/store.ts';
import type { Deployer } from '../configs/deploy.ts';
import { validateSha } from '../configs/git.ts';
import type { ConfigRepos } from '../configs/repos.ts';
import { assertInside, removeNoFollow } from '../data-dir.ts';
import type { Drafts } from './drafts.ts';
import type { Approvals } from './store.ts';

/** A spawn draft as listed: its row plus the pending spawn approval of it, if any. */
export interface DraftListing {
  name: string;
  requested_by: string;
  /** Epoch ms. */
  created_at: number;
  approval: number | null;
}

/** Where a new draft lives, as the manager sees it, and its first commit. */
export interface DraftCreated {
  name: string;
  config_dir: string;
  state_dir: string;
  head: string;
}

/** What the gate reads and changes. */
export interface ApprovalGateDeps {
  approvals: Approvals;
  drafts: Drafts;
  registry: Registry;
  repos: ConfigRepos;
  deployer: Deployer;
  broker: Broker;
  /** A `denied/<id>` tag that cannot be written is raised as `audit_failed`. */
  alerts: Alerts;
  layout: DataLayout;
  /** Whether agents run in a sandbox (the manager then sees proposed repos under `/agents`). */
  sandboxed: boolean;
  log: (line: string) => void;
}

/** Requests, decisions and drafts. */
export class ApprovalGate {
  /** Approvals being carried out, so a double click cannot deploy one twice. */
  private deciding = new Set<number>();

  constructor(private readonly deps: ApprovalGateDeps) {}

  /**
   * `by` asks to spawn `name` with the default config; the operator decides.
   * @throws HiveError `bad_name`, `exists` when the agent exists, `conflict` when already requested.
   */
  requestSpawn(by: string, name: string): ApprovalRecord {
    this.deps.registry.requireFree(name);
    const approval = this.deps.approvals.request('spawn', name, by);
    this.deps.log(`approval #${approval.id}: ${by} asks to spawn ${name}`);
    return approval;
  }

  /**
   * First step of a two-step spawn: creates `name`'s proposed config repo (the default config,
   * committed) and a staging dir for its first `/state` files, with no sandbox. The manager edits
   * and commits, then calls {@link requestSpawnCommit}.
   * @throws HiveError `bad_name`, `exists` when the agent exists or the draft already does.
   */
  async requestSpawnDraft(by: string, name: string): Promise<DraftCreated> {
    const { registry, drafts, repos, log } = this.deps;
    registry.requireFree(name);
    if (drafts.has(name)) throw new HiveError('exists', `a draft of "${name}" already exists; edit it and call request_spawn_commit`);
    const head = await repos.createDraft(name);
    drafts.add(name, by);
    log(`${by} drafted agent ${name}`);
    const view = this.managerView(name);
    return { name, config_dir: `${view}/config`, state_dir: `${view}/state`, head };
  }

  /**
   * Second step of a two-step spawn: queues the spawn of draft `name` from commit `sha` of its
   * proposed repo. The config at that commit is checked now.
   * @throws HiveError `not_found` without a draft or commit, `bad_config` naming the field,
   *   `bad_request` for a malformed sha, `conflict` when a spawn of `name` is already pending.
   */
  async requestSpawnCommit(by: string, name: string, sha: string): Promise<ApprovalRecord> {
    const { registry, drafts, repos, approvals, log } = this.deps;
    validateSha(sha);
    registry.requireFree(name);
    if (!drafts.has(name)) throw new HiveError('not_found', `there is no draft of "${name}"; call request_spawn_draft first`);
    const checked = await repos.checkProposal(name, sha);
    const approval = approvals.request('spawn', name, by, checked.sha, checked.subject);
    log(`approval #${approval.id}: ${by} asks to spawn ${name} from ${checked.sha.slice(0, 12)}`);
    return approval;
  }

  /**
   * `by` (the manager or the operator) asks to apply commit `sha` of `name`'s proposed repo. The
   * commit and the config in it are checked now; a valid one is staged in the applied repo and
   * tagged `proposal/<id>`.
   * @throws HiveError `not_found` for an unknown agent or commit, `forbidden` for a peer,
   *   `bad_request` for a malformed sha, `bad_config` naming the file and field, `conflict` when
   *   that commit is already pending.
   */
  async requestApplyCommit(by: string, name: string, sha: string): Promise<ApprovalRecord> {
    const { registry, repos, approvals, log } = this.deps;
    validateSha(sha);
    registry.requireManaged(name, 'given a config');
    await repos.ensureProposed(name);
    const checked = await repos.checkProposal(name, sha);
    // announced only once staged, so its diff is never read before its proposal/<id> tag exists
    const approval = approvals.request('apply_commit', name, by, checked.sha, checked.subject, { quiet: true });
    try {
      await repos.stage(name, approval.id, checked, by);
    } catch (err) {
      approvals.decide(approval.id, 'failed', `could not be staged: ${(err as Error).message}`);
      throw err;
    }
    approvals.announce(approval.id);
    log(`approval #${approval.id}: ${by} asks to apply ${checked.sha.slice(0, 12)} to ${name}`);
    return approval;
  }

  /**
   * The operator asks to return `name` to an earlier applied config: `to` is a deploy approval's
   * id (its `deployed/<id>` tag) or an applied commit id. Queued as an `apply_commit` approval, so
   * it goes through the same gate, tags and rebuild.
   * @throws HiveError `not_found` when there is no such agent, deploy or commit; `forbidden` for a
   *   peer; `bad_request` for a malformed commit id.
   */
  async rollback(name: string, to: string, by = OPERATOR): Promise<ApprovalRecord> {
    const { registry, repos, approvals, log } = this.deps;
    registry.requireManaged(name, 'rolled back');
    const byId = /^\d{1,9}$/.test(to);
    const commit = byId ? await repos.tagCommit(name, `deployed/${to}`) : await repos.resolveApplied(name, validateSha(to));
    if (!commit)
      throw new HiveError('not_found', `${name} has no ${byId ? `deployed/${to} tag` : `commit ${to}`} in its applied repo; see \`hive ctl repo ${name}\``);
    const subject = `roll back to ${commit.slice(0, 12)}`;
    const approval = approvals.request('apply_commit', name, by, commit, subject, { quiet: true });
    try {
      await repos.stageApplied(name, approval.id, commit, subject, by);
    } finally {
      approvals.announce(approval.id);
    }
    log(`approval #${approval.id}: ${by} asks to roll ${name} back to ${commit.slice(0, 12)}`);
    return approval;
  }

  /** Spawn drafts waiting for their commit or approval, oldest first. */
  drafts(): DraftListing[] {
    const spawns = this.deps.approvals.list().filter((a) => a.kind === 'spawn');
    return this.deps.drafts.list().map((r) => ({ ...r, approval: spawns.find((a) => a.agent === r.name)?.id ?? null }));
  }

  /**
   * The operator drops a draft: its row, and its proposed repo and staged state unless an agent
   * of that name has kept state. A pending spawn of it is denied.
   * @throws HiveError `bad_name`; `not_found` when there is no such draft.
   */
  async discardDraft(name: string): Promise<void> {
    const { drafts, approvals, registry, layout, log } = this.deps;
    validateAgentName(name);
    if (!drafts.has(name)) throw new HiveError('not_found', `there is no draft of "${name}"`);
    const pending = approvals.list().find((a) => a.kind === 'spawn' && a.agent === name);
    if (pending) await this.deny(pending.id, 'the operator discarded the draft');
    drafts.remove(name);
    if (!registry.has(name) && !existsSync(layout.agent(name).root)) {
      const dir = join(layout.proposedDir, name);
      assertInside(layout.dataDir, dir);
      removeNoFollow(dir);
    }
    log(`draft of ${name} discarded`);
  }

  /** Copies a draft's staged `/state` files into the new agent's state dir (existing files win). */
  seedState(name: string): void {
    const from = this.deps.repos.draftStateDir(name);
    if (!existsSync(from)) return;
    cpSync(from, this.deps.layout.agent(name).state, { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
  }

  /**
   * The change approval `id` makes, as a unified diff (empty when there is nothing to show).
   * @throws HiveError `not_found`.
   */
  async diff(id: number): Promise<string> {
    const a = this.deps.approvals.get(id);
    return this.deps.repos.diff(a.agent, id, { pending: a.status === 'pending', proposedSha: a.sha });
  }

  /**
   * Approves and carries out a pending approval; the manager is told the outcome.
   * @returns the approval, `deployed` or `failed` (with the error in `note`).
   * @throws HiveError `not_found`, `conflict` when it is not pending or already being carried out.
   */
  async approve(id: number): Promise<ApprovalRecord> {
    const { approvals, registry, deployer, drafts } = this.deps;
    const a = approvals.get(id);
    if (a.status !== 'pending') throw new HiveError('conflict', `approval #${id} is already ${a.status}`);
    if (this.deciding.has(id)) throw new HiveError('conflict', `approval #${id} is being carried out`);
    this.deciding.add(id);
    try {
      let done: ApprovalRecord;
      try {
        if (a.kind === 'spawn') registry.requireFree(a.agent);
      } catch (err) {
        done = approvals.decide(id, 'failed', (err as Error).message);
        this.notifyDecision(done);
        return done;
      }
      done = await deployer.carryOut(approvals.begin(id));
      if (done.kind === 'spawn' && done.status === 'deployed') drafts.remove(done.agent);
      this.notifyDecision(done);
      return done;
    } finally {
      this.deciding.delete(id);
    }
  }

  /**
   * Denies a pending approval (tagged `denied/<id>` when staged); the manager is told.
   * @throws HiveError `not_found`, `conflict` when it is not pending or being carried out.
   */
  async deny(id: number, reason?: string): Promise<ApprovalRecord> {
    const { approvals, repos, alerts, log } = this.deps;
    if (this.deciding.has(id)) throw new HiveError('conflict', `approval #${id} is being carried out`);
    // announced once its denied/<id> tag is written, so the tag chain is never read without it
    const done = approvals.decide(id, 'denied', reason?.trim() || null, { quiet: true });
    try {
      const staged = await repos.tagCommit(done.agent, `proposal/${id}`);
      if (staged) await repos.tag(done.agent, 'denied', id, staged, `approval #${id} denied${done.note ? `: ${done.note}` : ''}`);
    } catch (e) {
      // the decision stands (it is in the database); the trail's missing tag is shown to the operator
      const text = `approval #${id} was denied, but its denied/${id} tag could not be written: ${(e as Error).message}`;
      log(text);
      alerts.raise('audit_failed', done.agent, text);
    }
    approvals.announce(id);
    this.notifyDecision(done);
    return done;
  }

  /** Logs a decided approval and, when the manager asked for it, tells the manager the outcome. */
  notifyDecision(a: ApprovalRecord): void {
    const { registry, broker, log } = this.deps;
    const what = a.kind === 'spawn' ? `spawn ${a.agent}${a.sha ? ` from ${a.sha.slice(0, 12)}` : ''}` : `apply ${a.sha?.slice(0, 12) ?? ''} to ${a.agent}`;
    const outcome =
      a.status === 'deployed' ? 'approved and done' : a.status === 'failed' ? `approved but failed: ${a.note}` : `denied${a.note ? `: ${a.note}` : ''}`;
    log(`approval #${a.id} (${what}): ${outcome}`);
    if (registry.has(MANAGER) && a.requested_by === MANAGER)
      broker.send(SYSTEM, MANAGER, `approval #${a.id} (${what}) was ${outcome}`, { kind: 'notice', ref: a.id });
  }

  /** Where the manager sees `name`'s proposed repo and draft state: `/agents/<name>` in a sandbox. */
  private managerView(name: string): string {
    return this.deps.sandboxed ? `/agents/${name}` : join(this.deps.layout.proposedDir, name);
  }
}
