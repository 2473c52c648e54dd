/**
 * The dashboard's login page over HTTP, with real parts: a real core (in process, `process`
 * runtime), the real dashboard app, and the scripted model stand-in as the upstream, accepting only
 * the keys the test lists and refusing others with a 401 as the real API does. A bad key is refused
 * with the upstream's reason and nothing is kept; a good one is kept 0600, shown only masked, and
 * is what the gateway sends for an agent's next request; check again and log-out; an upstream that
 * cannot be asked keeps nothing; the stored credential beats the environment's until log-out; the
 * posts need the session's CSRF token.
 */
import { expect } from 'bun:test';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { Credentials, maskTail } from '../../src/core/gateway/credentials.ts';
import { isMainTurn, startModelServer, type ModelServer } from '../support/model-server.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('dashboard login', 'git');

const GOOD = 'sk-ant-api03-good-operator-key-0123456789-a1b2';
const BAD = 'sk-ant-api03-wrong-key-9999';
const TOKEN = 'sk-ant-oat01-setup-token-from-the-terminal-c3d4';
const ENV_KEY = 'sk-ant-api03-from-the-environment-e5f6';
const ORIGIN = 'http://localhost';

/** The keys the stand-in accepts now; a test revokes one by taking it out. */
const accepted = [GOOD, TOKEN, ENV_KEY];
let model: ModelServer;
/** A core with no credentials in its environment. */
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
/** A core started with ANTHROPIC_API_KEY, for precedence. */
let e: Awaited<ReturnType<typeof openTestHive>>;
let envTab: DashboardClient;

beforeAll(async () => {
  model = await startModelServer((req) => [{ type: 'text', text: isMainTurn(req.body) ? 'answered' : 'ok' }], { keys: accepted });
  t = await openTestHive({}, { ANTHROPIC_BASE_URL: model.url });
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
  e = await openTestHive({}, { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: ENV_KEY });
  envTab = await DashboardClient.open(createDashboard(e.hive), ORIGIN);
});
afterAll(async () => {
  await t?.close();
  await e?.close();
  await model?.close();
});

const file = () => t.hive.layout.credentialsFile;
const page = async (c: DashboardClient) => (await c.get('/login')).text();
const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger')!).toast as { text: string; ok: boolean };
/** The form's notice in an answer, its entities decoded. */
const notice = (html: string) =>
  (/<div id="login-notice"[^>]*>([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '').replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** A request the gateway forwards for `agent` (as its claude would send it), answered by the stand-in. */
async function agentRequest(hive: typeof t.hive, agent: string): Promise<Response> {
  const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  return hive.gateway.handle(agent, new Request('http://localhost/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'hive-gateway' }, body }));
}

describe('login: set the model credentials from the dashboard', () => {
  test('with no credentials, the chrome strip links to the login page, which says so', async () => {
    const home = await (await tab.get('/')).text();
    expect(home).toMatch(/<a href="\/login" id="login-link" class="login-link bad"[^>]*>▲ no model key<\/a>/);
    const res = await tab.get('/login');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<meta name="csrf-token" content="${tab.token}"`);
    expect(html).toContain('data-source="none"');
    expect(html).toContain('id="login-form"');
    expect(html).not.toContain('id="logout"');
  });

  test("a bad key is refused with the upstream's status and reason, in the form; nothing is stored", async () => {
    const res = await tab.post('/login', { secret: BAD, kind: 'auto' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(notice(html)).toContain('not kept: upstream 401: authentication_error: invalid x-api-key');
    expect(notice(html)).toContain('role="alert"');
    expect(toast(res)).toMatchObject({ ok: false });
    expect(html).not.toContain(BAD);
    expect(existsSync(file())).toBe(false);
    expect(t.hive.credentials.status().inUse).toBe('none');
    // the one check call reached the stand-in with that key, and was all that did
    const tried = model.refused.filter((r) => r.headers['x-api-key'] === BAD);
    expect(tried.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/messages/count_tokens']);
  });

  test('a malformed key is refused before any upstream call; so is an unknown kind', async () => {
    const before = model.refused.length + model.countTokens.length;
    for (const [form, reason] of [
      [{ secret: '   ' }, 'paste an API key'],
      [{ secret: 'two words' }, 'printable ASCII without spaces'],
      [{ secret: GOOD, kind: 'password' }, 'not a kind of credential'],
    ] as const) {
      const res = await tab.post('/login', form);
      expect(res.status).toBe(400);
      expect(notice(await res.text())).toContain(reason);
    }
    expect(model.refused.length + model.countTokens.length).toBe(before);
    expect(existsSync(file())).toBe(false);
  });

  test("a good key is checked, stored 0600 and shown only masked; an agent's next request carries it", async () => {
    const res = await tab.post('/login', { secret: `  ${GOOD}\n`, kind: 'auto' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(notice(html)).toContain(`API key ${maskTail(GOOD)} accepted (upstream 200: accepted)`);
    expect(toast(res)).toMatchObject({ ok: true });
    expect(html).not.toContain(GOOD);
    expect(html).toContain('data-source="stored"');
    expect(html).toContain('id="logout"');

    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toMatchObject({ kind: 'api_key', secret: GOOD, check: { ok: true, status: 200 } });
    expect(t.hive.credentials.status()).toMatchObject({ inUse: 'stored', stored: { kind: 'api_key', tail: '…a1b2', check: { ok: true } } });

    for (const path of ['/login', '/']) {
      const body = await (await tab.get(path)).text();
      expect(body).not.toContain(GOOD);
      expect(body).toContain('…a1b2');
    }
    expect(await (await tab.get('/')).text()).toMatch(/id="login-link" class="login-link"[^>]*>model key: API key …a1b2<\/a>/);

    // a real agent's turn, through its gateway socket, with no restart of the core
    await t.hive.lifecycle.spawn('alice');
    const m = t.hive.policy.send('operator', 'alice', 'hello');
    const turn = await waitFor("alice's turn", () => t.hive.turns.list({ agent: 'alice', limit: 20 }).find((x) => x.trigger_message_id === m.id && x.status !== 'running'), 60_000);
    expect(turn).toMatchObject({ status: 'ok', result: 'answered' });
    const seen = model.requests.filter((r) => isMainTurn(r.body));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.headers['x-api-key'] === GOOD)).toBe(true);
    const environ = await Bun.file(`/proc/${t.hive.registry.require('alice').pid!}/environ`).text();
    expect(environ).not.toContain(GOOD);
  });

  test('check again: a pass is recorded; a revoked key fails with the reason and stays in use', async () => {
    const ok = await tab.post('/login/check');
    expect(ok.status).toBe(200);
    expect(notice(await ok.text())).toContain('the credentials in use pass: upstream 200: accepted');

    accepted.splice(accepted.indexOf(GOOD), 1);
    try {
      const res = await tab.post('/login/check');
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(notice(html)).toContain('the credentials in use fail: upstream 401: authentication_error: invalid x-api-key');
      expect(html).toContain('✗ upstream 401');
      expect(t.hive.credentials.status()).toMatchObject({ inUse: 'stored', stored: { check: { ok: false, status: 401 } } });
      expect(JSON.parse(readFileSync(file(), 'utf8')).check).toMatchObject({ ok: false, status: 401 });
      expect(await (await tab.get('/')).text()).toMatch(/class="login-link bad"[^>]*>model key: API key …a1b2 ✗</);
    } finally {
      accepted.push(GOOD);
    }
  });

  test('a setup-token is sent as a bearer token with the OAuth beta, by its prefix', async () => {
    const res = await tab.post('/login', { secret: TOKEN, kind: 'auto' });
    expect(res.status).toBe(200);
    expect(notice(await res.text())).toContain(`setup-token ${maskTail(TOKEN)} accepted`);
    expect(t.hive.credentials.status().stored).toMatchObject({ kind: 'oauth_token', tail: '…c3d4' });
    const reply = await agentRequest(t.hive, 'alice');
    expect(reply.status).toBe(200);
    const last = model.requests.at(-1)!;
    expect(last.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(last.headers['x-api-key']).toBeUndefined();
    expect(last.headers['anthropic-beta']).toContain('oauth-2025-04-20');
  });

  test('the posts need the session\'s CSRF token and a same-origin Origin; a refused post changes nothing', async () => {
    const before = readFileSync(file(), 'utf8');
    const calls = model.refused.length + model.countTokens.length;
    for (const [path, o] of [
      ['/login', { token: false }],
      ['/login', { token: false, origin: null }],
      ['/login', { origin: 'http://evil.example' }],
      ['/login/check', { token: false }],
      ['/logout', { token: false }],
      ['/logout', { origin: 'http://evil.example' }],
    ] as const) {
      const res = await tab.post(path, { secret: GOOD }, o);
      expect(res.status).toBe(403);
    }
    expect(readFileSync(file(), 'utf8')).toBe(before);
    expect(model.refused.length + model.countTokens.length).toBe(calls);
  });

  test('a restarted core reads the stored credential back; a file it cannot use is ignored with the reason, and its mode is made 0600', () => {
    const opts = { file: file(), environment: {}, upstream: model.url, log: () => {} };
    expect(new Credentials(opts).current()).toEqual({ oauthToken: TOKEN });
    chmodSync(file(), 0o644);
    const logs: string[] = [];
    expect(new Credentials({ ...opts, log: (l) => logs.push(l) }).status()).toMatchObject({ inUse: 'stored', stored: { tail: '…c3d4' } });
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(logs.join('\n')).toContain('was mode 644');

    const saved = readFileSync(file(), 'utf8');
    try {
      writeFileSync(file(), '{ not json');
      const broken = new Credentials({ ...opts, environment: { apiKey: ENV_KEY } });
      expect(broken.current()).toEqual({ apiKey: ENV_KEY });
      expect(broken.status()).toMatchObject({ inUse: 'environment', fileError: expect.stringContaining('is ignored: it is not JSON') });
    } finally {
      writeFileSync(file(), saved, { mode: 0o600 });
    }
  });

  test("log-out removes the file; the gateway then has no credentials and says where to set them", async () => {
    const res = await tab.post('/logout');
    expect(res.status).toBe(200);
    expect(notice(await res.text())).toContain('logged out: the stored credential is removed; agents have no model credentials now');
    expect(existsSync(file())).toBe(false);
    expect(t.hive.credentials.status().inUse).toBe('none');
    const reply = await agentRequest(t.hive, 'alice');
    expect(reply.status).toBe(401);
    expect(((await reply.json()) as any).error.message).toContain("set them on the dashboard's login page (/login)");
    // nothing left to log out of, or to check
    expect((await tab.post('/logout')).status).toBe(409);
    const none = await tab.post('/login/check');
    expect(none.status).toBe(409);
    expect(notice(await none.text())).toContain('there are no model credentials to check');
  });
});

describe('login: an upstream that cannot be asked', () => {
  test('a closed port, or no answer in time: a failed check with no status and the reason; nothing is stored', async () => {
    const hung = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      for (const [upstream, reason] of [
        ['http://127.0.0.1:9', 'could not be asked'],
        [`http://127.0.0.1:${hung.port}`, 'no answer within 0.2 s'],
      ] as const) {
        const c = new Credentials({ file: `${t.dir}/unused.json`, environment: {}, upstream, log: () => {}, checkTimeoutMs: 200 });
        const check = await c.login(GOOD);
        expect(check).toMatchObject({ ok: false, status: null });
        expect(check.message).toContain(reason);
        expect(c.status().inUse).toBe('none');
        expect(existsSync(`${t.dir}/unused.json`)).toBe(false);
      }
    } finally {
      hung.stop(true);
    }
  });
});

describe('login: the stored credential and the environment', () => {
  test("with only the environment's key, the page shows it masked as in use, and the gateway sends it", async () => {
    await e.hive.lifecycle.spawn('bob', { start: false });
    const html = await page(envTab);
    expect(html).toContain('data-source="environment"');
    expect(html).toContain(`ANTHROPIC_API_KEY ${maskTail(ENV_KEY)}`);
    expect(html).not.toContain(ENV_KEY);
    expect(html).not.toContain('id="logout"');
    expect((await agentRequest(e.hive, 'bob')).status).toBe(200);
    expect(model.requests.at(-1)!.headers['x-api-key']).toBe(ENV_KEY);
    // check again works on the environment's credentials too (kept in memory)
    const res = await envTab.post('/login/check');
    expect(res.status).toBe(200);
    expect(e.hive.credentials.status().environmentCheck).toMatchObject({ ok: true, status: 200 });
  });

  test("a stored credential beats the environment's until log-out, which falls back to it", async () => {
    expect((await envTab.post('/login', { secret: GOOD, kind: 'api_key' })).status).toBe(200);
    const html = await page(envTab);
    expect(html).toContain('data-source="stored"');
    expect(html).toContain('used once you log out');
    expect((await agentRequest(e.hive, 'bob')).status).toBe(200);
    expect(model.requests.at(-1)!.headers['x-api-key']).toBe(GOOD);

    const out = await envTab.post('/logout');
    expect(out.status).toBe(200);
    expect(notice(await out.text())).toContain("the environment's are in use");
    expect((await agentRequest(e.hive, 'bob')).status).toBe(200);
    expect(model.requests.at(-1)!.headers['x-api-key']).toBe(ENV_KEY);
    expect(existsSync(e.hive.layout.credentialsFile)).toBe(false);
  });
});
