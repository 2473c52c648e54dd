// hyperhive agent page glue (no build step; loaded after hive.js, whose age ticker and toasts it
// relies on).
//
// The state: while the stream from the harness (`#link`, htmx's SSE) is up, the harness sends the
// badge itself. When it drops (a stop, a crash, a rebuild) the badge says offline at once, the
// prompt is disabled, and the page asks the core what became of the agent (`../status`, an SSE
// stream of JSON): building, crashed, stopped …, with the reason shown under the prompt. When the
// core says the agent is up again and its page answers, the stream is opened anew from the newest
// event the page has (`events?after=`), and the prompt comes back. htmx's own reconnect is off
// (`sse.reconnect:false` on `#link`): it would ask an absent page every few seconds.
//
// The tail: it loads scrolled to its newest event and follows new ones while the reader is at the
// bottom; scrolled up, a "↓ N new" pill counts what arrived and jumps down on click. Scrolling near
// its top (or clicking the edge there) pages in older events (`history?before=`), keeping what is on
// screen in place. The filter hides the loaded events that do not contain its text.
(() => {
  const tail = document.getElementById('tail');
  const pill = document.getElementById('tail-new');
  const filter = document.getElementById('tail-filter');
  const count = document.getElementById('tail-count');
  const prompt = document.getElementById('prompt');
  const why = document.getElementById('send-why');
  const link = () => document.getElementById('link');
  const who = link()?.dataset.agent || 'the agent';

  // ── the state badge and the prompt ──────────────────────────────────────────
  // the badge as the server draws it, for a state the harness cannot send (hive.js draws it)
  const badge = (state, since) => window.hyperhive.stateBadge(state, since);
  // Everything in the prompt panel but the reason is disabled (and inert, so a control htmx swaps
  // in meanwhile cannot be used either) while the agent cannot take a message.
  function promptDown(reason) {
    if (!prompt) return;
    if (why) {
      why.textContent = reason;
      why.hidden = false;
    }
    for (const c of prompt.querySelectorAll('textarea, input, button, select')) {
      if (c.disabled) continue;
      c.disabled = true;
      c.dataset.down = '';
    }
    for (const el of prompt.children) if (el !== why && el.tagName !== 'H2') el.inert = true;
  }
  function promptUp() {
    if (!prompt) return;
    if (why) {
      why.hidden = true;
      why.textContent = '';
    }
    for (const c of prompt.querySelectorAll('[data-down]')) {
      c.disabled = false;
      delete c.dataset.down;
    }
    for (const el of prompt.children) el.inert = false;
  }

  let up = true; // the harness's stream is connected
  let downSince = 0;
  let status = null; // the core's last word while the stream is down
  let stop = null; // stops following ../status
  const { awayStatus, followAgentStatus, pageAnswers } = window.hyperhive;
  let probing = false;
  let connecting = false; // a new stream was asked for and has neither connected nor failed

  function show() {
    if (up) return;
    if (status && !status.up) {
      // a harness the core still counts as running while it stops is away all the same
      const away = awayStatus(status);
      badge(away ? 'offline' : status.status, away ? downSince : status.since);
      promptDown(status.reason);
    } else {
      badge('offline', downSince);
      promptDown(status ? `no link to ${who}'s page; reconnecting` : `lost the link to ${who}; asking the core why`);
    }
  }
  function linkDown() {
    if (!up) return;
    up = false;
    downSince = Date.now();
    status = null;
    show();
    watchCore();
  }
  function linkUp() {
    up = true;
    connecting = false;
    status = null;
    stop?.();
    stop = null;
    promptUp();
  }
  function watchCore() {
    if (stop || up) return;
    stop = followAgentStatus({
      onStatus: (s) => {
        status = s;
        show();
        if (s.up) reconnect();
      },
      onError: () => {
        status = null;
        badge('offline', downSince);
        promptDown('the dashboard is not answering; retrying');
      },
      wanted: () => !up,
    });
  }
  // The newest event the page has: the stream is opened from there, so nothing is missed or repeated.
  function newestId() {
    let max = 0;
    for (const li of tail?.querySelectorAll(':scope > li[data-id]') ?? []) max = Math.max(max, Number(li.dataset.id) || 0);
    return max;
  }
  // Opens the harness's stream again once its page answers (it starts serving a moment after the
  // core hears its hello, hence the first wait), while the core still says it is up.
  async function reconnect() {
    if (probing || connecting || up) return;
    probing = true;
    try {
      if ((await pageAnswers(() => !up && status?.up)) && !up) connect();
    } finally {
      probing = false;
    }
  }
  function connect() {
    const old = link();
    if (!old || typeof htmx === 'undefined') return;
    connecting = true;
    const el = old.cloneNode(false);
    el.setAttribute('hx-sse:connect', 'events?after=' + newestId());
    old.replaceWith(el);
    htmx.process(el);
  }
  const fromLink = (e) => e.target instanceof Element && e.target === link();
  document.addEventListener('htmx:sse:after:connection', (e) => fromLink(e) && linkUp());
  document.addEventListener('htmx:sse:close', (e) => fromLink(e) && linkDown());
  document.addEventListener('htmx:sse:error', (e) => fromLink(e) && linkDown());
  // the stream's request itself failed (the page went away between the probe and the request)
  document.addEventListener('htmx:after:request', (e) => {
    const code = e.detail?.ctx?.response?.status;
    if (!fromLink(e) || (code >= 200 && code < 300)) return;
    connecting = false;
    linkDown();
    setTimeout(reconnect, 1000);
  });
  document.addEventListener('htmx:error', (e) => {
    if (!fromLink(e)) return;
    connecting = false;
    linkDown();
    setTimeout(reconnect, 1000);
  });

  // ── the tail ────────────────────────────────────────────────────────────────
  if (!tail) return;
  const NEAR = 40; // px from the bottom that still counts as at the bottom
  const OLDER_AT = 300; // px from the top where older events are asked for
  let follow = true;
  let unseen = 0;
  let query = '';
  const paged = new WeakSet();
  const atBottom = () => tail.scrollHeight - tail.scrollTop - tail.clientHeight < NEAR;
  const toBottom = () => {
    tail.scrollTop = tail.scrollHeight;
  };
  function showPill() {
    if (!pill) return;
    pill.hidden = unseen === 0;
    const n = pill.querySelector('.n');
    if (n) n.textContent = String(unseen);
    pill.title = unseen ? unseen + ' new since you scrolled up; click to jump to the newest' : '';
  }
  function matches(li) {
    return !query || li.textContent.toLowerCase().includes(query);
  }
  function counts() {
    if (!count) return;
    const all = tail.querySelectorAll(':scope > li.ev');
    if (!query) return void (count.textContent = all.length + ' events loaded');
    let n = 0;
    for (const li of all) if (!li.hidden) n++;
    count.textContent = n + ' of ' + all.length + ' loaded events match';
  }
  tail.addEventListener('scroll', () => {
    follow = atBottom();
    if (follow && unseen) {
      unseen = 0;
      showPill();
    }
    if (tail.scrollTop < OLDER_AT) older();
  });
  pill?.addEventListener('click', () => {
    unseen = 0;
    showPill();
    follow = true;
    toBottom();
  });
  filter?.addEventListener('input', () => {
    query = filter.value.trim().toLowerCase();
    for (const li of tail.querySelectorAll(':scope > li.ev')) li.hidden = !matches(li);
    counts();
    if (follow) toBottom();
  });
  // New events (htmx appends them): drop one the page already has, filter it, then follow or count.
  new MutationObserver((records) => {
    let fresh = 0;
    for (const r of records)
      for (const n of r.addedNodes) {
        if (!(n instanceof HTMLLIElement) || !n.classList.contains('ev') || paged.has(n)) continue;
        if (n.id && document.querySelectorAll('#' + CSS.escape(n.id)).length > 1) {
          n.remove();
          continue;
        }
        n.hidden = !matches(n);
        if (!n.hidden) fresh++;
      }
    counts();
    if (!fresh) return;
    if (follow) toBottom();
    else {
      unseen += fresh;
      showPill();
    }
  }).observe(tail, { childList: true });
  // Older events above the loaded ones, while the top of the tail is in view.
  let loading = false;
  async function older() {
    const edge = tail.querySelector(':scope > li.edge.more');
    if (!edge || loading) return;
    loading = true;
    const before = edge.dataset.before;
    edge.textContent = 'loading older events…';
    let done = false;
    try {
      const res = await fetch('history?before=' + encodeURIComponent(before) + '&limit=100', { cache: 'no-store' });
      const text = await res.text();
      if (!res.ok) throw new Error(text || res.statusText);
      const tpl = document.createElement('template');
      tpl.innerHTML = text;
      const nodes = [...tpl.content.children];
      for (const n of nodes) {
        paged.add(n);
        if (n.classList.contains('ev')) n.hidden = !matches(n);
      }
      const fromBottom = tail.scrollHeight - tail.scrollTop;
      edge.replaceWith(...nodes);
      tail.scrollTop = tail.scrollHeight - fromBottom;
      counts();
      done = true;
    } catch (err) {
      edge.textContent = 'could not load older events (' + (err?.message || 'no answer') + '); scroll up to try again';
    } finally {
      loading = false;
    }
    // still at the top after a short page: the next one (not while filtering, which could hide
    // every event and so walk the whole history; a click on the edge loads more then)
    if (done && !query && (tail.scrollTop < OLDER_AT || tail.scrollHeight <= tail.clientHeight)) older();
  }
  tail.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('li.edge.more')) older();
  });
  counts();
  toBottom();
  addEventListener('load', () => follow && toBottom());
  if (tail.scrollHeight <= tail.clientHeight) older();
})();
