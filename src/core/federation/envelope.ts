/**
 * @module core/federation/envelope
 * What hives say to each other on NATS, and where. Every envelope is published to the JetStream
 * stream {@link STREAM} on the subject `hive.<to>.<from>` ({@link subjectFor}): the receiving hive
 * consumes `hive.<itself>.>` and takes the sender's hive from the subject's last token, never from
 * the body, so with NATS subject permissions (`hive.*.<self>` to publish) a hive cannot speak for
 * another. Bodies are JSON, checked against {@link Envelope} before anything is stored.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HiveError } from '../../shared/errors.ts';
import { MAX_BODY_CHARS } from '../../shared/wire.ts';

/** The JetStream stream every hive of a federation publishes to. */
export const STREAM = 'HIVE';
/** Its subjects: `hive.<to hive>.<from hive>`. */
export const STREAM_SUBJECTS = 'hive.>';

/**
 * The outbox id of the envelope the sending hive published to the same hive before this one (null
 * for its first). With the outbox id of the envelope itself (in its JetStream message id), the
 * receiver takes a hive's envelopes strictly in the order they were written (see `federation.ts`).
 * Absent: no order is enforced for it.
 */
const Prev = Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]));

/** A message from an agent (or the operator, or the manager) of one hive to one of another. */
const MessageEnvelope = Type.Object(
  {
    v: Type.Literal(1),
    type: Type.Literal('message'),
    /** The message's id in the sending hive. */
    id: Type.Integer({ minimum: 1 }),
    prev: Prev,
    /** The sender's name in its hive. */
    from: Type.String({ minLength: 1, maxLength: 64 }),
    /** The recipient's name in the receiving hive. */
    to: Type.String({ minLength: 1, maxLength: 64 }),
    /**
     * What it is: a plain `message`; a `question` (its `ref` is the question's id in the sending
     * hive; `body` the question); or an `answer` (its `ref` is the question's id in the receiving
     * hive, where it was asked; `body` the answer's text).
     */
    kind: Type.Union([Type.Literal('message'), Type.Literal('question'), Type.Literal('answer')]),
    ref: Type.Optional(Type.Integer({ minimum: 1 })),
    body: Type.String({ maxLength: MAX_BODY_CHARS }),
    /** When the sending hive stored it, unix ms. */
    created_at: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** The receiving hive's answer to a message: stored in the recipient's inbox, or refused and why. */
const ReceiptEnvelope = Type.Object(
  {
    v: Type.Literal(1),
    type: Type.Literal('receipt'),
    /** The message's id in the hive that sent it (the one this receipt goes to). */
    id: Type.Integer({ minimum: 1 }),
    prev: Prev,
    ok: Type.Boolean(),
    /** Why it was refused (no such agent), when `ok` is false. */
    error: Type.Optional(Type.String({ maxLength: 1000 })),
    /** When it was stored (or refused), unix ms. */
    at: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** Anything a hive publishes to another. */
export const Envelope = Type.Union([MessageEnvelope, ReceiptEnvelope]);
export type Envelope = Static<typeof Envelope>;
export type MessageEnvelope = Static<typeof MessageEnvelope>;
export type ReceiptEnvelope = Static<typeof ReceiptEnvelope>;

/** A checker per envelope type, so that a refusal names the field at fault in that type's schema. */
const CHECKS = { message: TypeCompiler.Compile(MessageEnvelope), receipt: TypeCompiler.Compile(ReceiptEnvelope) } as const;

/** The subject of an envelope from hive `from` to hive `to`. */
export function subjectFor(to: string, from: string): string {
  return `hive.${to}.${from}`;
}

/**
 * The sending hive of a subject consumed by hive `here`: `hive.<here>.<from>`.
 * @throws HiveError `bad_request` for a subject of another shape or addressed elsewhere.
 */
export function senderOf(subject: string, here: string): string {
  const parts = subject.split('.');
  if (parts.length !== 3 || parts[0] !== 'hive' || parts[1] !== here || !parts[2]) throw new HiveError('bad_request', `subject "${subject}" is not hive.${here}.<hive>`);
  return parts[2];
}

/**
 * Parses and checks an envelope's JSON text.
 * @throws HiveError `bad_request` naming the first field at fault.
 */
export function parseEnvelope(text: string): Envelope {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new HiveError('bad_request', `an envelope that is not JSON: ${(err as Error).message}`);
  }
  const type = raw && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
  if (type !== 'message' && type !== 'receipt') throw new HiveError('bad_request', `an envelope that does not match its schema: /type: expected "message" or "receipt"`);
  const check = CHECKS[type];
  if (!check.Check(raw)) {
    const first = check.Errors(raw).First();
    throw new HiveError('bad_request', `an envelope that does not match its schema: ${first?.path || '(top level)'}: ${first?.message ?? 'invalid'}`);
  }
  return raw as Envelope;
}
