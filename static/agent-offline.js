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

  const { awayStatus, followAgentStatus, pageAnswers } = window.hyperhive;

  let status = null; // the core's last word
  let stop = null; // stops following ../status
  let probing = false;
  const shownSince = Date.now();

  function show(s) {
    // a harness the core counts as running but whose page is not there yet reads as offline
    const away = awayStatus(s);
    const state = away ? 'offline' : s.status;
    if (document.getElementById('state')?.dataset.state !== state) badge(state, away ? shownSince : s.since);
    say(s.up ? `${who} is up; opening its page` : s.reason);
  }
  function watch() {
    stop = followAgentStatus({
      onStatus: (s) => {
        status = s;
        show(s);
        if (s.status === 'gone') stop();
        else if (s.up) probe();
      },
      onError: () => say('the dashboard is not answering; retrying'),
    });
  }
  // Asks the agent's page whether it answers while the core says the agent is up, 8 times at most
  // (about 20 s; the core's next word about the agent starts it again); reloads when it does.
  async function probe() {
    if (probing) return;
    probing = true;
    try {
      if (await pageAnswers(() => status?.up, 8)) {
        stop();
        location.reload();
      } else if (status?.up) say(`${who} is up, but its page does not answer; reload to try again`);
    } finally {
      probing = false;
    }
  }
  watch();
})();
