/**
 * @module agent/history
 * The agent's own record of everything its turns did, in sqlite inside its state dir
 * (`<state>/.hive/history.db`), so it survives restarts and is backfilled into the agent's page.
 * Each row is one history event: the message that woke a turn, a claude stream-json event, a raw
 * output line, or the turn's summary. New rows are also published to in-process listeners (the
 * page's SSE). The agent process is the only writer.
 */
import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TurnStatus } from '../shared/wire.ts';

/**
 * What a history row holds: the message that woke a turn (`wake`), a claude stream-json event
 * (`claude`), a raw output line (`raw`), a harness remark (`note`), a turn's summary (`turn_end`),
 * an operator's slash command with its answer (`command`, see `commands.ts`), a session boundary
 * (`session`: cleared or compacted) and the start and end of a claude run outside a turn (`job`:
 * a session or notes compaction).
 */
export type HistoryKind = 'wake' | 'claude' | 'raw' | 'note' | 'turn_end' | 'command' | 'session' | 'job';

/** One history row. `ts` is unix ms; `data` is the kind's JSON payload. */
export interface HistoryEvent {
  id: number;
  turn_id: string | null;
  ts: number;
  kind: HistoryKind;
  data: unknown;
}

/** Summary of one turn, as the agent stores it. */
export interface TurnSummary {
  id: string;
  started_at: number;
  ended_at: number | null;
  trigger_message_id: number | null;
  trigger_from: string | null;
  status: TurnStatus;
  exit_code: number | null;
  duration_ms: number | null;
  cost_usd: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  session_id: string | null;
  result: string | null;
}

interface Row {
  id: number;
  turn_id: string | null;
  ts: number;
  kind: HistoryKind;
  data: string;
}

/** The agent's event and turn history. */
export class History {
  readonly db: Database;
  private listeners = new Set<(e: HistoryEvent) => void>();

  /** Opens (creating) `<stateDir>/.hive/history.db`. */
  constructor(stateDir: string, private readonly now: () => number = Date.now) {
    const dir = join(stateDir, '.hive');
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'history.db'), { create: true, strict: true });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, turn_id TEXT, ts INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_turn ON events (turn_id);
      CREATE TABLE IF NOT EXISTS turns (
        id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, trigger_message_id INTEGER,
        trigger_from TEXT, status TEXT NOT NULL, exit_code INTEGER, duration_ms INTEGER, cost_usd REAL,
        input_tokens INTEGER, output_tokens INTEGER, session_id TEXT, result TEXT);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    // A turn left running by a crash is over.
    this.db.query(`UPDATE turns SET status = 'error', result = 'interrupted: agent restarted' WHERE status = 'running'`).run();
  }

  /** Appends an event and publishes it. */
  append(turnId: string | null, kind: HistoryKind, data: unknown): HistoryEvent {
    const ts = this.now();
    const row = this.db
      .query<{ id: number }, [string | null, number, string, string]>(
        'INSERT INTO events (turn_id, ts, kind, data) VALUES (?, ?, ?, ?) RETURNING id',
      )
      .get(turnId, ts, kind, JSON.stringify(data));
    const ev: HistoryEvent = { id: row!.id, turn_id: turnId, ts, kind, data };
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        console.error('history listener failed:', err);
      }
    }
    return ev;
  }

  /** Subscribes to new events; returns the unsubscribe function. */
  subscribe(fn: (e: HistoryEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The newest `limit` events (optionally only those after `afterId`), oldest first. */
  recent(limit = 200, afterId = 0): HistoryEvent[] {
    return this.db
      .query<Row, [number, number]>('SELECT * FROM events WHERE id > ? ORDER BY id DESC LIMIT ?')
      .all(afterId, limit)
      .reverse()
      .map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
  }

  /**
   * A page of older history: the newest `limit` events whose id is below `beforeId`, oldest first
   * (empty at the start of history).
   */
  before(beforeId: number, limit = 200): HistoryEvent[] {
    return this.db
      .query<Row, [number, number]>('SELECT * FROM events WHERE id < ? ORDER BY id DESC LIMIT ?')
      .all(beforeId, limit)
      .reverse()
      .map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
  }

  /** Records a turn's start. */
  startTurn(t: Pick<TurnSummary, 'id' | 'trigger_message_id' | 'trigger_from'>): void {
    this.db
      .query(`INSERT INTO turns (id, started_at, trigger_message_id, trigger_from, status) VALUES (?, ?, ?, ?, 'running')`)
      .run(t.id, this.now(), t.trigger_message_id, t.trigger_from);
  }

  /** Records a turn's end. */
  endTurn(t: Omit<TurnSummary, 'started_at' | 'trigger_message_id' | 'trigger_from'>): void {
    this.db
      .query(
        `UPDATE turns SET ended_at = ?, status = ?, exit_code = ?, duration_ms = ?, cost_usd = ?, input_tokens = ?,
           output_tokens = ?, session_id = ?, result = ? WHERE id = ?`,
      )
      .run(t.ended_at, t.status, t.exit_code, t.duration_ms, t.cost_usd, t.input_tokens, t.output_tokens, t.session_id, t.result, t.id);
  }

  /** Newest turns first. */
  turns(limit = 50): TurnSummary[] {
    return this.db.query<TurnSummary, [number]>('SELECT * FROM turns ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit);
  }

  /** A small persistent key/value (e.g. the claude session id). */
  getKv(key: string): string | null {
    return this.db.query<{ value: string }, [string]>('SELECT value FROM kv WHERE key = ?').get(key)?.value ?? null;
  }

  setKv(key: string, value: string): void {
    this.db.query('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }
}
