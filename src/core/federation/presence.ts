/**
 * @module core/federation/presence
 * Who is where in a federation, and which hives can be heard: a JetStream key-value bucket
 * ({@link BUCKET}, `@nats-io/kv`) that every hive writes its own part of and watches whole.
 *
 * - `agent.<hive>.<name>`: one of a hive's agents, `{ role, status, model, at }`, written when its
 *   state changes and deleted when it is destroyed. The last value is kept, so a hive that starts
 *   (or reconnects) learns every remote agent's last-known state.
 * - `hive.<hive>`: a hive's heartbeat, `{ at, agents }`, written every {@link HEARTBEAT_MS} while it
 *   is connected. A remote hive whose heartbeat this hive has not seen for `unreachableMs` is
 *   unreachable: the `hive_unreachable` alert (agent `@<hive>`) opens, and closes when it is heard
 *   again. The same alert (agent `@<this hive>`) opens when this hive's own link to NATS has been
 *   down that long. Ages are measured with this host's clock from when a value arrived, so clocks
 *   of different hosts need not agree.
 *
 * With NATS subject permissions each hive may write only its own keys (`$KV.<bucket>.hive.<hive>`
 * and `$KV.<bucket>.agent.<hive>.>`; see docs/federation.md).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { AgentRecord, RemoteAgentRecord } from '../../shared/wire.ts';
import type { Alerts } from '../alerts.ts';
import type { Registry } from '../agents/registry.ts';
import type { EventBus } from '../bus.ts';

/** The bucket's name. */
export const BUCKET = 'hive-presence';
/** How often a connected hive writes its heartbeat, ms. */
export const HEARTBEAT_MS = 15_000;

/** A remote agent's last-known state (`{ hive, name, role, status, model, at }`, `at` in its hive's clock). */
export type RemoteAgent = RemoteAgentRecord;

/** A remote hive as this one hears it. */
export interface RemoteHive {
  name: string;
  /** When its last heartbeat arrived here, unix ms (this host's clock). */
  heard_at: number;
  /** False once no heartbeat has arrived for the unreachable threshold. */
  reachable: boolean;
  /** How many agents it had at its last heartbeat. */
  agents: number;
}

/** What presence reads and writes. */
export interface PresenceDeps {
  hive: string;
  registry: Registry;
  bus: EventBus;
  alerts: Alerts;
  /** How long without a heartbeat (or without this hive's own link) before the alert, ms. */
  unreachableMs: number;
  /** This hive's link: whether it is up, and since when (unix ms). */
  link: () => { up: boolean; since: number };
  log: (line: string) => void;
}

/** One hive's view of the federation's members. */
export class Presence {
  private kv: KV | null = null;
  private agents = new Map<string, RemoteAgent>();
  private hives = new Map<string, RemoteHive>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private off: (() => void) | null = null;
  private stopWatch: (() => void) | null = null;
  private alerted = new Set<string>();
  /** The number of agents the last heartbeat carried. */
  private sentCount = -1;

  constructor(private readonly deps: PresenceDeps) {}

  /**
   * Opens (creating when missing) the bucket, writes this hive's agents and heartbeat, follows its
   * own agents' changes and starts watching the others'.
   * @throws the client's error when the bucket cannot be opened or watched (the caller tries again).
   */
  async start(nc: NatsConnection, replicas: number): Promise<void> {
    this.stop(); // a start tried again after a refusal begins afresh
    const { Kvm } = await import('@nats-io/kv');
    const kv = await new Kvm(nc).create(BUCKET, { history: 1, replicas });
    this.kv = kv;
    for (const a of this.deps.registry.list()) await this.putAgent(a);
    await this.heartbeat();
    this.off = this.deps.bus.on((e) => {
      if (e.type === 'agent') void this.putAgent(e.agent);
      else if (e.type === 'agent_removed') void this.kv?.delete(`agent.${this.deps.hive}.${e.name}`).catch(() => {});
      else return;
      // the heartbeat carries the number of agents: a new or removed one is told at once
      if (this.deps.registry.list().length !== this.sentCount) void this.heartbeat();
    });
    this.timer = setInterval(() => void this.tick(), HEARTBEAT_MS);
    const watch = await kv.watch({ key: '>' });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) this.take(e.key, e.operation, e.operation === 'PUT' ? e.string() : '');
    })().catch((err: Error) => this.deps.log(`federation: the presence watch ended: ${err.message}`));
  }

  /** Remote agents, by hive then name. */
  remoteAgents(): RemoteAgent[] {
    return [...this.agents.values()].sort((a, b) => a.hive.localeCompare(b.hive) || a.name.localeCompare(b.name));
  }

  /** Remote hives heard since this core started, by name. */
  remoteHives(): RemoteHive[] {
    return [...this.hives.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops the heartbeat and the watch. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.off?.();
    this.stopWatch?.();
  }

  /**
   * Takes one entry of the watch: a remote agent's state or deletion, or a remote heartbeat.
   * Entries of this hive and keys of another shape are ignored.
   */
  take(key: string, operation: string, value: string): void {
    const parts = key.split('.');
    const hive = parts[1];
    if (!hive || hive === this.deps.hive) return;
    if (parts[0] === 'agent' && parts.length === 3) {
      const id = `${hive}.${parts[2]}`;
      if (operation !== 'PUT') this.agents.delete(id);
      else {
        const v = parseObject(value);
        if (v) this.agents.set(id, { hive, name: parts[2]!, role: str(v.role), status: str(v.status), model: str(v.model), at: num(v.at) });
      }
    } else if (parts[0] === 'hive' && parts.length === 2 && operation === 'PUT') {
      const v = parseObject(value);
      const heard = { name: hive, heard_at: Date.now(), reachable: true, agents: num(v?.agents) };
      this.hives.set(hive, heard);
      this.clear(hive);
    } else return;
    this.deps.bus.emit({ type: 'federation' });
  }

  /** The heartbeat, and the reachability check of every hive (this one's own link included). */
  async tick(): Promise<void> {
    const now = Date.now();
    const { unreachableMs, hive, link } = this.deps;
    for (const h of this.hives.values()) {
      const late = now - h.heard_at > unreachableMs;
      if (late && h.reachable) this.deps.bus.emit({ type: 'federation' });
      h.reachable = !late;
      if (late) this.raise(h.name, `hive ${h.name} has not been heard for ${Math.round((now - h.heard_at) / 60_000)} min (last heartbeat ${new Date(h.heard_at).toISOString()}); messages to its agents wait in the stream until it is back`);
    }
    const own = link();
    if (!own.up && now - own.since > unreachableMs) this.raise(hive, `this hive (${hive}) has not reached the federation's NATS servers for ${Math.round((now - own.since) / 60_000)} min; messages to other hives wait in its outbox`);
    else if (own.up) this.clear(hive);
    await this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    if (!this.deps.link().up) return;
    this.sentCount = this.deps.registry.list().length;
    await this.kv?.put(`hive.${this.deps.hive}`, JSON.stringify({ at: Date.now(), agents: this.sentCount })).catch(() => {});
  }

  private async putAgent(a: AgentRecord): Promise<void> {
    const value = JSON.stringify({ role: a.role, status: a.status, model: a.model, at: Date.now() });
    await this.kv?.put(`agent.${this.deps.hive}.${a.name}`, value).catch(() => {});
  }

  private raise(hive: string, text: string): void {
    this.alerted.add(hive);
    this.deps.alerts.raise('hive_unreachable', `@${hive}`, text);
  }

  /** Closes the alert of `hive` (one raised before this core restarted too). */
  private clear(hive: string): void {
    this.alerted.delete(hive);
    this.deps.alerts.clear(`@${hive}`, ['hive_unreachable']);
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 64) : '?');
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
