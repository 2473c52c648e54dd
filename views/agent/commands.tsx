/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/commands
 * The buttons of the agent page's slash commands that act on the session or the notes (compact,
 * clear, compact notes). Each takes two clicks, like the dashboard's destructive actions: the
 * first posts `arm=1` to the page's `send` and is answered with {@link CommandConfirm} in its place;
 * that form posts `confirm=1`, runs the command, and is answered with the first button again.
 * `static/hive.js` disarms a confirmation nobody confirms (cancel, a click elsewhere, Escape, a
 * few seconds).
 */

/** How long an armed {@link CommandConfirm} waits for its confirmation before it disarms, ms. */
export const COMMAND_DISARM_AFTER_MS = 6000;

/** A command that has a button: its name (without the slash) and the button's words. */
export interface CommandButtonSpec {
  command: string;
  text: string;
}

/** The commands with buttons, in the order the page shows them. */
export const COMMAND_BUTTONS: readonly CommandButtonSpec[] = [
  { command: 'compact', text: 'compact session' },
  { command: 'clear', text: 'clear session' },
  { command: 'compact-notes', text: 'compact notes' },
];

/** The first click: posts `/<command>` with `arm=1`; the answer replaces this form. */
export function CommandButton({ command, text }: CommandButtonSpec): JSX.Element {
  return (
    <form class="command" hx-post="send" hx-swap="outerHTML" data-command={command}>
      <input type="hidden" name="body" value={`/${command}`} />
      <input type="hidden" name="arm" value="1" />
      <button type="submit" class="danger" aria-label={text}>
        <span class="spin">◐</span> <span safe>{text}</span>
      </button>
    </form>
  );
}

/** The second click: posts `/<command>` with `confirm=1`; its cancel puts {@link CommandButton} back. */
export function CommandConfirm({ command, text }: CommandButtonSpec): JSX.Element {
  return (
    <form class="confirm" hx-post="send" hx-swap="outerHTML" data-command={command}>
      <input type="hidden" name="body" value={`/${command}`} />
      <input type="hidden" name="confirm" value="1" />
      <button type="submit" class="danger armed" autofocus>
        <span class="spin">◐</span> <span safe>{`${text}? click to confirm`}</span>
      </button>{' '}
      <button type="button" class="quiet disarm" aria-label={`cancel ${text}`} data-disarm-after={String(COMMAND_DISARM_AFTER_MS)}>
        cancel
      </button>
      <template>
        <CommandButton command={command} text={text} />
      </template>
    </form>
  );
}

/** Every command button, for the page's prompt panel. */
export function CommandButtons(): JSX.Element {
  return (
    <span class="commands" aria-label="session commands">
      {COMMAND_BUTTONS.map((b) => (
        <CommandButton command={b.command} text={b.text} />
      ))}
    </span>
  );
}
