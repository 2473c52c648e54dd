/**
 * @module core/broker/questions
 * Questions and answers between parties of the hive. `ask` stores the question and, in the same
 * transaction, a `question` message in the recipient's inbox (so it wakes them); `answer` stores
 * the answer and an `answer` message for the asker that names the question. Questions to the
 * operator carry no inbox message: they wait on the dashboard and in `hive ctl questions`, and may
 * offer options (radio, or checkboxes with `multi`). Recipient checks and send policy are the
 * caller's (`Hive`); this module enforces who may answer and what an answer must look like.
 */
import type { Database } from 'bun:sqlite';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR, SYSTEM } from '../../shared/names.ts';
import { MAX_OPEN_QUESTIONS, MAX_OPTION_CHARS, MAX_OPTIONS, type MessageRecord, type QuestionRecord } from '../../shared/wire.ts';
import type { Broker } from './store.ts';
import type { EventBus } from '../bus.ts';

interface Row {
  id: number;
  asker: string;
  recipient: string;
  question: string;
  options: string | null;
  multi: number;
  created_at: number;
  answered_at: number | null;
  answered_by: string | null;
  answer_text: string | null;
  answer_choices: string | null;
}

/**
 * Decodes a stored question.
 * @throws HiveError `internal` naming the question when a stored JSON column is damaged.
 */
function toRecord(r: Row): QuestionRecord {
  const json = (col: string | null, what: string): string[] | null => {
    if (col === null) return null;
    try {
      const v = JSON.parse(col) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // unparseable JSON is damage like a wrong shape: reported just below
    }
    throw new HiveError('internal', `question #${r.id} has damaged ${what} in hive.db`);
  };
  const choices = json(r.answer_choices, 'answer choices');
  return {
    id: r.id,
    from: r.asker,
    to: r.recipient,
    question: r.question,
    options: json(r.options, 'options'),
    multi: r.multi === 1,
    created_at: r.created_at,
    answered_at: r.answered_at,
    answer: r.answered_at === null ? null : choices !== null ? { choices } : { text: r.answer_text ?? '' },
  };
}

/** A one-line preview of a question for message bodies. */
function preview(q: string, n = 120): string {
  const flat = q.replace(/\s+/g, ' ').trim();
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

/**
 * Checks the shape of a choice question's options.
 * @returns the trimmed options, or null for a free-text question.
 * @throws HiveError `bad_request` for empty or too many options, blank or over-long ones,
 *   duplicates, or `multi` without options.
 */
export function validateOptions(options: string[] | undefined | null, multi: boolean): string[] | null {
  if (options === undefined || options === null) {
    if (multi) throw new HiveError('bad_request', 'multi needs options: a multiple-choice question must list its choices');
    return null;
  }
  if (options.length < 2)
    throw new HiveError('bad_request', `options must list at least 2 choices (got ${options.length}); omit options for a free-text question`);
  if (options.length > MAX_OPTIONS) throw new HiveError('bad_request', `options may list at most ${MAX_OPTIONS} choices (got ${options.length})`);
  const out = options.map((o) => o.trim());
  out.forEach((o, i) => {
    if (!o) throw new HiveError('bad_request', `option ${i + 1} is empty`);
    if (o.length > MAX_OPTION_CHARS) throw new HiveError('bad_request', `option ${i + 1} is longer than ${MAX_OPTION_CHARS} characters`);
    if (out.indexOf(o) !== i) throw new HiveError('bad_request', `option "${o}" is listed twice; options must be distinct`);
  });
  return out;
}

/** An answer as given: free text or chosen options. */
export interface AnswerInput {
  text?: string;
  choices?: string[];
}

/** Questions in `hive.db`. */
export class Questions {
  constructor(
    private readonly db: Database,
    private readonly broker: Broker,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores a question from `from` to `to`; for anyone but the operator also queues it in their inbox.
   * @returns the question and its inbox message (null for the operator).
   * @throws HiveError `bad_request` for a bad option shape, `conflict` when `from` has
   *   {@link MAX_OPEN_QUESTIONS} unanswered questions.
   */
  ask(from: string, to: string, question: string, opts: { options?: string[] | null; multi?: boolean } = {}): { question: QuestionRecord; message: MessageRecord | null } {
    const multi = opts.multi === true;
    const options = validateOptions(opts.options, multi);
    if (to !== OPERATOR && options) throw new HiveError('bad_request', 'only questions to the operator can offer options');
    const open = this.db.query<{ n: number }, [string]>('SELECT count(*) AS n FROM questions WHERE asker = ? AND answered_at IS NULL').get(from)!.n;
    if (open >= MAX_OPEN_QUESTIONS)
      throw new HiveError('conflict', `${from} already has ${open} unanswered questions; wait for answers before asking more`);
    const { row, message } = this.db
      .transaction(() => {
        const row = this.db
          .query<Row, [string, string, string, string | null, number, number]>(
            'INSERT INTO questions (asker, recipient, question, options, multi, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
          )
          .get(from, to, question, options ? JSON.stringify(options) : null, multi ? 1 : 0, this.now())!;
        const message = to === OPERATOR ? null : this.broker.insert(from, to, question, { kind: 'question', ref: row.id });
        return { row, message };
      })
      .immediate();
    const rec = toRecord(row);
    if (message) this.broker.publish(message);
    this.bus.emit({ type: 'question', question: rec });
    return { question: rec, message };
  }

  /**
   * Answers question `id` as `by`, and queues the answer in the asker's inbox.
   * @throws HiveError `not_found`; `forbidden` when the question was put to someone else;
   *   `conflict` when it is already answered; `bad_request` when the answer does not fit the
   *   question (text for a choice question, an unknown or repeated choice, several for a single choice).
   */
  answer(by: string, id: number, input: AnswerInput): { question: QuestionRecord; message: MessageRecord } {
    const q = this.get(id);
    if (q.to !== by) throw new HiveError('forbidden', `question #${id} was put to ${q.to}, not to ${by}`);
    if (q.answered_at !== null) throw new HiveError('conflict', `question #${id} was already answered at ${new Date(q.answered_at).toISOString()}`);
    let text: string | null = null;
    let choices: string[] | null = null;
    if (q.options === null) {
      if (input.choices !== undefined) throw new HiveError('bad_request', `question #${id} asks for free text; give text, not choices`);
      text = input.text?.trim() ?? '';
      if (!text) throw new HiveError('bad_request', `question #${id} needs a non-empty text answer`);
    } else {
      if (input.text !== undefined) throw new HiveError('bad_request', `question #${id} offers choices; pick from: ${q.options.join(', ')}`);
      choices = input.choices ?? [];
      for (const [i, c] of choices.entries()) {
        if (!q.options.includes(c)) throw new HiveError('bad_request', `"${c}" is not one of the choices of question #${id}: ${q.options.join(', ')}`);
        if (choices.indexOf(c) !== i) throw new HiveError('bad_request', `"${c}" is chosen twice`);
      }
      if (!q.multi && choices.length !== 1) throw new HiveError('bad_request', `question #${id} takes exactly one choice (got ${choices.length})`);
    }
    const body =
      by === OPERATOR
        ? `operator answered question #${id}: "${preview(q.question)}"\n${choices ? `choices: ${choices.join(', ') || '(none)'}` : `answer: ${text}`}`
        : `Re: question #${id} ("${preview(q.question)}")\n\n${text}`;
    const { row, message } = this.db
      .transaction(() => {
        const row = this.db
          .query<Row, [number, string, string | null, string | null, number]>(
            'UPDATE questions SET answered_at = ?, answered_by = ?, answer_text = ?, answer_choices = ? WHERE id = ? AND answered_at IS NULL RETURNING *',
          )
          .get(this.now(), by, text, choices ? JSON.stringify(choices) : null, id);
        if (!row) throw new HiveError('conflict', `question #${id} was already answered`);
        return { row, message: this.broker.insert(by, q.from, body, { kind: 'answer', ref: id }) };
      })
      .immediate();
    this.broker.publish(message);
    const rec = toRecord(row);
    this.bus.emit({ type: 'question', question: rec });
    return { question: rec, message };
  }

  /**
   * Inside the receiving hive's transaction: stores a question put from another hive (`from` is
   * `name@hive`, `origin` is `<hive>:<its id there>`) for `to` here, without an inbox message
   * (the caller stores that, with the envelope's origin, as the question's `question` message).
   * @returns the question as stored here.
   */
  askRemote(from: string, to: string, question: string, origin: string): QuestionRecord {
    const row = this.db
      .query<Row, [string, string, string, number, string]>(
        'INSERT INTO questions (asker, recipient, question, options, multi, created_at, origin) VALUES (?, ?, ?, NULL, 0, ?, ?) RETURNING *',
      )
      .get(from, to, question, this.now(), origin)!;
    return toRecord(row);
  }

  /**
   * Where question `id` came from: `<hive>:<its id there>` for one put from another hive, else null,
   * and its answer's text (free text, or the choices joined with `, `), once answered.
   */
  remoteOf(id: number): { origin: string | null; answer: string | null } | null {
    const row = this.db.query<Row & { origin: string | null }, [number]>('SELECT * FROM questions WHERE id = ?').get(id);
    if (!row) return null;
    const rec = toRecord(row);
    const answer = rec.answer === null ? null : rec.answer.choices ? rec.answer.choices.join(', ') : (rec.answer.text ?? '');
    return { origin: row.origin, answer };
  }

  /**
   * Inside the asking hive's transaction: records the answer `text` that `by` (`name@hive`, the
   * one the question was put to) gave in its hive to question `id` of this one, and stores the
   * `answer` message for the asker with the envelope's `origin`.
   * @returns the answer message (publish it after the commit), or null when the question does not
   *   exist here, was put to someone else, or is answered already (a repeat, or a late answer).
   */
  answerRemote(id: number, by: string, text: string, origin: string): { question: QuestionRecord; message: MessageRecord } | null {
    const q = this.db.query<Row, [number]>('SELECT * FROM questions WHERE id = ?').get(id);
    if (!q || q.recipient !== by || q.answered_at !== null) return null;
    const row = this.db
      .query<Row, [number, string, string, number]>('UPDATE questions SET answered_at = ?, answered_by = ?, answer_text = ? WHERE id = ? AND answered_at IS NULL RETURNING *')
      .get(this.now(), by, text, id);
    if (!row) return null;
    const body = `Re: question #${id} ("${preview(q.question)}")\n\n${text}`;
    const message = this.broker.insertRemote(by, q.asker, body, origin, { kind: 'answer', ref: id });
    if (!message) return null;
    return { question: toRecord(row), message };
  }

  /**
   * Inside a transaction: closes question `id` that never reached the one it was put to (another
   * hive refused it), with `reason` as its answer text and the hive itself as who answered, so it
   * no longer counts as open.
   * @returns the closed question, or null when it is not open.
   */
  closeUndelivered(id: number, reason: string): QuestionRecord | null {
    const row = this.db
      .query<Row, [number, string, string, number]>('UPDATE questions SET answered_at = ?, answered_by = ?, answer_text = ? WHERE id = ? AND answered_at IS NULL RETURNING *')
      .get(this.now(), SYSTEM, `(not delivered: ${reason})`, id);
    return row ? toRecord(row) : null;
  }

  /** Announces a question stored by {@link askRemote} or answered by {@link answerRemote}, after the commit. */
  announce(question: QuestionRecord): void {
    this.bus.emit({ type: 'question', question });
  }

  /** @throws HiveError `not_found` when there is no question `id`. */
  get(id: number): QuestionRecord {
    const row = this.db.query<Row, [number]>('SELECT * FROM questions WHERE id = ?').get(id);
    if (!row) throw new HiveError('not_found', `no question #${id}`);
    return toRecord(row);
  }

  /** Unanswered questions `name` asked and was asked, oldest first. */
  open(name: string): { asked: QuestionRecord[]; to_answer: QuestionRecord[] } {
    const q = (col: 'asker' | 'recipient') =>
      this.db.query<Row, [string]>(`SELECT * FROM questions WHERE ${col} = ? AND answered_at IS NULL ORDER BY id LIMIT 500`).all(name).map(toRecord);
    return { asked: q('asker'), to_answer: q('recipient') };
  }

  /**
   * Questions put to `to`: the unanswered ones oldest first, or with `all` the newest 200.
   * @throws HiveError `internal` when a stored row is damaged (never an empty list in its place).
   */
  listFor(to: string, all = false): QuestionRecord[] {
    const rows = all
      ? this.db.query<Row, [string]>('SELECT * FROM questions WHERE recipient = ? ORDER BY id DESC LIMIT 200').all(to)
      : this.db.query<Row, [string]>('SELECT * FROM questions WHERE recipient = ? AND answered_at IS NULL ORDER BY id').all(to);
    return rows.map(toRecord);
  }
}
