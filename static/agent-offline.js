// hyperhive: the page the dashboard shows in place of an agent's own page while its harness does
// not serve it (views/agent/offline.tsx; loaded after hive.js, whose age ticker it relies on).
//
// It follows the core's view of the agent (`../status`, an SSE stream of JSON) and redraws the
// state badge and the reason as they change. Only once the core says the agent is up does it ask
// the agent's page itself (`healthz`, a few times with growing waits, while the core still says up):
// when that answers, the page reloads into the agent's own page. Nothing is asked of the page while
// the agent is down, so no refusals pile up in the dashboard's log.
(() => {
  const main = document.getElementById('offline');
  if (!main) return;
  const who = main.dataset.agent || 'the agent';
  const why = document.getElementById('offline-why');

  // the badge as the server draws it (views/agent/offline.tsx), for `state` since `since` (hive.js draws it)
  const badge = (state, since) => window.hyperhive.stateBadge(state, since);
  const say = (text) => why && why.textContent !== text && (why.textContent = text);

  let status = null; // the core's last word
  let source = null; // the EventSource on ../status
  let probing = false;
  const shownSince = Date.now();

  function show(s) {
    // a harness the core counts as running but whose page is not there yet reads as offline
    const away = s.status === 'gone' || s.status === 'idle' || s.status === 'thinking';
    const state = away ? 'offline' : s.status;
    if (document.getElementById('state')?.dataset.state !== state) badge(state, away ? shownSince : s.since);
    say(s.up ? `${who} is up; opening its page` : s.reason);
  }
  function watch() {
    if (source) return;
    const es = new EventSource('../status');
    source = es;
    es.onmessage = (m) => {
      let s;
      try {
        s = JSON.parse(m.data);
      } catch {
        return;
      }
      if (source !== es) return;
      status = s;
      show(s);
      if (s.status === 'gone') {
        es.close();
        source = null;
      } else if (s.up) probe();
    };
    es.onerror = () => {
      if (source !== es || status?.status === 'gone') return;
      say('the dashboard is not answering; retrying');
      // a refused stream (not an interrupted one) is not retried by the browser: ask again later
      if (es.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(watch, 2000);
      }
    };
  }
  // Asks the agent's page whether it answers (it starts serving a moment after the core hears the
  // harness's hello, hence the first wait), while the core says the agent is up, for about 20 s at
  // most (the core's next word about the agent starts it again); reloads when it does.
  async function probe() {
    if (probing) return;
    probing = true;
    try {
      for (let delay = 200, tries = 0; status?.up; delay = Math.min(delay * 2, 4000), tries++) {
        if (tries === 8) return say(`${who} is up, but its page does not answer; reload to try again`);
        await new Promise((r) => setTimeout(r, delay));
        if (!status?.up) return;
        let ok = false;
        try {
          ok = (await fetch('healthz', { cache: 'no-store' })).ok;
        } catch {
          // not answering yet
        }
        if (ok) {
          if (source) source.close();
          source = null;
          location.reload();
          return;
        }
      }
    } finally {
      probing = false;
    }
  }
  watch();
})();
