/**
 * @module core/stats/stuck
 * Raises the `agent_stuck` alert for an agent that looks stuck, and closes it when it moves again:
 * - a turn that has been running longer than {@link StuckThresholds.turnMs};
 * - messages that wait in its inbox for {@link StuckThresholds.inboxMs} while it is up and idle
 *   (a harness that takes nothing, so the inbox only grows).
 *
 * One timer per watched condition, armed by the event that starts it (a turn start, a message to an
 * idle agent) and cleared by the one that ends it: an idle hive arms none.
 */
import type { AgentStatus } from '../../shared/wire.ts';
import type { Alerts } from '../alerts.ts';
import type { EventBus, HiveEvent } from '../bus.ts';

/** When an agent counts as stuck, in ms. */
export interface StuckThresholds {
  /** A single turn running this long. Default 30 min. */
  turnMs: number;
  /** Messages waiting this long in the inbox of an idle agent. Default 5 min. */
  inboxMs: number;
}

/** The thresholds used when none are given. */
export const DEFAULT_STUCK: StuckThresholds = { turnMs: 30 * 60_000, inboxMs: 5 * 60_000 };

/** What the watch reads besides the bus. */
export interface StuckDeps {
  bus: EventBus;
  alerts: Pick<Alerts, 'raise' | 'clear'>;
  /** The agent's live status, or undefined when it is not an agent or not up (`Registry.liveStatus`). */
  status(name: string): AgentStatus | undefined;
  /** Undelivered messages to `name` now. */
  inboxDepth(name: string): number;
  thresholds: StuckThresholds;
  now?: () => number;
}

interface Watch {
  timer: ReturnType<typeof setTimeout>;
  since: number;
}

/** Watches turns and inboxes for agents that stopped moving. */
export class StuckWatch {
  private readonly turns = new Map<string, Watch & { turn: string }>();
  private readonly inboxes = new Map<string, Watch>();
  private off: (() => void) | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: StuckDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.off = this.deps.bus.on((e) => this.onEvent(e));
  }

  stop(): void {
    this.off?.();
    this.off = null;
    for (const w of [...this.turns.values(), ...this.inboxes.values()]) clearTimeout(w.timer);
    this.turns.clear();
    this.inboxes.clear();
  }

  private onEvent(e: HiveEvent): void {
    switch (e.type) {
      case 'turn': {
        const { agent, id, status } = e.turn;
        this.unwatch(this.inboxes, agent);
        if (status === 'running') {
          this.unwatch(this.turns, agent);
          const since = this.now();
          const timer = setTimeout(() => this.turnTooLong(agent, id, since), this.deps.thresholds.turnMs);
          timer.unref?.();
          this.turns.set(agent, { timer, since, turn: id });
        } else if (this.turns.get(agent)?.turn === id) {
          this.unwatch(this.turns, agent);
        }
        this.deps.alerts.clear(agent, ['agent_stuck']);
        return;
      }
      case 'message': {
        const to = e.message.to;
        if (this.inboxes.has(to) || this.turns.has(to) || this.deps.status(to) !== 'idle') return;
        const since = this.now();
        const timer = setTimeout(() => this.inboxWaiting(to, since), this.deps.thresholds.inboxMs);
        timer.unref?.();
        this.inboxes.set(to, { timer, since });
        return;
      }
      case 'delivered':
        if (this.deps.inboxDepth(e.message.to) === 0) this.unwatch(this.inboxes, e.message.to);
        return;
      case 'agent': {
        const { name, status } = e.agent;
        if (status === 'idle' || status === 'thinking') return;
        // stopped, crashed, rebuilding: not stuck, and whatever was watched starts over when it is back
        this.unwatch(this.turns, name);
        this.unwatch(this.inboxes, name);
        this.deps.alerts.clear(name, ['agent_stuck']);
        return;
      }
      case 'agent_removed':
        this.unwatch(this.turns, e.name);
        this.unwatch(this.inboxes, e.name);
        return;
    }
  }

  private turnTooLong(agent: string, turn: string, since: number): void {
    this.turns.delete(agent);
    this.deps.alerts.raise(
      'agent_stuck',
      agent,
      `has been in turn ${turn} for ${minutes(this.now() - since)} (threshold ${minutes(this.deps.thresholds.turnMs)}); ` +
        'look at its page, cancel the turn or restart it',
    );
  }

  private inboxWaiting(agent: string, since: number): void {
    this.inboxes.delete(agent);
    const depth = this.deps.inboxDepth(agent);
    if (depth === 0 || this.deps.status(agent) !== 'idle') return;
    this.deps.alerts.raise(
      'agent_stuck',
      agent,
      `is idle with ${depth} message${depth === 1 ? '' : 's'} waiting for ${minutes(this.now() - since)} (threshold ${minutes(this.deps.thresholds.inboxMs)}); ` +
        'its harness takes nothing from its inbox: restart it',
    );
  }

  private unwatch(map: Map<string, Watch>, name: string): void {
    const w = map.get(name);
    if (!w) return;
    clearTimeout(w.timer);
    map.delete(name);
  }
}

/** `ms` in words: "45 s", "12 min", "2.5 h". */
function minutes(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
