/**
 * @module core/agents/turns
 * The core's record of each agent's claude turns, as the harnesses report them: when a turn
 * started, what woke it, how it ended, what it cost and which tools it called. The full event
 * stream of a turn stays in the agent's own history; this is the swarm-wide summary.
 */
import type { Database } from 'bun:sqlite';
import { MAX_LIST_LIMIT, type TurnRecord } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';

interface Row extends Omit<TurnRecord, 'tools'> {
  tools: string;
}

const toRecord = (r: Row): TurnRecord => ({ ...r, tools: JSON.parse(r.tools) as string[] });

/** The end-of-turn fields a harness reports. */
export type TurnEnd = Omit<TurnRecord, 'agent' | 'started_at'>;

/** Turn summaries in `hive.db`. */
export class Turns {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that `agent` began turn `id`. A repeated id is ignored. */
  start(agent: string, id: string, triggerMessageId: number | null): TurnRecord {
    this.db
      .query(
        `INSERT INTO turns (id, agent, started_at, trigger_message_id, status) VALUES (?, ?, ?, ?, 'running')
         ON CONFLICT (id) DO NOTHING`,
      )
      .run(id, agent, this.now(), triggerMessageId);
    return this.publish(id);
  }

  /** Records the end of a turn (creating the row if its start was never reported). */
  end(agent: string, t: TurnEnd): TurnRecord {
    this.db
      .query(
        `INSERT INTO turns (id, agent, started_at, ended_at, trigger_message_id, status, exit_code, duration_ms,
                            cost_usd, input_tokens, output_tokens, tools, result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET ended_at = ?4, status = ?6, exit_code = ?7, duration_ms = ?8, cost_usd = ?9,
           input_tokens = ?10, output_tokens = ?11, tools = ?12, result = ?13
         WHERE agent = ?2`,
      )
      .run(
        t.id,
        agent,
        this.now() - (t.duration_ms ?? 0),
        t.ended_at ?? this.now(),
        t.trigger_message_id,
        t.status,
        t.exit_code,
        t.duration_ms,
        t.cost_usd,
        t.input_tokens,
        t.output_tokens,
        JSON.stringify(t.tools),
        t.result,
      );
    return this.publish(t.id);
  }

  /** Marks turns still `running` for `agent` (or every agent) as interrupted, e.g. after a crash. */
  interrupt(agent: string | null, reason: string): void {
    const rows = this.db
      .query<Row, [string | null, string | null]>(
        `SELECT * FROM turns WHERE status = 'running' AND (?1 IS NULL OR agent = ?2)`,
      )
      .all(agent, agent);
    for (const r of rows) {
      this.db
        .query(`UPDATE turns SET status = 'error', ended_at = ?, result = ? WHERE id = ?`)
        .run(this.now(), reason, r.id);
      this.publish(r.id);
    }
  }

  /** Newest turns first. */
  list(opts: { agent?: string; limit?: number } = {}): TurnRecord[] {
    const limit = Math.max(1, Math.min(opts.limit ?? 50, MAX_LIST_LIMIT));
    const rows = this.db
      .query<Row, [string | null, string | null, number]>(
        'SELECT * FROM turns WHERE (?1 IS NULL OR agent = ?2) ORDER BY started_at DESC, rowid DESC LIMIT ?3',
      )
      .all(opts.agent ?? null, opts.agent ?? null, limit);
    return rows.map(toRecord);
  }

  get(id: string): TurnRecord | null {
    const row = this.db.query<Row, [string]>('SELECT * FROM turns WHERE id = ?').get(id);
    return row ? toRecord(row) : null;
  }

  private publish(id: string): TurnRecord {
    const turn = this.get(id);
    if (!turn) throw new Error(`turn ${id} vanished`);
    this.bus.emit({ type: 'turn', turn });
    return turn;
  }
}
