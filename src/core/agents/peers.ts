/**
 * @module core/agents/peers
 * Peers: agent identities on the broker for containers or processes the hive does not run (the
 * operator's own Claude Code container, a service managed by systemd elsewhere on the host). `add`
 * registers one with role `peer` and opens a socket dir laid out like an agent's: `mcp.sock`, its
 * identity, and, unless the operator withholds it, `model.sock`, the model gateway with the
 * operator's credentials. Its owner binds that dir into the container at `/run/hive` and runs
 * `hive mcp` (for an MCP client) or `hive agent serve` (the turn loop) there.
 *
 * The hive never starts, stops, rebuilds or destroys a peer (see `Registry.requireManaged`), and a
 * peer has no config repo: its policy is what the operator gave at `add` (whom it may send to,
 * whether it gets the gateway), kept in the `peers` table and pinned as its config. It gets no
 * egress proxy (it has its own network), and no page or terminal on the dashboard: the dashboard
 * is no window into a machine the hive did not make. `remove` closes its sockets and deletes the
 * dir; messages queued for it stay in the broker, addressed to the name.
 *
 * Presence: a peer is `connected` while something waits in `recv` on its socket, and for
 * {@link PEER_AWAY_AFTER_MS} after its last `recv` (or its harness's hello or turn end); `away`
 * otherwise, at once when a waiting `recv`'s connection closes. While its harness reports a turn
 * it is `thinking`; when the connection that started a turn closes before the turn ends, the turn
 * is interrupted and its message handed out again.
 */
import type { Database } from 'bun:sqlite';
import { rmSync } from 'node:fs';
import { DEFAULT_AGENT_CONFIG, type LoadedAgentConfig } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import type { OpHandlers } from '../../shared/jsonl.ts';
import { OPERATOR, validateAgentName, validateRecipient } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';
import type { AgentOps, AgentRecord, PeerRecord } from '../../shared/wire.ts';
import type { Alerts } from '../alerts.ts';
import type { AgentConfigs } from '../configs/agent-configs.ts';
import { lexists } from '../data-dir.ts';
import type { Registry } from './registry.ts';
import type { Turns } from './turns.ts';

/** How long a peer stays `connected` after its last `recv` ended, ms. */
export const PEER_AWAY_AFTER_MS = 60_000;

/** The `runtime` of a peer's agent record: it runs outside the hive. */
export const PEER_RUNTIME = 'external';

/** What the operator may give when adding a peer. */
export interface PeerOptions {
  /** Whom it may `send`/`ask` besides the manager; null or absent: anyone. */
  allowedRecipients?: string[] | null;
  /** Serve it the model gateway (`model.sock`); default true. */
  modelAccess?: boolean;
}

/** What {@link Peers} reads and changes. */
export interface PeersDeps {
  db: Database;
  registry: Registry;
  configs: AgentConfigs;
  turns: Turns;
  alerts: Alerts;
  layout: DataLayout;
  /** Spawn drafts: a drafted name is not free for a peer. */
  drafts: { has(name: string): boolean };
  /** Opens and closes an agent's core-served sockets (see `sockets/serve.ts`). */
  endpoints: {
    open(name: string, only: { model: boolean; proxy: boolean }): Promise<void>;
    close(name: string): Promise<void>;
  };
  /** Forgets a running turn the lifecycle keeps for the gateway's records (see `Lifecycle.dropTurn`). */
  dropTurn: (name: string, turnId: string) => void;
  /** The model recorded for a new peer (the model its harness's turns use unless overridden). */
  defaultModel: string;
  log: (line: string) => void;
  now?: () => number;
  /** {@link PEER_AWAY_AFTER_MS} unless given. */
  awayAfterMs?: number;
}

interface Row {
  name: string;
  allowed_recipients: string | null;
  model_access: number;
  created_at: number;
}

/** What the core knows of one peer's connections, in memory. */
interface Presence {
  /** `recv` calls waiting on its socket now. */
  waiting: number;
  /** When it last showed itself (a `recv` ended, its harness said hello or ended a turn), unix ms; 0: it hung up. */
  seen: number;
  /** The turn its harness reported started and has not ended, with the hang-up watch on its connection. */
  turn: { id: string; signal: AbortSignal; onAbort: () => void } | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/** The config a peer runs under: the defaults, with the recipients the operator allowed. */
function peerConfig(allowed: string[] | null): LoadedAgentConfig {
  return { config: { ...DEFAULT_AGENT_CONFIG, allowedRecipients: allowed, shared: false }, warnings: [], hash: '' };
}

/** The peers of the hive, their sockets and their presence. */
export class Peers {
  private presence = new Map<string, Presence>();
  private closed = false;
  private readonly now: () => number;
  private readonly awayAfterMs: number;

  constructor(private readonly deps: PeersDeps) {
    this.now = deps.now ?? Date.now;
    this.awayAfterMs = deps.awayAfterMs ?? PEER_AWAY_AFTER_MS;
  }

  /** Every peer, by name. */
  list(): PeerRecord[] {
    return this.deps.db.query<Row, []>('SELECT * FROM peers ORDER BY name').all().map((r) => this.toRecord(r));
  }

  /** Peer `name`, or undefined when there is none. */
  get(name: string): PeerRecord | undefined {
    const row = this.row(name);
    return row ? this.toRecord(row) : undefined;
  }

  /**
   * Adds peer `name`: registers it (role `peer`, `away` until something connects), pins its
   * policy as its config and opens its socket dir.
   * @throws HiveError `bad_name` for the name or a recipient; `exists` when an agent or peer has
   *   the name; `conflict` when a spawn draft or a destroyed agent's kept state has it.
   */
  async add(name: string, opts: PeerOptions = {}): Promise<{ peer: PeerRecord; agent: AgentRecord }> {
    const { registry, drafts, layout, db, configs, endpoints, defaultModel, log } = this.deps;
    registry.requireFree(name);
    if (drafts.has(name)) throw new HiveError('conflict', `a spawn draft of "${name}" exists; discard it (\`hive ctl discard ${name}\`) or choose another name`);
    if (lexists(layout.agent(name).root))
      throw new HiveError('conflict', `the kept state of a destroyed agent "${name}" is on disk; purge it (\`hive ctl purge ${name}\`) or choose another name`);
    const allowed = opts.allowedRecipients ? [...new Set(opts.allowedRecipients.map((r) => validateRecipient(r)))] : null;
    const model = opts.modelAccess ?? true;
    db.transaction(() => {
      db.query('INSERT INTO peers (name, allowed_recipients, model_access, created_at) VALUES (?, ?, ?, ?)').run(
        name,
        allowed ? JSON.stringify(allowed) : null,
        model ? 1 : 0,
        this.now(),
      );
      registry.create({ name, role: 'peer', runtime: PEER_RUNTIME, model: defaultModel });
    })();
    configs.pin(name, peerConfig(allowed));
    try {
      await this.open(name, model);
    } catch (err) {
      await endpoints.close(name).catch(() => undefined);
      this.forget(name);
      throw err;
    }
    const peer = this.get(name)!;
    log(`peer ${name} added: socket dir ${peer.socket_dir}; may send to ${allowed ? allowed.join(', ') || 'the manager only' : 'anyone'}; model gateway ${model ? 'served' : 'withheld'}`);
    return { peer, agent: registry.require(name) };
  }

  /**
   * Revokes peer `name`: closes its sockets (a connected client's calls fail, and a waiting
   * `recv` ends without taking a message), deletes its socket dir, and unregisters it. A turn its
   * harness was running ends as `error`. Messages queued for it stay in the broker: a peer or
   * agent given the name later receives them.
   * @throws HiveError `bad_name`; `not_found` when `name` is not a peer.
   */
  async remove(name: string): Promise<void> {
    const { registry, endpoints, layout, turns, alerts, log } = this.deps;
    validateAgentName(name);
    const a = registry.get(name);
    if (!a || a.role !== 'peer' || !this.row(name))
      throw new HiveError('not_found', a ? `${name} is an agent, not a peer; \`hive ctl destroy ${name}\` removes an agent` : `no peer named "${name}"; see \`hive ctl peer list\``);
    this.dropPresence(name);
    await endpoints.close(name);
    rmSync(layout.agent(name).socketDir, { recursive: true, force: true });
    turns.interrupt(name, `cancelled: peer ${name} was removed`, 'cancel');
    this.forget(name);
    alerts.clear(name, [], OPERATOR);
    log(`peer ${name} removed: its sockets are closed and its socket dir is gone`);
  }

  /** At start-up: every peer's pinned config and sockets, each `away` until something connects. */
  async openAll(): Promise<void> {
    for (const p of this.list()) {
      if (this.deps.registry.get(p.name)?.role !== 'peer') {
        this.deps.log(`peer ${p.name}: no registry record of it as a peer; its sockets stay closed`);
        continue;
      }
      this.deps.configs.pin(p.name, peerConfig(p.allowed_recipients));
      await this.open(p.name, p.model_access);
    }
  }

  /** Stops the presence timers; after this no status changes (the core is closing). */
  stop(): void {
    this.closed = true;
    for (const name of [...this.presence.keys()]) this.dropPresence(name);
  }

  /**
   * The handlers of `name`'s socket: `handlers` as they are for an agent, or, for a peer, with
   * `recv`, `hello`, `turn_start` and `turn_end` also keeping its presence.
   */
  ops(name: string, handlers: OpHandlers<typeof AgentOps>): OpHandlers<typeof AgentOps> {
    if (!this.row(name)) return handlers;
    return {
      ...handlers,
      recv: async (args, conn) => {
        const p = this.presenceOf(name);
        p.waiting++;
        this.refresh(name, p);
        try {
          return await handlers.recv(args, conn);
        } finally {
          p.waiting--;
          p.seen = conn.signal.aborted ? 0 : this.now();
          this.refresh(name, p);
        }
      },
      hello: async (args, conn) => {
        const r = await handlers.hello(args, conn);
        const p = this.presenceOf(name);
        p.seen = this.now();
        this.refresh(name, p);
        return r;
      },
      turn_start: async (args, conn) => {
        const r = await handlers.turn_start(args, conn);
        const p = this.presenceOf(name);
        this.endTurnWatch(p);
        const turn = { id: args.turn_id, signal: conn.signal, onAbort: () => this.hungUp(name, p, args.turn_id) };
        p.turn = turn;
        conn.signal.addEventListener('abort', turn.onAbort, { once: true });
        return r;
      },
      turn_end: async (args, conn) => {
        const r = await handlers.turn_end(args, conn);
        const p = this.presenceOf(name);
        if (p.turn?.id === args.turn_id) this.endTurnWatch(p);
        p.seen = this.now();
        this.refresh(name, p);
        return r;
      },
    };
  }

  private async open(name: string, model: boolean): Promise<void> {
    await this.deps.endpoints.open(name, { model, proxy: false });
    this.refresh(name, this.presenceOf(name));
  }

  /** Drops every trace of `name` but its socket dir: presence, config, rows. */
  private forget(name: string): void {
    const { db, registry, configs } = this.deps;
    this.dropPresence(name);
    db.query('DELETE FROM peers WHERE name = ?').run(name);
    if (registry.has(name)) registry.remove(name);
    configs.forget(name);
  }

  /** The connection that started `turnId` closed: the turn is interrupted and the peer is away. */
  private hungUp(name: string, p: Presence, turnId: string): void {
    if (p.turn?.id !== turnId || this.presence.get(name) !== p || this.closed) return;
    p.turn = null;
    p.seen = 0;
    this.deps.turns.interrupt(name, `interrupted: peer ${name}'s harness disconnected during the turn`, 'rerun');
    this.deps.dropTurn(name, turnId);
    this.refresh(name, p);
  }

  /** Stops watching the connection of `p`'s reported turn. */
  private endTurnWatch(p: Presence): void {
    if (p.turn) p.turn.signal.removeEventListener('abort', p.turn.onAbort);
    p.turn = null;
  }

  /**
   * Sets `name`'s status from its presence: `thinking` is left alone while its harness's turn
   * runs; else `connected` or `away`, with a timer for when `connected` runs out.
   */
  private refresh(name: string, p: Presence): void {
    if (this.closed || this.presence.get(name) !== p || !this.deps.registry.has(name)) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (p.turn) return;
    const left = p.seen + this.awayAfterMs - this.now();
    const status = p.waiting > 0 || left > 0 ? 'connected' : 'away';
    if (this.deps.registry.liveStatus(name) !== status) this.deps.registry.setLive(name, { status, pid: null });
    if (p.waiting === 0 && left > 0) {
      p.timer = setTimeout(() => this.refresh(name, p), left);
      p.timer.unref?.();
    }
  }

  private presenceOf(name: string): Presence {
    let p = this.presence.get(name);
    if (!p) {
      p = { waiting: 0, seen: 0, turn: null, timer: null };
      this.presence.set(name, p);
    }
    return p;
  }

  private dropPresence(name: string): void {
    const p = this.presence.get(name);
    if (!p) return;
    if (p.timer) clearTimeout(p.timer);
    this.endTurnWatch(p);
    this.presence.delete(name);
  }

  private row(name: string): Row | null {
    return this.deps.db.query<Row, [string]>('SELECT * FROM peers WHERE name = ?').get(name);
  }

  private toRecord(r: Row): PeerRecord {
    return {
      name: r.name,
      socket_dir: this.deps.layout.agent(r.name).socketDir,
      allowed_recipients: r.allowed_recipients === null ? null : (JSON.parse(r.allowed_recipients) as string[]),
      model_access: r.model_access === 1,
      owner_uid: process.getuid?.() ?? 0,
      created_at: r.created_at,
    };
  }
}
