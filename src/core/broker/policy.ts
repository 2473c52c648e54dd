/**
 * @module core/broker/policy
 * Who may say what to whom: the rules every front door (an agent's socket, the admin socket, the
 * dashboard, an agent's page) goes through before the broker's store commits a message, a
 * question or a reminder. The store ({@link Broker}) then commits and wakes the recipient.
 *
 * Rules: a recipient is a registered agent, `manager` or `operator`, never the sender itself; an
 * agent with `allowedRecipients` in its config reaches only those (and always the manager); the
 * manager, the operator and the hive itself are not restricted. Bodies are at most
 * {@link MAX_BODY_CHARS} characters. Questions for the operator go through the manager.
 */
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, OPERATOR, SYSTEM, parseAddress } from '../../shared/names.ts';
import { MAX_BODY_CHARS, type MessageRecord, type QuestionRecord, type ReminderRecord } from '../../shared/wire.ts';
import type { Registry } from '../agents/registry.ts';
import type { AgentConfigs } from '../configs/agent-configs.ts';
import type { Questions, AnswerInput } from './questions.ts';
import { resolveSchedule, type DueSpec, type Reminders } from './reminders.ts';
import type { Broker } from './store.ts';

/** What the policy reads and writes. */
export interface MessagePolicyDeps {
  broker: Broker;
  registry: Registry;
  configs: AgentConfigs;
  questions: Questions;
  reminders: Reminders;
  /** This hive's name: `name@<it>` is this hive's `name`. */
  hive: string;
  /** Whether this hive is in a federation (`--nats`), so `name@<other hive>` can be reached. */
  federated: boolean;
}

/** The send, ask, answer and remind rules, in front of the broker's stores. */
export class MessagePolicy {
  constructor(private readonly deps: MessagePolicyDeps) {}

  /**
   * Sends `body` from `from` to `to`; committed before this returns.
   * @throws HiveError as {@link checkRecipient}; `too_large` for a body over {@link MAX_BODY_CHARS}.
   */
  send(from: string, to: string, body: string): MessageRecord {
    const recipient = this.checkRecipient(from, to);
    checkBody(body, 'message');
    return this.deps.broker.send(from, recipient, body);
  }

  /**
   * Sends `body` from `from` to `to` with group commit (see {@link Broker.sendGrouped}): the front
   * doors' path, where many senders arrive at once. Checked now, acknowledged once durable.
   * @throws HiveError as {@link send}, at once, before anything is queued.
   */
  sendGrouped(from: string, to: string, body: string): Promise<MessageRecord> {
    const recipient = this.checkRecipient(from, to);
    checkBody(body, 'message');
    return this.deps.broker.sendGrouped(from, recipient, body);
  }

  /** Long-poll receive for `name`'s inbox (`waitSeconds` default 0); see {@link Broker.recv}. */
  recv(name: string, waitSeconds: number | undefined, signal?: AbortSignal): Promise<MessageRecord | null> {
    return this.deps.broker.recv(name, waitSeconds ?? 0, signal);
  }

  /**
   * Checks that `from` may address `to`: a name here, or `name@hive` for another hive of the
   * federation (`name@<this hive>` is this hive's `name`).
   * @returns the recipient as stored: `name`, or `name@hive` for another hive.
   * @throws HiveError `bad_name` / `not_found` for an unknown recipient, `bad_request` for oneself,
   *   `unavailable` for another hive when this one is not federated, `forbidden` naming the
   *   policy when the sender's config does not allow `to`; `bad_config` when the sender's config
   *   cannot be read. Whether the agent exists in another hive is that hive's to say (a refusal
   *   comes back to the sender as a notice).
   */
  checkRecipient(from: string, to: string): string {
    const address = parseAddress(to, this.deps.hive);
    if (address.hive !== null && !this.deps.federated)
      throw new HiveError('unavailable', `"${to}" is in hive ${address.hive}, and this hive is in no federation (the core runs without --nats)`);
    to = address.hive === null ? address.name : `${address.name}@${address.hive}`;
    if (from === to) throw new HiveError('bad_request', `"${to}" cannot send a message to itself`);
    if (address.hive === null && to !== OPERATOR && !this.deps.registry.has(to))
      throw new HiveError('not_found', `no agent named "${to}"; recipients are agent names, "manager" and "operator"${this.deps.federated ? ', or name@hive in another hive' : ''}`);
    if (from === MANAGER || from === OPERATOR || from === SYSTEM || to === MANAGER) return to;
    const allowed = this.deps.configs.get(from).config.allowedRecipients;
    if (allowed && !allowed.includes(to) && !(address.hive === null && allowed.includes(`${to}@${this.deps.hive}`)))
      throw new HiveError(
        'forbidden',
        `send policy: ${from}'s allowedRecipients (${allowed.length ? allowed.join(', ') : 'empty'}) do not include "${to}"; ` +
          'the manager can always be reached, and can pass the message on or propose a config change',
      );
    return to;
  }

  /**
   * `from` asks `to` (an agent or the manager) a question; it lands in their inbox.
   * @throws as {@link checkRecipient}; `bad_request` for a question to the operator (that is
   *   `ask_operator`, the manager's), `conflict` when `from` has too many open questions.
   */
  ask(from: string, to: string, question: string): { question: QuestionRecord; message: MessageRecord } {
    if (to === OPERATOR)
      throw new HiveError('bad_request', from === MANAGER ? 'ask the operator with ask_operator' : 'questions for the operator go through the manager: ask "manager"');
    to = this.checkRecipient(from, to);
    if (to.startsWith(`${OPERATOR}@`)) throw new HiveError('bad_request', `questions for the operator of another hive go through its manager: ask "manager@${to.slice(OPERATOR.length + 1)}"`);
    const r = this.deps.questions.ask(from, to, question);
    return { question: r.question, message: r.message! };
  }

  /**
   * The manager queues a question for the operator: free text, or a choice among `options`
   * (several with `multi`).
   * @throws HiveError `bad_request` for a bad shape (fewer than 2 options, duplicates, blank ones, multi without options).
   */
  askOperator(question: string, options?: string[], multi?: boolean): QuestionRecord {
    return this.deps.questions.ask(MANAGER, OPERATOR, question, { options: options ?? null, multi: multi ?? false }).question;
  }

  /**
   * `by` answers question `id`; the answer reaches the asker's inbox.
   * @throws see {@link Questions.answer}.
   */
  answer(by: string, id: number, input: AnswerInput): { question: QuestionRecord; message: MessageRecord } {
    return this.deps.questions.answer(by, id, input);
  }

  /**
   * Schedules `body` for `to` (default: `owner`) at a time given by `due`, repeating when it has `every`.
   * @throws HiveError `bad_request` for a time in the past, malformed or too far ahead, or an
   *   `every`/`count` out of its limits (see {@link resolveSchedule}); as {@link checkRecipient}
   *   for another recipient; `too_large` for an over-long body.
   */
  remind(owner: string, due: DueSpec, body: string, to?: string): ReminderRecord {
    const { dueAt, repeat } = resolveSchedule(due, Date.now());
    const named = to === undefined ? null : parseAddress(to, this.deps.hive);
    const self = named === null || (named.hive === null && named.name === owner);
    const recipient = self ? owner : this.checkRecipient(owner, to!);
    checkBody(body, 'reminder');
    return this.deps.reminders.add(owner, recipient, body, dueAt, repeat);
  }
}

/** @throws HiveError `too_large` when `body` is over {@link MAX_BODY_CHARS} characters. */
function checkBody(body: string, what: 'message' | 'reminder'): void {
  if (body.length > MAX_BODY_CHARS) throw new HiveError('too_large', `${what} body is ${body.length} characters; the limit is ${MAX_BODY_CHARS}`);
}
