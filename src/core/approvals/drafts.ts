/**
 * @module core/approvals/drafts
 * The drafts table: agents the manager is preparing with a two-step spawn (a proposed config repo
 * and staged `/state` files, no sandbox yet). A draft ends when its spawn is deployed, when the
 * operator discards it, or when its name is purged. The table's SQL lives only here.
 */
import type { Database } from 'bun:sqlite';
import type { EventBus } from '../bus.ts';

/** One draft as stored. `created_at` is epoch milliseconds. */
export interface DraftRow {
  name: string;
  requested_by: string;
  created_at: number;
}

/** Store of spawn drafts; every change emits a `drafts` event. */
export class Drafts {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {}

  /** Records a draft of `name` by `by`. @throws the sqlite constraint error when one exists. */
  add(name: string, by: string): void {
    this.db.query('INSERT INTO drafts (name, requested_by, created_at) VALUES (?, ?, ?)').run(name, by, Date.now());
    this.bus.emit({ type: 'drafts' });
  }

  /** True when `name` is a draft. */
  has(name: string): boolean {
    return this.db.query('SELECT 1 FROM drafts WHERE name = ?').get(name) !== null;
  }

  /** Drops the draft of `name`. @returns whether there was one. */
  remove(name: string): boolean {
    const gone = this.db.query('DELETE FROM drafts WHERE name = ?').run(name).changes > 0;
    if (gone) this.bus.emit({ type: 'drafts' });
    return gone;
  }

  /** Every draft, oldest first. */
  list(): DraftRow[] {
    return this.db.query<DraftRow, []>('SELECT name, requested_by, created_at FROM drafts ORDER BY created_at').all();
  }
}
