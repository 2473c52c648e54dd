/**
 * @module core/broker/reminders
 * Scheduled messages, one-shot or recurring. A reminder is a row in `hive.db` with a due time; one
 * timer, armed for the earliest pending reminder, fires it. Firing inserts a `reminder` message and,
 * in the same transaction, either marks the reminder done or moves it to its next due time, so
 * each firing is delivered exactly once even across a crash. On start every overdue reminder
 * fires at once; a reminder set before a restart is simply found again.
 *
 * A recurring reminder's due times lie on one grid: its first due time plus whole intervals. When
 * it fires late (the core was down for several intervals, or busy) it fires once, not once per
 * missed interval, and its next due time is the first point of the grid after now. Skipped
 * intervals are not owed: `count` counts firings made, so a capped reminder still fires `count`
 * times unless it reaches its horizon (`ends_at`, 366 days after it was set) first.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import { interval } from '../../shared/reminders.ts';
import { MAX_REMINDER_COUNT, MIN_REMINDER_EVERY_SECONDS, type MessageRecord, type ReminderRecord } from '../../shared/wire.ts';
import type { Broker } from './store.ts';
import type { EventBus } from '../bus.ts';

/** Furthest ahead a reminder may be set, and longest a recurring one runs, in ms (366 days). */
export const MAX_REMINDER_AHEAD_MS = 366 * 24 * 3600 * 1000;
/** Most pending reminders one owner may have (a recurring reminder is one). */
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
  every_ms: number | null;
  max_fires: number | null;
  fired: number;
  ends_at: number | null;
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
  every: r.every_ms === null ? null : r.every_ms / 1000,
  fired: r.fired,
  remaining: r.max_fires === null ? null : Math.max(0, r.max_fires - r.fired),
  ends_at: r.ends_at,
});

const iso = (ms: number) => new Date(ms).toISOString();

/** When a reminder is due and how often it repeats, as the `remind` op takes it. */
export interface DueSpec {
  /** An ISO 8601 time with a zone. */
  at?: string;
  /** Seconds from now. */
  in_seconds?: number;
  /** Seconds between firings, at least {@link MIN_REMINDER_EVERY_SECONDS}; absent for a one-shot reminder. */
  every?: number;
  /** With `every`: firings in all, 1 to {@link MAX_REMINDER_COUNT}; absent: until the horizon. */
  count?: number;
}

/** How a recurring reminder repeats, in the store's terms. */
export interface Repeat {
  /** Interval between due times, ms (> 0). */
  everyMs: number;
  /** Firings in all; null: until `endsAt`. */
  count: number | null;
  /** No firing is due after this (unix ms); default: {@link MAX_REMINDER_AHEAD_MS} after it is set. */
  endsAt?: number;
}

/** A checked schedule: the first due time (unix ms) and, for a recurring reminder, how it repeats. */
export interface Schedule {
  dueAt: number;
  repeat: Repeat | null;
}

/**
 * Turns `at` / `in_seconds` into a due time in unix ms.
 * @throws HiveError `bad_request` when neither or both are given, `at` does not parse, or the time
 *   is not in the future or more than a year ahead.
 */
export function resolveDue(spec: DueSpec, now: number): number {
  if ((spec.at === undefined) === (spec.in_seconds === undefined))
    throw new HiveError('bad_request', 'give exactly one of at (an ISO 8601 time) and in_seconds (with every, you may give neither)');
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

/**
 * Checks a whole `remind` schedule: the first due time as {@link resolveDue} (or one `every` from
 * now when a recurring reminder gives neither `at` nor `in_seconds`), and the repeat limits.
 * @throws HiveError `bad_request` as {@link resolveDue}; naming `every` when it is not a whole
 *   number of seconds from {@link MIN_REMINDER_EVERY_SECONDS} to 366 days; naming `count` when it
 *   is given without `every`, is not 1 to {@link MAX_REMINDER_COUNT}, or its last firing would fall
 *   more than 366 days after now.
 */
export function resolveSchedule(spec: DueSpec, now: number): Schedule {
  const { every, count } = spec;
  if (every === undefined) {
    if (count !== undefined) throw new HiveError('bad_request', 'count needs every: it caps how many times a recurring reminder fires');
    return { dueAt: resolveDue(spec, now), repeat: null };
  }
  if (!Number.isInteger(every) || every < MIN_REMINDER_EVERY_SECONDS)
    throw new HiveError('bad_request', `every must be a whole number of seconds, at least ${MIN_REMINDER_EVERY_SECONDS} (got ${every})`);
  const everyMs = every * 1000;
  if (everyMs > MAX_REMINDER_AHEAD_MS)
    throw new HiveError('bad_request', `every may be at most 366 days (${MAX_REMINDER_AHEAD_MS / 1000} s); got ${every}`);
  if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > MAX_REMINDER_COUNT))
    throw new HiveError('bad_request', `count must be a whole number from 1 to ${MAX_REMINDER_COUNT} (got ${count})`);
  const dueAt = spec.at === undefined && spec.in_seconds === undefined ? now + everyMs : resolveDue(spec, now);
  const endsAt = now + MAX_REMINDER_AHEAD_MS;
  if (count !== undefined && dueAt + (count - 1) * everyMs > endsAt) {
    const most = 1 + Math.floor((endsAt - dueAt) / everyMs);
    throw new HiveError(
      'bad_request',
      `count ${count} every ${every} s would run past the 366-day limit (${iso(endsAt)}); at most ${most} from ${iso(dueAt)}`,
    );
  }
  return { dueAt, repeat: { everyMs, count: count ?? null, endsAt } };
}

/**
 * The due time after a firing at `now` (the reminder's `fired`-th), or null when that was its last:
 * a one-shot reminder, a capped one that reached its count, or a next due time past `ends_at`.
 * The next due time is the first point of the grid `due_at + k × every` after `now`.
 */
function nextDue(r: Row, fired: number, now: number): number | null {
  if (r.every_ms === null || r.every_ms <= 0) return null;
  if (r.max_fires !== null && fired >= r.max_fires) return null;
  const next = r.due_at + (Math.floor(Math.max(0, now - r.due_at) / r.every_ms) + 1) * r.every_ms;
  return r.ends_at !== null && next > r.ends_at ? null : next;
}

/** The text of a reminder's `fired`-th message. */
function firingText(r: Row, fired: number): string {
  const when = iso(r.created_at);
  if (r.every_ms === null) return `reminder #${r.id} (set ${when}): ${r.body}`;
  const nth = r.max_fires === null ? `firing ${fired}` : `firing ${fired} of ${r.max_fires}`;
  return `reminder #${r.id} (set ${when}, every ${interval(r.every_ms / 1000)}, ${nth}): ${r.body}`;
}

/** Reminders in `hive.db` and the timer that fires them. */
export class Reminders {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedFor = Infinity;
  private running = false;

  /** `now` is the clock (unix ms) for due times and records; tests may pass their own. */
  constructor(
    private readonly db: Database,
    private readonly broker: Broker,
    private readonly bus: EventBus,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts firing: overdue reminders fire now (once each, however late), the next one is scheduled. */
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
   * Schedules `body` for `to` at `dueAt` (unix ms), repeating as `repeat` says (one-shot without
   * it). The arguments are trusted: callers check them first ({@link resolveSchedule}).
   * @throws HiveError `conflict` when `owner` already has {@link MAX_PENDING_REMINDERS} pending.
   */
  add(owner: string, to: string, body: string, dueAt: number, repeat: Repeat | null = null): ReminderRecord {
    const n = this.db
      .query<{ n: number }, [string]>('SELECT count(*) AS n FROM reminders WHERE owner = ? AND fired_at IS NULL AND cancelled_at IS NULL')
      .get(owner)!.n;
    if (n >= MAX_PENDING_REMINDERS) throw new HiveError('conflict', `${owner} already has ${n} pending reminders; cancel some first`);
    const created = this.now();
    const row = this.db
      .query<Row, [string, string, string, number, number, number | null, number | null, number | null]>(
        `INSERT INTO reminders (owner, recipient, body, due_at, created_at, every_ms, max_fires, ends_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        owner,
        to,
        body,
        dueAt,
        created,
        repeat ? repeat.everyMs : null,
        repeat ? repeat.count : 1,
        repeat ? (repeat.endsAt ?? created + MAX_REMINDER_AHEAD_MS) : null,
      )!;
    const rec = toRecord(row);
    this.bus.emit({ type: 'reminder', reminder: rec });
    if (this.running && dueAt < this.armedFor) this.arm(dueAt);
    return rec;
  }

  /**
   * Cancels a pending reminder of `owner`; a recurring one fires no more.
   * @throws HiveError `not_found` (also for someone else's reminder), `conflict` when it already
   *   fired for the last time or was cancelled.
   */
  cancel(owner: string, id: number): ReminderRecord {
    const row = this.db.query<Row, [number]>('SELECT * FROM reminders WHERE id = ?').get(id);
    if (!row || row.owner !== owner) throw new HiveError('not_found', `you have no reminder #${id}`);
    if (row.fired_at !== null)
      throw new HiveError(
        'conflict',
        row.every_ms === null
          ? `reminder #${id} already fired (message #${row.message_id})`
          : `reminder #${id} already fired for the last time (${row.fired}×, last as message #${row.message_id})`,
      );
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

  /**
   * Fires every reminder due by now, once each, then arms the timer for the next. Each firing's
   * message and the reminder's new state (done, or its next due time) commit together.
   */
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
            const count = r.fired + 1;
            const message = this.broker.insert(r.owner, r.recipient, firingText(r, count), { kind: 'reminder', ref: r.id });
            const next = nextDue(r, count, now);
            const row = this.db
              .query<Row, [number, number, number | null, number, number]>(
                'UPDATE reminders SET fired = ?, due_at = ?, fired_at = ?, message_id = ? WHERE id = ? RETURNING *',
              )
              .get(count, next ?? r.due_at, next === null ? now : null, message.id, r.id)!;
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
