/**
 * @module core/agents/turns
 * The core's record of each agent's claude turns, as the harnesses report them: when a turn
 * started, what woke it, how it ended, what it cost and which tools it called. The full event
 * stream of a turn stays in the agent's own history; this is the swarm-wide summary.
 *
 * A turn cut short by a core crash or restart, or by its harness crashing or being killed, ends
 * `interrupted`, and the message that started it is re-queued once ({@link MAX_ATTEMPTS}) so the
 * agent gets it again when it comes back. An interrupted re-run is not re-queued: the manager
 * (or, without one, the operator) is told which message was given up on. Turns that end with an
 * error (other than by a core shutdown aborting them) or that the operator cancels are not re-run.
 */
import type { Database } from 'bun:sqlite';
import { MANAGER, OPERATOR, SYSTEM } from '../../shared/names.ts';
import { MAX_LIST_LIMIT, MAX_TURN_RESULT_CHARS, type MessageRecord, type TurnRecord } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';

/** How many times a message may start a turn: the first delivery and one re-run. */
export const MAX_ATTEMPTS = 2;

/** What re-running an interrupted turn needs from the rest of the core. */
export interface RerunDeps {
  /** The broker's re-queue and lookup (see `Broker.requeue` and `Broker.message`). */
  broker: {
    requeue(id: number, maxAttempts: number): MessageRecord | null;
    message(id: number): MessageRecord | null;
  };
  /**
   * Tells someone that a message is given up on (a `notice` to the manager, or to the operator
   * when there is no manager). @returns who was told, for the turn's result.
   */
  tell: (text: string) => string;
}

/**
 * The `tell` of {@link RerunDeps}: a `notice` from the hive to the manager, or to the operator when
 * there is no manager, also written to the core log. @returns who was told.
 */
export function noticeToManager(deps: {
  registry: { has(name: string): boolean };
  broker: { send(from: string, to: string, body: string, meta: { kind: 'notice' }): MessageRecord };
  log: (line: string) => void;
}): (text: string) => string {
  return (text) => {
    const to = deps.registry.has(MANAGER) ? MANAGER : OPERATOR;
    deps.log(text);
    deps.broker.send(SYSTEM, to, text, { kind: 'notice' });
    return to;
  };
}

/** What to do with a turn still `running` when its agent or the core went away. */
export type Interruption = 'rerun' | 'cancel';

interface Row extends Omit<TurnRecord, 'tools'> {
  tools: string;
}

const toRecord = (r: Row): TurnRecord => ({ ...r, tools: JSON.parse(r.tools) as string[] });

/** The end-of-turn fields a harness reports. */
export type TurnEnd = Omit<TurnRecord, 'agent' | 'started_at'>;

/** Turn summaries in `hive.db`. */
export class Turns {
  /** Set once the core shuts down: a turn that then ends with an error was cut short by it. */
  private shuttingDown = false;

  /**
   * @param rerun how interrupted turns get their message back; without it they are only marked.
   */
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly rerun: RerunDeps | null = null,
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
         ON CONFLICT (id) DO UPDATE SET ended_at = ?4, exit_code = ?7, duration_ms = ?8, cost_usd = ?9,
           input_tokens = ?10, output_tokens = ?11, tools = ?12,
           status = CASE WHEN status = 'interrupted' THEN status ELSE ?6 END,
           result = CASE WHEN status = 'interrupted' THEN result ELSE ?13 END
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
    // an error while the core shuts down is the shutdown aborting the turn (unless already settled)
    const cutShort = this.shuttingDown && t.status === 'error' && this.get(t.id)?.status === 'error';
    return cutShort ? this.settle(t.id, 'interrupted: core stopped', 'rerun') : this.publish(t.id);
  }

  /**
   * The core is shutting down: from now on a turn that ends with an error (its harness aborts it
   * as the agent is stopped) counts as interrupted and is re-run after the restart.
   */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /**
   * Ends the turns still `running` for `agent` (or every agent), e.g. after a crash.
   * `rerun`: each becomes `interrupted` and its message is re-queued, or, on its last attempt,
   * given up on with a notice. `cancel` (the operator stopped the agent): each becomes `error`.
   * `reason` starts the result text (e.g. "interrupted: core restarted").
   */
  interrupt(agent: string | null, reason: string, how: Interruption): void {
    const rows = this.db
      .query<{ id: string }, [string | null, string | null]>(
        `SELECT id FROM turns WHERE status = 'running' AND (?1 IS NULL OR agent = ?2)`,
      )
      .all(agent, agent);
    for (const r of rows) this.settle(r.id, reason, how);
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

  /** Ends turn `id` as interrupted (re-queueing its message) or, for `cancel`, as an error. */
  private settle(id: string, reason: string, how: Interruption): TurnRecord {
    const turn = this.get(id);
    if (!turn) throw new Error(`turn ${id} vanished`);
    const ended = turn.ended_at ?? this.now();
    if (how === 'cancel') {
      this.db.query(`UPDATE turns SET status = 'error', ended_at = ?, result = ? WHERE id = ?`).run(ended, reason, id);
      return this.publish(id);
    }
    const note = this.rerunNote(turn, reason);
    this.db
      .query(`UPDATE turns SET status = 'interrupted', ended_at = ?, result = ? WHERE id = ?`)
      .run(ended, `${reason}; ${note}`.slice(0, MAX_TURN_RESULT_CHARS), id);
    return this.publish(id);
  }

  /** Re-queues the message of an interrupted turn, or tells whoever must know; says which. */
  private rerunNote(turn: TurnRecord, reason: string): string {
    if (turn.trigger_message_id === null) return 'no message to re-run';
    if (!this.rerun) return 'not re-run';
    const { broker, tell } = this.rerun;
    const again = broker.requeue(turn.trigger_message_id, MAX_ATTEMPTS);
    if (again) return `re-queued as attempt ${again.attempt}`;
    const msg = broker.message(turn.trigger_message_id);
    if (!msg) return 'not re-run: the message is gone';
    if (msg.delivered_at === null) return `not re-run: message #${msg.id} is already queued again`;
    const words = msg.body.replace(/\s+/g, ' ').trim();
    const told = tell(
      `${turn.agent}'s turn on message #${msg.id} from ${msg.from} ("${words.length > 80 ? `${words.slice(0, 80)}…` : words}") ` +
        `was interrupted on attempt ${msg.attempt} of ${MAX_ATTEMPTS} (${reason}); it is not run again. ` +
        `Send it to ${turn.agent} again if it still needs handling.`,
    );
    return `not re-run: ${told} told`;
  }

  private publish(id: string): TurnRecord {
    const turn = this.get(id);
    if (!turn) throw new Error(`turn ${id} vanished`);
    this.bus.emit({ type: 'turn', turn });
    return turn;
  }
}
