// hyperhive agent terminal (no build step). Every `[data-terminal]` element (views/agent/terminal.tsx)
// is a terminal panel whose value is the WebSocket path relative to the page (`../terminal`, i.e.
// `/agents/<name>/terminal`). Nothing connects until the operator presses connect; then an xterm.js
// terminal (`/static/xterm.js`, fitted to its box by `/static/xterm-addon-fit.js`) is attached over
// the WebSocket to a shell the agent's harness runs (framing: docs/wire.md, "The terminal socket").
//
// On the WebSocket, binary messages are the terminal's bytes both ways and text messages JSON
// control. The upgrade carries the session's CSRF token (`csrf`) and the terminal's size; a
// reconnect also carries the shell's id (`resume`) and how much of its output is already on screen
// (`seen`), so the harness sends only the rest. Closing with 1000 (the close button) ends the shell;
// a dropped connection is retried for about 25 s, within the 30 s the shell waits for it, and the
// status line says what happened: reconnected to the same shell, or the old one is gone.
(() => {
  if (window.hiveTerminal) return;
  /** Bytes per input message, well under the dashboard's 64 KiB limit. */
  const MAX_INPUT = 16 * 1024;
  /** Waits between reconnect attempts, ms (about 25 s in all). */
  const RETRY_MS = [250, 500, 1000, 2000, 4000, 8000, 9000];
  const encoder = new TextEncoder();
  /** @type {Panel[]} */
  const panels = [];

  const css = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

  class Panel {
    constructor(root) {
      this.root = root;
      this.screen = root.querySelector('[data-term-screen]');
      this.status = root.querySelector('[data-term-status]');
      this.connectButton = root.querySelector('[data-term-connect]');
      this.closeButton = root.querySelector('[data-term-close]');
      /** @type {any} the xterm.js Terminal, made on the first connect */
      this.term = null;
      this.fit = null;
      /** @type {WebSocket | null} */
      this.ws = null;
      /** The shell's id while it may be resumed; null once it ended. */
      this.id = null;
      /** Offset just past the last output byte written to the screen. */
      this.seen = 0;
      /** Whether this connection got its `ready` (input is sent only then). */
      this.ready = false;
      /** The operator wants a terminal: a dropped connection is retried. */
      this.wanted = false;
      this.attempt = 0;
      this.retryTimer = 0;
      this.connectButton.addEventListener('click', () => this.connect());
      this.closeButton.addEventListener('click', () => this.close());
    }

    say(text, state) {
      this.status.textContent = text;
      this.root.dataset.termState = state;
    }

    /** A dim line in the terminal itself, so the record of what happened stays with the output. */
    note(text) {
      this.term?.write(`\r\n\x1b[2m[hive: ${text}]\x1b[0m\r\n`);
    }

    ensureTerminal() {
      if (this.term) return;
      if (typeof Terminal === 'undefined' || typeof FitAddon === 'undefined') throw new Error('xterm.js did not load');
      this.screen.hidden = false;
      this.term = new Terminal({
        cursorBlink: true,
        fontFamily: css('--mono', 'monospace'),
        fontSize: 13,
        scrollback: 5000,
        theme: { background: '#07070a', foreground: css('--text', '#e4e2dc'), cursor: css('--amber', '#ffb547'), selectionBackground: '#3a3a4a' },
      });
      this.fit = new FitAddon.FitAddon();
      this.term.loadAddon(this.fit);
      this.term.open(this.screen);
      this.fit.fit();
      this.term.onData((data) => this.input(encoder.encode(data)));
      this.term.onBinary((data) => this.input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
      this.term.onResize(({ cols, rows }) => this.control({ type: 'resize', cols, rows }));
      let pending = 0;
      new ResizeObserver(() => {
        cancelAnimationFrame(pending);
        pending = requestAnimationFrame(() => {
          if (!this.screen.hidden && this.screen.clientWidth > 0) this.fit.fit();
        });
      }).observe(this.screen);
    }

    input(bytes) {
      if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return;
      for (let i = 0; i < bytes.length; i += MAX_INPUT) this.ws.send(bytes.subarray(i, i + MAX_INPUT));
    }

    control(msg) {
      if (this.ready && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }

    url() {
      const token = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content');
      if (!token) throw new Error('this page carries no CSRF token: open it through the dashboard');
      const url = new URL(this.root.dataset.terminal, document.baseURI);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('csrf', token);
      url.searchParams.set('cols', String(this.term.cols));
      url.searchParams.set('rows', String(this.term.rows));
      if (this.id) {
        url.searchParams.set('resume', this.id);
        url.searchParams.set('seen', String(this.seen));
      }
      return url;
    }

    /** Opens a connection: a new shell, or the one that dropped when there is one to resume. */
    connect() {
      clearTimeout(this.retryTimer);
      this.wanted = true;
      let url;
      try {
        this.ensureTerminal();
        url = this.url();
      } catch (err) {
        this.say(String(err.message || err), 'error');
        return;
      }
      this.connectButton.hidden = true;
      this.closeButton.hidden = false;
      if (this.attempt === 0) this.say(this.id ? 'reconnecting…' : 'connecting…', 'connecting');
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.ready = false;
      let opened = false;
      let final = false;
      ws.onopen = () => (opened = true);
      ws.onmessage = (e) => {
        if (ws !== this.ws) return;
        if (typeof e.data !== 'string') {
          const bytes = new Uint8Array(e.data);
          this.seen += bytes.length;
          this.term.write(bytes);
          return;
        }
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return;
        }
        if (msg.type === 'ready') this.onReady(msg);
        else if (msg.type === 'lost') {
          this.seen += msg.bytes;
          this.note(`${msg.bytes} bytes of output skipped: the browser fell behind`);
        } else if (msg.type === 'exit') {
          final = true;
          this.ended(`the shell ended: ${msg.reason}`);
        } else if (msg.type === 'error') {
          final = true;
          this.ended(`could not open a terminal: ${msg.message}`, 'error');
        }
      };
      ws.onclose = (e) => {
        if (ws !== this.ws) return;
        this.ws = null;
        this.ready = false;
        if (final || !this.wanted) return;
        if (!opened) return void this.refused(e);
        this.dropped(e.reason || `code ${e.code}`);
      };
    }

    onReady(msg) {
      const asked = this.id;
      this.id = msg.id;
      this.ready = true;
      this.attempt = 0;
      this.term.focus();
      const where = `${msg.shell} as ${msg.user} in ${msg.cwd}`;
      if (msg.resumed) {
        this.seen = msg.offset;
        const lost = msg.lost ? ` (${msg.lost} bytes of output were lost meanwhile)` : '';
        this.say(`reconnected to the same shell${lost}: ${where}`, 'connected');
        if (msg.lost) this.note(`reconnected; ${msg.lost} bytes of output were lost meanwhile`);
        // the harness took the size from the query; the window may have changed since
        this.control({ type: 'resize', cols: this.term.cols, rows: this.term.rows });
        return;
      }
      this.seen = msg.offset;
      if (asked) {
        this.note('the previous shell had ended; this is a new one');
        this.say(`the previous shell had ended; connected to a new shell: ${where}`, 'connected');
      } else this.say(`connected: ${where}`, 'connected');
    }

    /** The connection dropped: retry, resuming the same shell. */
    dropped(why) {
      if (this.attempt >= RETRY_MS.length) {
        this.wanted = false;
        this.connectButton.hidden = false;
        this.closeButton.hidden = true;
        this.connectButton.textContent = 'reconnect';
        this.say(`connection lost (${why}); could not reconnect. The shell waits 30 s for a reconnect, then ends`, 'dropped');
        return;
      }
      const wait = RETRY_MS[this.attempt++];
      this.say(`connection lost (${why}); reconnecting (attempt ${this.attempt})…`, 'reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), wait);
    }

    /** The upgrade was refused or never answered; ask the same URL over plain HTTP why. */
    async refused(e) {
      let why = `no connection (code ${e.code})`;
      try {
        const url = this.url();
        url.protocol = location.protocol;
        const res = await fetch(url, { credentials: 'same-origin' });
        if (res.status !== 426) why = `${res.status}: ${(await res.text()).slice(0, 300)}`;
      } catch {
        // the dashboard itself is unreachable: keep the generic reason
      }
      if (this.id && this.attempt < RETRY_MS.length) return this.dropped(why);
      this.wanted = false;
      this.ended(`could not open a terminal: ${why}`, 'error');
    }

    /** The shell is gone (or never came): offer a new one. */
    ended(text, state = 'ended') {
      this.id = null;
      this.attempt = 0;
      this.wanted = false;
      this.connectButton.hidden = false;
      this.closeButton.hidden = true;
      this.connectButton.textContent = 'connect a new shell';
      this.say(text, state);
      this.note(text);
    }

    /** The operator closes the terminal: the shell ends. */
    close() {
      clearTimeout(this.retryTimer);
      this.wanted = false;
      const ws = this.ws;
      this.ws = null;
      ws?.close(1000, 'closed by the operator');
      this.ended('closed; the shell was ended');
    }
  }

  for (const root of document.querySelectorAll('[data-terminal]')) panels.push(new Panel(root));
  window.hiveTerminal = { panels };
})();
