/**
 * @module core/bus
 * The core's in-process event bus. Every state change that someone may be waiting on is emitted
 * here after it has been committed; the dashboard's SSE streams listen. (Broker long-polls keep
 * their own waiter list, woken directly by `Broker.send`.) Listeners run synchronously in emit order; a throwing listener is
 * reported and does not stop the others.
 */
import type { AgentRecord, ApprovalRecord, MessageRecord, QuestionRecord, ReminderRecord, TurnRecord } from '../shared/wire.ts';

/** Everything the bus carries. */
export type HiveEvent =
  | { type: 'message'; message: MessageRecord }
  | { type: 'delivered'; message: MessageRecord }
  | { type: 'agent'; agent: AgentRecord }
  | { type: 'agent_removed'; name: string }
  | { type: 'turn'; turn: TurnRecord }
  | { type: 'question'; question: QuestionRecord }
  | { type: 'reminder'; reminder: ReminderRecord }
  | { type: 'approval'; approval: ApprovalRecord }
  /** One line of a rebuild's output (our steps and the sandbox's own output), as it happens. */
  | { type: 'build'; agent: string; approval: number | null; line: string; at: number }
  /** The list of spawn drafts changed. */
  | { type: 'drafts' }
  /** The set of destroyed agents with kept state changed (destroy, purge, a re-spawn). */
  | { type: 'kept' }
  /** The set of open alerts changed. */
  | { type: 'alerts' }
  /** The model gateway recorded a request of `agent` (its spend changed). */
  | { type: 'usage'; agent: string }
  /** The operator marked inbox messages read. */
  | { type: 'inbox' }
  /** Tags of `agent`'s applied repo were removed outside an approval's own events (tag retention). */
  | { type: 'tags'; agent: string }
  /** The deploy log (the meta repo) gained a commit: a deploy's or rebuild's outcome, a spawn, a destroy. */
  | { type: 'deploys' }
  /** The stored images changed: one was built, or a prune removed some. */
  | { type: 'images' }
  /** The federation's link to NATS or its outbox changed (see `federation/`). */
  | { type: 'federation' };

export type Listener = (event: HiveEvent) => void;

/** A synchronous fan-out of {@link HiveEvent}s. */
export class EventBus {
  private listeners = new Set<Listener>();

  constructor(private readonly onListenerError: (err: unknown) => void = (e) => console.error(e)) {}

  /** Adds a listener; returns the function that removes it. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivers `event` to every listener, in registration order. */
  emit(event: HiveEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Number of listeners (for leak checks in tests). */
  get size(): number {
    return this.listeners.size;
  }
}
