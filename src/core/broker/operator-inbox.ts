/**
 * @module core/broker/operator-inbox
 * The operator's inbox on the dashboard: the messages whose recipient is `operator`, and which of
 * them the operator has read. The messages stay in the broker's `messages` table; the read state is
 * this module's own table, `operator_reads` (one row per read message). A change of read state is
 * announced on the bus as `inbox`; a new message to the operator arrives as the broker's `message`.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR } from '../../shared/names.ts';
import type { MessageRecord } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';
import type { Broker } from './store.ts';

/** One inbox entry: a message to the operator and whether it was read. */
export interface InboxItem {
  message: MessageRecord;
  read: boolean;
}

/** The operator's read state over the messages addressed to them. */
export class OperatorInbox {
  constructor(
    private readonly db: Database,
    private readonly broker: Broker,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /** The newest `limit` messages to the operator, newest first, each with its read state. */
  list(limit = 50): InboxItem[] {
    const messages = this.broker.sentTo(OPERATOR, limit);
    if (messages.length === 0) return [];
    const read = new Set(
      this.db
        .query<{ id: number }, [number, number]>('SELECT message_id AS id FROM operator_reads WHERE message_id BETWEEN ? AND ?')
        .all(messages.at(-1)!.id, messages[0]!.id)
        .map((r) => r.id),
    );
    return messages.map((message) => ({ message, read: read.has(message.id) }));
  }

  /** How many messages to the operator are unread. */
  unread(): number {
    return (
      this.db
        .query<{ n: number }, [string]>(
          'SELECT count(*) AS n FROM messages m WHERE m.recipient = ? AND NOT EXISTS (SELECT 1 FROM operator_reads r WHERE r.message_id = m.id)',
        )
        .get(OPERATOR)?.n ?? 0
    );
  }

  /**
   * Marks message `id` read.
   * @returns false when it was read already.
   * @throws HiveError `not_found` when there is no message `id` to the operator.
   */
  markRead(id: number): boolean {
    const m = this.broker.message(id);
    if (!m || m.to !== OPERATOR) throw new HiveError('not_found', `there is no message #${id} to the operator`);
    const changed = this.db.query('INSERT OR IGNORE INTO operator_reads (message_id, read_at) VALUES (?, ?)').run(id, this.now()).changes > 0;
    if (changed) this.bus.emit({ type: 'inbox' });
    return changed;
  }

  /** Marks every message to the operator read; returns how many were unread. */
  markAllRead(): number {
    const n = this.db
      .query(
        `INSERT OR IGNORE INTO operator_reads (message_id, read_at)
         SELECT id, ? FROM messages WHERE recipient = ?`,
      )
      .run(this.now(), OPERATOR).changes;
    if (n > 0) this.bus.emit({ type: 'inbox' });
    return n;
  }
}
