/** @jsxImportSource @kitajs/html */
import { expect } from 'bun:test';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { readSse } from '../support/sse.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core dashboard', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"`;
const ORIGIN = 'http://localhost';

beforeAll(async () => {
  t = await openTestHive({ 'no-manager': false });
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
  await t.hive.lifecycle.stop('manager');
  t.hive.policy.send('manager', 'operator', HOSTILE);
});
afterAll(() => t.close());

const post = (path: string, form: Record<string, string> | Array<[string, string]>, origin: string | null = ORIGIN) => tab.post(path, form, { origin });
const fragment = async (name: string) => (await app.handle(new Request(`${ORIGIN}/fragments/${name}`))).text();

describe('dashboard', () => {
  test('the page renders the swarm, flow and turns, with hostile text escaped', async () => {
    const res = await app.handle(new Request(ORIGIN + '/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toStartWith('<!doctype html>');
    expect(html).toContain('id="agent-manager"');
    expect(html).toContain('hm1nd');
    expect(html).toMatch(/hx-sse:connect="\/events\?after=\d+&seen=[0-9a-f]{8}\.\d+\.[0-9a-f]{8}"/);
    expect(html).toContain('unsandboxed');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });

  test("a page load shows the swarm table's rows as the fragment renders them, and a change to an agent at once", async () => {
    // ages ("12s") are left out: kept rows say what they said when rendered, and the page's script ticks them
    const ageless = (html: string) => html.replace(/(<time class="age"[^>]*>)[^<]*/g, '$1');
    const rows = async (html: string | Promise<string>) => ageless(/<tbody id="agents-body">([\s\S]*?)<\/tbody>/.exec(await html)![1]!);
    const page = async () => (await app.handle(new Request(ORIGIN + '/'))).text();
    const before = await rows(page());
    expect(before).toBe(ageless(await fragment('agents')));
    expect(before).not.toContain('rowmodel');
    // the rows are kept between changes; an agent's change is an event that makes them stale
    t.hive.registry.setModelOverride('manager', 'rowmodel');
    try {
      const after = await rows(page());
      expect(after).toContain('rowmodel');
      expect(after).toBe(ageless(await fragment('agents')));
    } finally {
      t.hive.registry.setModelOverride('manager', null);
    }
    expect(await rows(page())).not.toContain('rowmodel');
  });

  test("each load carries its own session's CSRF token in a page otherwise the same until something changes", async () => {
    const load = async () => {
      const res = await app.handle(new Request(ORIGIN + '/'));
      const html = await res.text();
      const token = /<meta name="csrf-token" content="([^"]+)"\/>/.exec(html)![1]!;
      return { html, token, cookie: res.headers.get('set-cookie') ?? '' };
    };
    const a = await load();
    const b = await load();
    // two sessions (no cookie sent): two tokens, each in its own cookie, and one token per page
    expect(a.token).not.toBe(b.token);
    expect(a.cookie).not.toBe('');
    expect(b.cookie).not.toBe(a.cookie);
    for (const p of [a, b]) expect(p.html.split(p.token)).toHaveLength(2);
    expect(b.html.replace(b.token, 'T')).toBe(a.html.replace(a.token, 'T'));
    // a message changes the page: it is in the flow, and the stream's starting point moves on
    const m = t.hive.policy.send('operator', 'manager', 'a page-changing message');
    const c = await load();
    expect(c.html).toContain('a page-changing message');
    expect(c.html).toContain(`/events?after=${m.id}&`);
    expect(c.html.replace(c.token, 'T')).not.toBe(a.html.replace(a.token, 'T'));
  });

  test('fragments render on their own', async () => {
    for (const f of ['agents', 'turns', 'flow', 'questions', 'approvals']) {
      const res = await app.handle(new Request(`${ORIGIN}/fragments/${f}`));
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain('<html');
    }
    const flow = await (await app.handle(new Request(`${ORIGIN}/fragments/flow?agent=nobody`))).text();
    expect(flow).toContain('no messages yet');
  });

  test('static files are served; anything else under /static is not', async () => {
    const ok = await app.handle(new Request(ORIGIN + '/static/htmx.min.js'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('javascript');
    for (const bad of ['/static/..%2Fpackage.json', '/static/nope.js', '/static/..%2F..%2Fetc%2Fpasswd']) {
      expect((await app.handle(new Request(ORIGIN + bad))).status).toBe(404);
    }
    // `%2e%2e` is normalised by the URL parser to `/`: the page, never a file outside static/
    const dots = await (await app.handle(new Request(ORIGIN + '/static/%2e%2e/package.json'))).text();
    expect(dots).not.toContain('"devDependencies"');
  });

  test('the operator sends a message; the toast names it', async () => {
    const res = await post('/send', { to: 'manager', body: 'hello manager' });
    expect(res.status).toBe(204);
    expect(JSON.parse(res.headers.get('hx-trigger')!)).toMatchObject({ toast: { ok: true } });
    expect(t.hive.broker.list({ agent: 'manager' }).at(-1)).toMatchObject({ from: 'operator', body: 'hello manager' });
  });

  test('bad sends get a clear error and store nothing', async () => {
    const before = t.hive.broker.lastId();
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ to: 'nobody', body: 'x' }, 404, /no agent named "nobody"/],
      [{ to: '../x', body: 'x' }, 400, /agent name/],
      [{ to: 'manager', body: '   ' }, 400, /empty/],
      [{ to: '', body: 'x' }, 400, /recipient/],
      [{ to: 'manager', body: 'x'.repeat(64 * 1024 + 1) }, 413, /limit is 65536/],
      [{ to: 'operator', body: 'note to self' }, 400, /cannot send a message to itself/],
    ];
    for (const [form, status, msg] of cases) {
      const res = await post('/send', form);
      expect(res.status).toBe(status);
      const text = await res.text();
      expect(text).toMatch(msg);
      expect(JSON.parse(res.headers.get('hx-trigger')!).toast).toMatchObject({ ok: false });
    }
    expect(t.hive.broker.lastId()).toBe(before);
  });

  test('cross-origin posts are refused', async () => {
    const res = await post('/send', { to: 'manager', body: 'csrf' }, 'http://evil.example');
    expect(res.status).toBe(403);
    expect(t.hive.broker.list({ agent: 'manager' }).some((m) => m.body === 'csrf')).toBe(false);
  });

  test('a state-changing request needs the session CSRF token: no token, a wrong one, or none with no Origin (curl) are refused', async () => {
    const sent = () => t.hive.broker.list({ agent: 'manager' }).filter((m) => m.body.startsWith('csrf-probe')).map((m) => m.body);
    const forged = (headers: Record<string, string>, body = 'to=manager&body=csrf-probe') =>
      app.handle(new Request(ORIGIN + '/send', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body }));
    // what curl sends: no Origin, no cookie, no token
    const curl = await forged({});
    expect(curl.status).toBe(403);
    expect(await curl.text()).toContain('no valid CSRF token');
    expect((await tab.post('/send', { to: 'manager', body: 'csrf-probe 1' }, { token: false })).status).toBe(403);
    expect((await tab.post('/send', { to: 'manager', body: 'csrf-probe 2' }, { headers: { 'x-csrf-token': 'x'.repeat(43) } })).status).toBe(403);
    // a token of another session
    const other = await DashboardClient.open(app, ORIGIN);
    expect((await tab.post('/send', { to: 'manager', body: 'csrf-probe 3' }, { headers: { 'x-csrf-token': other.token } })).status).toBe(403);
    expect(sent()).toEqual([]);
    // the page's own requests: the header, or the form field of a plain form; with or without Origin
    expect((await tab.post('/send', { to: 'manager', body: 'csrf-probe ok header' }, { origin: null })).status).toBe(204);
    expect((await forged({ cookie: tab.cookie }, `to=manager&body=csrf-probe+ok+field&_csrf=${tab.token}`)).status).toBe(204);
    expect(sent()).toEqual(['csrf-probe ok header', 'csrf-probe ok field']);
  });

  test('a foreign Host is refused on every route (DNS rebinding), even with a matching Origin and a valid token', async () => {
    const evil = 'evil.test:7000';
    const get = await app.handle(new Request(ORIGIN + '/', { headers: { host: evil } }));
    expect(get.status).toBe(403);
    expect(await get.text()).toContain('does not answer to the host "evil.test:7000"');
    expect((await app.handle(new Request(ORIGIN + '/events', { headers: { host: evil } }))).status).toBe(403);
    expect((await app.handle(new Request(ORIGIN + '/agents/manager/page/', { headers: { host: evil } }))).status).toBe(403);
    const post = await tab.post('/send', { to: 'manager', body: 'rebound' }, { origin: `http://${evil}`, headers: { host: evil } });
    expect(post.status).toBe(403);
    expect(t.hive.broker.list({ agent: 'manager' }).some((m) => m.body === 'rebound')).toBe(false);
    // loopback names are fine
    for (const host of ['localhost:7000', '127.0.0.1:7000', '[::1]:7000', '127.0.0.2'])
      expect((await app.handle(new Request(ORIGIN + '/fragments/alerts', { headers: { host } }))).status).toBe(200);
  });

  test("an agent's page is served under the dashboard: an unknown agent is 404, an offline one says so", async () => {
    expect((await tab.get('/agents/nobody/page/')).status).toBe(404);
    const offline = await tab.get('/agents/manager/page/');
    expect(offline.status).toBe(503);
    expect(await offline.text()).toContain('the page of manager is not being served');
    // a browser opening it gets a page with the agent's state and why, following its status
    const opened = await tab.get('/agents/manager/page/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' });
    expect(opened.status).toBe(503);
    expect(opened.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await opened.text();
    expect(html).toContain('data-state="offline"');
    expect(html).toContain('hm1nd is stopped; start it from the dashboard to send it a message');
    expect(html).toContain('<a href="/">back to the dashboard</a>');
    expect(html).toContain('<script src="/static/agent-offline.js" defer></script>');
    // anything else there is still refused
    expect((await tab.get('/agents/manager/page/healthz', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })).status).toBe(503);
    const bare = await tab.get('/agents/manager/page');
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/agents/manager/page/');
  });

  test("an agent's page round trip through the dashboard: the page carries the session token; its prompt posts through the proxy; a forged post does not", async () => {
    await t.hive.lifecycle.spawn('pager');
    // the harness says hello first and opens its page right after
    const page = await waitFor('pager to serve its page', async () => {
      const r = await tab.get('/agents/pager/page/');
      return r.status === 200 ? r.text() : null;
    });
    expect(page).toContain(`<meta name="csrf-token" content="${tab.token}"`);
    expect(page).toContain('hx-post="send"');
    expect(page).toContain('hx-sse:connect="events?after=');
    // the page's stream passes through as it comes
    const stream = await tab.get('/agents/pager/page/events');
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('id="state"');
    await reader.cancel();
    const sent = await tab.post('/agents/pager/page/send', { body: 'through the proxy' });
    expect(sent.status).toBe(204);
    const id = Number(/#(\d+)/.exec(JSON.parse(sent.headers.get('hx-trigger')!).toast.text)![1]);
    expect(JSON.parse(sent.headers.get('hx-trigger')!).toast.text).toMatch(/^queued as message #\d+$/);
    expect(t.hive.broker.list({ agent: 'pager' }).some((m) => m.from === 'operator' && m.body === 'through the proxy')).toBe(true);
    expect((await tab.post('/agents/pager/page/send', { body: 'forged' }, { token: false, origin: null })).status).toBe(403);
    expect(t.hive.broker.list({ agent: 'pager' }).some((m) => m.body === 'forged')).toBe(false);
    // its turn (refused by the gateway: this core has no credentials) ends before it goes
    await waitFor("pager's turn", () => t.hive.turns.list({ agent: 'pager' }).find((x) => x.trigger_message_id === id && x.status !== 'running'));
    await t.hive.lifecycle.destroy('pager');
    t.hive.kept.purge('pager');
  });

  test('operator questions render as the form they ask for, with hostile text escaped', async () => {
    expect(await fragment('questions')).toContain('no pending questions');
    const free = t.hive.policy.askOperator(`free ${HOSTILE}`);
    const radio = t.hive.policy.askOperator('which db?', ['postgres', HOSTILE]);
    const boxes = t.hive.policy.askOperator('which regions?', ['eu', 'us', 'ap'], true);
    const html = await fragment('questions');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain(`hx-post="/questions/${free.id}/answer"`);
    const form = (id: number) => html.slice(html.indexOf(`id="question-${id}"`)).split('</form>')[0]!;
    expect(form(free.id)).toContain('<textarea name="text"');
    expect(form(radio.id)).toContain('type="radio" name="choice" value="0"');
    expect(form(radio.id)).toContain('<span>&lt;script&gt;alert(&quot;x&quot;)');
    expect(form(boxes.id).match(/type="checkbox"/g)).toHaveLength(3);
    // the page carries the same section
    expect(await (await app.handle(new Request(ORIGIN + '/'))).text()).toContain(`id="question-${boxes.id}"`);
  });

  test('answering from the dashboard: text, one choice, several; wrong answers are refused and keep the question', async () => {
    const [free, radio, boxes] = t.hive.questions.listFor('operator');
    expect((await post(`/questions/${radio!.id}/answer`, [['choice', '7']])).status).toBe(400);
    expect((await post(`/questions/${radio!.id}/answer`, [['choice', 'postgres']])).status).toBe(400);
    expect((await post(`/questions/${radio!.id}/answer`, [['choice', '0'], ['choice', '1']])).status).toBe(400);
    expect((await post(`/questions/${radio!.id}/answer`, [])).status).toBe(400);
    expect((await post(`/questions/${free!.id}/answer`, { text: '  ' })).status).toBe(400);
    expect(t.hive.questions.listFor('operator')).toHaveLength(3);

    const r1 = await post(`/questions/${free!.id}/answer`, { text: 'ship it' });
    expect(r1.status).toBe(204);
    expect(JSON.parse(r1.headers.get('hx-trigger')!).toast).toMatchObject({ ok: true });
    expect((await post(`/questions/${radio!.id}/answer`, [['choice', '1']])).status).toBe(204);
    expect(t.hive.questions.get(radio!.id).answer).toEqual({ choices: [HOSTILE] });
    expect((await post(`/questions/${boxes!.id}/answer`, [['choice', '0'], ['choice', '2']])).status).toBe(204);
    expect(t.hive.questions.get(boxes!.id).answer).toEqual({ choices: ['eu', 'ap'] });
    const inbox = t.hive.broker.list({ agent: 'manager' }).filter((m) => m.kind === 'answer');
    expect(inbox.map((m) => m.ref)).toEqual([free!.id, radio!.id, boxes!.id]);
    expect(inbox[2]!.body).toContain('choices: eu, ap');
    expect(await fragment('questions')).toContain('no pending questions');

    expect((await post(`/questions/${free!.id}/answer`, { text: 'again' })).status).toBe(409);
    expect((await post('/questions/99999/answer', { text: 'x' })).status).toBe(404);
    expect((await post('/questions/abc/answer', { text: 'x' })).status).toBe(400);
    expect((await post(`/questions/${free!.id}/answer`, { text: 'x' }, 'http://evil.example')).status).toBe(403);
  });

  test('a checkbox question submitted with nothing ticked is refused and stays open', async () => {
    const q = t.hive.policy.askOperator('which zones?', ['a', 'b'], true);
    try {
      for (const form of [[], [['choice', '']]] as Array<Array<[string, string]>>) {
        const res = await post(`/questions/${q.id}/answer`, form);
        expect(res.status).toBe(400);
        expect(await res.text()).toContain(`tick at least one choice to answer question #${q.id}`);
        expect(JSON.parse(res.headers.get('hx-trigger')!).toast).toMatchObject({ ok: false });
      }
      expect(t.hive.questions.get(q.id).answer).toBeNull();
      expect(t.hive.questions.listFor('operator').map((x) => x.id)).toContain(q.id);
      expect((await post(`/questions/${q.id}/answer`, [['choice', '1']])).status).toBe(204);
      expect(t.hive.questions.get(q.id).answer).toEqual({ choices: ['b'] });
    } finally {
      t.hive.db.query('DELETE FROM questions WHERE id = ?').run(q.id);
    }
  });

  test('every error answer has a content type: a page linking back to / for a navigation, the toast for htmx', async () => {
    const navigate = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };
    const paths = ['/repos/gone', '/repos/gone/commit/abcdef0', '/repos/..%2Fx', '/no/such/route', '/static/nope.js', '/agents/gone/page/'];
    for (const path of paths) {
      const page = await tab.get(path, navigate);
      expect(page.status).toBeGreaterThanOrEqual(400);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await page.text();
      expect(html).toStartWith('<!doctype html>');
      expect(html).toContain('<a href="/">');
      const htmx = await tab.get(path, { 'hx-request': 'true' });
      expect(htmx.status).toBe(page.status);
      expect(htmx.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(JSON.parse(htmx.headers.get('hx-trigger')!).toast).toMatchObject({ ok: false, text: await htmx.text() });
    }
    const gone = await (await tab.get('/repos/gone', navigate)).text();
    expect(gone).toContain('agent &quot;gone&quot; has no applied config repo');
    // a refused post (foreign Origin) and a failed action are typed too
    const refused = await post('/send', { to: 'manager', body: 'x' }, 'http://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const failed = await post('/send', { to: 'nobody', body: 'x' });
    expect(failed.status).toBe(404);
    expect(failed.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const foreign = await app.handle(new Request('http://evil.example/', { headers: navigate }));
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  test('a questions read failure is shown as an error, never as "no pending questions"', async () => {
    const q = t.hive.policy.askOperator('will this render?');
    t.hive.db.query('UPDATE questions SET options = ? WHERE id = ?').run('{not json', q.id);
    try {
      const html = await fragment('questions');
      expect(html).toContain('role="alert"');
      expect(html).toContain(`questions could not be read: question #${q.id} has damaged options`);
      expect(html).not.toContain('no pending questions');
      expect(await (await app.handle(new Request(ORIGIN + '/'))).text()).toContain('questions could not be read');
    } finally {
      t.hive.db.query('DELETE FROM questions WHERE id = ?').run(q.id);
    }
  });

  test('approvals: approve carries out a spawn, deny records it, both tell the manager', async () => {
    const a = t.hive.gate.requestSpawn('manager', 'zoe');
    const b = t.hive.gate.requestSpawn('manager', 'yan');
    let html = await fragment('approvals');
    expect(html).toContain(`hx-post="/approvals/${a.id}/approve"`);
    expect(html).toContain('spawn zoe');
    expect((await post(`/approvals/${a.id}/approve`, {}, 'http://evil.example')).status).toBe(403);

    const denied = await post(`/approvals/${b.id}/deny`, { reason: 'not now' });
    expect(denied.status).toBe(204);
    expect(t.hive.approvals.get(b.id)).toMatchObject({ status: 'denied', note: 'not now' });

    const ok = await post(`/approvals/${a.id}/approve`, {});
    expect(ok.status).toBe(204);
    expect(t.hive.approvals.get(a.id).status).toBe('deployed');
    expect(t.hive.registry.get('zoe')).toBeDefined();
    await t.hive.lifecycle.stop('zoe');
    expect((await post(`/approvals/${a.id}/approve`, {})).status).toBe(409);
    expect((await post(`/approvals/${a.id}/explode`, {})).status).toBe(404);

    html = await fragment('approvals');
    expect(html).toContain('no pending approvals');
    expect(html).toMatch(/spawn zoe \(default config\)<\/span> <span class="badge deployed"/);
    expect(html).toMatch(/proposal\/\d+ → approved\/\d+ → building\/\d+ → deployed\/\d+/);
    const notices = t.hive.broker.list({ agent: 'manager' }).filter((m) => m.kind === 'notice').map((m) => m.body);
    expect(notices).toEqual(expect.arrayContaining([expect.stringContaining(`approval #${b.id} (spawn yan) was denied: not now`)]));
    expect(notices).toEqual(expect.arrayContaining([expect.stringContaining(`approval #${a.id} (spawn zoe) was approved and done`)]));
  });

  test('an apply approval shows its diff coloured and its hostile commit subject escaped; building lines stream', async () => {
    await t.hive.lifecycle.start('zoe');
    const repo = `${t.dir}/proposed/zoe/config`;
    await Bun.write(`${repo}/agent.toml`, 'prompt = "<script>alert(1)</script>"\n');
    const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: repo }).stdout.toString().trim();
    git('commit', '-qam', '<img src=x onerror=alert(1)> tweak');
    const a = await t.hive.gate.requestApplyCommit('manager', 'zoe', git('rev-parse', 'HEAD'));
    const html = await fragment('approvals');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; tweak');
    expect(html).not.toContain('<img');
    expect(html).toContain('<span class="add">+prompt = &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n</span>');
    expect(html).not.toContain('<script>alert');
    expect(html).toMatch(/<span class="del">-# agent\.toml of zoe/);
    // the SSE stream carries each rebuild line as it happens
    const sse = readSse(await app.handle(new Request(ORIGIN + '/events')));
    const approving = post(`/approvals/${a.id}/approve`, {});
    await sse.until('up: the harness said hello');
    await sse.cancel();
    const text = sse.text;
    expect((await approving).status).toBe(204);
    expect(text).toMatch(/hx-partial hx-target="#builds" hx-swap="beforeend">.*rebuild of zoe \(approval #\d+\)/);
    expect(text).toContain('stopping the running sandbox');
    // and a page loaded afterwards shows the recent output
    expect(await (await app.handle(new Request(ORIGIN + '/'))).text()).toContain('up: the harness said hello');
  });

  test('the config-repo browser: tags and log, a commit diff, raw agent.toml at a tag, the deploy log; bad refs refused', async () => {
    const get = (path: string) => app.handle(new Request(ORIGIN + path));
    const page = await (await get('/repos/zoe')).text();
    const deployed = t.hive.approvals.list(true).find((a) => a.agent === 'zoe' && a.kind === 'apply_commit' && a.status === 'deployed')!;
    expect(page).toContain(`deployed/${deployed.id}`);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; tweak (approval #');
    expect(page).not.toContain('<img');
    const commit = await (await get(`/repos/zoe/commit/${deployed.applied_commit}`)).text();
    expect(commit).toContain('<span class="add">+prompt = &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n</span>');
    const raw = await get(`/repos/zoe/file/deployed/${deployed.id}`);
    expect(raw.headers.get('content-type')).toContain('text/plain');
    expect(await raw.text()).toBe('prompt = "<script>alert(1)</script>"\n');
    expect(await (await get('/repos/zoe/file/HEAD')).text()).toBe('prompt = "<script>alert(1)</script>"\n');
    const deploys = await (await get('/deploys')).text();
    expect(deploys).toContain(`zoe: approval #${deployed.id} deployed`);
    expect(deploys).toContain('href="/repos/zoe"');
    expect((await get('/repos/nobody')).status).toBe(404);
    expect((await get('/repos/..%2F..%2Fetc')).status).toBe(400);
    expect((await get('/repos/zoe/commit/HEAD~1')).status).toBe(400);
    expect((await get('/repos/zoe/commit/deadbeef00')).status).toBe(404);
    expect((await get('/repos/zoe/file/deployed/..%2F..%2Fx')).status).toBe(400);
    expect((await get('/repos/zoe/file/deployed/99999')).status).toBe(404);
  });

  test('agent actions: stop, start, restart, rebuild; unknown actions and agents are refused', async () => {
    expect(await fragment('agents')).toContain('hx-post="/agents/zoe/rebuild"');
    expect((await post('/agents/zoe/stop', {})).status).toBe(204);
    expect(t.hive.registry.get('zoe')).toMatchObject({ desired: 'stopped', status: 'offline' });
    expect((await post('/agents/zoe/start', {})).status).toBe(204);
    expect(t.hive.registry.get('zoe')!.desired).toBe('running');
    const r = await post('/agents/zoe/rebuild', {});
    expect(r.status).toBe(204);
    expect(r.headers.get('hx-trigger')).toContain('zoe: rebuilt, up');
    expect(t.hive.registry.get('zoe')!.status).toBe('idle');
    expect((await post('/agents/zoe/explode', {})).status).toBe(404);
    expect((await post('/agents/nobody/restart', {})).status).toBe(404);
    expect((await post('/agents/zoe/stop', {}, 'http://evil.example')).status).toBe(403);
    await t.hive.lifecycle.stop('zoe');
  });

  test('destroy and purge take two clicks: the first answers with a confirmation form, only that acts', async () => {
    await t.hive.lifecycle.spawn('vic', { start: false });
    expect(await fragment('agents')).toContain('hx-post="/agents/vic/destroy"');
    expect(await fragment('agents')).not.toContain('hx-post="/agents/manager/destroy"');
    const first = await post('/agents/vic/destroy', {});
    expect(first.status).toBe(200);
    const form = await first.text();
    expect(form).toContain('<form class="confirm" hx-post="/agents/vic/destroy" hx-swap="none"><input type="hidden" name="confirm" value="1"/>');
    expect(form).toContain('destroy vic? click to confirm');
    expect(t.hive.registry.has('vic')).toBe(true); // nothing happened yet
    expect((await post('/agents/vic/destroy', { confirm: '1' }, 'http://evil.example')).status).toBe(403);
    const second = await post('/agents/vic/destroy', { confirm: '1' });
    expect(second.status).toBe(204);
    expect(second.headers.get('hx-trigger')).toContain('destroyed vic; its state is kept');
    expect(t.hive.registry.has('vic')).toBe(false);
    expect((await post('/agents/nobody/destroy', { confirm: '1' })).status).toBe(404);
    expect((await post('/agents/manager/destroy', { confirm: '1' })).status).toBe(403);

    expect(await fragment('kept')).toContain('hx-post="/kept/vic/purge"');
    expect(await (await post('/kept/vic/purge', {})).text()).toContain('purge vic? click to confirm');
    expect(t.hive.kept.list().map((k) => k.name)).toContain('vic');
    expect((await post('/kept/vic/purge', { confirm: '1' })).status).toBe(204);
    expect(t.hive.kept.list().map((k) => k.name)).not.toContain('vic');
    expect(await fragment('kept')).toContain('no kept state');
    expect((await post('/kept/vic/purge', { confirm: '1' })).status).toBe(404);
    expect((await post('/kept/..%2Fetc/purge', { confirm: '1' })).status).toBe(400);
  });

  test('the model switch: set, shown, reset; a bad name is refused', async () => {
    expect((await post('/agents/manager/model', { model: 'sonnet' })).status).toBe(204);
    expect(t.hive.registry.get('manager')).toMatchObject({ model: 'sonnet', model_override: 'sonnet' });
    expect(await fragment('agents')).toContain('value="sonnet"');
    expect((await post('/agents/manager/model', { model: 'x y<z>' })).status).toBe(400);
    expect((await post('/agents/nobody/model', { model: 'opus' })).status).toBe(404);
    expect((await post('/agents/manager/model', { reset: '1' })).status).toBe(204);
    expect(t.hive.registry.get('manager')).toMatchObject({ model: 'haiku', model_override: null });
  });

  test('a name or value outside Latin-1 is refused with a readable toast on every action route, never a 500', async () => {
    for (const name of ['Ωmega', '名前', 'bob😀']) {
      const n = encodeURIComponent(name);
      const cases: Array<[string, Record<string, string>]> = [
        [`/agents/${n}/start`, {}],
        [`/agents/${n}/stop`, {}],
        [`/agents/${n}/restart`, {}],
        [`/agents/${n}/rebuild`, {}],
        [`/agents/${n}/destroy`, { confirm: '1' }],
        [`/kept/${n}/purge`, { confirm: '1' }],
        [`/agents/${n}/model`, { model: 'opus' }],
        ['/agents/manager/model', { model: name }],
        ['/send', { to: name, body: 'hello' }],
      ];
      for (const [path, form] of cases) {
        const res = await post(path, form);
        expect([400, 404]).toContain(res.status);
        const header = res.headers.get('hx-trigger')!;
        expect(header).toMatch(/^[\x20-\x7e]*$/);
        const toast = JSON.parse(header).toast;
        expect(toast.ok).toBe(false);
        expect(toast.text).toContain(name);
        expect(await res.text()).toBe(toast.text);
      }
    }
    expect(t.hive.registry.get('manager')!.model).toBe('haiku');
  });

  test('the SSE stream catches up, then carries new messages as htmx partials on one line each', async () => {
    const first = t.hive.policy.send('operator', 'manager', 'before connect');
    const res = await app.handle(new Request(ORIGIN + '/events', { headers: { 'last-event-id': String(first.id - 1) } }));
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const sse = readSse(res);
    await sse.until('before connect');
    expect(sse.text).toContain('hx-target="#agents-body"');
    expect(sse.text).toContain(`id: ${first.id}`);
    const listeners = t.hive.bus.size;
    const m = t.hive.policy.send('operator', 'manager', 'line one\nline two <b>bold</b>');
    await sse.until(`id: ${m.id}`);
    await sse.until('line two');
    const frame = sse.text.slice(sse.text.indexOf(`id: ${m.id}`));
    const dataLines = frame.split('\n\n')[0]!.split('\n').filter((l) => l.startsWith('data: '));
    expect(dataLines).toHaveLength(1);
    expect(dataLines[0]).toContain('line one&#10;line two &lt;b&gt;bold&lt;/b&gt;');
    await sse.cancel();
    await waitFor('the closed stream to leave the bus', () => t.hive.bus.size === listeners - 1, 4_000);
  });
});
