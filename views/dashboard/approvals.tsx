/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/approvals
 * Changes waiting for the operator: config applies (with the diff, additions and deletions
 * coloured) and spawns (the default config, or a draft's commit), with approve and deny (with an
 * optional reason, shown on the decision); spawn drafts the manager is preparing, each with a
 * two-click discard; and recent decisions with their tag chain in the applied repo.
 */
import type { ApprovalRecord } from '../../src/shared/wire.ts';
import { label } from '../format.ts';
import { Age } from '../time.tsx';
import { DangerButton } from './kept.tsx';

/** What the git repos add to an approval: the diff (pending ones) and its tags (decided ones). */
export interface ApprovalDetail {
  diff?: string;
  tags?: string[];
}

/** A spawn draft as listed for the operator. */
export interface DraftItem {
  name: string;
  requested_by: string;
  created_at: number;
  approval: number | null;
}

/** Longest deny reason the dashboard takes, characters. */
export const MAX_REASON = 2000;

/** Longest diff shown inline, lines. */
const MAX_DIFF_LINES = 400;

function what(a: ApprovalRecord): string {
  if (a.kind === 'spawn') return `spawn ${a.agent}${a.sha ? ` from ${a.sha.slice(0, 12)}` : ' (default config)'}`;
  return `apply ${a.sha?.slice(0, 12) ?? '?'} to ${a.agent}`;
}

/** A unified diff, each line classed `add`, `del`, `hunk` or `meta` for colour. */
export function Diff({ text }: { text: string }): JSX.Element {
  const lines = text.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, MAX_DIFF_LINES);
  const cls = (l: string) =>
    l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ') || l.startsWith('index ')
      ? 'meta'
      : l.startsWith('+')
        ? 'add'
        : l.startsWith('-')
          ? 'del'
          : l.startsWith('@@')
            ? 'hunk'
            : 'ctx';
  return (
    <pre class="diff">
      {shown.map((l) => (
        <span class={cls(l)} safe>
          {l + '\n'}
        </span>
      ))}
      {lines.length > shown.length ? <span class="meta" safe>{`… ${lines.length - shown.length} more lines (hive ctl approval ID)\n`}</span> : ''}
    </pre>
  );
}

/** The body of the approvals section: pending first (with their diffs and actions), drafts, then recent decisions. */
export function ApprovalList({
  approvals,
  details = new Map(),
  drafts = [],
  now = Date.now(),
}: {
  approvals: ApprovalRecord[];
  details?: Map<number, ApprovalDetail>;
  drafts?: DraftItem[];
  now?: number;
}): JSX.Element {
  const pending = approvals.filter((a) => a.status === 'pending').sort((x, y) => x.id - y.id);
  const building = approvals.filter((a) => a.status === 'building');
  const decided = approvals.filter((a) => a.status !== 'pending' && a.status !== 'building').slice(0, 10);
  return (
    <>
      {pending.length === 0 ? <p class="dim empty">no pending approvals</p> : ''}
      {pending.map((a) => {
        const diff = details.get(a.id)?.diff;
        return (
          <div class="approval" id={`approval-${a.id}`} data-status={a.status}>
            <div class="head">
              <span class="dim">
                <span safe>{`#${a.id} · ${label(a.requested_by)} · `}</span>
                <Age ms={a.created_at} now={now} /> ago
              </span> <strong safe>{what(a)}</strong>
              {a.subject ? <span class="subject" safe>{a.subject}</span> : ''}
              <span class="actions">
                <button hx-post={`/approvals/${a.id}/approve`} hx-swap="none">
                  <span class="spin">◐</span> ◆ approve
                </button>
                <form class="deny" hx-post={`/approvals/${a.id}/deny`} hx-swap="none">
                  <input name="reason" maxlength={String(MAX_REASON)} aria-label={`reason for denying #${a.id}`} placeholder="reason (optional)" autocomplete="off" />
                  <button type="submit" class="quiet">
                    <span class="spin">◐</span> deny
                  </button>
                </form>
              </span>
            </div>
            {diff ? (
              <details open>
                <summary class="dim">change</summary>
                <Diff text={diff} />
              </details>
            ) : (
              ''
            )}
          </div>
        );
      })}
      {building.map((a) => (
        <div class="approval" id={`approval-${a.id}`} data-status="building">
          <span class="dim" safe>{`#${a.id}`}</span> <strong safe>{what(a)}</strong> <span class="badge building">building</span>
          <a class="dim" href="#rebuilds">
            see the rebuild output
          </a>
        </div>
      ))}
      {drafts.length ? (
        <div class="drafts">
          <span class="dim">drafts: </span>
          {drafts.map((d) => (
            <span class="draft" id={`draft-${d.name}`}>
              <span safe>{`${d.name} (by ${d.requested_by}, `}</span>
              <Age ms={d.created_at} now={now} /> ago<span safe>{`${d.approval ? `, spawn waiting as #${d.approval}` : ', being prepared'})`}</span>{' '}
              <DangerButton action={`/drafts/${d.name}/discard`} text="discard" name={d.name} />
            </span>
          ))}
        </div>
      ) : (
        ''
      )}
      {decided.length ? (
        <ul class="decided">
          {decided.map((a) => (
            <li id={`approval-${a.id}`} data-status={a.status}>
              <span class="dim" safe>{`#${a.id}`}</span> <span safe>{what(a)}</span> <span class={`badge ${a.status}`}>{a.status}</span>{' '}
              {a.subject ? <span safe>{a.subject}</span> : ''} <span class="dim" safe>{a.note ?? ''}</span>
              {details.get(a.id)?.tags?.length ? <span class="tags dim" safe>{` ${details.get(a.id)!.tags!.join(' → ')}`}</span> : ''}
            </li>
          ))}
        </ul>
      ) : (
        ''
      )}
    </>
  );
}
