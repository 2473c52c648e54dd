/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/flow
 * The message flow: who wrote to whom, when, a one-line preview that expands to the whole body.
 */
import type { MessageRecord } from '../../src/shared/wire.ts';
import { label, preview } from '../format.ts';
import { Clock } from '../time.tsx';

/** One message as a list item `#msg-<id>`. */
export function MessageItem({ m }: { m: MessageRecord }): JSX.Element {
  return (
    <li id={`msg-${m.id}`} data-from={m.from} data-to={m.to}>
      <details>
        <summary>
          <span class="dim">
            <Clock ms={m.created_at} />
          </span> <span class="who" safe>{label(m.from)}</span>
          <span class="arrow"> → </span>
          <span class="who" safe>{label(m.to)}</span>{' '}
          <span class="dim state">{m.delivered_at ? '✓' : '…'}</span> <span class="preview" safe>{preview(m.body)}</span>
        </summary>
        <div class="body" safe>{m.body}</div>
      </details>
    </li>
  );
}

/** Items newest first, for `#flow`. */
export function MessageItems({ messages }: { messages: MessageRecord[] }): JSX.Element {
  if (messages.length === 0) return <li class="dim empty">no messages yet</li>;
  return <>{[...messages].reverse().map((m) => <MessageItem m={m} />)}</>;
}
