// hyperhive telemetry charts (no build step). Every `[data-stats]` element is a chart group whose
// value is the query string of `GET /api/stats` (`agent=alice&since=24h`, or `since=24h` for the
// swarm). Its figures (`[data-chart]`, rendered by views/dashboard/stats.tsx) name the series they
// plot; this script asks for those series, draws them with uPlot (`/static/uplot.min.js`), writes
// the numbers of now into `[data-now]`, and shows a failed request as a line in the group.
//
// Refreshing: every `data-stats-refresh-ms` (default 15 s) while the page is visible and the group
// is shown (not in a hidden tab pane), at once when either becomes so, and whenever `data-stats`
// changes (the window buttons rewrite its `since`). A group has at most one request under way: a
// refresh asked for meanwhile is dropped, and an answer to a query that changed meanwhile is
// thrown away and asked again. Charts follow their container's width.
(() => {
  if (window.hiveStats) return;
  const DEFAULT_REFRESH_MS = 15000;
  const MIN_REFRESH_MS = 100;
  const PLOT_HEIGHT = 150;
  const DEFAULT_TOP_TOOLS = 6;
  const PALETTE = ['amber', 'mauve', 'green', 'blue', 'red', 'text'];
  const FALLBACK = { amber: '#ffb547', mauve: '#c792ea', green: '#4af08a', red: '#ff6b6b', blue: '#7fb4ff', text: '#e4e2dc', dim: '#9a98a3', line: '#26262f', mono: 'monospace' };

  /** @type {Map<Element, Group>} */
  const groups = new Map();

  // ---- numbers as text -------------------------------------------------------------------------

  const trim = (v, digits) => v.toFixed(digits).replace(/\.?0+$/, '');
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9, 1) + 'G';
    if (a >= 1e6) return trim(v / 1e6, 1) + 'M';
    if (a >= 1e4) return trim(v / 1e3, 1) + 'k';
    if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
    return trim(v, a >= 10 ? 1 : a >= 1 ? 2 : 3);
  }
  function duration(ms) {
    const a = Math.abs(ms);
    if (a < 1000) return Math.round(ms) + 'ms';
    if (a < 60000) return trim(ms / 1000, 1) + 's';
    if (a < 3600000) return trim(ms / 60000, 1) + 'm';
    return trim(ms / 3600000, 1) + 'h';
  }
  function bytes(n) {
    if (n < 1024) return Math.round(n) + ' B';
    if (n < 1048576) return trim(n / 1024, 1) + ' KB';
    return trim(n / 1048576, 1) + ' MB';
  }
  function usd(v) {
    const a = Math.abs(v);
    if (a === 0) return '$0';
    return '$' + v.toFixed(a >= 1 ? 2 : a >= 0.01 ? 3 : 4);
  }
  /** A value of `unit` (a series spec's unit); `short` for axis ticks. */
  function fmt(unit, v, short) {
    switch (unit) {
      case 'ms': return duration(v);
      case 'bytes': return bytes(v);
      case 'USD': return usd(v);
      case '/min': return compact(v) + (short ? '' : '/min');
      case '/turn': return compact(v) + (short ? '' : '/turn');
      case 'tokens': return compact(v) + (short ? '' : ' tokens');
      default: return compact(v);
    }
  }
  /** The compact age of views/format.ts (`42s`, `5m`, `3h`, `2d`), which hive.js keeps ticking. */
  function age(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm';
    if (s < 86400) return Math.floor(s / 3600) + 'h';
    return Math.floor(s / 86400) + 'd';
  }

  // ---- the theme -------------------------------------------------------------------------------

  function cssVar(name) {
    const v = getComputedStyle(document.documentElement).getPropertyValue('--' + name).trim();
    return v || FALLBACK[name] || FALLBACK.text;
  }
  function translucent(color, alpha) {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
    return m ? 'rgba(' + parseInt(m[1], 16) + ',' + parseInt(m[2], 16) + ',' + parseInt(m[3], 16) + ',' + alpha + ')' : undefined;
  }

  // ---- fetching --------------------------------------------------------------------------------

  /** GET `url` as JSON; a non-2xx answer throws with its status and text. */
  async function getJson(url) {
    let res;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
    } catch (err) {
      throw new Error('cannot reach the dashboard (' + (err && err.message ? err.message : err) + ')');
    }
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).trim().replace(/\s+/g, ' ');
      throw new Error(res.status + ' ' + (text || res.statusText).slice(0, 300));
    }
    return res.json();
  }

  const figures = (g) => [...g.el.querySelectorAll('[data-chart]')];
  const toolsFigure = (g) => g.el.querySelector('[data-chart][data-kind="tools"]');
  /** Tool names that can go into a comma-separated `series` list. */
  const askable = (name) => !name.includes(',') && name.length <= 120;

  /**
   * The answer for `query` with every series the group's figures plot, and `topTools`: the most
   * called tools whose series it holds. Their series are asked for with the figures' (the tools of
   * the last answer), or in a second request over the same buckets when the first names others.
   */
  async function load(g, query) {
    const params = new URLSearchParams(query);
    const names = new Set(['turns_per_min']);
    for (const f of figures(g)) for (const n of (f.dataset.series || '').split(',')) if (n) names.add(n);
    const tools = toolsFigure(g);
    if (tools) for (const t of g.tools) names.add('tool:' + t);
    params.set('series', [...names].join(','));
    const body = await getJson('/api/stats?' + params);
    const top = tools ? body.tools.filter(askable).slice(0, Number(tools.dataset.top) || DEFAULT_TOP_TOOLS) : [];
    const missing = top.filter((t) => !Object.hasOwn(body.series, 'tool:' + t));
    if (missing.length) {
      const more = new URLSearchParams({ since: String(body.since), until: String(body.until), step: String(body.step_ms / 1000) });
      if (body.agent) more.set('agent', body.agent);
      more.set('series', missing.map((t) => 'tool:' + t).join(','));
      const extra = await getJson('/api/stats?' + more);
      Object.assign(body.series, extra.series);
      Object.assign(body.specs, extra.specs);
    }
    body.topTools = top;
    g.tools = top;
    return body;
  }

  // ---- the refresh cycle -----------------------------------------------------------------------

  const shown = (el) => el.getClientRects().length > 0;
  function refreshMs(g) {
    const n = Number(g.el.getAttribute('data-stats-refresh-ms'));
    return Number.isFinite(n) && n >= MIN_REFRESH_MS ? n : DEFAULT_REFRESH_MS;
  }
  function schedule(g) {
    clearTimeout(g.timer);
    g.timer = setTimeout(() => refresh(g), refreshMs(g));
  }

  /** Fetches and draws `g` now, unless a request is under way or nobody can see it (then later). */
  function refresh(g) {
    clearTimeout(g.timer);
    if (!g.el.isConnected) return forget(g);
    if (g.busy) return;
    if (document.visibilityState !== 'visible' || !shown(g.el)) {
      g.stale = true;
      return;
    }
    g.busy = true;
    const query = g.el.getAttribute('data-stats') || '';
    load(g, query)
      .then((body) => ({ body }), (error) => ({ error }))
      .then(({ body, error }) => {
        g.busy = false;
        if (!g.el.isConnected) return forget(g);
        if ((g.el.getAttribute('data-stats') || '') !== query) return refresh(g);
        g.stale = false;
        if (error) showError(g, error.message || String(error));
        else {
          g.body = body;
          try {
            draw(g);
            showError(g, null);
          } catch (err) {
            showError(g, 'cannot draw the charts: ' + (err && err.message ? err.message : err));
          }
        }
        schedule(g);
      });
  }

  function showError(g, message) {
    const line = g.el.querySelector('.stats-error');
    if (!line) return;
    line.hidden = message === null;
    line.textContent = message === null ? '' : 'stats unavailable: ' + message;
  }

  // ---- drawing ---------------------------------------------------------------------------------

  function syncWindow(g) {
    const since = new URLSearchParams(g.el.getAttribute('data-stats') || '').get('since');
    for (const b of g.el.querySelectorAll('[data-window]')) b.setAttribute('aria-pressed', String(b.dataset.window === since));
  }

  function fillNow(g, now) {
    for (const dd of g.el.querySelectorAll('[data-now]')) {
      const key = dd.dataset.now;
      const v = now[key];
      if (key === 'since_last_turn_ms') {
        if (v === null || v === undefined) {
          dd.textContent = 'no turns yet';
          continue;
        }
        const time = document.createElement('time');
        time.className = 'age';
        time.setAttribute('data-since', String(Date.now() - v));
        time.textContent = age(v);
        dd.replaceChildren(time);
      } else if (key === 'notes_bytes') dd.textContent = v === null || v === undefined ? 'none' : bytes(v);
      else dd.textContent = v === null || v === undefined ? '—' : String(v);
    }
  }

  /** Turns in the window: each bucket's turns per minute times its minutes. */
  function turnCount(body) {
    const perMin = body.series.turns_per_min || [];
    const minutes = body.step_ms / 60000;
    return Math.round(perMin.reduce((n, v) => n + (v || 0), 0) * minutes);
  }

  function draw(g) {
    const body = g.body;
    fillNow(g, body.now);
    syncWindow(g);
    const turns = turnCount(body);
    const since = new URLSearchParams(g.el.getAttribute('data-stats') || '').get('since');
    const summary = g.el.querySelector('.stats-summary');
    if (summary) summary.textContent = turns === 0 ? '' : turns + (turns === 1 ? ' turn' : ' turns') + (since && /^\d+[smhd]$/.test(since) ? ' in the last ' + since : ' in this window');
    const empty = g.el.querySelector('.stats-empty');
    if (empty) empty.hidden = turns > 0;
    g.turns = turns;
    render(g);
  }

  /** Puts each figure in step with the group's last answer and its current width. */
  function render(g) {
    const body = g.body;
    if (!body) return;
    for (const fig of figures(g)) renderFigure(g, fig, body);
  }

  function renderFigure(g, fig, body) {
    const kind = fig.dataset.kind;
    const names = kind === 'tools' ? (body.topTools || []).map((t) => 'tool:' + t) : (fig.dataset.series || '').split(',').filter((n) => n && Object.hasOwn(body.series, n));
    const values = names.map((n) => body.series[n]);
    const has = values.some((vs) => vs.some((v) => v !== null && (kind !== 'tools' || v > 0)));
    const visible = kind === 'gauge' ? has : g.turns > 0;
    const plot = fig.querySelector('.stats-plot');
    const none = fig.querySelector('.stats-none');
    fig.hidden = !visible;
    if (none) none.hidden = !visible || has;
    if (!visible || !has) {
      plot.hidden = true;
      return dropChart(g, fig);
    }
    plot.hidden = false;
    const width = plot.clientWidth;
    if (width <= 0) return;
    const specs = names.map((n) => body.specs[n] || { unit: '', label: n });
    const key = names.join(',') + '|' + specs.map((s) => s.unit).join(',');
    let chart = g.charts.get(fig);
    if (chart && chart.key !== key) chart = dropChart(g, fig);
    if (!chart) {
      if (typeof uPlot === 'undefined') throw new Error('the chart library (/static/uplot.min.js) did not load');
      const u = makePlot(plot, fig, names, specs, width, [body.t, ...values]);
      g.charts.set(fig, { u, key, body });
      return;
    }
    if (chart.body !== body) {
      chart.u.setData([body.t, ...values]);
      chart.body = body;
    }
    if (chart.u.width !== width) chart.u.setSize({ width, height: PLOT_HEIGHT });
  }

  function dropChart(g, fig) {
    g.charts.get(fig)?.u.destroy();
    g.charts.delete(fig);
    return undefined;
  }

  const pad = (n) => String(n).padStart(2, '0');
  /** Time axis ticks in UTC, as the dashboard writes times: `14:30`, or `11-22` at midnight and for whole days. */
  function timeTicks(u, splits, axis, space, incr) {
    return splits.map((ts) => {
      const d = new Date(ts);
      const day = pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
      if (incr >= 86400000 || (d.getUTCHours() === 0 && d.getUTCMinutes() === 0)) return day;
      return pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    });
  }

  /** Draws a marker where a value has no neighbours, which a line alone would not show. */
  function isolated(u, si, show) {
    if (show) return null;
    const ys = u.data[si];
    const out = [];
    for (let i = 0; i < ys.length; i++) if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i);
    return out.length ? out : null;
  }

  function makePlot(plot, fig, names, specs, width, data) {
    const dim = cssVar('dim');
    const line = cssVar('line');
    const font = '11px ' + cssVar('mono');
    const colorNames = (fig.dataset.colors || '').split(',').filter(Boolean);
    const units = [];
    for (const s of specs) if (!units.includes(s.unit)) units.push(s.unit);
    const scaleOf = (unit) => 'y' + units.indexOf(unit);
    const fromZero = (u, min, max) => [0, max > 0 ? max * 1.1 : 1];
    const scales = { x: { time: true } };
    for (const unit of units) scales[scaleOf(unit)] = { range: fromZero };
    const yAxis = (unit, i) => ({
      scale: scaleOf(unit),
      side: i === 0 ? 3 : 1,
      stroke: dim,
      font,
      size: 54,
      gap: 4,
      grid: { show: i === 0, stroke: line, width: 1 },
      ticks: { stroke: line, width: 1, size: 4 },
      values: (u, splits) => splits.map((v) => (v == null ? '' : fmt(unit, v, true))),
    });
    const series = names.map((name, i) => {
      const color = cssVar(colorNames[i] || PALETTE[i % PALETTE.length]);
      const unit = specs[i].unit;
      return {
        label: name.startsWith('tool:') ? name.slice(5) : specs[i].label,
        scale: scaleOf(unit),
        stroke: color,
        width: 1.5,
        fill: fig.dataset.fill !== undefined ? translucent(color, 0.12) : undefined,
        value: (u, v) => (v == null ? '—' : fmt(unit, v, false)),
        points: { size: 5, fill: color, stroke: color, filter: isolated },
      };
    });
    const opts = {
      width,
      height: PLOT_HEIGHT,
      ms: 1,
      tzDate: (ts) => uPlot.tzDate(new Date(ts), 'Etc/UTC'),
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      scales,
      axes: [
        { scale: 'x', stroke: dim, font, size: 28, space: 70, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1, size: 4 }, values: timeTicks },
        ...units.slice(0, 2).map(yAxis),
      ],
      series: [{ label: 'UTC', value: '{YYYY}-{MM}-{DD} {HH}:{mm}' }, ...series],
    };
    return new uPlot(opts, data, plot);
  }

  // ---- groups ----------------------------------------------------------------------------------

  /**
   * @typedef {{ el: Element, busy: boolean, stale: boolean, timer: number | undefined, body: any,
   *   tools: string[], turns: number, charts: Map<Element, { u: any, key: string, body: any }> }} Group
   */

  const resized = new ResizeObserver((entries) => {
    for (const e of entries) {
      const g = groups.get(e.target);
      if (!g || e.contentRect.width <= 0) continue;
      if (g.stale) refresh(g);
      // resizing the charts changes the page's layout: not inside the observer's own callback
      requestAnimationFrame(() => {
        try {
          render(g);
        } catch (err) {
          showError(g, 'cannot draw the charts: ' + (err && err.message ? err.message : err));
        }
      });
    }
  });

  function adopt(el) {
    if (groups.has(el)) return;
    /** @type {Group} */
    const g = { el, busy: false, stale: true, timer: undefined, body: null, tools: [], turns: 0, charts: new Map() };
    groups.set(el, g);
    resized.observe(el);
    syncWindow(g);
    refresh(g);
  }

  function forget(g) {
    clearTimeout(g.timer);
    for (const fig of [...g.charts.keys()]) dropChart(g, fig);
    resized.unobserve(g.el);
    groups.delete(g.el);
  }

  function scan() {
    for (const el of document.querySelectorAll('[data-stats]')) adopt(el);
  }

  // the window buttons: rewrite `since` in the group's query, which refetches
  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('[data-stats] [data-window]') : null;
    if (!button) return;
    const el = button.closest('[data-stats]');
    const q = new URLSearchParams(el.getAttribute('data-stats') || '');
    q.set('since', button.dataset.window);
    q.delete('until');
    el.setAttribute('data-stats', q.toString());
  });

  new MutationObserver((records) => {
    let added = false;
    for (const r of records) {
      if (r.type === 'childList') {
        if (r.addedNodes.length) added = true;
        continue;
      }
      const g = groups.get(r.target);
      if (!g) continue;
      if (r.attributeName === 'data-stats') {
        syncWindow(g);
        refresh(g);
      } else if (!g.busy && !g.stale) schedule(g);
    }
    if (added) scan();
  }).observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-stats', 'data-stats-refresh-ms'] });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') for (const g of groups.values()) refresh(g);
  });

  window.hiveStats = {
    /** Fetches and redraws the chart group `el` (a `[data-stats]` element) now. */
    refresh(el) {
      const g = groups.get(el);
      if (g) refresh(g);
    },
  };
  scan();
})();
