/**
 * @module core/agents/registry
 * The agents the hive knows: the durable part (name, role, runtime, desired state, model)
 * in sqlite, the live part (status, pid, crash count) in memory. Every change is published on the
 * bus as a full {@link AgentRecord}, which is what the dashboard renders.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import { validateAgentName } from '../../shared/names.ts';
import type { AgentRecord, AgentRole, AgentStatus, DesiredState } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';

interface Row {
  name: string;
  role: AgentRole;
  runtime: string;
  desired: DesiredState;
  /** Unused (agent pages are served on unix sockets); the column stays for existing databases. */
  port: number;
  /** The configured model (the config's, else the core's default), as of the last start. */
  model: string;
  model_override: string | null;
  config_hash: string | null;
  /** The applied config commit and hive version the agent's sandbox last came up with. */
  built_commit: string | null;
  built_version: string | null;
  created_at: number;
}

/** The in-memory part of an agent's record. */
export interface LiveState {
  status: AgentStatus;
  status_since: number;
  pid: number | null;
  restarts: number;
  last_exit: string | null;
  problem: string | null;
  config_warnings: string[];
}

/** Durable fields given when an agent is created. */
export type NewAgent = Pick<Row, 'name' | 'role' | 'runtime' | 'model'>;

/** Agent records: durable rows plus live state. */
export class Registry {
  private live = new Map<string, LiveState>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every agent, manager first, then by name. */
  list(): AgentRecord[] {
    const rows = this.db.query<Row, []>("SELECT * FROM agents ORDER BY role = 'manager' DESC, name").all();
    return rows.map((r) => this.toRecord(r));
  }

  get(name: string): AgentRecord | undefined {
    const row = this.db.query<Row, [string]>('SELECT * FROM agents WHERE name = ?').get(name);
    return row ? this.toRecord(row) : undefined;
  }

  /** @throws HiveError `not_found` when there is no such agent. */
  require(name: string): AgentRecord {
    const a = this.get(name);
    if (!a) throw new HiveError('not_found', `no agent named "${name}"; see \`hive ctl list\``);
    return a;
  }

  /**
   * The record of `name`, an agent the hive runs: not a peer, whose process is managed elsewhere.
   * @param action what would be done to it, as a past participle for the message ("started", "rebuilt").
   * @throws HiveError `not_found`; `forbidden` for a peer, saying how to revoke it instead.
   */
  requireManaged(name: string, action: string): AgentRecord {
    const a = this.require(name);
    if (a.role === 'peer')
      throw new HiveError(
        'forbidden',
        `${name} is a peer: the hive does not run it and keeps no config for it, so it cannot be ${action}; its owner runs it, and \`hive ctl peer remove ${name}\` revokes it`,
      );
    return a;
  }

  /** True when `name` is a registered agent. */
  has(name: string): boolean {
    return this.db.query<{ n: number }, [string]>('SELECT 1 AS n FROM agents WHERE name = ?').get(name) !== null;
  }

  /**
   * Checks that a new agent may take `name` now: a valid agent name no agent has.
   * @throws HiveError `bad_name`; `exists` when the name is taken.
   */
  requireFree(name: string): void {
    validateAgentName(name);
    if (this.has(name)) throw new HiveError('exists', `agent "${name}" already exists`);
  }

  /**
   * Registers a new agent in the `stopped` desired state.
   * @throws HiveError `exists` when the name is taken.
   */
  create(agent: NewAgent): AgentRecord {
    if (this.has(agent.name)) throw new HiveError('exists', `agent "${agent.name}" already exists`);
    this.db
      .query('INSERT INTO agents (name, role, runtime, desired, port, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(agent.name, agent.role, agent.runtime, 'stopped', 0, agent.model, this.now());
    return this.publish(agent.name);
  }

  /** Removes the agent's row and live state. */
  remove(name: string): void {
    this.db.query('DELETE FROM agents WHERE name = ?').run(name);
    this.live.delete(name);
    this.bus.emit({ type: 'agent_removed', name });
  }

  /** Records whether the operator wants the agent running. */
  setDesired(name: string, desired: DesiredState): AgentRecord {
    this.db.query('UPDATE agents SET desired = ? WHERE name = ?').run(desired, name);
    return this.publish(name);
  }

  /**
   * Records the config an agent starts with: its configured model, and its hash. A config that
   * differs from the one recorded last clears the operator's model override.
   * @returns whether the config changed.
   */
  applyConfig(name: string, model: string, hash: string): boolean {
    const row = this.db.query<Row, [string]>('SELECT * FROM agents WHERE name = ?').get(name);
    if (!row) throw new HiveError('not_found', `no agent named "${name}"`);
    const changed = row.config_hash !== null && row.config_hash !== hash;
    this.db
      .query('UPDATE agents SET model = ?, config_hash = ?, model_override = CASE WHEN ? THEN NULL ELSE model_override END WHERE name = ?')
      .run(model, hash, changed ? 1 : 0, name);
    this.publish(name);
    return changed;
  }

  /** Records the applied config commit and hive version a sandbox came up with (see auto-update). */
  setBuilt(name: string, commit: string | null, version: string): void {
    this.db.query('UPDATE agents SET built_commit = ?, built_version = ? WHERE name = ?').run(commit, version, name);
    this.publish(name);
  }

  /** Records the runtime the agent is (re)started with. */
  setRuntime(name: string, runtime: string): void {
    const cur = this.db.query<{ runtime: string }, [string]>('SELECT runtime FROM agents WHERE name = ?').get(name);
    if (cur && cur.runtime !== runtime) {
      this.db.query('UPDATE agents SET runtime = ? WHERE name = ?').run(runtime, name);
      this.publish(name);
    }
  }

  /** Sets (or with null clears) the operator's runtime model for the agent. */
  setModelOverride(name: string, model: string | null): AgentRecord {
    this.require(name);
    this.db.query('UPDATE agents SET model_override = ? WHERE name = ?').run(model, name);
    return this.publish(name);
  }

  /**
   * The live status of `name` from memory alone (no query), or undefined when nothing live is
   * known of it (not an agent, or not started since the core started: `offline`).
   */
  liveStatus(name: string): AgentStatus | undefined {
    return this.live.get(name)?.status;
  }

  /** Updates the live state; `status_since` moves only when the status changes. */
  setLive(name: string, patch: Partial<Omit<LiveState, 'status_since'>>): AgentRecord {
    const cur = this.liveOf(name);
    const next = { ...cur, ...patch };
    if (patch.status && patch.status !== cur.status) next.status_since = this.now();
    this.live.set(name, next);
    return this.publish(name);
  }

  private liveOf(name: string): LiveState {
    let l = this.live.get(name);
    if (!l) {
      l = { status: 'offline', status_since: this.now(), pid: null, restarts: 0, last_exit: null, problem: null, config_warnings: [] };
      this.live.set(name, l);
    }
    return l;
  }

  private toRecord(r: Row): AgentRecord {
    const { config_hash: _hash, port: _port, ...rest } = r;
    return { ...rest, ...this.liveOf(r.name), model: r.model_override ?? r.model };
  }

  private publish(name: string): AgentRecord {
    const agent = this.require(name);
    this.bus.emit({ type: 'agent', agent });
    return agent;
  }
}
