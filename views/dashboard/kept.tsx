/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/kept
 * Destroyed agents whose state is kept, with "spawn again" (which brings the kept state back) and
 * purge; and the two-click confirmation used by every destructive action (destroy, purge, discard
 * a draft, prune images): the first click asks the server, which answers with a
 * "confirm" form in place of the button; only that form's submit acts. The armed form has a cancel,
 * and `static/hive.js` disarms it (puts the first button back) after a few seconds, on a click
 * elsewhere or on Escape.
 */
import { label } from '../format.ts';
import { Age } from '../time.tsx';

/**
 * What a destructive action's buttons say and where its confirmed answer goes.
 * @param action the path both steps post to.
 * @param text the verb (`purge`); with `name`, the object (`bob`, `unused images`).
 * @param named the first button says `<text> <name>`, not only `<text>` (for a button outside the
 *   row of what it acts on).
 * @param target a selector whose content the confirmed answer (HTML) replaces; without it the
 *   answer is only a toast and the page changes through the live updates.
 */
export interface DangerProps {
  action: string;
  text: string;
  name: string;
  named?: boolean;
  target?: string;
}

/** A destructive action's first button: posts without `confirm`, and is replaced by {@link ConfirmForm}. */
export function DangerButton({ action, text, name, named = false }: DangerProps): JSX.Element {
  return (
    <button hx-post={action} hx-swap="outerHTML" class="danger" aria-label={`${text} ${name}`}>
      <span class="spin">◐</span> <span safe>{named ? `${text} ${name}` : text}</span>
    </button>
  );
}

/** How long an armed {@link ConfirmForm} waits for its confirmation before it disarms, ms. */
export const DISARM_AFTER_MS = 6000;

/**
 * The second step: a form that posts `confirm=1`, with a way back: its cancel button, a click
 * elsewhere, Escape, or {@link DISARM_AFTER_MS} passing put the first button (kept in its
 * `<template>`) back in its place.
 */
export function ConfirmForm({ action, text, name, named = false, target }: DangerProps): JSX.Element {
  return (
    <form class="confirm" hx-post={action} hx-target={target} hx-swap={target ? 'innerHTML' : 'none'}>
      <input type="hidden" name="confirm" value="1" />
      <button type="submit" class="danger armed" autofocus>
        <span class="spin">◐</span> <span safe>{`${text} ${label(name)}? click to confirm`}</span>
      </button>{' '}
      <button type="button" class="quiet disarm" aria-label={`cancel ${text} ${label(name)}`} data-disarm-after={String(DISARM_AFTER_MS)}>
        cancel
      </button>
      <template>
        <DangerButton action={action} text={text} name={name} named={named} target={target} />
      </template>
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
          <strong safe>{k.name}</strong> <span class="dim">
            last changed <Age ms={k.modified_at} now={now} /> ago · spawning the name again brings it back
          </span>{' '}
          <button hx-post={`/kept/${k.name}/spawn`} hx-swap="none" aria-label={`spawn ${k.name} again`}>
            <span class="spin">◐</span> spawn again
          </button>{' '}
          <DangerButton action={`/kept/${k.name}/purge`} text="purge" name={k.name} />
        </li>
      ))}
    </ul>
  );
}
