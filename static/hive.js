// hyperhive page glue (no build step): toasts from HX-Trigger, the live-link indicator, form reset,
// the flow filter for live messages, a live log that follows its newest line, live ages, and
// disarming a destructive action's confirmation, the waiting count in the title and on the favicon,
// a browser notification when that count rises while the tab is hidden, and the dashboard's tabs
// (kept across reloads, with a badge for what arrived in a hidden pane) and live counts.
(() => {
  // The SSE extension pauses an `hx-sse:connect` stream while the tab is hidden by default; the
  // waiting count (and so the notification below) must keep arriving then. This runs before htmx
  // connects (this script is deferred; htmx connects on DOMContentLoaded).
  if (typeof htmx !== 'undefined') htmx.config.sse = { ...htmx.config.sse, pauseOnBackground: false };
  function toast(text, ok) {
    const box = document.getElementById('toasts');
    if (!box) return;
    const el = document.createElement('div');
    el.className = 'toast' + (ok ? '' : ' bad');
    el.setAttribute('role', 'status');
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.remove(), 4000);
  }
  // Every state-changing request carries the session's CSRF token (the server refuses it otherwise).
  document.addEventListener('htmx:config:request', (e) => {
    const token = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content');
    const headers = e.detail?.ctx?.request?.headers;
    if (token && headers) headers['X-CSRF-Token'] = token;
  });
  document.addEventListener('toast', (e) => {
    const d = e.detail || {};
    toast(String(d.text ?? d.value ?? ''), d.ok !== false);
  });
  function live(up) {
    const el = document.getElementById('live');
    if (!el) return;
    el.textContent = up ? '● live' : '○ reconnecting';
    el.classList.toggle('down', !up);
  }
  document.addEventListener('htmx:sse:after:connection', () => live(true));
  document.addEventListener('htmx:sse:error', () => live(false));
  document.addEventListener('htmx:sse:close', () => live(false));
  // A request that failed outright (network, 5xx without a body we swap): say so where the user looks.
  document.addEventListener('htmx:error', (e) => toast('request failed: ' + (e.detail?.error?.message || 'see the server log'), false));
  // Keep a live log (rebuild output) scrolled to its newest line unless the reader scrolled up.
  const follow = new WeakMap();
  document.addEventListener('scroll', (e) => {
    const el = e.target;
    if (el instanceof HTMLElement && el.id === 'builds') follow.set(el, el.scrollHeight - el.scrollTop - el.clientHeight < 40);
  }, true);
  // The flow filter: the server sends the filtered list; messages arriving live are hidden here
  // unless they are from or to the agent typed in the filter.
  function filtered(li, agent) {
    return agent !== '' && li.dataset.from !== agent && li.dataset.to !== agent;
  }
  document.addEventListener('input', (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement) || !input.closest('form.flow-filter')) return;
    const flow = document.getElementById('flow');
    const typed = input.value.trim();
    if (flow) flow.dataset.agent = typed === 'hm1nd' ? 'manager' : typed;
  });
  // What waits for the operator (`#waiting [data-waiting]`, kept current by the stream) goes into the
  // title as "(3) hyperhive" and onto the favicon as a badge.
  const baseTitle = document.title.replace(/^\(\d+\) /, '');
  const icon = document.querySelector('link[rel="icon"]');
  const iconHref = icon?.getAttribute('href');
  let shownCount = null;
  let iconImage = null;
  function badge(n) {
    if (!icon || !iconHref) return;
    if (n === 0) return icon.setAttribute('href', iconHref);
    const draw = () => {
      const c = document.createElement('canvas');
      c.width = c.height = 64;
      const g = c.getContext('2d');
      if (!g) return;
      if (iconImage.complete && iconImage.naturalWidth) g.drawImage(iconImage, 0, 0, 64, 64);
      g.fillStyle = '#e0245e';
      g.beginPath();
      g.arc(44, 20, 20, 0, 2 * Math.PI);
      g.fill();
      g.fillStyle = '#fff';
      g.font = 'bold 26px sans-serif';
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(n > 99 ? '99+' : String(n), 44, 21);
      if (shownCount === n) icon.setAttribute('href', c.toDataURL('image/png'));
    };
    if (!iconImage) {
      iconImage = new Image();
      iconImage.addEventListener('load', () => shownCount && badge(shownCount));
      iconImage.src = iconHref;
    }
    draw();
  }
  // Browser notifications: permission is asked only when the operator clicks "notify me" (never on
  // load); afterwards, a rise of the waiting count while the tab is hidden shows one notification.
  const notifyMe = document.getElementById('notify-me');
  const canNotify = typeof Notification !== 'undefined';
  function notifyButton() {
    if (notifyMe) notifyMe.hidden = !canNotify || Notification.permission !== 'default';
  }
  notifyButton();
  notifyMe?.addEventListener('click', () => {
    if (!canNotify) return;
    Promise.resolve(Notification.requestPermission()).then((p) => {
      notifyButton();
      toast(p === 'granted' ? 'this tab will notify you while it is hidden' : 'notifications are ' + p + ' for this page', p === 'granted');
    });
  });
  let lastNote = null;
  function notifyRise(from, to) {
    if (!canNotify || Notification.permission !== 'granted' || document.visibilityState !== 'hidden') return;
    try {
      lastNote?.close();
      lastNote = new Notification(baseTitle + ': ' + to + ' waiting', { body: to - from + ' new since you looked', tag: 'hyperhive-waiting' });
      lastNote.onclick = () => {
        window.focus();
        lastNote?.close();
      };
    } catch {
      // some browsers only allow notifications from a service worker; the title and badge still show the count
    }
  }
  function waiting() {
    const n = Number(document.querySelector('#waiting [data-waiting]')?.getAttribute('data-waiting'));
    const count = Number.isFinite(n) && n > 0 ? n : 0;
    if (count === shownCount) return;
    if (shownCount !== null && count > shownCount) notifyRise(shownCount, count);
    shownCount = count;
    document.title = count > 0 ? '(' + count + ') ' + baseTitle : baseTitle;
    badge(count);
  }
  waiting();
  // The dashboard's tabs (`[role=tab][data-tab]`, each controlling the pane named by its
  // aria-controls): a click, Enter or Space shows one; the arrow keys, Home and End move along the
  // strip. The last one shown is kept in localStorage; a `#<tab>` link (the chrome's waiting count)
  // shows that tab. While a pane is hidden, each element matching its `data-items` that was not
  // there before counts as one new thing on its tab's badge, until the tab is shown. Showing a tab
  // fires `hive:tab` on the document (detail: { tab, pane }), for content that must be laid out
  // while visible (charts).
  const TAB_KEY = 'hyperhive.tab';
  const tabs = [...document.querySelectorAll('[role="tab"][data-tab]')];
  const seen = new Map(); // pane -> { ids: Set of item ids, anon: count of items without an id }
  const paneOf = (tab) => document.getElementById(tab.getAttribute('aria-controls') || '');
  const tabNamed = (name) => tabs.find((t) => t.dataset.tab === name);
  const hashTab = () => tabNamed(location.hash.slice(1));
  // How many of the pane's items were not seen before; all of them are seen afterwards.
  function fresh(pane) {
    const selector = pane?.dataset.items;
    if (!selector) return 0;
    let s = seen.get(pane);
    const first = !s;
    if (!s) seen.set(pane, (s = { ids: new Set(), anon: 0 }));
    let n = 0;
    let anon = 0;
    for (const el of pane.querySelectorAll(selector)) {
      if (!el.id) anon++;
      else if (!s.ids.has(el.id)) {
        s.ids.add(el.id);
        n++;
      }
    }
    n += Math.max(0, anon - s.anon);
    s.anon = anon;
    return first ? 0 : n;
  }
  function setBadge(tab, n) {
    const badge = tab.querySelector('.tab-new');
    if (!badge) return;
    tab.dataset.new = String(n);
    badge.hidden = n === 0;
    badge.textContent = n > 99 ? '99+' : n > 0 ? '+' + n : '';
    badge.title = n > 0 ? n + ' new since you looked' : '';
  }
  function showTab(tab, { remember = false, focus = false } = {}) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      const pane = paneOf(t);
      if (pane) pane.hidden = !on;
    }
    const pane = paneOf(tab);
    fresh(pane);
    setBadge(tab, 0);
    if (remember) {
      try {
        localStorage.setItem(TAB_KEY, tab.dataset.tab);
      } catch {
        // storage refused (private mode, quota): the tab is shown all the same, just not kept
      }
      if (location.hash && hashTab() && hashTab() !== tab) history.replaceState(null, '', location.pathname + location.search);
    }
    if (focus) tab.focus();
    const builds = document.getElementById('builds');
    if (builds && pane?.contains(builds) && follow.get(builds) !== false) builds.scrollTop = builds.scrollHeight;
    document.dispatchEvent(new CustomEvent('hive:tab', { detail: { tab: tab.dataset.tab, pane } }));
  }
  if (tabs.length) {
    for (const t of tabs) fresh(paneOf(t));
    let stored = null;
    try {
      stored = localStorage.getItem(TAB_KEY);
    } catch {
      // no storage: start on the first tab
    }
    const start = hashTab() || (stored && tabNamed(stored));
    if (start && start.getAttribute('aria-selected') !== 'true') showTab(start);
    addEventListener('hashchange', () => {
      const tab = hashTab();
      if (tab) showTab(tab, { remember: true });
    });
    document.addEventListener('click', (e) => {
      const tab = e.target instanceof Element ? e.target.closest('[role="tab"][data-tab]') : null;
      if (tab) showTab(tab, { remember: true });
    });
    document.addEventListener('keydown', (e) => {
      const tab = e.target instanceof Element ? e.target.closest('[role="tab"][data-tab]') : null;
      if (!tab) return;
      const i = tabs.indexOf(tab);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      showTab(tabs[(to + tabs.length) % tabs.length], { remember: true, focus: true });
    });
  }
  function tabsSaw(records) {
    const panes = new Set();
    for (const r of records) {
      const el = r.target instanceof Element ? r.target : r.target.parentElement;
      const pane = el?.closest('[role="tabpanel"]');
      if (pane) panes.add(pane);
    }
    for (const pane of panes) {
      const n = fresh(pane);
      const tab = pane.hidden && n > 0 ? document.getElementById(pane.getAttribute('aria-labelledby') || '') : null;
      if (tab) setBadge(tab, Number(tab.dataset.new || 0) + n);
    }
  }
  // Live counts (`[data-live-count]`, a selector): the number of elements it matches, or the
  // number in the attribute `data-count-attr` of the first one, followed by `data-noun`.
  function counts() {
    for (const el of document.querySelectorAll('[data-live-count]')) {
      const sel = el.getAttribute('data-live-count');
      const attr = el.getAttribute('data-count-attr');
      let n;
      if (attr) n = Number(document.querySelector(sel)?.getAttribute(attr)) || 0;
      else n = document.querySelectorAll(sel).length;
      const noun = el.getAttribute('data-noun');
      const text = noun ? n + ' ' + noun : String(n);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle('dim', n === 0);
    }
  }
  new MutationObserver((records) => {
    waiting();
    tabsSaw(records);
    counts();
    const el = document.getElementById('builds');
    if (el && follow.get(el) !== false) el.scrollTop = el.scrollHeight;
    for (const r of records)
      for (const n of r.addedNodes) {
        if (!(n instanceof Element)) continue;
        if (n.matches('form.confirm')) arm(n);
        else n.querySelectorAll?.('form.confirm').forEach(arm);
      }
    const flow = document.getElementById('flow');
    const agent = flow?.dataset.agent ?? '';
    if (!agent) return;
    for (const r of records)
      if (r.target === flow) for (const n of r.addedNodes) if (n instanceof HTMLLIElement && n.id.startsWith('msg-')) n.hidden = filtered(n, agent);
  }).observe(document.documentElement, { childList: true, subtree: true });
  // An armed confirmation (destroy, purge) goes back to its first button when cancelled, on a click
  // elsewhere, on Escape, or when nobody confirms it in time; a submitted one is left alone.
  const timers = new WeakMap();
  function arm(form) {
    if (timers.has(form)) return;
    const ms = Number(form.querySelector('[data-disarm-after]')?.getAttribute('data-disarm-after')) || 6000;
    timers.set(form, setTimeout(() => disarm(form), ms));
  }
  function disarm(form, focus) {
    clearTimeout(timers.get(form));
    if (!form.isConnected || form.dataset.sent !== undefined) return;
    const first = form.querySelector(':scope > template')?.content.firstElementChild?.cloneNode(true);
    if (!first) return;
    form.replaceWith(first);
    window.htmx?.process(first);
    if (focus) first.focus();
  }
  document.addEventListener('submit', (e) => {
    if (e.target instanceof HTMLFormElement && e.target.matches('form.confirm')) e.target.dataset.sent = '';
  }, true);
  document.addEventListener('click', (e) => {
    const cancel = e.target instanceof Element ? e.target.closest('form.confirm button.disarm') : null;
    for (const form of document.querySelectorAll('form.confirm'))
      if (cancel ? form.contains(cancel) : !form.contains(e.target)) disarm(form, !!cancel);
  });
  document.addEventListener('keydown', (e) => {
    const form = e.key === 'Escape' && e.target instanceof Element ? e.target.closest('form.confirm') : null;
    if (form) disarm(form, true);
  });
  // Ages (`<time data-since="<unix ms>">`) tick while the tab is visible, in the server's format.
  function ageText(ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm';
    if (s < 86400) return Math.floor(s / 3600) + 'h';
    return Math.floor(s / 86400) + 'd';
  }
  // An agent's state badge (`#state`) as the server draws it (views/agent/page.tsx StateBadge), for
  // `state` since `since` (unix ms), put in place of the one on the page.
  function stateBadge(state, since) {
    const old = document.getElementById('state');
    if (!old) return;
    const el = document.createElement('span');
    el.id = 'state';
    el.className = 'badge ' + state;
    el.dataset.state = state;
    const word = document.createElement('span');
    word.textContent = state;
    const age = document.createElement('time');
    age.className = 'age';
    age.dataset.since = String(since);
    age.dateTime = new Date(since).toISOString();
    age.textContent = ageText(since, Date.now());
    el.append(word, ' ', age);
    old.replaceWith(el);
  }
  // Whether the core's word on an agent (`../status`) means its page is away although the core may
  // still count its harness as running (it is stopping, or not serving yet): shown as offline.
  const awayStatus = (s) => s.status === 'gone' || s.status === 'idle' || s.status === 'thinking';
  // Follows the core's view of an agent from its page (`../status`, an SSE stream of JSON):
  // `onStatus(s)` for each word and `onError()` when the stream fails, both only while `wanted()`.
  // A refused stream (not an interrupted one, which the browser retries itself) is asked again
  // after 2 s. Returns the function that stops following.
  function followAgentStatus({ onStatus, onError, wanted = () => true }) {
    let es = null;
    let stopped = false;
    function open() {
      if (stopped) return;
      const mine = (es = new EventSource('../status'));
      mine.onmessage = (m) => {
        let st;
        try {
          st = JSON.parse(m.data);
        } catch {
          return;
        }
        if (mine === es && !stopped && wanted()) onStatus(st);
      };
      mine.onerror = () => {
        if (mine !== es || stopped || !wanted()) return;
        onError();
        if (mine.readyState === EventSource.CLOSED) setTimeout(open, 2000);
      };
    }
    open();
    return () => {
      stopped = true;
      es?.close();
      es = null;
    };
  }
  // Asks the agent page's `healthz` whether it answers (it starts serving a moment after the core
  // hears its harness's hello, hence the first wait), waiting 200 ms and doubling to 4 s between
  // asks, while `still()` holds and at most `tries` times. Resolves whether it answered.
  async function pageAnswers(still, tries = Infinity) {
    for (let delay = 200, n = 0; still() && n < tries; delay = Math.min(delay * 2, 4000), n++) {
      await new Promise((r) => setTimeout(r, delay));
      if (!still()) return false;
      try {
        if ((await fetch('healthz', { cache: 'no-store' })).ok) return true;
      } catch {
        // not answering yet
      }
    }
    return false;
  }
  // for the page scripts loaded after this one (agent.js and agent-offline.js)
  window.hyperhive = { ...window.hyperhive, ageText, stateBadge, awayStatus, followAgentStatus, pageAnswers };
  function tick() {
    if (document.visibilityState !== 'visible') return;
    const now = Date.now();
    for (const el of document.querySelectorAll('[data-since]')) {
      const since = Number(el.getAttribute('data-since'));
      if (!Number.isFinite(since)) continue;
      const text = ageText(since, now);
      if (el.textContent !== text) el.textContent = text;
    }
  }
  setInterval(tick, 1000);
  document.addEventListener('visibilitychange', tick);
  // Reset a form once its request succeeded.
  document.addEventListener('htmx:after:request', (e) => {
    const form = e.target;
    const status = e.detail?.ctx?.response?.status;
    if (form instanceof HTMLFormElement && form.dataset.reset !== undefined && status >= 200 && status < 300) {
      // data-reset clears the message text; data-reset="all" every typed field too (the spawn form)
      form.querySelectorAll(form.dataset.reset === 'all' ? 'textarea, input:not([type=hidden])' : 'textarea').forEach((t) => (t.value = ''));
    }
  });
})();
