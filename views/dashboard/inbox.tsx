/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/inbox
 * The operator's inbox: the messages sent to `operator`, newest first, the unread ones marked, each
 * with "mark read" and a reply form; "mark all read" above them with the unread count. Also the
 * chrome strip's count of everything waiting for the operator, which `static/hive.js` copies into
 * the page title and the favicon.
 */
import type { MessageRecord } from '../../src/shared/wire.ts';
import { label, preview } from '../format.ts';
import { Clock } from '../time.tsx';

/** One inbox entry as the view gets it. */
export interface InboxEntry {
  message: MessageRecord;
  read: boolean;
}

/** The body of the inbox section, `#inbox-body`. */
export function InboxList({ items, unread }: { items: InboxEntry[]; unread: number }): JSX.Element {
  return (
    <>
      <p class="inbox-head">
        <span class={unread > 0 ? 'unread-count' : 'unread-count dim'} data-unread={String(unread)} safe>
          {`${unread} unread`}
        </span>{' '}
        {unread > 0 ? (
          <button hx-post="/inbox/read-all" hx-swap="none">
            <span class="spin">◐</span> mark all read
          </button>
        ) : (
          ''
        )}
      </p>
      {items.length === 0 ? (
        <p class="dim empty">no messages to the operator</p>
      ) : (
        <ul class="inbox">
          {items.map((e) => (
            <InboxItemView e={e} />
          ))}
        </ul>
      )}
    </>
  );
}

function InboxItemView({ e }: { e: InboxEntry }): JSX.Element {
  const m = e.message;
  return (
    <li id={`inbox-${m.id}`} class={e.read ? 'read' : 'unread'} data-read={e.read ? '1' : '0'}>
      <details>
        <summary>
          {e.read ? '' : <strong class="new">● new</strong>}{' '}
          <span class="dim">
            <Clock ms={m.created_at} />
          </span>{' '}
          <span class="who" safe>{label(m.from)}</span> <span class="preview" safe>{preview(m.body)}</span>
        </summary>
        <div class="body" safe>{m.body}</div>
        <form class="reply" hx-post={`/inbox/${m.id}/reply`} hx-swap="none" data-reset>
          <textarea name="body" aria-label={`reply to message ${m.id} from ${m.from}`} placeholder={`reply to ${label(m.from)}`} required></textarea>
          <button type="submit">
            <span class="spin">◐</span> reply
          </button>
        </form>
      </details>
      {e.read ? (
        ''
      ) : (
        <button class="mark-read" hx-post={`/inbox/${m.id}/read`} hx-swap="none" aria-label={`mark message ${m.id} read`}>
          <span class="spin">◐</span> mark read
        </button>
      )}
    </li>
  );
}

/** The page title with the waiting count in front, `(3) hyperhive`, or the bare title at 0. */
export function titleWithCount(title: string, count: number): string {
  return count > 0 ? `(${count}) ${title}` : title;
}

/**
 * The chrome strip's count of what waits for the operator (pending questions and approvals, open
 * alerts, unread inbox messages), for `#waiting`. Its `data-waiting` is what `hive.js` puts in the
 * title and on the favicon.
 */
export function WaitingCount({ count }: { count: number }): JSX.Element {
  return (
    <a href="#inbox" class={count > 0 ? 'waiting' : 'waiting dim'} data-waiting={String(count)} safe>
      {`${count} waiting`}
    </a>
  );
}
