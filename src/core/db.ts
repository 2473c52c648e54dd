/**
 * @module db
 * Opens the core's sqlite file (`hive.db`) and brings its schema up to date. The core process is
 * the only writer; WAL lets readers (the CLI, tests) look while it writes. `synchronous = FULL`
 * makes a commit durable against power loss, so an acknowledged `send` survives anything short of
 * a lost disk. Migrations are append-only and tracked in `PRAGMA user_version`.
 */
import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Append-only schema migrations; index + 1 is the `user_version` after applying it. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE messages (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     sender TEXT NOT NULL,
     recipient TEXT NOT NULL,
     body TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     delivered_at INTEGER
   );
   CREATE INDEX messages_inbox ON messages (recipient, id) WHERE delivered_at IS NULL;
   CREATE INDEX messages_sender ON messages (sender, id);
   CREATE TABLE agents (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     runtime TEXT NOT NULL,
     desired TEXT NOT NULL,
     port INTEGER NOT NULL,
     model TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE turns (
     id TEXT PRIMARY KEY,
     agent TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     trigger_message_id INTEGER,
     status TEXT NOT NULL,
     exit_code INTEGER,
     duration_ms INTEGER,
     cost_usd REAL,
     input_tokens INTEGER,
     output_tokens INTEGER,
     tools TEXT NOT NULL DEFAULT '[]',
     result TEXT
   );
   CREATE INDEX turns_agent ON turns (agent, started_at);`,
  // 2: message kinds, questions, reminders, approvals, per-agent model override and config hash.
  `ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
   ALTER TABLE messages ADD COLUMN ref INTEGER;
   ALTER TABLE agents ADD COLUMN model_override TEXT;
   ALTER TABLE agents ADD COLUMN config_hash TEXT;
   CREATE TABLE questions (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     asker TEXT NOT NULL,
     recipient TEXT NOT NULL,
     question TEXT NOT NULL,
     options TEXT,
     multi INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     answered_at INTEGER,
     answered_by TEXT,
     answer_text TEXT,
     answer_choices TEXT
   );
   CREATE INDEX questions_open_to ON questions (recipient, id) WHERE answered_at IS NULL;
   CREATE INDEX questions_open_from ON questions (asker, id) WHERE answered_at IS NULL;
   CREATE TABLE reminders (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     owner TEXT NOT NULL,
     recipient TEXT NOT NULL,
     body TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     fired_at INTEGER,
     cancelled_at INTEGER,
     message_id INTEGER
   );
   CREATE INDEX reminders_due ON reminders (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
   CREATE TABLE approvals (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     agent TEXT NOT NULL,
     requested_by TEXT NOT NULL,
     sha TEXT,
     status TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     decided_at INTEGER,
     note TEXT
   );
   CREATE INDEX approvals_pending ON approvals (id) WHERE status = 'pending';`,
  // 3: config repos: what an approval deploys, what each agent's sandbox last ran, spawn drafts.
  `ALTER TABLE approvals ADD COLUMN subject TEXT;
   ALTER TABLE approvals ADD COLUMN base_commit TEXT;
   ALTER TABLE approvals ADD COLUMN applied_commit TEXT;
   ALTER TABLE agents ADD COLUMN built_commit TEXT;
   ALTER TABLE agents ADD COLUMN built_version TEXT;
   CREATE TABLE drafts (
     name TEXT PRIMARY KEY,
     requested_by TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // 4: alerts for the operator (banners); at most one open per kind and agent.
  `CREATE TABLE alerts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     agent TEXT NOT NULL,
     text TEXT NOT NULL,
     count INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     closed_at INTEGER,
     closed_by TEXT
   );
   CREATE UNIQUE INDEX alerts_open ON alerts (kind, agent) WHERE closed_at IS NULL;`,
  // 5: one row per model request through the gateway; budgets sum cost_usd by agent since a time.
  `CREATE TABLE model_requests (
     id INTEGER PRIMARY KEY,
     agent TEXT NOT NULL,
     turn_id TEXT,
     model TEXT,
     status INTEGER NOT NULL,
     error TEXT,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     cache_write_tokens INTEGER NOT NULL DEFAULT 0,
     cache_read_tokens INTEGER NOT NULL DEFAULT 0,
     cost_usd REAL,
     started_at INTEGER NOT NULL,
     first_byte_ms REAL,
     duration_ms REAL
   );
   CREATE INDEX model_requests_agent ON model_requests (agent, started_at, cost_usd);
   CREATE INDEX model_requests_turn ON model_requests (turn_id);`,
  // 6: agent pages moved to unix sockets, so there are no page ports to conflict over; close what
  // earlier versions left open (their kind is no longer one the wire knows)
  `UPDATE alerts SET closed_at = CAST(unixepoch('subsec') * 1000 AS INTEGER), closed_by = 'core'
   WHERE kind = 'port_conflict' AND closed_at IS NULL;`,
  // 7: a message whose turn was interrupted is handed out again once; this counts the deliveries.
  `ALTER TABLE messages ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;`,
  // 8: which messages to the operator the operator has read (the dashboard's inbox).
  `CREATE TABLE operator_reads (
     message_id INTEGER PRIMARY KEY,
     read_at INTEGER NOT NULL
   );`,
  // 9: telemetry: samples per agent (agent '*' for the hive as a whole), hourly roll-ups kept after
  // the raw samples are dropped, every key ever written, and which turns have had their samples written.
  `CREATE TABLE stats (
     agent TEXT NOT NULL,
     key TEXT NOT NULL,
     ts INTEGER NOT NULL,
     value REAL NOT NULL
   );
   CREATE INDEX stats_series ON stats (key, agent, ts);
   CREATE INDEX stats_swarm ON stats (key, ts);
   CREATE INDEX stats_ts ON stats (ts);
   CREATE TABLE stats_hourly (
     agent TEXT NOT NULL,
     key TEXT NOT NULL,
     hour INTEGER NOT NULL,
     n INTEGER NOT NULL,
     sum REAL NOT NULL,
     min REAL NOT NULL,
     max REAL NOT NULL,
     last REAL NOT NULL,
     p50 REAL NOT NULL,
     p95 REAL NOT NULL,
     PRIMARY KEY (key, agent, hour)
   ) WITHOUT ROWID;
   CREATE TABLE stats_keys (key TEXT PRIMARY KEY) WITHOUT ROWID;
   CREATE TABLE stats_meta (
     name TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   );
   ALTER TABLE turns ADD COLUMN stats_at INTEGER;`,
  // 10: recurring reminders: the interval, the firings allowed (null: until ends_at) and made so far,
  // and the horizon; a reminder set before this was a one-shot one.
  `ALTER TABLE reminders ADD COLUMN every_ms INTEGER;
   ALTER TABLE reminders ADD COLUMN max_fires INTEGER;
   ALTER TABLE reminders ADD COLUMN fired INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE reminders ADD COLUMN ends_at INTEGER;
   UPDATE reminders SET max_fires = 1, fired = CASE WHEN fired_at IS NULL THEN 0 ELSE 1 END;`,
  // 11: peers: agents (role 'peer') whose process the hive does not run, and the policy the
  // operator gave each when adding it (allowed_recipients: a JSON array, or NULL for anyone).
  `CREATE TABLE peers (
     name TEXT PRIMARY KEY,
     allowed_recipients TEXT,
     model_access INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // 12: federation: a message that came from another hive keeps its origin (`<hive>:<id>`, inserted
  // once), and so does a question put from another hive (`<hive>:<question id there>`); what this
  // hive publishes to others waits in the outbox until JetStream acknowledged it. The chains keep
  // the last outbox id sent to, and taken from, each other hive (see federation/federation.ts).
  `ALTER TABLE messages ADD COLUMN origin TEXT;
   ALTER TABLE questions ADD COLUMN origin TEXT;
   CREATE UNIQUE INDEX messages_origin ON messages (origin) WHERE origin IS NOT NULL;
   CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     to_hive TEXT NOT NULL,
     kind TEXT NOT NULL,
     message_id INTEGER,
     payload TEXT NOT NULL,
     queued_at INTEGER NOT NULL,
     published_at INTEGER,
     stream_seq INTEGER
   );
   CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
   CREATE INDEX outbox_message ON outbox (message_id) WHERE message_id IS NOT NULL;
   CREATE TABLE outbox_chain (to_hive TEXT PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE inbox_chain (from_hive TEXT PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID;`,
];

/**
 * Opens (creating if needed) the sqlite file at `path` and migrates it.
 * @throws when the file cannot be opened or a migration fails (the transaction is rolled back).
 */
export function openCoreDb(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
  migrate(db, MIGRATIONS);
  return db;
}

/** Applies the migrations past the file's `user_version`, each in its own immediate transaction. */
export function migrate(db: Database, migrations: readonly string[]): void {
  const row = db.query<{ user_version: number }, []>('PRAGMA user_version').get();
  const current = row?.user_version ?? 0;
  for (let v = current; v < migrations.length; v++) {
    const sql = migrations[v]!;
    db.transaction(() => {
      db.exec(sql);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
}
