/**
 * @module core/alerts
 * Conditions that need a human, kept in `hive.db` so a restart does not hide them: a deploy or
 * rebuild that failed (`deploy_failed`), an agent that keeps crashing (`crash_loop`), a model
 * request the gateway refused by policy (`gateway_refused`: over budget, or a model not allowed). At most one alert
 * per kind and agent is open; raising it again updates it. An alert closes when its condition
 * clears (the core calls {@link Alerts.clear}) or when the operator dismisses it. Every change is
 * published as an `alerts` event, which the dashboard turns into its banners.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../shared/errors.ts';
import type { AlertKind, AlertRecord } from '../shared/wire.ts';
import type { EventBus } from './bus.ts';

/** Crashes in a row (no run lasting a minute between them) that make a crash loop. */
export const CRASH_LOOP_AFTER = 3;

/** Alerts in `hive.db`. */
export class Alerts {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Opens the alert of `kind` for `agent`, or updates the open one (new text, count + 1).
   * @returns the open alert.
   */
  raise(kind: AlertKind, agent: string, text: string): AlertRecord {
    const now = this.now();
    const row = this.db
      .query<AlertRecord, [string, string, string, number, number]>(
        `INSERT INTO alerts (kind, agent, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (kind, agent) WHERE closed_at IS NULL DO UPDATE SET text = excluded.text, count = count + 1, updated_at = excluded.updated_at
         RETURNING id, kind, agent, text, count, created_at, updated_at`,
      )
      .get(kind, agent, text, now, now)!;
    this.bus.emit({ type: 'alerts' });
    return row;
  }

  /**
   * Closes the open alerts of `agent` of the given kinds (all kinds when none are given), because
   * the condition cleared. @returns how many closed.
   */
  clear(agent: string, kinds: AlertKind[] = [], by = 'core'): number {
    const filter = kinds.length ? ` AND kind IN (${kinds.map(() => '?').join(', ')})` : '';
    const changes = this.db
      .query(`UPDATE alerts SET closed_at = ?, closed_by = ? WHERE closed_at IS NULL AND agent = ?${filter}`)
      .run(this.now(), by, agent, ...kinds).changes;
    if (changes) this.bus.emit({ type: 'alerts' });
    return changes;
  }

  /**
   * The operator closes alert `id` by hand.
   * @throws HiveError `not_found` when there is no open alert `id`.
   */
  dismiss(id: number, by: string): AlertRecord {
    const row = this.db
      .query<AlertRecord, [number, string, number]>(
        'UPDATE alerts SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL RETURNING id, kind, agent, text, count, created_at, updated_at',
      )
      .get(this.now(), by, id);
    if (!row) throw new HiveError('not_found', `no open alert #${id}`);
    this.bus.emit({ type: 'alerts' });
    return row;
  }

  /** The open alerts, most recently raised first. */
  list(): AlertRecord[] {
    return this.db
      .query<AlertRecord, []>('SELECT id, kind, agent, text, count, created_at, updated_at FROM alerts WHERE closed_at IS NULL ORDER BY updated_at DESC, id DESC')
      .all();
  }
}
