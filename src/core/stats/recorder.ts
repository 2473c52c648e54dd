/**
 * @module core/stats/recorder
 * Writes each agent's telemetry when its turns end, from what the core already sees on its bus:
 * the turn record (duration, status, tools, tokens), the gateway's per-turn usage, the messages the
 * agent sent and received since its previous turn ended (by party: peer, operator, manager,
 * system), the deepest its inbox got meanwhile, how long it was idle before the turn, and the size
 * of its `/state/notes.md`. The approval queue is sampled hive-wide whenever its length changes.
 *
 * Every terminal turn is written once: the turn row's `stats_at` is set in the same transaction,
 * so a turn reported twice (an interrupted turn whose harness reports its end later) counts once.
 * Nothing here runs between events: no timers, no polling.
 */
import type { Database } from 'bun:sqlite';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { MANAGER, OPERATOR, SYSTEM } from '../../shared/names.ts';
import { HIVE_WIDE, type PartyKind } from '../../shared/stats.ts';
import type { TurnRecord } from '../../shared/wire.ts';
import type { EventBus, HiveEvent } from '../bus.ts';
import type { Sample, StatsStore } from './store.ts';

/** The agent's notes file under its state dir, whose size is sampled (seed: cues compaction). */
export const NOTES_FILE = 'notes.md';

/** What the recorder reads besides the bus. */
export interface RecorderDeps {
  db: Database;
  bus: EventBus;
  store: StatsStore;
  /** Undelivered messages per recipient (`Broker.depths`), read once at start. */
  depths(): Map<string, number>;
  /** Undelivered messages to one recipient (`Broker.depth`), read at each turn end. */
  depth(recipient: string): number;
  /** Pending approvals now (`Approvals.list().length`). */
  pendingApprovals(): number;
  /** The gateway's sums for a turn, when it saw any of its requests (`UsageStore.byTurn`). */
  turnUsage(turnId: string): { requests: number; cost_usd: number; input_tokens: number; output_tokens: number } | undefined;
  /** The host path of agent `name`'s state dir (`/state` in its sandbox). */
  stateDir(name: string): string;
}

/** Messages since an agent's previous turn ended, and its inbox high-water mark. */
interface Counters {
  sent: Map<PartyKind, number>;
  received: Map<PartyKind, number>;
  inboxMax: number;
}

/** The party kind of `name` as a sender or recipient. */
export function partyKind(name: string): PartyKind {
  if (name === OPERATOR) return 'operator';
  if (name === MANAGER) return 'manager';
  if (name === SYSTEM) return 'system';
  return 'peer';
}

/** Turns bus events into samples in the {@link StatsStore}. */
export class StatsRecorder {
  private readonly counters = new Map<string, Counters>();
  private readonly depth = new Map<string, number>();
  private approvalQueue = -1;
  private off: (() => void) | null = null;

  constructor(private readonly deps: RecorderDeps) {}

  /** Starts listening; samples the approval queue once. */
  start(): void {
    for (const [name, n] of this.deps.depths()) this.depth.set(name, n);
    this.sampleApprovals();
    this.off = this.deps.bus.on((e) => this.onEvent(e));
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  /** Undelivered messages to `name` as the recorder counts them (synced at each turn end). */
  inboxDepth(name: string): number {
    return this.depth.get(name) ?? 0;
  }

  private onEvent(e: HiveEvent): void {
    switch (e.type) {
      case 'message': {
        const m = e.message;
        const d = (this.depth.get(m.to) ?? 0) + 1;
        this.depth.set(m.to, d);
        const to = this.of(m.to);
        if (d > to.inboxMax) to.inboxMax = d;
        bump(this.of(m.from).sent, partyKind(m.to));
        return;
      }
      case 'delivered': {
        const m = e.message;
        this.depth.set(m.to, Math.max(0, (this.depth.get(m.to) ?? 1) - 1));
        bump(this.of(m.to).received, partyKind(m.from));
        return;
      }
      case 'turn':
        if (e.turn.status !== 'running') this.turnEnded(e.turn);
        return;
      case 'approval':
        this.sampleApprovals();
        return;
      case 'agent_removed':
        this.counters.delete(e.name);
        this.depth.delete(e.name);
        return;
    }
  }

  private of(name: string): Counters {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { sent: new Map(), received: new Map(), inboxMax: this.depth.get(name) ?? 0 }));
    return c;
  }

  /** Writes the samples of a turn that just ended, once per turn. */
  private turnEnded(turn: TurnRecord): void {
    const { db, store } = this.deps;
    const ts = turn.ended_at ?? Date.now();
    const claimed = db.query('UPDATE turns SET stats_at = ? WHERE id = ? AND stats_at IS NULL').run(ts, turn.id).changes === 1;
    if (!claimed) return;
    const depthNow = this.deps.depth(turn.agent);
    this.depth.set(turn.agent, depthNow);
    const c = this.of(turn.agent);
    this.counters.delete(turn.agent);

    const samples: Sample[] = [
      { key: 'turn', value: turn.duration_ms ?? Math.max(0, ts - turn.started_at) },
      { key: 'tool_calls', value: turn.tools.length },
      { key: `status:${turn.status}`, value: 1 },
      { key: 'inbox_max', value: Math.max(c.inboxMax, depthNow) },
    ];
    const tools = new Map<string, number>();
    for (const t of turn.tools) tools.set(t, (tools.get(t) ?? 0) + 1);
    for (const [name, n] of tools) samples.push({ key: `tool:${name}`, value: n });
    for (const [kind, n] of c.sent) samples.push({ key: `sent:${kind}`, value: n });
    for (const [kind, n] of c.received) samples.push({ key: `received:${kind}`, value: n });

    const previous = db
      .query<{ ended: number | null }, [string, string, number]>(
        `SELECT max(ended_at) AS ended FROM turns WHERE agent = ? AND id != ? AND ended_at <= ?`,
      )
      .get(turn.agent, turn.id, turn.started_at)?.ended;
    if (previous != null) samples.push({ key: 'idle_gap_ms', value: turn.started_at - previous });

    const usage = this.deps.turnUsage(turn.id);
    const input = usage?.requests ? usage.input_tokens : turn.input_tokens;
    const output = usage?.requests ? usage.output_tokens : turn.output_tokens;
    const cost = usage?.requests ? usage.cost_usd : turn.cost_usd;
    if (input !== null) samples.push({ key: 'input_tokens', value: input });
    if (output !== null) samples.push({ key: 'output_tokens', value: output });
    if (cost !== null) samples.push({ key: 'cost_usd', value: cost });

    const notes = notesBytes(this.deps.stateDir(turn.agent));
    if (notes !== null) samples.push({ key: 'notes_bytes', value: notes });
    store.record(turn.agent, ts, samples);
  }

  private sampleApprovals(): void {
    const n = this.deps.pendingApprovals();
    if (n === this.approvalQueue) return;
    this.approvalQueue = n;
    this.deps.store.record(HIVE_WIDE, Date.now(), [{ key: 'approvals_pending', value: n }]);
  }
}

/** Size of `<stateDir>/notes.md` in bytes, or null when there is none. */
export function notesBytes(stateDir: string): number | null {
  try {
    return statSync(join(stateDir, NOTES_FILE)).size;
  } catch {
    // no notes file yet (or the state dir is gone with a destroyed agent): nothing to sample
    return null;
  }
}

function bump(m: Map<PartyKind, number>, k: PartyKind): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
