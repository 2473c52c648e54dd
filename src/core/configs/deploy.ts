/**
 * @module core/configs/deploy
 * Carrying out approved changes, and rebuilding agents so people can watch.
 *
 * A **rebuild** stops the agent's sandbox, starts a fresh one through the runtime with the applied
 * config, and waits until the harness says hello. Every step, and every line the sandbox prints
 * meanwhile, goes out as a `build` event (the dashboard streams it) and into the core's log, so a
 * slow start is told apart from a stuck one. The lines of an agent's last rebuild or deploy are also
 * kept in `<data>/logs/<name>.build.log` (started afresh by each), which the manager reads at
 * `/logs` to find out what went wrong.
 *
 * A **deploy** of an approval walks the applied repo's tags (see `configs/repos.ts`):
 * `approved/<id>` → the proposal becomes the applied head → `building/<id>` → rebuild →
 * `deployed/<id>`, or on any error `failed/<id>` with the error in the tag message, the applied head
 * moved back to where it was, and the agent rebuilt on its previous config. Each outcome is one
 * commit in the meta repo. Work on one agent is serial ({@link KeyedQueue}), so two approvals for
 * the same agent never deploy at once; different agents deploy in parallel.
 *
 * The audit trail (the outcome tags and the deploy log) is never dropped quietly: a `failed/<id>`
 * tag or a deploy-log commit that cannot be written is logged and raised as the `audit_failed`
 * alert naming the missing record, and the deploy's outcome stands.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataLayout } from '../../shared/paths.ts';
import { VERSION } from '../../shared/version.ts';
import type { AgentRecord, ApprovalRecord } from '../../shared/wire.ts';
import type { Alerts } from '../alerts.ts';
import type { Approvals } from '../approvals/store.ts';
import { KeyedQueue } from './git.ts';
import type { ConfigRepos, DeployEntry, MetaRepo, RepoTag, TagStage } from './repos.ts';
import { checkExtraMcpServers, type AgentConfigs } from './agent-configs.ts';
import { NO_MOUNTS, resolveMounts, type MountPolicy } from './mounts.ts';
import type { EventBus } from '../bus.ts';
import type { Registry } from '../agents/registry.ts';
import type { Supervisor } from '../agents/supervisor.ts';
import { packagesIgnored } from '../agents/lifecycle.ts';
import type { Images } from '../images/images.ts';
import type { Runtime } from '../runtime/runtime.ts';

export { findExecutable } from './agent-configs.ts';

/**
 * Errors of a rebuild that failed before the running sandbox was stopped (its image could not be
 * built): the agent still runs its previous config, so a failed deploy puts the config back
 * without rebuilding it.
 */
const untouched = new WeakSet<Error>();

/** How long a rebuilt agent has to say hello, ms. */
export const READY_TIMEOUT_MS = 60_000;
/** How long the sandbox's output is still followed after hello, ms. */
const TAIL_AFTER_READY_MS = 1000;
/** Longest build line passed on, characters. */
const MAX_LINE = 2000;

/** What the deployer needs from the rest of the core. */
export interface DeployerDeps {
  registry: Registry;
  supervisor: Supervisor;
  approvals: Approvals;
  configs: AgentConfigs;
  repos: ConfigRepos;
  meta: MetaRepo;
  layout: DataLayout;
  bus: EventBus;
  runtimeName: string;
  /** Registers a new agent: its row, dirs and socket (not started). */
  createAgent: (name: string) => Promise<void>;
  /** Copies a draft's staged `/state` files into the new agent's state dir. */
  seedState: (name: string) => void;
  /**
   * Failed deploys are raised here (`deploy_failed`; a deploy that succeeds closes them), and so
   * are records of the audit trail that could not be written (`audit_failed`).
   */
  alerts: Alerts;
  log: (line: string) => void;
  readyTimeoutMs?: number;
  /** What this host allows of an agent's `mounts`, checked again at every rebuild (default: none). */
  mounts?: MountPolicy;
  /** Agents' root filesystems, or null when sandboxes show the host's (see `images/`). */
  images?: Pick<Images, 'ensure'> | null;
  /** The runtime, for the warning when a config's `packages` are not installed. */
  runtime?: Pick<Runtime, 'name' | 'rootFromImage'>;
}

/** Rebuilds agents and carries out approvals. */
export class Deployer {
  private queue = new KeyedQueue();
  /** Agents whose build log could not be written, so the core log says it once per rebuild. */
  private buildLogFailed = new Set<string>();

  constructor(private readonly deps: DeployerDeps) {}

  /** Runs `task` in `name`'s queue, so it never overlaps a rebuild or deploy of that agent. */
  exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(name, task);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Rebuilds `name` (queued behind any deploy of it) and records the outcome in the meta repo.
   * @throws the reason it did not come up (start failure, crash, stop, no hello in time, or an
   *   applied repo git cannot read).
   */
  rebuild(name: string, reason: string): Promise<void> {
    return this.queue.run(name, async () => {
      this.freshBuildLog(name);
      let commit: string | null = null;
      try {
        commit = await this.deps.repos.head(name);
        await this.rebuildNow(name, reason, null);
        await this.recordMeta(name, { what: reason, outcome: 'deployed', commit, approval: null, error: null });
      } catch (err) {
        await this.recordMeta(name, { what: reason, outcome: 'failed', commit, approval: null, error: (err as Error).message });
        throw err;
      }
    });
  }

  /**
   * Carries out an approval that is `building` (approved, or recorded by the operator): a spawn or
   * an apply. Never throws: the outcome is the returned record, `deployed` or `failed`. A record of
   * the audit trail that cannot be written (a `failed/<id>` tag, a deploy-log commit) raises the
   * `audit_failed` alert naming it.
   */
  carryOut(a: ApprovalRecord): Promise<ApprovalRecord> {
    return this.queue.run(a.agent, () => {
      this.freshBuildLog(a.agent);
      return a.kind === 'spawn' ? this.spawn(a) : this.apply(a);
    });
  }

  /**
   * Ends approvals a stopped core left `building`, each with exactly one outcome that the tags, the
   * database and the deploy log agree on. Run before any agent starts.
   *
   * - `deployed/<id>` is there (the core stopped after the deploy's last git step, before recording
   *   it): the approval is `deployed`; the applied head stays; the deploy log gets the entry if it
   *   lacks it.
   * - otherwise it is `failed`: the applied head goes back to the commit it had before the deploy
   *   began, `failed/<id>` is tagged (an existing one, written before the stop, is kept with its
   *   error), and the deploy log records the failure if it lacks it.
   * @returns the finished approvals, for notices.
   */
  async recover(): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    for (const a of this.deps.approvals.inFlight()) out.push(await this.recoverOne(a));
    return out;
  }

  /**
   * Whether `agent`'s sandbox last came up with a different applied commit or hive version than
   * now, and so needs a rebuild (auto-update). The hive version carries a hash of the code the
   * agents run (see `shared/version.ts`), so new code is rolled out without a version bump.
   * @returns the reason, or null when it is current (and always for a peer, which the hive does not build).
   */
  async staleness(agent: AgentRecord): Promise<string | null> {
    if (agent.role === 'peer') return null;
    if (agent.built_version === null) return null; // never came up yet: a plain first start
    if (agent.built_version !== VERSION) return `auto-update: hive ${agent.built_version} → ${VERSION}`;
    let head: string | null;
    try {
      head = await this.deps.repos.head(agent.name);
    } catch (err) {
      // a rebuild reads it again, fails, and records why (deploy log, deploy_failed alert)
      return `auto-update: the applied config cannot be read (${(err as Error).message})`;
    }
    if (agent.built_commit !== head) return `auto-update: config ${agent.built_commit?.slice(0, 12) ?? '(none)'} → ${head?.slice(0, 12) ?? '(none)'}`;
    return null;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async recoverOne(a: ApprovalRecord): Promise<ApprovalRecord> {
    const { repos, approvals, meta } = this.deps;
    const name = a.agent;
    const what = a.kind === 'spawn' ? `spawn, approval #${a.id}` : `approval #${a.id}`;
    const done = (status: 'deployed' | 'failed', note: string) => {
      this.deps.log(`approval #${a.id} (${a.kind} ${name}): ${note}`);
      return approvals.finish(a.id, status, note);
    };
    let tags: RepoTag[];
    try {
      tags = await repos.tags(name);
    } catch (err) {
      const why = `the core stopped during the deploy, and ${name}'s applied repo cannot be read to tell how far it got: ${(err as Error).message}`;
      this.raiseAudit(name, `the outcome of approval #${a.id} in ${name}'s applied repo`, err as Error);
      await this.recordMeta(name, { what, outcome: 'failed', commit: a.applied_commit, approval: a.id, error: why });
      return done('failed', why);
    }
    const tagged = (stage: TagStage) => tags.find((t) => t.name === `${stage}/${a.id}`) ?? null;
    const recorded = (outcome: 'deployed' | 'failed') => {
      try {
        const e = meta.entry(name);
        return e?.last.what === what && e.last.outcome === outcome && e.last.commit === a.applied_commit;
      } catch {
        return false; // unreadable: recordMeta below says so and writes a fresh entry
      }
    };

    const deployed = tagged('deployed');
    if (deployed && (a.applied_commit === null || deployed.commit === a.applied_commit)) {
      // deployed/<id> is written only once the agent is up on the new config (or, for a stopped
      // agent, once that config was checked): the deploy is done, only its records are missing
      if (!recorded('deployed'))
        await this.recordMeta(name, { what, outcome: 'deployed', commit: deployed.commit, approval: a.id, error: null });
      return done('deployed', 'deployed; the core stopped before recording it, so it was recorded at the next start');
    }

    const earlier = tagged('failed');
    const problems: string[] = [];
    if (a.base_commit) {
      try {
        const head = await repos.head(name);
        if (head !== a.base_commit) await repos.resetTo(name, a.base_commit);
      } catch (err) {
        problems.push(`the previous config (${a.base_commit.slice(0, 12)}) could not be put back: ${(err as Error).message}`);
      }
    }
    const why = [
      earlier
        ? `${earlier.message.replace(/^approval #\d+ failed: /, '')} (the core stopped before recording it)`
        : `the core stopped during the deploy; ${a.base_commit ? `the previous config (${a.base_commit.slice(0, 12)}) is back in place` : 'nothing was applied'}`,
      ...problems,
    ].join('; ');
    if (!earlier) {
      const on = a.applied_commit ?? tagged('proposal')?.commit ?? null;
      // no commit at all: the core stopped before the applied repo had anything to tag
      if (on) await this.writeAudit(name, `the failed/${a.id} tag in ${name}'s applied repo`, () => repos.tag(name, 'failed', a.id, on, `approval #${a.id} failed: ${why}`));
    }
    if (!recorded('failed')) await this.recordMeta(name, { what, outcome: 'failed', commit: a.applied_commit, approval: a.id, error: why });
    return done('failed', why);
  }

  private async spawn(a: ApprovalRecord): Promise<ApprovalRecord> {
    const { repos, approvals, registry } = this.deps;
    const name = a.agent;
    const what = `spawn, approval #${a.id}`;
    let commit: string | null = null;
    // the manager's copy is not needed to start the agent: made while it builds, awaited after
    let proposed: Promise<Error | null> | null = null;
    try {
      if (!registry.has(name)) await this.deps.createAgent(name);
      if (a.sha) {
        const checked = await repos.checkProposal(name, a.sha);
        await repos.stage(name, a.id, checked, a.requested_by);
        const applied = await repos.apply(name, a.id);
        commit = applied.commit;
        approvals.setCommits(a.id, applied.base, commit);
        this.deps.seedState(name);
      } else {
        commit = await repos.ensureApplied(name);
        approvals.setCommits(a.id, null, commit);
      }
      proposed = repos.ensureProposed(name).then(
        () => null,
        (e: Error) => e,
      );
      await Promise.all([
        a.sha ? null : repos.tag(name, 'proposal', a.id, commit, `approval #${a.id}: ${a.requested_by} asks to spawn ${name} with the default config`),
        repos.tag(name, 'approved', a.id, commit, `approval #${a.id}: approved by the operator`),
        repos.tag(name, 'building', a.id, commit, `approval #${a.id}: building`),
      ]);
      registry.setDesired(name, 'running');
      registry.setLive(name, { restarts: 0 });
      await this.rebuildNow(name, `spawn (approval #${a.id})`, a.id);
      const notProposed = await proposed;
      proposed = null;
      if (notProposed) throw new Error(`the manager's copy of ${name}'s config (its proposed repo) could not be made: ${notProposed.message}`);
      await repos.tag(name, 'deployed', a.id, commit, `approval #${a.id}: deployed`);
    } catch (err) {
      let error = (err as Error).message;
      const notProposed = proposed && (await proposed);
      if (notProposed) error += `; the manager's copy of ${name}'s config (its proposed repo) could not be made either: ${notProposed.message}`;
      if (commit) await this.writeAudit(name, `the failed/${a.id} tag in ${name}'s applied repo`, () => repos.tag(name, 'failed', a.id, commit!, `approval #${a.id} failed: ${error}`));
      await this.recordMeta(name, { what, outcome: 'failed', commit, approval: a.id, error });
      return approvals.finish(a.id, 'failed', error);
    }
    await this.recordMeta(name, { what, outcome: 'deployed', commit, approval: a.id, error: null });
    return approvals.finish(a.id, 'deployed');
  }

  private async apply(a: ApprovalRecord): Promise<ApprovalRecord> {
    const { repos, approvals, registry } = this.deps;
    const name = a.agent;
    if (!registry.has(name)) {
      const error = `agent "${name}" no longer exists`;
      // its applied repo outlives it (destroy keeps it); the deploy log has no entry for it any more
      const staged = await repos.tagCommit(name, `proposal/${a.id}`).catch((e: Error) => {
        this.raiseAudit(name, `the failed/${a.id} tag in ${name}'s applied repo`, e);
        return null;
      });
      if (staged) await this.writeAudit(name, `the failed/${a.id} tag in ${name}'s applied repo`, () => repos.tag(name, 'failed', a.id, staged, `approval #${a.id} failed: ${error}`));
      return approvals.finish(a.id, 'failed', error);
    }
    let base: string | null = null;
    let commit: string | null = null;
    const running = registry.require(name).desired === 'running';
    try {
      const staged = await repos.tagCommit(name, `proposal/${a.id}`);
      if (!staged) throw new Error(`the proposal/${a.id} tag is missing from ${name}'s applied repo`);
      await repos.tag(name, 'approved', a.id, staged, `approval #${a.id}: approved by the operator`);
      base = await repos.head(name);
      approvals.setCommits(a.id, base, null); // recorded before the head moves, for crash recovery
      ({ commit } = await repos.apply(name, a.id));
      approvals.setCommits(a.id, base, commit);
      await repos.tag(name, 'building', a.id, commit, `approval #${a.id}: building`);
      if (running) await this.rebuildNow(name, `approval #${a.id}`, a.id);
      else {
        // a stopped agent takes it at its next start; it must be able to, image and all
        this.checkApplied(name, () => {});
        await this.prepareImage(name, (l) => this.line(name, a.id, l));
      }
      await repos.tag(name, 'deployed', a.id, commit, `approval #${a.id}: deployed${running ? '' : ' (agent stopped; takes effect at its next start)'}`);
    } catch (err) {
      let error = (err as Error).message;
      if (commit) await this.writeAudit(name, `the failed/${a.id} tag in ${name}'s applied repo`, () => repos.tag(name, 'failed', a.id, commit!, `approval #${a.id} failed: ${error}`));
      if (base && commit) {
        let restored = true;
        try {
          await repos.resetTo(name, base);
        } catch (e) {
          restored = false;
          error += `; the previous config (${base.slice(0, 12)}) could not be put back: ${(e as Error).message}`;
        }
        if (!restored) error += `; ${name} is left as it is, with the failed config as its applied head`;
        else if (running && registry.has(name) && !untouched.has(err as Error)) {
          await this.rebuildNow(name, `back to ${base.slice(0, 12)} after approval #${a.id} failed`, a.id).catch((e: Error) => {
            error += `; the previous config did not come back up either: ${e.message}`;
          });
        } else {
          // the check above read (and cached) the failed config; what the core consults is the previous one
          try {
            this.deps.configs.load(name);
          } catch (e) {
            error += `; the previous config does not load either: ${(e as Error).message}`;
          }
        }
      }
      await this.recordMeta(name, { what: `approval #${a.id}`, outcome: 'failed', commit, approval: a.id, error });
      return approvals.finish(a.id, 'failed', error);
    }
    await this.recordMeta(name, { what: `approval #${a.id}`, outcome: 'deployed', commit, approval: a.id, error: null });
    return approvals.finish(a.id, 'deployed', running ? null : 'the agent is stopped; the config takes effect at its next start');
  }

  /**
   * Reads the applied config and checks that it can run: it loads, and each extra MCP server's
   * command is an executable file. `say` gets a line per finding.
   * @throws HiveError `bad_config` naming the field.
   */
  private checkApplied(name: string, say: (line: string) => void): void {
    const loaded = this.deps.configs.load(name);
    for (const w of loaded.warnings) say(`warning: ${w}`);
    for (const { key, path } of checkExtraMcpServers(loaded.config, process.env.PATH ?? '')) say(`extra MCP server ${key}: ${path}`);
    for (const m of resolveMounts(loaded.config, this.deps.mounts ?? NO_MOUNTS)) say(`mount ${m.src} at ${m.dst} (${m.rw ? 'read-write' : 'read-only'})`);
    const { runtime, images } = this.deps;
    if (loaded.config.packages.length && !images && runtime && runtime.name !== 'nixos-container') say(`warning: ${packagesIgnored(loaded.config.packages, runtime)}`);
  }

  /**
   * Makes sure the image of `name`'s applied config is built, before its running sandbox is
   * stopped: the agent keeps working while a new image builds, and a build that fails (a package
   * apt cannot find) leaves it running as it was. Each line of the build goes to `say`.
   * @throws HiveError `bad_config` (a bad or unknown package) or `unavailable` (no build possible
   *   here, or it failed), with apt's or mmdebstrap's message.
   */
  private async prepareImage(name: string, say: (line: string) => void): Promise<void> {
    const { images, configs } = this.deps;
    if (!images) return;
    const { packages } = configs.load(name).config;
    say(`image: the base set${packages.length ? ` and ${packages.join(', ')}` : ''}`);
    const img = await images.ensure(packages, say);
    if (!img.built) say(`image ${img.key}: built already`);
  }

  /** Stop, start fresh, stream output, wait for hello. Caller holds the agent's queue. */
  private async rebuildNow(name: string, reason: string, approval: number | null): Promise<void> {
    const { registry, supervisor, layout } = this.deps;
    const say = (line: string) => this.line(name, approval, line);
    say(`rebuild of ${name} (${reason}) in the ${this.deps.runtimeName} runtime`);
    const before = registry.liveStatus(name);
    registry.setLive(name, { status: 'building' });
    try {
      await this.prepareImage(name, say);
    } catch (err) {
      say(`failed: ${(err as Error).message}`);
      // still as it was, on its previous config and image (a turn that ended meanwhile set its own status)
      if (before && registry.liveStatus(name) === 'building') registry.setLive(name, { status: before });
      untouched.add(err as Error);
      throw err;
    }
    if (supervisor.isRunning(name)) {
      say('stopping the running sandbox');
      await supervisor.stop(name);
      registry.setLive(name, { status: 'building' });
    }
    const log = layout.agent(name).log;
    const tail = tailLines(log, existsSync(log) ? statSync(log).size : 0, (l) => say(`| ${l}`), (e) => say(`cannot follow the sandbox's log ${log}: ${e.message}`));
    const timeout = this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const ready = waitReady(this.deps.bus, name, timeout);
    ready.promise.catch(() => {}); // awaited below; a start failure may come first, and then it is cancelled
    try {
      say('checking the applied config');
      this.checkApplied(name, say);
      say('starting a fresh sandbox with the applied config');
      await supervisor.start(name, 'building');
      say(`waiting for the harness to say hello (up to ${Math.round(timeout / 1000)} s)`);
      await ready.promise;
      say('up: the harness said hello');
      // the harness's first lines follow its hello: keep following a little longer, without waiting
      setTimeout(() => tail.stop(), TAIL_AFTER_READY_MS).unref?.();
    } catch (err) {
      tail.stop();
      say(`failed: ${(err as Error).message}`);
      throw err;
    } finally {
      ready.cancel();
    }
  }

  /**
   * Writes one record of the audit trail. A failure does not stop the caller (the outcome it
   * records has happened either way); it is logged and raised as the `audit_failed` alert naming
   * the missing record.
   * @returns whether it was written.
   */
  private async writeAudit(agent: string, record: string, write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      this.raiseAudit(agent, record, err as Error);
      return false;
    }
  }

  private raiseAudit(agent: string, record: string, err: Error): void {
    const text = `${agent}: ${record} could not be written, so the audit trail lacks it: ${err.message}`;
    this.deps.log(`audit: ${text}`);
    this.deps.alerts.raise('audit_failed', agent, text);
  }

  private line(agent: string, approval: number | null, line: string): void {
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    this.deps.bus.emit({ type: 'build', agent, approval, line: text, at: Date.now() });
    this.deps.log(`build ${agent}: ${text}`);
    this.writeBuildLog(agent, `${new Date().toISOString()} ${text}\n`, true);
  }

  /** Empties `agent`'s build log: a rebuild or deploy of it begins. */
  private freshBuildLog(agent: string): void {
    this.buildLogFailed.delete(agent);
    this.writeBuildLog(agent, '', false);
  }

  /** Appends to (or replaces) `agent`'s build log; a failure is logged once, never thrown (the rebuild goes on). */
  private writeBuildLog(agent: string, text: string, append: boolean): void {
    const file = this.deps.layout.agent(agent).buildLog;
    try {
      mkdirSync(dirname(file), { recursive: true });
      if (append) appendFileSync(file, text);
      else writeFileSync(file, text);
    } catch (err) {
      if (this.buildLogFailed.has(agent)) return;
      this.buildLogFailed.add(agent);
      this.deps.log(`build ${agent}: cannot write its build log ${file}: ${(err as Error).message}`);
    }
  }

  /**
   * Raises or clears `deploy_failed`, then commits the outcome to the deploy log (meta repo). Never
   * throws: a deploy-log commit that cannot be written raises `audit_failed` naming it.
   */
  private async recordMeta(
    name: string,
    last: { what: string; outcome: 'deployed' | 'failed'; commit: string | null; approval: number | null; error: string | null },
  ): Promise<void> {
    const { meta, alerts } = this.deps;
    if (last.outcome === 'failed') alerts.raise('deploy_failed', name, `${name}: ${last.what} failed: ${last.error ?? 'unknown error'}`);
    else alerts.clear(name, ['deploy_failed']);
    const ok = last.outcome === 'deployed';
    const subject = `${name}: ${last.what} ${ok ? 'deployed' : 'failed'}${last.commit ? ` (${last.commit.slice(0, 12)})` : ''}`;
    await this.queue.run('\0meta', async () => {
      let prev: DeployEntry | null = null;
      try {
        prev = meta.entry(name);
      } catch (err) {
        // the new entry is written whole; what the old one said about the running commit is lost
        this.raiseAudit(name, `the deploy log's previous entry (unreadable, replaced by "${subject}")`, err as Error);
      }
      const at = new Date().toISOString();
      await this.writeAudit(name, `the deploy-log commit "${subject}" in ${meta.dir}`, () =>
        meta.record(
          {
            agent: name,
            commit: ok ? last.commit : (prev?.commit ?? null),
            approval: ok ? last.approval : (prev?.approval ?? null),
            since: ok ? at : (prev?.since ?? null),
            hive_version: VERSION,
            runtime: this.deps.runtimeName,
            last: { what: last.what, outcome: last.outcome, at, commit: last.commit, error: last.error },
          },
          `${subject}${last.error ? `\n\n${last.error}` : ''}`,
        ),
      );
    });
  }
}

/**
 * A promise that resolves when `name` says hello (idle or thinking) and rejects when it crashes,
 * cannot start, is stopped or removed, or after `timeoutMs`; `cancel` stops listening.
 */
function waitReady(bus: EventBus, name: string, timeoutMs: number): { promise: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    cancel = () => {
      off();
      clearTimeout(timer);
    };
    const done = (err?: Error) => {
      off();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`the agent did not come up within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const off = bus.on((e) => {
      if (e.type === 'agent_removed' && e.name === name) done(new Error('the agent was destroyed during the rebuild'));
      if (e.type !== 'agent' || e.agent.name !== name) return;
      const a = e.agent;
      if (a.status === 'idle' || a.status === 'thinking') done();
      else if (a.status === 'crashed') done(new Error(`the agent exited during start-up (${a.last_exit ?? 'unknown'}); see its log`));
      else if (a.status === 'failed') done(new Error(a.problem ?? 'the agent cannot start'));
      else if (a.status === 'offline') done(new Error('the agent was stopped during the rebuild'));
    });
  });
  return { promise, cancel };
}

/**
 * Follows `path` from byte `from`, calling `onLine` for each complete line, until stopped. A file
 * not there yet is waited for; any other error reading it goes to `onError`, once.
 */
function tailLines(path: string, from: number, onLine: (line: string) => void, onError: (err: Error) => void): { stop(): void } {
  let pos = from;
  let partial = '';
  let failed = false;
  const buf = Buffer.alloc(64 * 1024);
  const pump = () => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !failed) {
        failed = true;
        onError(err as Error);
      }
      return;
    }
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        partial += buf.subarray(0, n).toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop()!;
        for (const l of lines) if (l.trim()) onLine(l);
      }
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, 100);
  return {
    stop() {
      clearInterval(timer);
      pump();
      if (partial.trim()) onLine(partial);
      partial = '';
    },
  };
}
