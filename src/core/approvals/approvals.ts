/**
 * @module approvals
 * The queue of changes that wait for the operator. The manager requests (today: spawning an
 * agent); the operator approves or denies with `hive ctl approve|deny` or on the dashboard. An
 * approval is `pending` until decided, then `denied`, or carried out and `deployed` or `failed`
 * (with the error in `note`). Carrying it out is the caller's (`Hive`): this module stores states.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import type { ApprovalRecord, ApprovalStatus } from '../../shared/wire.ts';
import type { EventBus } from '../events.ts';

type Row = Omit<ApprovalRecord, 'requested_by'> & { requested_by: string };

/** Approvals in `hive.db`. */
export class Approvals {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Queues a request.
   * @throws HiveError `conflict` when the same kind of request for `agent` is already pending.
   */
  request(kind: ApprovalRecord['kind'], agent: string, by: string, sha: string | null = null): ApprovalRecord {
    const dup = this.db
      .query<{ id: number }, [string, string]>("SELECT id FROM approvals WHERE kind = ? AND agent = ? AND status = 'pending'")
      .get(kind, agent);
    if (dup) throw new HiveError('conflict', `a ${kind} request for "${agent}" is already waiting for the operator (approval #${dup.id})`);
    const row = this.db
      .query<Row, [string, string, string, string | null, number]>(
        "INSERT INTO approvals (kind, agent, requested_by, sha, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?) RETURNING *",
      )
      .get(kind, agent, by, sha, this.now())!;
    return this.publish(row);
  }

  /** @throws HiveError `not_found`. */
  get(id: number): ApprovalRecord {
    const row = this.db.query<Row, [number]>('SELECT * FROM approvals WHERE id = ?').get(id);
    if (!row) throw new HiveError('not_found', `no approval #${id}; see \`hive ctl approvals\``);
    return row;
  }

  /** Pending approvals oldest first, or with `all` the newest 200 of any state. */
  list(all = false): ApprovalRecord[] {
    return all
      ? this.db.query<Row, []>('SELECT * FROM approvals ORDER BY id DESC LIMIT 200').all()
      : this.db.query<Row, []>("SELECT * FROM approvals WHERE status = 'pending' ORDER BY id").all();
  }

  /**
   * Moves a pending approval to a decided state.
   * @throws HiveError `conflict` when it is no longer pending (decided by someone else meanwhile).
   */
  decide(id: number, status: Exclude<ApprovalStatus, 'pending'>, note: string | null = null): ApprovalRecord {
    const cur = this.get(id);
    if (cur.status !== 'pending') throw new HiveError('conflict', `approval #${id} is already ${cur.status}`);
    const row = this.db
      .query<Row, [string, number, string | null, number]>(
        "UPDATE approvals SET status = ?, decided_at = ?, note = ? WHERE id = ? AND status = 'pending' RETURNING *",
      )
      .get(status, this.now(), note, id);
    if (!row) throw new HiveError('conflict', `approval #${id} was decided meanwhile`);
    return this.publish(row);
  }

  private publish(row: Row): ApprovalRecord {
    this.bus.emit({ type: 'approval', approval: row });
    return row;
  }
}
