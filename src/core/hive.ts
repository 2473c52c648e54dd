/**
 * @module hive
 * The composition root: opens the database, builds each feature over it, wires them to the
 * sockets and the supervisor, starts them in order and stops them in reverse. No policy and no SQL
 * live here; each feature folder owns its data and its rules:
 *
 * - `broker/`: the message store, the send/ask/answer/remind policy, questions, reminders, the
 *   operator's inbox read state;
 * - `agents/`: the registry, lifecycle, supervisor, turn records, kept state, peers;
 * - `approvals/`: the approval store, the gate (requests and decisions), spawn drafts;
 * - `configs/`: proposed and applied repos, the deploy log, deploys and rebuilds, tag retention;
 * - `gateway/`: the model gateway with usage and budgets, the operator's model credentials, the
 *   egress proxy;
 * - `sockets/`: the admin and agent sockets, each op handed to the feature that owns it;
 * - `notify/`: operator notifications pushed to `--notify-url`, from the bus;
 * - `stats/`: telemetry samples written as turns end, their roll-ups, and the stuck-agent watch.
 *
 * The dashboard (`dashboard/`) is built over the same features by `serve.ts`.
 */
import type { Database } from 'bun:sqlite';
import net from 'node:net';
import { mkdirSync } from 'node:fs';
import { HiveError } from '../shared/errors.ts';
import { DataLayout, MAX_SOCKET_PATH } from '../shared/paths.ts';
import { VERSION } from '../shared/version.ts';
import type { HostOps, OpResult } from '../shared/wire.ts';
import { KeptState } from './agents/kept.ts';
import { Lifecycle } from './agents/lifecycle.ts';
import { Peers } from './agents/peers.ts';
import { Registry } from './agents/registry.ts';
import { Supervisor } from './agents/supervisor.ts';
import { Turns, noticeToManager } from './agents/turns.ts';
import { Alerts } from './alerts.ts';
import { Drafts } from './approvals/drafts.ts';
import { ApprovalGate } from './approvals/gate.ts';
import { Approvals } from './approvals/store.ts';
import { OperatorInbox } from './broker/operator-inbox.ts';
import { MessagePolicy } from './broker/policy.ts';
import { Questions } from './broker/questions.ts';
import { Reminders } from './broker/reminders.ts';
import { Broker } from './broker/store.ts';
import { EventBus } from './bus.ts';
import { AgentConfigs } from './configs/agent-configs.ts';
import { Deployer } from './configs/deploy.ts';
import { ConfigRepos, MetaRepo } from './configs/repos.ts';
import type { MountPolicy } from './configs/mounts.ts';
import { TagRetention } from './configs/retention.ts';
import { openCoreDb } from './db.ts';
import { gatewayPolicyOf, onGatewayRefused } from './gateway/agent-policy.ts';
import { Credentials } from './gateway/credentials.ts';
import { EgressProxy } from './gateway/egress.ts';
import { ModelGateway } from './gateway/model-gateway.ts';
import { UsageStore } from './gateway/usage.ts';
import { Notifier } from './notify/notifier.ts';
import { StatsRecorder } from './stats/recorder.ts';
import { StatsStore } from './stats/store.ts';
import { StuckWatch } from './stats/stuck.ts';
import { createRuntime } from './runtime/detect.ts';
import { codePaths } from './runtime/sandbox.ts';
import type { Runtime } from './runtime/runtime.ts';
import { Images, imageUsers } from './images/images.ts';
import { HarnessBundle } from './agents/harness-bundle.ts';
import { Federation } from './federation/federation.ts';
import type { CoreConfig } from './settings.ts';
import { agentOps } from './sockets/agent-ops.ts';
import { hostOps } from './sockets/host-ops.ts';
import { HiveSockets } from './sockets/serve.ts';

/** Longest time `close` waits for deploys in flight to write their outcome, ms. */
const DEPLOY_DRAIN_MS = 10_000;

/** The running core: its features, built and wired. */
export class Hive {
  readonly layout: DataLayout;
  readonly bus: EventBus;
  readonly startedAt = Date.now();
  // broker
  readonly broker: Broker;
  readonly questions: Questions;
  readonly reminders: Reminders;
  readonly policy: MessagePolicy;
  /** What the operator has read of the messages sent to them. */
  readonly inbox: OperatorInbox;
  // agents
  readonly registry: Registry;
  readonly turns: Turns;
  readonly supervisor: Supervisor;
  readonly lifecycle: Lifecycle;
  readonly kept: KeptState;
  /** Agent identities for containers and processes the hive does not run. */
  readonly peers: Peers;
  readonly alerts: Alerts;
  // approvals
  readonly approvals: Approvals;
  readonly drafts: Drafts;
  readonly gate: ApprovalGate;
  // configs
  readonly configs: AgentConfigs;
  readonly repos: ConfigRepos;
  readonly meta: MetaRepo;
  readonly deployer: Deployer;
  readonly retention: TagRetention;
  // gateway
  readonly usage: UsageStore;
  /** The operator's model credentials: the environment's, or the one set on the dashboard's login page. */
  readonly credentials: Credentials;
  readonly gateway: ModelGateway;
  readonly egress: EgressProxy;
  // sockets
  readonly sockets: HiveSockets;
  /** Operator notifications to `--notify-url`, or null when none is set. */
  readonly notifier: Notifier | null;
  // stats
  readonly stats: StatsStore;
  readonly statsRecorder: StatsRecorder;
  readonly stuck: StuckWatch;
  /** The bundled harness every agent runs (built at start-up). */
  readonly harness: HarnessBundle;
  /** Agents' root filesystems, or null when sandboxes show the host's (`--host-root`, or a runtime without images). */
  readonly images: Images | null;
  /** This hive's membership in a federation (`--nats`), or null for a hive on its own. */
  readonly federation: Federation | null;

  private constructor(
    readonly config: CoreConfig,
    readonly db: Database,
    readonly runtime: Runtime,
    readonly log: (line: string) => void,
  ) {
    const layout = (this.layout = new DataLayout(config.dataDir));
    const bus = (this.bus = new EventBus((err) => log(`event listener failed: ${(err as Error).stack ?? err}`)));
    const broker = (this.broker = new Broker(db, bus));
    const registry = (this.registry = new Registry(db, bus));
    const turns = (this.turns = new Turns(db, bus, { broker, tell: noticeToManager({ registry, broker, log }) }));
    const configs = (this.configs = new AgentConfigs(layout));
    const questions = (this.questions = new Questions(db, broker, bus));
    const reminders = (this.reminders = new Reminders(db, broker, bus, log));
    const approvals = (this.approvals = new Approvals(db, bus));
    const drafts = (this.drafts = new Drafts(db, bus));
    const alerts = (this.alerts = new Alerts(db, bus));
    const mounts: MountPolicy = { allowed: config.allowMounts, dataDir: config.dataDir, codePaths: codePaths(config.claudeBin, false), sandboxed: runtime.sandboxed };
    const repos = (this.repos = new ConfigRepos(layout, mounts));
    // sandboxes show an image unless the operator keeps the host's /usr (--host-root)
    const images = (this.images = runtime.rootFromImage && !config.hostRoot ? new Images({ dir: config.imagesDir, log, changed: () => bus.emit({ type: 'images' }) }) : null);
    const meta = (this.meta = new MetaRepo(layout.metaDir, bus));
    const usage = (this.usage = new UsageStore(db));
    this.policy = new MessagePolicy({ broker, registry, configs, questions, reminders, hive: config.hive, federated: config.nats !== null });
    this.federation = config.nats ? new Federation({ db, broker, bus, registry, questions, alerts, hive: config.hive, nats: config.nats, unreachableMs: config.hiveUnreachableMs, log }) : null;
    this.inbox = new OperatorInbox(db, broker, bus);
    const credentials = (this.credentials = new Credentials({
      file: layout.credentialsFile,
      environment: config.gateway.credentials,
      upstream: config.gateway.upstream,
      log,
    }));
    this.gateway = new ModelGateway({
      upstream: config.gateway.upstream,
      credentials: () => credentials.current(),
      usage,
      policyFor: (name) => gatewayPolicyOf(configs, name),
      turnOf: (name) => this.lifecycle.turnOf(name),
      onRefused: onGatewayRefused({ alerts, registry, broker, log }),
      onRecorded: (rec) => bus.emit({ type: 'usage', agent: rec.agent }),
      log,
    });
    this.egress = new EgressProxy({
      allowFor: (name) => configs.get(name).config.network.allow,
      internal: config.egressInternal,
      log: (line) => log(`egress: ${line}`),
    });
    const harness = (this.harness = new HarnessBundle({ dir: layout.harnessDir, log }));
    this.supervisor = new Supervisor({
      registry,
      runtime,
      broker,
      turns,
      layout,
      harnessCommand: () => harness.command(),
      agentEnv: (name) => this.lifecycle.env(name),
      prepare: (name) => this.lifecycle.prepare(name),
      sandboxExtras: (name) => this.lifecycle.sandboxExtras(name),
      alerts,
      log,
    });
    this.deployer = new Deployer({
      registry,
      supervisor: this.supervisor,
      approvals,
      configs,
      repos,
      meta,
      layout,
      bus,
      runtimeName: runtime.name,
      createAgent: (name) => this.lifecycle.create(name),
      seedState: (name) => this.gate.seedState(name),
      alerts,
      log,
      mounts,
      images,
      runtime,
    });
    this.sockets = new HiveSockets({
      layout,
      gateway: this.gateway,
      egress: this.egress,
      agentOps: (name) => this.peers.ops(name, agentOps(this, name)),
      hostOps: () => hostOps({ ...this, status: () => this.status(), isolation: this.isolation(), imageReport: (prune) => this.imageReport(prune) }),
      log,
    });
    this.lifecycle = new Lifecycle({
      registry,
      supervisor: this.supervisor,
      deployer: this.deployer,
      approvals,
      configs,
      repos,
      meta,
      turns,
      alerts,
      bus,
      layout,
      endpoints: this.sockets,
      runtime,
      claudeBin: config.claudeBin,
      defaultModel: config.defaultModel,
      standbySeconds: config.standbySeconds,
      mounts,
      images,
      log,
    });
    this.kept = new KeptState({
      layout,
      registry,
      drafts,
      configs,
      bus,
      log,
      onPurged: () => {
        try {
          this.imageReport(true);
        } catch (err) {
          log(`images: pruning after a purge failed: ${(err as Error).message}`);
        }
      },
    });
    this.peers = new Peers({
      db,
      registry,
      configs,
      turns,
      alerts,
      layout,
      drafts,
      endpoints: this.sockets,
      dropTurn: (name, id) => this.lifecycle.dropTurn(name, id),
      defaultModel: config.defaultModel,
      log,
    });
    this.gate = new ApprovalGate({
      approvals,
      drafts,
      registry,
      repos,
      deployer: this.deployer,
      broker,
      alerts,
      layout,
      sandboxed: runtime.sandboxed,
      log,
    });
    this.notifier = config.notify
      ? new Notifier({ url: config.notify.url, token: config.notify.token, bus, openAlerts: () => alerts.list(), log })
      : null;
    this.stats = new StatsStore(db, { rawDays: config.statsRawDays, hourlyDays: 400 });
    this.statsRecorder = new StatsRecorder({
      db,
      bus,
      store: this.stats,
      depths: () => broker.depths(),
      depth: (name) => broker.depth(name),
      pendingApprovals: () => approvals.list().length,
      turnUsage: (id) => usage.byTurn([id]).get(id),
      stateDir: (name) => layout.agent(name).state,
    });
    // after the recorder, so that its inbox depths are current when the watch reads them
    this.stuck = new StuckWatch({
      bus,
      alerts,
      status: (name) => registry.liveStatus(name),
      inboxDepth: (name) => this.statsRecorder.inboxDepth(name),
      thresholds: config.stuck,
    });
    this.retention = new TagRetention({ registry, kept: this.kept, repos, deployer: this.deployer, bus, days: config.tagRetentionDays, log });
  }

  /**
   * Opens the data dir, the sockets, creates the manager on first start and starts every agent
   * the operator left running.
   * @throws HiveError `bad_request` when the data dir is too deep for socket paths; `conflict` when
   *   another core already serves this data dir.
   */
  static async open(config: CoreConfig, log: (line: string) => void = console.log): Promise<Hive> {
    const layout = new DataLayout(config.dataDir);
    const probe = layout.agent('x'.repeat(9));
    const longest = [probe.socket, probe.modelSocket, probe.proxySocket, probe.pageSocket].reduce((a, b) => (b.length > a.length ? b : a));
    if (longest.length > MAX_SOCKET_PATH)
      throw new HiveError('bad_request', `data dir ${config.dataDir} is too deep: socket paths would exceed ${MAX_SOCKET_PATH} bytes`);
    mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(layout.sharedDir, { recursive: true });
    mkdirSync(layout.logsDir, { recursive: true });
    if (await socketAnswers(layout.hostSocket))
      throw new HiveError('conflict', `another hive core is already serving ${config.dataDir} (${layout.hostSocket} answers)`);
    const runtime = createRuntime(config.runtime, { dataDir: config.dataDir, claudeBin: config.claudeBin }, (w) => log(`WARN ${w}`));
    const hive = new Hive(config, openCoreDb(layout.db), runtime, log);
    try {
      await hive.boot();
    } catch (err) {
      await hive.close();
      throw err;
    }
    return hive;
  }

  /** Start-up, in order: recover what a crash interrupted, open the sockets, start the agents. */
  private async boot(): Promise<void> {
    if (this.images?.problem)
      this.log(`WARN agents' root filesystems cannot be built here (${this.images.problem}): ${this.runtime.name} agents will not start; start the core with --host-root to run them on this host's /usr`);
    this.notifier?.start();
    this.statsRecorder.start();
    this.stuck.start();
    this.turns.interrupt(null, 'interrupted: core restarted', 'rerun');
    await this.meta.ensure();
    for (const a of await this.deployer.recover()) this.gate.notifyDecision(a);
    await this.sockets.openHost();
    if (this.config.manager) this.lifecycle.ensureManager();
    this.reminders.start();
    this.federation?.start();
    await this.lifecycle.openAll();
    await this.peers.openAll();
    await this.lifecycle.startWanted(this.config.manager);
    this.retention.start();
  }

  /** Stops every agent and closes sockets and the database. */
  async close(): Promise<void> {
    this.notifier?.stop();
    this.stuck.stop();
    this.reminders.stop();
    this.retention.stop();
    this.peers.stop();
    this.turns.beginShutdown();
    await this.supervisor.stopAll(5000);
    // deploys in flight see their agent stop and end; let them write their outcome first
    await Promise.race([this.deployer.idle(), Bun.sleep(DEPLOY_DRAIN_MS)]);
    this.broker.closeAll();
    await this.federation?.stop();
    await this.sockets.closeAll();
    this.statsRecorder.stop();
    this.db.close();
  }

  /** Core facts for `hive ctl status` and the dashboard. */
  status(): OpResult<typeof HostOps, 'status'> {
    return {
      version: VERSION,
      data_dir: this.config.dataDir,
      runtime: this.runtime.name,
      ...this.isolation(),
      dashboard: `http://${this.config.listen.host}:${this.config.listen.port}`,
      started_at: this.startedAt,
      hive: this.config.hive,
      federation: this.federation?.status() ?? null,
    };
  }

  /**
   * Agents' root filesystems with who uses them, after removing the unused ones when `prune` (as
   * after every purge). An image counts as used by each agent whose applied config asks for it and
   * by each running sandbox started on it.
   */
  imageReport(prune: boolean): OpResult<typeof HostOps, 'images'> {
    const images = this.images;
    if (!images) {
      const problem = this.runtime.rootFromImage ? "the core runs with --host-root: sandboxes show this host's /usr" : `the ${this.runtime.name} runtime uses no images`;
      return { dir: null, problem, images: [], removed: [] };
    }
    const agents = this.registry
      .list()
      .filter((a) => a.role !== 'peer')
      .map((a) => {
        let packages: string[] | null = null;
        try {
          packages = this.configs.get(a.name).config.packages;
        } catch {
          // unreadable config: counted by its running sandbox only
        }
        return { name: a.name, packages, root: this.supervisor.isRunning(a.name) ? this.lifecycle.sandboxExtras(a.name).root : null };
      });
    const users = imageUsers(images, agents);
    const removed = prune ? images.prune(new Set(users.keys())) : [];
    return { dir: images.dir, problem: images.problem, images: images.list(users), removed };
  }

  /** What the runtime isolates (the same for every agent). */
  isolation(): { sandboxed: boolean; privileged: boolean; network_isolated: boolean } {
    return { sandboxed: this.runtime.sandboxed, privileged: this.runtime.privileged, network_isolated: this.runtime.networkIsolated };
  }
}

/** True when something accepts connections on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // nothing listening (ENOENT, ECONNREFUSED) is the answer this probe looks for
    s.once('error', () => resolve(false));
  });
}
