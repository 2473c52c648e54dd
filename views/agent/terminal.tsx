/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/terminal
 * The terminal panel of an agent's page: a connect button, a status line and the screen that
 * `static/terminal.js` fills with an xterm.js terminal attached to a shell in the agent's sandbox
 * (`/agents/<name>/terminal`, relative to the page as `../terminal`). Nothing starts until the
 * operator connects. The panel brings its own stylesheets and scripts.
 */
import { Panel } from '../layout.tsx';

/** The terminal panel `#terminal`. */
export function TerminalPanel(): JSX.Element {
  return (
    <Panel id="terminal" glyph="▣" name="T3RM" sub="a shell as this agent's user, in its state dir" wide>
      <link rel="stylesheet" href="/static/xterm.css" />
      <link rel="stylesheet" href="/static/terminal.css" />
      <div class="term" data-terminal="../terminal" data-term-state="idle">
        <div class="term-bar">
          <button type="button" data-term-connect>
            connect
          </button>
          <button type="button" class="quiet" data-term-close hidden>
            close
          </button>
          <span class="term-status dim" data-term-status role="status" aria-live="polite">
            not connected: a shell starts when you connect
          </span>
        </div>
        <div class="term-screen" data-term-screen hidden></div>
      </div>
      <script src="/static/xterm.js" defer></script>
      <script src="/static/xterm-addon-fit.js" defer></script>
      <script src="/static/terminal.js" defer></script>
    </Panel>
  );
}
