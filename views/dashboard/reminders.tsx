/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/reminders
 * Pending reminders of every agent (and the operator), soonest first, each with a cancel. A
 * recurring one says how it repeats: `every 5m, fired 3×, 7 left`.
 */
import { repeatText } from '../../src/shared/reminders.ts';
import type { ReminderRecord } from '../../src/shared/wire.ts';
import { clock, label, preview } from '../format.ts';

/** Most reminders listed; the rest are counted. */
const SHOWN = 100;

/** The body of the reminders section. */
export function ReminderList({ reminders }: { reminders: ReminderRecord[] }): JSX.Element {
  if (reminders.length === 0) return <p class="dim empty">no pending reminders</p>;
  return (
    <ul class="reminders">
      {reminders.slice(0, SHOWN).map((r) => {
        const repeat = repeatText(r);
        return (
          <li id={`reminder-${r.id}`}>
            <span class="dim" safe>{`#${r.id} · ${repeat ? 'next' : 'due'} ${clock(r.due_at)} UTC · `}</span>
            {repeat ? <span class="dim repeat" safe>{`${repeat} · `}</span> : ''}
            <span safe>{`${label(r.owner)} → ${label(r.to)}`}</span>: <span class="body" safe>{preview(r.body)}</span>{' '}
            <button hx-post={`/reminders/${r.owner}/${r.id}/cancel`} hx-swap="none" class="quiet" aria-label={`cancel reminder #${r.id}`}>
              <span class="spin">◐</span> cancel
            </button>
          </li>
        );
      })}
      {reminders.length > SHOWN ? <li class="dim" safe>{`… ${reminders.length - SHOWN} more (hive ctl reminders)`}</li> : ''}
    </ul>
  );
}
