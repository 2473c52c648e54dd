/**
 * @module core/broker/store
 * The message broker: inboxes in sqlite, long-polls woken by commits.
 *
 * `send` inserts a row and commits before it returns, so an acknowledged message survives a crash.
 * `sendGrouped` is the same promise with group commit, for the front doors where many senders
 * arrive at once: every message queued in one turn of the event loop is inserted in one
 * transaction, together with the hand-over of those that parked receivers are waiting for, and the
 * senders' promises resolve only after that commit (one fsync for the lot). A failed commit fails
 * each sender's promise and stores nothing of the group (each is then retried alone, so one bad
 * row cannot sink the others).
 * `recv` pops the caller's oldest undelivered message (marks it delivered and returns it). With a
 * positive wait it parks the caller; the next `send` to that inbox hands its message straight to
 * the longest-waiting caller, in the same tick as the commit. There is no polling loop: a parked
 * caller costs one timer and one map entry. Recipient checks and send policy are the caller's job
 * (see `Hive.send` in `core/hive.ts`); the broker stores what it is given.
 */
import type { Database, Statement } from 'bun:sqlite';
import type { MessageKind, MessageRecord } from '../../shared/wire.ts';
import { MAX_LIST_LIMIT, MAX_WAIT_SECONDS } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';

interface Row {
  id: number;
  sender: string;
  recipient: string;
  body: string;
  kind: MessageKind;
  ref: number | null;
  created_at: number;
  delivered_at: number | null;
  attempt: number;
}

const toRecord = (r: Row): MessageRecord => ({
  id: r.id,
  from: r.sender,
  to: r.recipient,
  body: r.body,
  kind: r.kind,
  ref: r.ref,
  created_at: r.created_at,
  delivered_at: r.delivered_at,
  attempt: r.attempt,
});

/** What a message is about, beyond its text; see {@link MessageKind}. */
export interface MessageMeta {
  kind?: MessageKind;
  ref?: number | null;
}

/** A message waiting for the next group commit, and its sender's promise. */
interface Queued {
  from: string;
  to: string;
  body: string;
  meta: MessageMeta;
  resolve: (m: MessageRecord) => void;
  reject: (e: unknown) => void;
}

interface Waiter {
  resolve: (m: MessageRecord | null) => void;
  timer: ReturnType<typeof setTimeout>;
  cleanup: () => void;
}

/** Filters for {@link Broker.list}. */
export interface ListOptions {
  /** Only messages sent by or to this name. */
  agent?: string;
  /** Newest N, returned oldest first; default 100. */
  limit?: number;
  /** Only messages with id greater than this (for catch-up after a reconnect). */
  afterId?: number;
}

/** Inboxes with durable send and commit-woken long-poll receive. */
export class Broker {
  /**
   * Called inside the transaction that stores a message for another hive (`name@hive`), to queue
   * it for publishing in the same commit (set by `federation/`; absent on a hive on its own).
   */
  remote: ((msg: MessageRecord) => void) | null = null;
  private waiters = new Map<string, Waiter[]>();
  private queued: Queued[] = [];
  private flushScheduled = false;
  private insertStmt: Statement<Row, [string, string, string, MessageKind, number | null, number]>;
  private pop: Statement<Row, [number, string]>;

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.query(
      'INSERT INTO messages (sender, recipient, body, kind, ref, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
    );
    this.pop = db.query(
      `UPDATE messages SET delivered_at = ?1 WHERE id = (
         SELECT id FROM messages WHERE recipient = ?2 AND delivered_at IS NULL ORDER BY id LIMIT 1
       ) RETURNING *`,
    );
  }

  /**
   * Stores a message and wakes a long-polling receiver of `to`, if any.
   * @returns the stored message; it is committed when this returns.
   */
  send(from: string, to: string, body: string, meta: MessageMeta = {}): MessageRecord {
    // one transaction with the outbox row a message to another hive gets (see `remote`)
    const msg = this.db.transaction(() => this.insert(from, to, body, meta))();
    this.publish(msg);
    return msg;
  }

  /**
   * Stores a message with group commit: it is inserted with every other message queued in this
   * turn of the event loop, in one transaction, and a parked receiver is handed it in the same
   * transaction.
   * @returns the stored message, once the commit that holds it is durable.
   * @throws (rejects with) the sqlite error when it could not be stored.
   */
  sendGrouped(from: string, to: string, body: string, meta: MessageMeta = {}): Promise<MessageRecord> {
    return new Promise((resolve, reject) => {
      this.queued.push({ from, to, body, meta, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      // the check phase runs after every socket read of this loop turn: all of it joins the group
      setImmediate(() => this.flush());
    });
  }

  /** Commits the queued group; see {@link sendGrouped}. */
  private flush(): void {
    this.flushScheduled = false;
    const group = this.queued;
    this.queued = [];
    if (group.length === 0) return;
    let stored: MessageRecord[];
    let handed: Array<{ waiter: Waiter; msg: MessageRecord }>;
    try {
      ({ stored, handed } = this.db.transaction(() => {
        const stored = group.map((q) => this.insert(q.from, q.to, q.body, q.meta));
        return { stored, handed: this.handOver(new Set(stored.map((m) => m.to))) };
      })());
    } catch (err) {
      if (group.length === 1) group[0]!.reject(err);
      // the group rolled back as a whole; alone, each stands or falls on its own
      else for (const q of group) this.sendAlone(q);
      return;
    }
    for (const msg of stored) this.bus.emit({ type: 'message', message: msg });
    for (const { waiter, msg } of handed) {
      waiter.cleanup();
      this.bus.emit({ type: 'delivered', message: msg });
      waiter.resolve(msg);
    }
    for (let i = 0; i < group.length; i++) group[i]!.resolve(stored[i]!);
  }

  /** One queued message in its own commit, after its group failed. */
  private sendAlone(q: Queued): void {
    try {
      q.resolve(this.send(q.from, q.to, q.body, q.meta));
    } catch (err) {
      q.reject(err);
    }
  }

  /**
   * Inside a transaction: pops one message for each parked receiver of `recipients`, oldest waiter
   * first. Nothing is resolved here; the caller hands them over after the commit.
   */
  private handOver(recipients: Set<string>): Array<{ waiter: Waiter; msg: MessageRecord }> {
    const out: Array<{ waiter: Waiter; msg: MessageRecord }> = [];
    const at = this.now();
    for (const recipient of recipients) {
      for (const waiter of this.waiters.get(recipient) ?? []) {
        const row = this.pop.get(at, recipient);
        if (!row) break;
        out.push({ waiter, msg: toRecord(row) });
      }
    }
    return out;
  }

  /**
   * Stores a message without announcing it, for callers that write it in a transaction together
   * with other rows. Call {@link publish} once the transaction has committed.
   */
  insert(from: string, to: string, body: string, meta: MessageMeta = {}): MessageRecord {
    const row = this.insertStmt.get(from, to, body, meta.kind ?? 'message', meta.ref ?? null, this.now());
    if (!row) throw new Error('insert returned no row');
    const msg = toRecord(row);
    if (this.remote && to.includes('@')) this.remote(msg);
    return msg;
  }

  /**
   * Stores a message that came from another hive, once: `origin` (`<hive>:<id>`) is unique, so a
   * redelivery stores nothing. Call {@link publish} after the commit, as for {@link insert}.
   * @returns the stored message, or null when one with this origin is stored already.
   */
  insertRemote(from: string, to: string, body: string, origin: string, meta: MessageMeta = {}): MessageRecord | null {
    const row = this.db
      .query<Row, [string, string, string, MessageKind, number | null, number, string]>(
        'INSERT OR IGNORE INTO messages (sender, recipient, body, kind, ref, created_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      )
      .get(from, to, body, meta.kind ?? 'message', meta.ref ?? null, this.now(), origin);
    return row ? toRecord(row) : null;
  }

  /** Whether a message from another hive with this origin (`<hive>:<id>`) is stored already. */
  hasOrigin(origin: string): boolean {
    return this.db.query<{ n: number }, [string]>('SELECT count(*) AS n FROM messages WHERE origin = ?').get(origin)!.n > 0;
  }

  /**
   * Marks a message to another hive delivered (the recipient's hive stored it) at `at`, unix ms.
   * @returns the message, or null when there is none undelivered with that id.
   */
  markDelivered(id: number, at: number): MessageRecord | null {
    const row = this.db.query<Row, [number, number]>('UPDATE messages SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL RETURNING *').get(at, id);
    return row ? toRecord(row) : null;
  }

  /** Announces a committed message on the bus and hands it to a waiting receiver, if any. */
  publish(msg: MessageRecord): void {
    this.bus.emit({ type: 'message', message: msg });
    this.wake(msg.to);
  }

  /**
   * Pops the oldest undelivered message for `recipient`.
   * @param waitSeconds 0 or absent: return at once (null when empty). Positive: wait up to that
   *   many seconds (capped at {@link MAX_WAIT_SECONDS}) for a message to arrive.
   * @param signal aborting it ends the wait with null and guarantees no message is popped for it.
   */
  recv(recipient: string, waitSeconds = 0, signal?: AbortSignal): Promise<MessageRecord | null> {
    const got = this.popOne(recipient);
    if (got || !(waitSeconds > 0) || signal?.aborted) return Promise.resolve(got);
    const ms = Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000;
    return new Promise((resolve) => {
      const list = this.waiters.get(recipient) ?? [];
      this.waiters.set(recipient, list);
      const onAbort = () => {
        waiter.cleanup();
        resolve(null);
      };
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          waiter.cleanup();
          resolve(null);
        }, ms),
        cleanup: () => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          const l = this.waiters.get(recipient);
          if (!l) return;
          const i = l.indexOf(waiter);
          if (i >= 0) l.splice(i, 1);
          if (l.length === 0) this.waiters.delete(recipient);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      list.push(waiter);
    });
  }

  /** Number of callers currently long-polling `recipient`'s inbox. */
  waiting(recipient: string): number {
    return this.waiters.get(recipient)?.length ?? 0;
  }

  /** Undelivered messages to `recipient` (read from the inbox index). */
  depth(recipient: string): number {
    return this.db
      .query<{ n: number }, [string]>('SELECT count(*) AS n FROM messages WHERE recipient = ? AND delivered_at IS NULL')
      .get(recipient)!.n;
  }

  /** Undelivered messages per recipient. */
  depths(): Map<string, number> {
    const rows = this.db
      .query<{ recipient: string; n: number }, []>(
        'SELECT recipient, count(*) AS n FROM messages WHERE delivered_at IS NULL GROUP BY recipient',
      )
      .all();
    return new Map(rows.map((r) => [r.recipient, r.n]));
  }

  /** Recent messages, oldest first. */
  list(opts: ListOptions = {}): MessageRecord[] {
    const limit = Math.max(1, Math.min(opts.limit ?? 100, MAX_LIST_LIMIT));
    const after = opts.afterId ?? 0;
    const rows = opts.agent
      ? this.db
          .query<Row, [number, string, string, number]>(
            `SELECT * FROM messages WHERE id > ? AND (sender = ? OR recipient = ?) ORDER BY id DESC LIMIT ?`,
          )
          .all(after, opts.agent, opts.agent, limit)
      : this.db
          .query<Row, [number, number]>('SELECT * FROM messages WHERE id > ? ORDER BY id DESC LIMIT ?')
          .all(after, limit);
    return rows.reverse().map(toRecord);
  }

  /** Newest message id, 0 when there are none. */
  lastId(): number {
    return this.db.query<{ id: number | null }, []>('SELECT max(id) AS id FROM messages').get()?.id ?? 0;
  }

  /** One message by id, or null when there is none. */
  message(id: number): MessageRecord | null {
    const row = this.db.query<Row, [number]>('SELECT * FROM messages WHERE id = ?').get(id);
    return row ? toRecord(row) : null;
  }

  /** The newest `limit` messages to `recipient` (at least 1), newest first. */
  sentTo(recipient: string, limit: number): MessageRecord[] {
    return this.db
      .query<Row, [string, number]>('SELECT * FROM messages WHERE recipient = ? ORDER BY id DESC LIMIT ?')
      .all(recipient, Math.max(1, limit))
      .map(toRecord);
  }

  /**
   * Hands a delivered message out again, as its next attempt: it goes back to its recipient's
   * inbox (ahead of newer mail, since inboxes pop by id) with `delivered_at` cleared and `attempt`
   * one higher. Parked receivers are not woken: the harness that comes back takes it with its
   * next `recv`.
   * @param maxAttempts the highest attempt allowed; a message already there is left as it is.
   * @returns the re-queued message, or null when it does not exist, is undelivered, or has had
   *   `maxAttempts` attempts.
   */
  requeue(id: number, maxAttempts: number): MessageRecord | null {
    const row = this.db
      .query<Row, [number, number]>(
        `UPDATE messages SET delivered_at = NULL, attempt = attempt + 1
         WHERE id = ? AND delivered_at IS NOT NULL AND attempt < ? RETURNING *`,
      )
      .get(id, maxAttempts);
    return row ? toRecord(row) : null;
  }

  /** Ends every long-poll with null (used at shutdown). */
  closeAll(): void {
    for (const list of [...this.waiters.values()]) {
      for (const w of [...list]) {
        w.cleanup();
        w.resolve(null);
      }
    }
  }

  private popOne(recipient: string): MessageRecord | null {
    const row = this.pop.get(this.now(), recipient);
    if (!row) return null;
    const msg = toRecord(row);
    this.bus.emit({ type: 'delivered', message: msg });
    return msg;
  }

  /** Hands queued messages to parked receivers, oldest waiter first. */
  private wake(recipient: string): void {
    const list = this.waiters.get(recipient);
    while (list && list.length > 0) {
      const msg = this.popOne(recipient);
      if (!msg) return;
      const waiter = list[0]!;
      waiter.cleanup();
      waiter.resolve(msg);
    }
  }
}
