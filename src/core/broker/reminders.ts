/**
 * @module core/broker/reminders
 * Scheduled messages. A reminder is a row in `hive.db` with a due time; one timer, armed for the
 * earliest pending reminder, fires it by inserting a `reminder` message and marking the reminder
 * fired in the same transaction, so a reminder is delivered exactly once even across a crash. On
 * start every overdue reminder fires at once; a reminder set before a restart is simply found again.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import type { MessageRecord, ReminderRecord } from '../../shared/wire.ts';
import type { Broker } from './store.ts';
import type { EventBus } from '../bus.ts';

/** Furthest ahead a reminder may be set, in ms (one year). */
export const MAX_REMINDER_AHEAD_MS = 366 * 24 * 3600 * 1000;
/** Most pending reminders one owner may have. */
export const MAX_PENDING_REMINDERS = 1000;
/** Longest single timer Node/Bun accept (2^31-1 ms); later reminders re-arm on expiry. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Row {
  id: number;
  owner: string;
  recipient: string;
  body: string;
  due_at: number;
  created_at: number;
  fired_at: number | null;
  cancelled_at: number | null;
  message_id: number | null;
}

const toRecord = (r: Row): ReminderRecord => ({
  id: r.id,
  owner: r.owner,
  to: r.recipient,
  body: r.body,
  due_at: r.due_at,
  created_at: r.created_at,
  fired_at: r.fired_at,
  cancelled_at: r.cancelled_at,
  message_id: r.message_id,
});

/** When a reminder is due: an ISO 8601 time or a delay. */
export interface DueSpec {
  at?: string;
  in_seconds?: number;
}

/**
 * Turns `at` / `in_seconds` into a due time in unix ms.
 * @throws HiveError `bad_request` when neither or both are given, `at` does not parse, or the time
 *   is not in the future or more than a year ahead.
 */
export function resolveDue(spec: DueSpec, now: number): number {
  if ((spec.at === undefined) === (spec.in_seconds === undefined))
    throw new HiveError('bad_request', 'give exactly one of at (an ISO 8601 time) and in_seconds');
  let due: number;
  if (spec.at !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(spec.at) || !/(Z|[+-]\d{2}:?\d{2})$/.test(spec.at))
      throw new HiveError('bad_request', `at "${spec.at}" must be an ISO 8601 time with a zone, like 2026-01-31T09:00:00Z`);
    due = Date.parse(spec.at);
    if (Number.isNaN(due)) throw new HiveError('bad_request', `at "${spec.at}" is not a valid time`);
    if (due <= now) throw new HiveError('bad_request', `at ${spec.at} is in the past (it is now ${new Date(now).toISOString()})`);
  } else {
    due = now + Math.round(spec.in_seconds! * 1000);
    if (due <= now) throw new HiveError('bad_request', 'in_seconds must be positive: a reminder cannot be in the past');
  }
  if (due - now > MAX_REMINDER_AHEAD_MS) throw new HiveError('bad_request', 'a reminder may be at most 366 days ahead');
  return due;
}

/** Reminders in `hive.db` and the timer that fires them. */
export class Reminders {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedFor = Infinity;
  private running = false;

  constructor(
    private readonly db: Database,
    private readonly broker: Broker,
    private readonly bus: EventBus,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts firing: overdue reminders fire now, the next one is scheduled. */
  start(): void {
    this.running = true;
    this.fireDue();
  }

  /** Stops the timer (reminders stay in the database). */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  /**
   * Schedules `body` for `to` at `dueAt` (unix ms).
   * @throws HiveError `conflict` when `owner` already has {@link MAX_PENDING_REMINDERS} pending.
   */
  add(owner: string, to: string, body: string, dueAt: number): ReminderRecord {
    const n = this.db
      .query<{ n: number }, [string]>('SELECT count(*) AS n FROM reminders WHERE owner = ? AND fired_at IS NULL AND cancelled_at IS NULL')
      .get(owner)!.n;
    if (n >= MAX_PENDING_REMINDERS) throw new HiveError('conflict', `${owner} already has ${n} pending reminders; cancel some first`);
    const row = this.db
      .query<Row, [string, string, string, number, number]>(
        'INSERT INTO reminders (owner, recipient, body, due_at, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *',
      )
      .get(owner, to, body, dueAt, this.now())!;
    const rec = toRecord(row);
    this.bus.emit({ type: 'reminder', reminder: rec });
    if (this.running && dueAt < this.armedFor) this.arm(dueAt);
    return rec;
  }

  /**
   * Cancels a pending reminder of `owner`.
   * @throws HiveError `not_found` (also for someone else's reminder), `conflict` when it already fired or was cancelled.
   */
  cancel(owner: string, id: number): ReminderRecord {
    const row = this.db.query<Row, [number]>('SELECT * FROM reminders WHERE id = ?').get(id);
    if (!row || row.owner !== owner) throw new HiveError('not_found', `you have no reminder #${id}`);
    if (row.fired_at !== null) throw new HiveError('conflict', `reminder #${id} already fired (message #${row.message_id})`);
    if (row.cancelled_at !== null) throw new HiveError('conflict', `reminder #${id} is already cancelled`);
    const done = this.db
      .query<Row, [number, number]>('UPDATE reminders SET cancelled_at = ? WHERE id = ? AND fired_at IS NULL RETURNING *')
      .get(this.now(), id);
    if (!done) throw new HiveError('conflict', `reminder #${id} fired just now`);
    const rec = toRecord(done);
    this.bus.emit({ type: 'reminder', reminder: rec });
    return rec;
  }

  /** Pending reminders, soonest first; of one owner when given. */
  pending(owner?: string): ReminderRecord[] {
    const base = 'SELECT * FROM reminders WHERE fired_at IS NULL AND cancelled_at IS NULL';
    const rows = owner
      ? this.db.query<Row, [string]>(`${base} AND owner = ? ORDER BY due_at, id LIMIT ${MAX_PENDING_REMINDERS}`).all(owner)
      : this.db.query<Row, []>(`${base} ORDER BY due_at, id LIMIT ${MAX_PENDING_REMINDERS}`).all();
    return rows.map(toRecord);
  }

  /** Fires every reminder due by now, then arms the timer for the next. */
  private fireDue(): void {
    this.timer = null;
    this.armedFor = Infinity;
    if (!this.running) return;
    const now = this.now();
    const fired: Array<{ reminder: ReminderRecord; message: MessageRecord }> = [];
    try {
      this.db
        .transaction(() => {
          const due = this.db
            .query<Row, [number]>('SELECT * FROM reminders WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT 500')
            .all(now);
          for (const r of due) {
            const when = new Date(r.created_at).toISOString();
            const message = this.broker.insert(r.owner, r.recipient, `reminder #${r.id} (set ${when}): ${r.body}`, { kind: 'reminder', ref: r.id });
            const row = this.db
              .query<Row, [number, number, number]>('UPDATE reminders SET fired_at = ?, message_id = ? WHERE id = ? RETURNING *')
              .get(now, message.id, r.id)!;
            fired.push({ reminder: toRecord(row), message });
          }
        })
        .immediate();
    } catch (err) {
      this.log(`reminders: firing failed, retrying in 5s: ${(err as Error).message}`);
      this.arm(now + 5000);
      return;
    }
    for (const f of fired) {
      this.broker.publish(f.message);
      this.bus.emit({ type: 'reminder', reminder: f.reminder });
    }
    const next = this.db
      .query<{ due: number | null }, []>('SELECT min(due_at) AS due FROM reminders WHERE fired_at IS NULL AND cancelled_at IS NULL')
      .get()?.due;
    if (next !== null && next !== undefined) this.arm(next);
  }

  private arm(dueAt: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = dueAt;
    const delay = Math.min(Math.max(0, dueAt - this.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.fireDue(), delay);
  }
}
