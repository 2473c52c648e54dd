/**
 * @module messages
 * How a broker message is introduced to the model, by kind. The wake prompt and the `recv` tool
 * both use this, so a question reads as a question (with how to answer it) wherever it arrives.
 */
import type { MessageRecord } from './wire.ts';

/**
 * A one-line heading for `m` and, for messages that call for a particular tool, a hint.
 * @example describeMessage(question) // { heading: 'Question #3 from alice (message #12)', hint: 'Answer it with …' }
 */
export function describeMessage(m: MessageRecord): { heading: string; hint: string } {
  switch (m.kind) {
    case 'question':
      return {
        heading: `Question #${m.ref} from ${m.from} (message #${m.id})`,
        hint: `Answer it with the \`answer\` tool (question_id ${m.ref}); the answer goes back to ${m.from}.`,
      };
    case 'answer':
      return { heading: `Answer from ${m.from} to your question #${m.ref} (message #${m.id})`, hint: '' };
    case 'reminder':
      return { heading: `Reminder #${m.ref} from ${m.from === m.to ? 'yourself' : m.from} (message #${m.id})`, hint: '' };
    case 'notice':
      return { heading: `Notice #${m.id} from ${m.from}`, hint: '' };
    default:
      return { heading: `New message #${m.id} from ${m.from}`, hint: '' };
  }
}
