/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/kept
 * Destroyed agents whose state is kept, with purge; and the two-click confirmation used by every
 * destructive action (destroy, purge): the first click asks the server, which answers with a
 * "confirm" form in place of the button; only that form's submit acts.
 */
import { age, label } from '../format.ts';

/** A destructive action's first button: posts without `confirm`, and is replaced by {@link ConfirmForm}. */
export function DangerButton({ action, text, name }: { action: string; text: string; name: string }): JSX.Element {
  return (
    <button hx-post={action} hx-swap="outerHTML" class="danger" aria-label={`${text} ${name}`}>
      <span class="spin">◐</span> <span safe>{text}</span>
    </button>
  );
}

/** The second step: a form that posts `confirm=1`, with a way back. */
export function ConfirmForm({ action, text, name }: { action: string; text: string; name: string }): JSX.Element {
  return (
    <form class="confirm" hx-post={action} hx-swap="none">
      <input type="hidden" name="confirm" value="1" />
      <button type="submit" class="danger armed" autofocus>
        <span class="spin">◐</span> <span safe>{`${text} ${label(name)}? click to confirm`}</span>
      </button>
    </form>
  );
}

/** The body of the kept-state section. */
export function KeptList({ kept, now = Date.now() }: { kept: Array<{ name: string; modified_at: number }>; now?: number }): JSX.Element {
  if (kept.length === 0) return <p class="dim empty">no kept state: destroyed agents' notes, credentials and config would be listed here</p>;
  return (
    <ul class="kept">
      {kept.map((k) => (
        <li id={`kept-${k.name}`}>
          <strong safe>{k.name}</strong> <span class="dim" safe>{`last changed ${age(k.modified_at, now)} ago · spawn the name again to bring it back`}</span>{' '}
          <DangerButton action={`/kept/${k.name}/purge`} text="purge" name={k.name} />
        </li>
      ))}
    </ul>
  );
}
