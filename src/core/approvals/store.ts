/**
 * @module core/approvals/store
 * The queue of changes that wait for the operator: `spawn` (a new agent, from the default config or
 * a draft's commit) and `apply_commit` (a commit of an agent's proposed config repo). The manager
 * requests; the operator approves or denies with `hive ctl approve|deny` or on the dashboard. An
 * approval is `pending` until decided, then `denied`, or `building` while it is carried out and
 * finally `deployed` or `failed` (with the error in `note`). Carrying it out is the deployer's
 * (`core/configs/deploy.ts`): this module stores states and refuses impossible moves.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import type { ApprovalRecord, ApprovalStatus } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';

type Row = Omit<ApprovalRecord, 'requested_by'> & { requested_by: string };

/** Approvals in `hive.db`. */
export class Approvals {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Queues a request. `sha` is the proposed commit (null: a spawn from the default config). With
   * `quiet`, nothing is announced yet: the caller stages the request (its `proposal/<id>` tag) and
   * then calls {@link announce}, so no one renders the approval before its tag exists.
   * @throws HiveError `conflict` when a spawn of `agent`, or the same commit for `agent`, is already pending.
   */
  request(
    kind: ApprovalRecord['kind'],
    agent: string,
    by: string,
    sha: string | null = null,
    subject: string | null = null,
    opts: { quiet?: boolean } = {},
  ): ApprovalRecord {
    const dup = this.db
      .query<{ id: number }, [string, string, string | null]>(
        "SELECT id FROM approvals WHERE kind = ? AND agent = ? AND (kind = 'spawn' OR sha IS ?) AND status IN ('pending', 'building')",
      )
      .get(kind, agent, sha);
    if (dup) throw new HiveError('conflict', `${kind === 'spawn' ? `a spawn of "${agent}"` : `commit ${sha?.slice(0, 12)} for "${agent}"`} is already waiting for the operator (approval #${dup.id})`);
    return this.insert(kind, agent, by, sha, subject, 'pending', opts.quiet === true);
  }

  /**
   * Records a change the operator made directly (e.g. `hive ctl spawn`): an approval that starts
   * out `building`, so it has the same record, tags and meta commit as an approved request.
   */
  record(kind: ApprovalRecord['kind'], agent: string, by: string, sha: string | null = null, subject: string | null = null): ApprovalRecord {
    return this.insert(kind, agent, by, sha, subject, 'building');
  }

  private insert(kind: string, agent: string, by: string, sha: string | null, subject: string | null, status: 'pending' | 'building', quiet = false): ApprovalRecord {
    const now = this.now();
    const row = this.db
      .query<Row, [string, string, string, string | null, string | null, string, number, number | null]>(
        'INSERT INTO approvals (kind, agent, requested_by, sha, subject, status, created_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *',
      )
      .get(kind, agent, by, sha, subject, status, now, status === 'building' ? now : null)!;
    return quiet ? row : this.publish(row);
  }

  /**
   * The operator approved: `pending` → `building`.
   * @throws HiveError `conflict` when it is no longer pending.
   */
  begin(id: number): ApprovalRecord {
    const row = this.db
      .query<Row, [number, number]>("UPDATE approvals SET status = 'building', decided_at = ? WHERE id = ? AND status = 'pending' RETURNING *")
      .get(this.now(), id);
    if (!row) throw new HiveError('conflict', `approval #${id} is already ${this.get(id).status}`);
    return this.publish(row);
  }

  /** Records the applied commits of a deploy in progress (before the applied head moves). */
  setCommits(id: number, base: string | null, applied: string | null): ApprovalRecord {
    const row = this.db
      .query<Row, [string | null, string | null, number]>('UPDATE approvals SET base_commit = ?, applied_commit = ? WHERE id = ? RETURNING *')
      .get(base, applied, id);
    if (!row) throw new HiveError('not_found', `no approval #${id}`);
    return this.publish(row);
  }

  /**
   * Ends a deploy: `building` → `deployed` or `failed` (with the error in `note`).
   * @throws HiveError `conflict` when it is not building.
   */
  finish(id: number, status: 'deployed' | 'failed', note: string | null = null): ApprovalRecord {
    const row = this.db
      .query<Row, [string, string | null, number]>("UPDATE approvals SET status = ?, note = ? WHERE id = ? AND status = 'building' RETURNING *")
      .get(status, note, id);
    if (!row) throw new HiveError('conflict', `approval #${id} is not being carried out (it is ${this.get(id).status})`);
    return this.publish(row);
  }

  /** Approvals left `building` (by a core that stopped mid-deploy), oldest first. */
  inFlight(): ApprovalRecord[] {
    return this.db.query<Row, []>("SELECT * FROM approvals WHERE status = 'building' ORDER BY id").all();
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
   * Moves a pending approval straight to a decided state (a denial, or a failure before building).
   * With `quiet`, the change is announced only by a later {@link announce} (after its tag is written).
   * @throws HiveError `conflict` when it is no longer pending (decided by someone else meanwhile).
   */
  decide(id: number, status: Exclude<ApprovalStatus, 'pending' | 'building'>, note: string | null = null, opts: { quiet?: boolean } = {}): ApprovalRecord {
    const cur = this.get(id);
    if (cur.status !== 'pending') throw new HiveError('conflict', `approval #${id} is already ${cur.status}`);
    const row = this.db
      .query<Row, [string, number, string | null, number]>(
        "UPDATE approvals SET status = ?, decided_at = ?, note = ? WHERE id = ? AND status = 'pending' RETURNING *",
      )
      .get(status, this.now(), note, id);
    if (!row) throw new HiveError('conflict', `approval #${id} was decided meanwhile`);
    return opts.quiet ? row : this.publish(row);
  }

  /**
   * Tells the bus about approval `id` as it is now: the end of a change made `quiet`, once the
   * config repo shows it too.
   * @throws HiveError `not_found`.
   */
  announce(id: number): ApprovalRecord {
    return this.publish(this.get(id));
  }

  private publish(row: Row): ApprovalRecord {
    this.bus.emit({ type: 'approval', approval: row });
    return row;
  }
}
