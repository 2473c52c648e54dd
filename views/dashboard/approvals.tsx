/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/approvals
 * Changes waiting for the operator (today: spawn requests from the manager), with approve and deny,
 * and the most recent decisions below them.
 */
import type { ApprovalRecord } from '../../src/shared/wire.ts';
import { age, label } from '../format.ts';

function what(a: ApprovalRecord): string {
  return a.kind === 'spawn' ? `spawn ${a.agent}` : `apply ${a.sha?.slice(0, 12) ?? '?'} to ${a.agent}`;
}

/** The body of the approvals section: pending first (with actions), then recent decisions. */
export function ApprovalList({ approvals, now = Date.now() }: { approvals: ApprovalRecord[]; now?: number }): JSX.Element {
  const pending = approvals.filter((a) => a.status === 'pending').sort((x, y) => x.id - y.id);
  const decided = approvals.filter((a) => a.status !== 'pending').slice(0, 10);
  return (
    <>
      {pending.length === 0 ? <p class="dim empty">no pending approvals</p> : ''}
      {pending.map((a) => (
        <div class="approval" id={`approval-${a.id}`} data-status={a.status}>
          <span class="dim" safe>{`#${a.id} · ${label(a.requested_by)} · ${age(a.created_at, now)} ago`}</span> <strong safe>{what(a)}</strong>
          <span class="actions">
            <button hx-post={`/approvals/${a.id}/approve`} hx-swap="none">
              <span class="spin">◐</span> ◆ approve
            </button>
            <button hx-post={`/approvals/${a.id}/deny`} hx-swap="none" class="quiet">
              <span class="spin">◐</span> deny
            </button>
          </span>
        </div>
      ))}
      {decided.length ? (
        <ul class="decided">
          {decided.map((a) => (
            <li id={`approval-${a.id}`} data-status={a.status}>
              <span class="dim" safe>{`#${a.id}`}</span> <span safe>{what(a)}</span> <span class={`badge ${a.status}`} safe>{a.status}</span>{' '}
              <span class="dim" safe>{a.note ?? ''}</span>
            </li>
          ))}
        </ul>
      ) : (
        ''
      )}
    </>
  );
}
