/**
 * @module hive
 * The core, assembled: database, event bus, broker, registry, turn records, runtime, supervisor,
 * sockets, and per agent the model gateway and the egress proxy (each a unix socket in the agent's
 * socket dir, so the socket an agent reaches is who it is). Every surface (admin socket, agent sockets, dashboard) calls the operations here, so
 * validation and policy live in one place. Lifecycle is explicit: {@link Hive.open} builds and
 * starts it, {@link Hive.close} stops agents, closes sockets and the database.
 */
import type { Database } from 'bun:sqlite';
import net from 'node:net';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HiveError } from '../shared/errors.ts';
import { MANAGER, OPERATOR, SYSTEM, isAgentName, validateAgentName, validateRecipient } from '../shared/names.ts';
import { DataLayout, MAX_SOCKET_PATH } from '../shared/paths.ts';
import { VERSION } from '../shared/version.ts';
import { serveJsonLines, type JsonLineServer } from '../shared/jsonl.ts';
import {
  AgentOps,
  HostOps,
  MAX_BODY_CHARS,
  type AgentRecord,
  type ApprovalRecord,
  type MessageRecord,
  type QuestionRecord,
  type ReminderRecord,
  type TurnRecord,
} from '../shared/wire.ts';
import type { LoadedAgentConfig } from '../shared/agent-config.ts';
import { Approvals } from './approvals/store.ts';
import { validateSha } from './configs/git.ts';
import { ConfigRepos, MetaRepo, type RepoCommit } from './configs/repos.ts';
import { Deployer } from './configs/deploy.ts';
import { Alerts } from './alerts.ts';
import { Broker } from './broker/store.ts';
import { AgentConfigs } from './configs/agent-configs.ts';
import { Questions, type AnswerInput } from './broker/questions.ts';
import { Reminders, resolveDue, type DueSpec } from './broker/reminders.ts';
import type { CoreConfig } from './settings.ts';
import { openCoreDb } from './db.ts';
import { EventBus } from './bus.ts';
import { Supervisor } from './agents/supervisor.ts';
import { Registry } from './agents/registry.ts';
import { createRuntime } from './runtime/detect.ts';
import type { Runtime } from './runtime/runtime.ts';
import { agentHandler } from './sockets/agent.ts';
import { hostHandler } from './sockets/host.ts';
import { Turns, type TurnEnd } from './agents/turns.ts';
import { ModelGateway, type GatewayPolicy } from './gateway/model-gateway.ts';
import { UsageStore } from './gateway/usage.ts';
import { EgressProxy } from './gateway/egress.ts';

/** The running core. */
export class Hive {
  readonly bus: EventBus;
  readonly broker: Broker;
  readonly registry: Registry;
  readonly turns: Turns;
  readonly supervisor: Supervisor;
  readonly configs: AgentConfigs;
  readonly questions: Questions;
  readonly reminders: Reminders;
  readonly approvals: Approvals;
  readonly alerts: Alerts;
  readonly repos: ConfigRepos;
  readonly meta: MetaRepo;
  readonly deployer: Deployer;
  readonly layout: DataLayout;
  readonly usage: UsageStore;
  readonly gateway: ModelGateway;
  readonly egress: EgressProxy;
  /** The running turn of each agent (from `turn_start` to `turn_end`), for the gateway's records. */
  private runningTurn = new Map<string, string>();
  /** The applied config commit each agent's current sandbox was started with. */
  private startedCommit = new Map<string, string | null>();
  private retentionTimer: ReturnType<typeof setInterval> | null = null;
  /** Approvals being carried out, so a double click cannot deploy one twice. */
  private deciding = new Set<number>();
  readonly startedAt = Date.now();
  private agentSockets = new Map<string, JsonLineServer>();
  private hostSocket: JsonLineServer | null = null;

  private constructor(
    readonly config: CoreConfig,
    readonly db: Database,
    readonly runtime: Runtime,
    readonly log: (line: string) => void,
  ) {
    this.layout = new DataLayout(config.dataDir);
    this.bus = new EventBus((err) => log(`event listener failed: ${(err as Error).stack ?? err}`));
    this.broker = new Broker(db, this.bus);
    this.registry = new Registry(db, this.bus);
    this.turns = new Turns(db, this.bus);
    this.configs = new AgentConfigs(this.layout);
    this.questions = new Questions(db, this.broker, this.bus);
    this.reminders = new Reminders(db, this.broker, this.bus, log);
    this.approvals = new Approvals(db, this.bus);
    this.alerts = new Alerts(db, this.bus);
    this.repos = new ConfigRepos(this.layout);
    this.meta = new MetaRepo(this.layout.metaDir);
    this.usage = new UsageStore(db);
    this.gateway = new ModelGateway({
      upstream: config.gateway.upstream,
      credentials: config.gateway.credentials,
      usage: this.usage,
      policyFor: (name) => this.gatewayPolicy(name),
      turnOf: (name) => this.runningTurn.get(name) ?? null,
      onRefused: (name, reason, message) => this.gatewayRefused(name, reason, message),
      onRecorded: (rec) => this.bus.emit({ type: 'usage', agent: rec.agent }),
      log,
    });
    this.egress = new EgressProxy({
      allowFor: (name) => this.configs.get(name).config.network.allow,
      internal: config.egressInternal,
      log: (line) => log(`egress: ${line}`),
    });
    this.supervisor = new Supervisor({
      registry: this.registry,
      runtime,
      broker: this.broker,
      turns: this.turns,
      layout: this.layout,
      agentEnv: (name) => this.agentEnv(name),
      prepare: (name) => this.prepare(name),
      alerts: this.alerts,
      log,
    });
    this.deployer = new Deployer({
      registry: this.registry,
      supervisor: this.supervisor,
      approvals: this.approvals,
      configs: this.configs,
      repos: this.repos,
      meta: this.meta,
      layout: this.layout,
      bus: this.bus,
      runtimeName: runtime.name,
      createAgent: (name) => this.createAgent(name),
      seedState: (name) => this.seedState(name),
      alerts: this.alerts,
      log,
    });
  }

  /**
   * Opens the data dir, the sockets, creates the manager on first start and starts every agent
   * the operator left running.
   * @throws HiveError `conflict` when another core already serves this data dir.
   */
  static async open(config: CoreConfig, log: (line: string) => void = console.log): Promise<Hive> {
    const layout = new DataLayout(config.dataDir);
    const probe = layout.agent('x'.repeat(9));
    const longest = [probe.socket, probe.modelSocket, probe.proxySocket, probe.pageSocket].reduce((a, b) => (b.length > a.length ? b : a));
    if (longest.length > MAX_SOCKET_PATH)
      throw new HiveError('bad_request', `data dir ${config.dataDir} is too deep: socket paths would exceed ${MAX_SOCKET_PATH} bytes`);
    mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
    if (await socketAnswers(layout.hostSocket))
      throw new HiveError('conflict', `another hive core is already serving ${config.dataDir} (${layout.hostSocket} answers)`);
    const runtime = createRuntime(config.runtime, { dataDir: config.dataDir, claudeBin: config.claudeBin }, (w) => log(`WARN ${w}`));
    const db = openCoreDb(layout.db);
    const hive = new Hive(config, db, runtime, log);
    try {
      await hive.boot();
    } catch (err) {
      await hive.close();
      throw err;
    }
    return hive;
  }

  private async boot(): Promise<void> {
    this.turns.interrupt(null, 'interrupted: core restarted');
    await this.meta.ensure();
    for (const a of await this.deployer.recover()) this.notifyDecision(a);
    this.hostSocket = await serveJsonLines({
      path: this.layout.hostSocket,
      table: HostOps,
      handle: hostHandler(this),
      onError: (e) => this.log(`host socket: ${(e as Error).stack ?? e}`),
    });
    if (this.config.manager && !this.registry.has(MANAGER)) {
      this.registry.create({
        name: MANAGER,
        role: 'manager',
        runtime: this.runtime.name,
        model: this.config.defaultModel,
      });
      this.registry.setDesired(MANAGER, 'running');
      this.log('created the manager agent');
    }
    this.reminders.start();
    for (const a of this.registry.list()) {
      await this.openAgentSocket(a.name);
      await this.repos.ensureApplied(a.name);
      await this.repos.ensureProposed(a.name);
    }
    for (const a of this.registry.list()) {
      if (a.desired !== 'running' || (a.role === 'manager' && !this.config.manager)) continue;
      const stale = await this.deployer.staleness(a);
      if (stale) {
        // auto-update: in the background, so the dashboard is up to show it happening
        void this.deployer.rebuild(a.name, stale).catch((e) => this.log(`agent ${a.name}: ${stale} failed: ${(e as Error).message}`));
      } else {
        await this.supervisor.start(a.name).catch((e) => this.log(`agent ${a.name}: ${(e as Error).message}`));
      }
    }
    void this.retain().catch((e) => this.log(`tag retention: ${(e as Error).message}`));
    this.retentionTimer = setInterval(() => void this.retain().catch((e) => this.log(`tag retention: ${(e as Error).message}`)), 86_400_000);
    this.retentionTimer.unref?.();
  }

  /** Stops every agent and closes sockets and the database. */
  async close(): Promise<void> {
    this.reminders.stop();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.supervisor.stopAll(5000);
    // deploys in flight see their agent stop and end; let them write their outcome first
    await Promise.race([this.deployer.idle(), Bun.sleep(10_000)]);
    this.broker.closeAll();
    await Promise.all([this.gateway.closeAll(), this.egress.closeAll()]);
    await Promise.all([...this.agentSockets.values()].map((s) => s.close()));
    this.agentSockets.clear();
    await this.hostSocket?.close();
    this.hostSocket = null;
    this.db.close();
  }

  /** Core facts for `hive ctl status` and the dashboard. */
  status() {
    return {
      version: VERSION,
      data_dir: this.config.dataDir,
      runtime: this.runtime.name,
      sandboxed: this.runtime.sandboxed,
      privileged: this.runtime.privileged,
      network_isolated: this.runtime.networkIsolated,
      dashboard: `http://${this.config.listen.host}:${this.config.listen.port}`,
      started_at: this.startedAt,
    };
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  /**
   * The operator creates an agent directly. It is recorded like an approved spawn (an approval
   * record, the applied repo's tags, a meta commit) and carried out the same way: the agent is
   * built and started, and this resolves once it said hello. With `start: false` it is only
   * registered (its repos and dirs made), not recorded or started.
   * @throws HiveError `bad_name`, `exists`, or
   *   `unavailable` with the reason when it did not come up (the failed approval says the same).
   */
  async spawn(name: string, opts: { start?: boolean; by?: string } = {}): Promise<AgentRecord> {
    await this.preflightSpawn(name);
    if (opts.start === false) {
      await this.createAgent(name);
      await this.repos.ensureProposed(name);
      return this.registry.require(name);
    }
    const record = this.approvals.record('spawn', name, opts.by ?? OPERATOR);
    const done = await this.deployer.carryOut(record);
    if (done.status === 'failed') throw new HiveError('unavailable', `agent "${name}" did not come up: ${done.note}`);
    return this.registry.require(name);
  }

  /**
   * Checks that `name` can be spawned now: a valid name no agent has.
   * @throws HiveError `bad_name`, `exists`.
   */
  private async preflightSpawn(name: string): Promise<void> {
    validateAgentName(name);
    if (this.registry.has(name)) throw new HiveError('exists', `agent "${name}" already exists`);
  }

  /** Registers agent `name` (stopped) with its dirs, applied config repo and socket. */
  private async createAgent(name: string): Promise<void> {
    this.registry.create({ name, role: 'agent', runtime: this.runtime.name, model: this.config.defaultModel });
    const paths = this.layout.agent(name);
    for (const d of [paths.state, paths.claude]) mkdirSync(d, { recursive: true });
    await this.repos.ensureApplied(name);
    await this.openAgentSocket(name);
    this.bus.emit({ type: 'kept' });
  }

  /**
   * Rebuilds the agent (stop, a fresh sandbox with the applied config, wait for hello), streaming
   * its output as `build` events; recorded in the meta repo.
   * @throws HiveError `not_found`; `unavailable` with the reason when it did not come up.
   */
  async rebuild(name: string, by = OPERATOR): Promise<AgentRecord> {
    this.wantRunning(name);
    try {
      await this.deployer.rebuild(name, `rebuild by ${by}`);
    } catch (err) {
      throw new HiveError('unavailable', `agent "${name}" did not come back up: ${(err as Error).message}`);
    }
    return this.registry.require(name);
  }

  /** Marks the agent wanted and starts it (the crash count starts over). @throws HiveError `not_found`. */
  async start(name: string): Promise<AgentRecord> {
    this.wantRunning(name);
    await this.supervisor.start(name);
    return this.registry.require(name);
  }

  /**
   * The operator wants `name` running: its crash count starts over and a crash-loop alert closes.
   * @throws HiveError `not_found`.
   */
  private wantRunning(name: string): void {
    this.registry.require(name);
    this.registry.setDesired(name, 'running');
    this.registry.setLive(name, { restarts: 0 });
    this.alerts.clear(name, ['crash_loop'], OPERATOR);
  }

  /**
   * Stops and starts the agent: a fresh process that re-reads its config and resumes its session.
   * @throws HiveError `not_found`, or `bad_config` when its config is now invalid (it stays stopped).
   */
  async restart(name: string): Promise<AgentRecord> {
    this.registry.require(name);
    await this.supervisor.stop(name);
    return this.start(name);
  }

  /**
   * Switches the agent's model from its next turn on, until its config next changes; `null`
   * returns to the configured model.
   * @throws HiveError `not_found`.
   */
  setModel(name: string, model: string | null): AgentRecord {
    return this.registry.setModelOverride(name, model);
  }

  /** Marks the agent unwanted and stops it. @throws HiveError `not_found`. */
  async stop(name: string): Promise<AgentRecord> {
    this.registry.require(name);
    this.registry.setDesired(name, 'stopped');
    await this.supervisor.stop(name);
    this.alerts.clear(name, ['crash_loop'], OPERATOR);
    return this.registry.require(name);
  }

  /**
   * Stops the agent and removes its sandbox, its runtime files and its socket. Its state, claude
   * and config dirs are kept (see {@link kept}); {@link purge} removes them.
   * @throws HiveError `not_found`, or `forbidden` for the manager.
   */
  async destroy(name: string): Promise<void> {
    if (name === MANAGER) throw new HiveError('forbidden', 'the manager cannot be destroyed; stop it instead');
    validateAgentName(name);
    this.registry.require(name);
    this.registry.setDesired(name, 'stopped');
    await this.supervisor.stop(name);
    this.supervisor.forget(name);
    this.configs.forget(name);
    await Promise.all([this.agentSockets.get(name)?.close(), this.gateway.close(name), this.egress.close(name)]);
    this.agentSockets.delete(name);
    rmSync(this.layout.agent(name).socketDir, { recursive: true, force: true });
    rmSync(this.layout.sandboxDir(name), { recursive: true, force: true });
    this.registry.remove(name);
    this.alerts.clear(name, [], OPERATOR);
    this.bus.emit({ type: 'kept' });
    await this.meta.remove(name, `${name}: destroyed (state kept)`).catch((e) => this.log(`meta repo: ${(e as Error).message}`));
  }

  /**
   * Agents whose kept state (state, claude dir, config) is on disk but who are not registered:
   * destroyed, and re-creatable with their memory by spawning the same name.
   */
  kept(): Array<{ name: string; modified_at: number }> {
    let names: string[];
    try {
      names = readdirSync(this.layout.agentsDir);
    } catch {
      return [];
    }
    return names
      .filter((n) => isAgentName(n) && !this.registry.has(n) && !this.isDraft(n))
      .flatMap((n) => {
        const st = lstatSync(this.layout.agent(n).root);
        return st.isDirectory() ? [{ name: n, modified_at: Math.round(st.mtimeMs) }] : [];
      });
  }

  /**
   * Deletes the kept state of a destroyed agent: its state, claude and config dirs, its log and
   * sandbox files. Never follows a symlink: a link anywhere in the tree (or in place of the agent's
   * own directory) is removed as a link, and nothing outside the agent's own paths is touched.
   * @throws HiveError `bad_name`; `conflict` while the agent is registered (destroy it first);
   *   `not_found` when there is nothing kept.
   */
  purge(name: string): void {
    validateAgentName(name);
    if (this.registry.has(name)) throw new HiveError('conflict', `agent "${name}" still exists; destroy it first, then purge its kept state`);
    const paths = this.layout.agent(name);
    const targets = [paths.root, paths.log, this.layout.sandboxDir(name), join(this.layout.proposedDir, name)];
    if (!targets.some(lexists)) throw new HiveError('not_found', `nothing is kept for "${name}"`);
    // every path is checked before anything is removed, so a refusal leaves the kept state whole
    for (const target of targets) assertInside(this.layout.dataDir, target);
    for (const target of targets) removeNoFollow(target);
    this.db.query('DELETE FROM drafts WHERE name = ?').run(name);
    this.configs.forget(name);
    this.bus.emit({ type: 'kept' });
    this.log(`purged the kept state of ${name}`);
  }

  // ── messaging ──────────────────────────────────────────────────────────────

  /**
   * Sends `body` from `from` to `to`.
   * @throws HiveError `bad_name` / `not_found` for an unknown recipient, `too_large` for a body over
   *   {@link MAX_BODY_CHARS}, `bad_request` for a message to oneself.
   */
  send(from: string, to: string, body: string): MessageRecord {
    this.checkRecipient(from, to);
    checkBody(body, 'message');
    return this.broker.send(from, to, body);
  }

  /**
   * Checks that `from` may address `to`: a known recipient other than itself, allowed by the
   * sender's `allowedRecipients`. The manager may address anyone and anyone may address the
   * manager; the operator and the hive itself are not restricted.
   * @throws HiveError `bad_name` / `not_found` for an unknown recipient, `bad_request` for oneself,
   *   `forbidden` naming the policy when the sender's config does not allow `to`.
   */
  checkRecipient(from: string, to: string): void {
    validateRecipient(to);
    if (from === to) throw new HiveError('bad_request', `"${to}" cannot send a message to itself`);
    if (to !== OPERATOR && !this.registry.has(to))
      throw new HiveError('not_found', `no agent named "${to}"; recipients are agent names, "manager" and "operator"`);
    if (from === MANAGER || from === OPERATOR || from === SYSTEM || to === MANAGER) return;
    const allowed = this.configs.get(from).config.allowedRecipients;
    if (allowed && !allowed.includes(to))
      throw new HiveError(
        'forbidden',
        `send policy: ${from}'s allowedRecipients (${allowed.length ? allowed.join(', ') : 'empty'}) do not include "${to}"; ` +
          'the manager can always be reached, and can pass the message on or propose a config change',
      );
  }

  // ── questions ──────────────────────────────────────────────────────────────

  /**
   * `from` asks `to` (an agent or the manager) a question; it lands in their inbox.
   * @throws as {@link checkRecipient}; `bad_request` for a question to the operator (that is
   *   `ask_operator`, the manager's), `conflict` when `from` has too many open questions.
   */
  ask(from: string, to: string, question: string): { question: QuestionRecord; message: MessageRecord } {
    if (to === OPERATOR)
      throw new HiveError('bad_request', from === MANAGER ? 'ask the operator with ask_operator' : 'questions for the operator go through the manager: ask "manager"');
    this.checkRecipient(from, to);
    const r = this.questions.ask(from, to, question);
    return { question: r.question, message: r.message! };
  }

  /**
   * The manager queues a question for the operator: free text, or a choice among `options`
   * (several with `multi`).
   * @throws HiveError `bad_request` for a bad shape (fewer than 2 options, duplicates, blank ones, multi without options).
   */
  askOperator(question: string, options?: string[], multi?: boolean): QuestionRecord {
    return this.questions.ask(MANAGER, OPERATOR, question, { options: options ?? null, multi: multi ?? false }).question;
  }

  /**
   * `by` answers question `id`; the answer reaches the asker's inbox.
   * @throws see {@link Questions.answer}.
   */
  answer(by: string, id: number, input: AnswerInput): { question: QuestionRecord; message: MessageRecord } {
    return this.questions.answer(by, id, input);
  }

  // ── reminders ──────────────────────────────────────────────────────────────

  /**
   * Schedules `body` for `to` (default: `owner`) at a time given by `due`.
   * @throws HiveError `bad_request` for a time in the past, malformed or too far ahead; as
   *   {@link checkRecipient} for another recipient; `too_large` for an over-long body.
   */
  remind(owner: string, due: DueSpec, body: string, to?: string): ReminderRecord {
    const dueAt = resolveDue(due, Date.now());
    if (to !== undefined && to !== owner) this.checkRecipient(owner, to);
    checkBody(body, 'reminder');
    return this.reminders.add(owner, to ?? owner, body, dueAt);
  }

  // ── approvals ──────────────────────────────────────────────────────────────

  /**
   * The manager asks to spawn `name` with the default config; the operator decides.
   * @throws HiveError `bad_name`, `exists` when the agent exists, `conflict` when already requested.
   */
  requestSpawn(by: string, name: string): ApprovalRecord {
    validateAgentName(name);
    if (this.registry.has(name)) throw new HiveError('exists', `agent "${name}" already exists`);
    const approval = this.approvals.request('spawn', name, by);
    this.log(`approval #${approval.id}: ${by} asks to spawn ${name}`);
    return approval;
  }

  /**
   * First step of a two-step spawn: creates `name`'s proposed config repo (the default config,
   * committed) and a staging dir for its first `/state` files, with no sandbox. The manager edits
   * and commits, then calls {@link requestSpawnCommit}.
   * @returns where the manager finds them, and the draft's first commit.
   * @throws HiveError `bad_name`, `exists` when the agent exists or the draft already does.
   */
  async requestSpawnDraft(by: string, name: string): Promise<{ name: string; config_dir: string; state_dir: string; head: string }> {
    validateAgentName(name);
    if (this.registry.has(name)) throw new HiveError('exists', `agent "${name}" already exists`);
    if (this.isDraft(name)) throw new HiveError('exists', `a draft of "${name}" already exists; edit it and call request_spawn_commit`);
    const head = await this.repos.createDraft(name);
    this.db.query('INSERT INTO drafts (name, requested_by, created_at) VALUES (?, ?, ?)').run(name, by, Date.now());
    this.bus.emit({ type: 'drafts' });
    this.log(`${by} drafted agent ${name}`);
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
    validateAgentName(name);
    validateSha(sha);
    if (this.registry.has(name)) throw new HiveError('exists', `agent "${name}" already exists`);
    if (!this.isDraft(name)) throw new HiveError('not_found', `there is no draft of "${name}"; call request_spawn_draft first`);
    const checked = await this.repos.checkProposal(name, sha);
    const approval = this.approvals.request('spawn', name, by, checked.sha, checked.subject);
    this.log(`approval #${approval.id}: ${by} asks to spawn ${name} from ${checked.sha.slice(0, 12)}`);
    return approval;
  }

  /**
   * The manager (or the operator) asks to apply commit `sha` of `name`'s proposed repo. The commit
   * and the config in it are checked now; a valid one is staged in the applied repo and tagged
   * `proposal/<id>`.
   * @throws HiveError `not_found` for an unknown agent or commit, `bad_request` for a malformed
   *   sha, `bad_config` naming the file and field, `conflict` when that commit is already pending.
   */
  async requestApplyCommit(by: string, name: string, sha: string): Promise<ApprovalRecord> {
    validateSha(sha);
    this.registry.require(name);
    await this.repos.ensureProposed(name);
    const checked = await this.repos.checkProposal(name, sha);
    const approval = this.approvals.request('apply_commit', name, by, checked.sha, checked.subject);
    try {
      await this.repos.stage(name, approval.id, checked, by);
    } catch (err) {
      this.approvals.decide(approval.id, 'failed', `could not be staged: ${(err as Error).message}`);
      throw err;
    }
    this.log(`approval #${approval.id}: ${by} asks to apply ${checked.sha.slice(0, 12)} to ${name}`);
    return approval;
  }

  /**
   * The operator asks to return `name` to an earlier applied config: `to` is a deploy approval's
   * id (its `deployed/<id>` tag) or an applied commit id. Queued as an `apply_commit` approval, so
   * it goes through the same gate, tags and rebuild.
   * @throws HiveError `not_found` when there is no such deploy or commit.
   */
  async rollback(name: string, to: string, by = OPERATOR): Promise<ApprovalRecord> {
    this.registry.require(name);
    const commit = /^\d{1,9}$/.test(to) ? await this.repos.tagCommit(name, `deployed/${to}`) : await this.repos.resolveApplied(name, validateSha(to));
    if (!commit) throw new HiveError('not_found', `${name} has no ${/^\d+$/.test(to) ? `deployed/${to} tag` : `commit ${to}`} in its applied repo; see \`hive ctl tags ${name}\``);
    const subject = `roll back to ${commit.slice(0, 12)}`;
    const approval = this.approvals.request('apply_commit', name, by, commit, subject);
    await this.repos.stageApplied(name, approval.id, commit, subject, by);
    this.log(`approval #${approval.id}: ${by} asks to roll ${name} back to ${commit.slice(0, 12)}`);
    return approval;
  }

  /** Spawn drafts waiting for their commit or approval, oldest first. */
  drafts(): Array<{ name: string; requested_by: string; created_at: number; approval: number | null }> {
    const rows = this.db.query<{ name: string; requested_by: string; created_at: number }, []>('SELECT * FROM drafts ORDER BY created_at').all();
    const spawns = this.approvals.list().filter((a) => a.kind === 'spawn');
    return rows.map((r) => ({ ...r, approval: spawns.find((a) => a.agent === r.name)?.id ?? null }));
  }

  /**
   * The operator drops a draft: its row, and its proposed repo and staged state unless an agent
   * of that name has kept state. A pending spawn of it is denied.
   * @throws HiveError `not_found` when there is no such draft.
   */
  async discardDraft(name: string): Promise<void> {
    validateAgentName(name);
    if (!this.isDraft(name)) throw new HiveError('not_found', `there is no draft of "${name}"`);
    const pending = this.approvals.list().find((a) => a.kind === 'spawn' && a.agent === name);
    if (pending) await this.deny(pending.id, 'the operator discarded the draft');
    this.db.query('DELETE FROM drafts WHERE name = ?').run(name);
    if (!this.registry.has(name) && !existsSync(this.layout.agent(name).root)) {
      const dir = join(this.layout.proposedDir, name);
      assertInside(this.layout.dataDir, dir);
      removeNoFollow(dir);
    }
    this.bus.emit({ type: 'drafts' });
    this.log(`draft of ${name} discarded`);
  }

  /** True when `name` is a spawn draft. */
  isDraft(name: string): boolean {
    return this.db.query('SELECT 1 FROM drafts WHERE name = ?').get(name) !== null;
  }

  /**
   * The change approval `id` makes, as a unified diff (empty when there is nothing to show).
   * @throws HiveError `not_found`.
   */
  async approvalDiff(id: number): Promise<string> {
    const a = this.approvals.get(id);
    return this.repos.diff(a.agent, id, { pending: a.status === 'pending', proposedSha: a.sha });
  }

  /** The deploy log: the newest commits of the meta repo. */
  deploys(limit = 100): Promise<RepoCommit[]> {
    return this.meta.log(limit);
  }

  /**
   * Tag retention over every applied repo (registered and kept agents); see {@link ConfigRepos.retain}.
   * @returns the tags removed, per agent (agents with none removed are left out).
   */
  async retain(days = this.config.tagRetentionDays): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    const names = new Set([...this.registry.list().map((a) => a.name), ...this.kept().map((k) => k.name)]);
    for (const name of names) {
      if (!(await this.repos.head(name))) continue;
      const removed = await this.deployer.exclusive(name, () => this.repos.retain(name, days));
      if (removed.length) out[name] = removed;
    }
    const total = Object.values(out).reduce((n, r) => n + r.length, 0);
    if (total) this.log(`tag retention: removed ${total} tags (failed/denied older than ${days} days, and superseded stage tags)`);
    return out;
  }

  /**
   * Approves and carries out a pending approval; the manager is told the outcome.
   * @returns the approval, `deployed` or `failed` (with the error in `note`).
   * @throws HiveError `not_found`, `conflict` when it is not pending or already being carried out.
   */
  async approve(id: number): Promise<ApprovalRecord> {
    const a = this.approvals.get(id);
    if (a.status !== 'pending') throw new HiveError('conflict', `approval #${id} is already ${a.status}`);
    if (this.deciding.has(id)) throw new HiveError('conflict', `approval #${id} is being carried out`);
    this.deciding.add(id);
    try {
      let done: ApprovalRecord;
      try {
        if (a.kind === 'spawn') await this.preflightSpawn(a.agent);
      } catch (err) {
        done = this.approvals.decide(id, 'failed', (err as Error).message);
        this.notifyDecision(done);
        return done;
      }
      done = await this.deployer.carryOut(this.approvals.begin(id));
      if (done.kind === 'spawn' && done.status === 'deployed' && this.isDraft(done.agent)) {
        this.db.query('DELETE FROM drafts WHERE name = ?').run(done.agent);
        this.bus.emit({ type: 'drafts' });
      }
      this.notifyDecision(done);
      return done;
    } finally {
      this.deciding.delete(id);
    }
  }

  /** Denies a pending approval (tagged `denied/<id>` when staged); the manager is told. @throws HiveError `not_found`, `conflict`. */
  async deny(id: number, reason?: string): Promise<ApprovalRecord> {
    if (this.deciding.has(id)) throw new HiveError('conflict', `approval #${id} is being carried out`);
    const done = this.approvals.decide(id, 'denied', reason?.trim() || null);
    try {
      const staged = await this.repos.tagCommit(done.agent, `proposal/${id}`);
      if (staged) await this.repos.tag(done.agent, 'denied', id, staged, `approval #${id} denied${done.note ? `: ${done.note}` : ''}`);
    } catch (e) {
      this.log(`approval #${id}: cannot tag denied/${id}: ${(e as Error).message}`);
    }
    this.notifyDecision(done);
    return done;
  }

  private notifyDecision(a: ApprovalRecord): void {
    const what = a.kind === 'spawn' ? `spawn ${a.agent}${a.sha ? ` from ${a.sha.slice(0, 12)}` : ''}` : `apply ${a.sha?.slice(0, 12) ?? ''} to ${a.agent}`;
    const outcome =
      a.status === 'deployed' ? 'approved and done' : a.status === 'failed' ? `approved but failed: ${a.note}` : `denied${a.note ? `: ${a.note}` : ''}`;
    this.log(`approval #${a.id} (${what}): ${outcome}`);
    if (this.registry.has(MANAGER) && a.requested_by === MANAGER)
      this.broker.send(SYSTEM, MANAGER, `approval #${a.id} (${what}) was ${outcome}`, { kind: 'notice', ref: a.id });
  }

  /** Long-poll receive for `name`'s inbox; see {@link Broker.recv}. */
  recv(name: string, waitSeconds: number | undefined, signal?: AbortSignal): Promise<MessageRecord | null> {
    return this.broker.recv(name, waitSeconds ?? 0, signal);
  }

  // ── harness reports ────────────────────────────────────────────────────────

  /** The harness of `name` is up and waiting for messages. */
  hello(name: string, pid: number): { agent: AgentRecord; config: LoadedAgentConfig } {
    this.registry.setBuilt(name, this.startedCommit.get(name) ?? null, VERSION);
    const agent = this.registry.setLive(name, { status: 'idle', pid: this.registry.require(name).pid ?? pid });
    return { agent, config: this.configs.get(name) };
  }

  /** A turn of `name` began. @returns the model the turn must use. */
  turnStart(name: string, id: string, trigger: number | null): { turn: TurnRecord; model: string } {
    const agent = this.registry.setLive(name, { status: 'thinking' });
    this.runningTurn.set(name, id);
    return { turn: this.turns.start(name, id, trigger), model: agent.model };
  }

  turnEnd(name: string, turn: TurnEnd): TurnRecord {
    const rec = this.turns.end(name, turn);
    if (this.runningTurn.get(name) === turn.id) this.runningTurn.delete(name);
    this.registry.setLive(name, { status: 'idle' });
    return rec;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** Before every start: the applied repo exists, its head is remembered, the config is read. */
  private async prepare(name: string): Promise<void> {
    this.startedCommit.set(name, await this.repos.ensureApplied(name));
    this.loadConfig(name);
  }

  /** Copies a draft's staged `/state` files into the new agent's state dir (existing files win). */
  private seedState(name: string): void {
    const from = this.repos.draftStateDir(name);
    if (!existsSync(from)) return;
    cpSync(from, this.layout.agent(name).state, { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
  }

  /** Where the manager sees `name`'s proposed repo and draft state: `/agents/<name>` in a sandbox. */
  private managerView(name: string): string {
    return this.runtime.sandboxed ? `/agents/${name}` : join(this.layout.proposedDir, name);
  }

  /** Reads the agent's config before a start and records its model and warnings. */
  private loadConfig(name: string): LoadedAgentConfig {
    const loaded = this.configs.load(name);
    this.registry.setRuntime(name, this.runtime.name);
    const changed = this.registry.applyConfig(name, loaded.config.model ?? this.config.defaultModel, loaded.hash);
    if (changed) this.log(`agent ${name}: config changed; runtime model override cleared`);
    for (const w of loaded.warnings) this.log(`agent ${name}: config warning: ${w}`);
    this.registry.setLive(name, { config_warnings: loaded.warnings });
    return loaded;
  }

  /** Opens the agent's sockets: its JSON-lines socket, its model gateway and its egress proxy. */
  private async openAgentSocket(name: string): Promise<void> {
    if (this.agentSockets.has(name)) return;
    const paths = this.layout.agent(name);
    const server = await serveJsonLines({
      path: paths.socket,
      table: AgentOps,
      handle: agentHandler(this, name),
      onError: (e) => this.log(`socket of ${name}: ${(e as Error).stack ?? e}`),
    });
    this.agentSockets.set(name, server);
    await this.gateway.listen(name, paths.modelSocket);
    await this.egress.listen(name, paths.proxySocket);
  }

  /**
   * What the gateway enforces for `name`, read from its applied config.
   * @throws HiveError `bad_config` naming the field when the config is invalid.
   */
  private gatewayPolicy(name: string): GatewayPolicy {
    const c = this.configs.get(name).config;
    return { upstream: c.upstream, models: c.models, budget: c.budget };
  }

  /**
   * The gateway refused a request of `name` by policy: a banner for the operator and, the first
   * time while the banner is open, a notice to the manager, who can propose a config change.
   */
  private gatewayRefused(name: string, reason: 'budget' | 'model', message: string): void {
    const already = this.alerts.list().some((a) => a.kind === 'gateway_refused' && a.agent === name);
    this.alerts.raise('gateway_refused', name, message);
    this.log(`gateway: ${name}: refused (${reason}): ${message}`);
    if (!already && name !== MANAGER && this.registry.has(MANAGER))
      this.broker.send(SYSTEM, MANAGER, `the model gateway refused a request of ${name} (${reason}): ${message}`, { kind: 'notice' });
  }

  private agentEnv(name: string): Record<string, string> {
    const a = this.registry.require(name);
    const keep = ['PATH', 'LANG', 'TZ', 'TMPDIR'];
    const base: Record<string, string> = {};
    for (const k of keep) if (process.env[k]) base[k] = process.env[k]!;
    // no credentials: claude reaches the model through the gateway socket (see agent/settings.ts)
    return {
      ...base,
      HIVE_AGENT_NAME: name,
      HIVE_ROLE: a.role,
      HIVE_CLAUDE_BIN: this.config.claudeBin,
      ...(a.role === 'manager' ? { HIVE_AGENTS_DIR: this.runtime.sandboxed ? '/agents' : this.layout.proposedDir } : {}),
    };
  }
}

/** @throws HiveError `too_large` when `body` is over {@link MAX_BODY_CHARS}. */
function checkBody(body: string, what: 'message' | 'reminder'): void {
  if (body.length > MAX_BODY_CHARS) throw new HiveError('too_large', `${what} body is ${body.length} characters; the limit is ${MAX_BODY_CHARS}`);
}

/** True when `path` exists, without following a final symlink. */
function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that `target`, a path under `dataDir` built from a validated name, is really where it
 * appears to be: no directory on the way (e.g. `agents/` or `logs/`) is a symlink leading elsewhere.
 * @throws HiveError `internal` when `target`'s parent does not resolve to its place in the data dir.
 */
function assertInside(dataDir: string, target: string): void {
  if (!lexists(target)) return;
  const parent = dirname(target);
  const expected = join(realpathSync(dataDir), relative(dataDir, parent));
  if (relative(dataDir, parent).startsWith('..') || realpathSync(parent) !== expected)
    throw new HiveError('internal', `refusing to remove ${target}: ${parent} does not resolve to ${expected}`);
}

/**
 * Removes `target` without following links: a symlink in its place is unlinked; a directory is
 * removed with its contents, where `rmSync` unlinks links instead of descending into them.
 */
function removeNoFollow(target: string): void {
  if (!lexists(target)) return;
  const st = lstatSync(target);
  if (st.isSymbolicLink() || !st.isDirectory()) unlinkSync(target);
  else rmSync(target, { recursive: true, force: true });
}

/** True when something accepts connections on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
