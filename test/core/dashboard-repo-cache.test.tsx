/** @jsxImportSource @kitajs/html */
import { expect } from 'bun:test';
import { gitSpawnCount } from '../../src/core/configs/git.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { RepoCache } from '../../src/core/dashboard/repo-cache.ts';
import { openTestHive } from '../support/hive.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('dashboard repo cache', 'git');

const ORIGIN = 'http://localhost';
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
/** Ids of the approvals the tests make, by what they are. */
const ids = { one: 0, boDenied: 0 };

beforeAll(async () => {
  t = await openTestHive();
  await t.hive.lifecycle.spawn('ana', { start: false });
  await t.hive.lifecycle.spawn('bo', { start: false });
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
});
afterAll(async () => {
  await reader?.cancel();
  await t.close();
});

/** Commits `text` as `name`'s agent.toml in its proposed repo and asks to apply it. */
async function propose(name: string, text: string) {
  const repo = `${t.dir}/proposed/${name}/config`;
  await Bun.write(`${repo}/agent.toml`, text);
  const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: repo }).stdout.toString().trim();
  git('commit', '-qam', 'tweak');
  return t.hive.gate.requestApplyCommit('operator', name, git('rev-parse', 'HEAD'));
}

/** The whole page, as an operator's load gets it. */
async function page(): Promise<string> {
  const res = await tab.get('/');
  expect(res.status).toBe(200);
  return res.text();
}

/** The part of `html` around approval `id`'s first mention (its form or its tag chain). */
function approvalHtml(html: string, id: number): string {
  const start = html.search(new RegExp(`(/approvals/${id}/|proposal/${id}\\b)`));
  if (start < 0) return '';
  return html.slice(Math.max(0, start - 2000), start + 4000);
}

describe('the dashboard reads the config repos once per change', () => {
  test('after warm-up, a page load, a fragment and a live update run no git', async () => {
    const a = await propose('ana', 'prompt = "one"\n');
    const d = await propose('bo', 'prompt = "bo one"\n');
    ids.one = a.id;
    ids.boDenied = d.id;
    await t.hive.gate.deny(d.id, 'no');
    const warm = await page();
    expect(warm).toContain('<span class="add">+prompt = &quot;one&quot;');
    expect(warm).toContain(`proposal/${d.id} → denied/${d.id}`);
    const before = gitSpawnCount();
    const again = await page();
    expect(again).toContain('<span class="add">+prompt = &quot;one&quot;');
    expect(again).toContain(`proposal/${d.id} → denied/${d.id}`);
    expect((await tab.get('/fragments/approvals')).status).toBe(200);
    expect(gitSpawnCount()).toBe(before);

    // a live stream: its catch-up, then an approvals re-render on a drafts change (no git in it)
    const res = await app.handle(new Request(ORIGIN + '/events'));
    reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const until = async (ok: (s: string) => boolean) => {
      while (!ok(text)) {
        const { value, done } = await reader!.read();
        if (done) throw new Error('the stream ended');
        text += dec.decode(value, { stream: true });
      }
    };
    const approvalsPartials = () => text.split('\n').filter((l) => l.startsWith('data: <hx-partial hx-target="#approvals-body"'));
    await until(() => approvalsPartials().length === 1);
    t.hive.drafts.add('cy', 'operator');
    t.hive.broker.send('operator', 'ana', 'hello');
    await until(() => approvalsPartials().length === 2 && text.includes('hello'));
    expect(approvalsPartials()[1]).toContain('cy');
    expect(approvalsPartials()[1]).toContain('+prompt = &quot;one&quot;');
    expect(gitSpawnCount()).toBe(before);
  });

  test('after deny and approve, the next page shows the new state, and other pending diffs follow the new head', async () => {
    const [first, second] = [await propose('ana', 'prompt = "two"\n'), await propose('ana', 'prompt = "three"\n')];
    await page(); // fills the cache with both pending diffs against the current head
    expect((await tab.post(`/approvals/${ids.one}/deny`, { reason: 'no' })).status).toBe(204);
    let html = await page();
    expect(html).toContain(`proposal/${ids.one} → denied/${ids.one}`);
    expect(html).not.toContain(`/approvals/${ids.one}/approve`);

    expect((await t.hive.gate.approve(first.id)).status).toBe('deployed');
    html = await page();
    expect(html).toContain(`proposal/${first.id} → approved/${first.id} → building/${first.id} → deployed/${first.id}`);
    expect(html).not.toContain(`/approvals/${first.id}/approve`);
    // the other pending change of ana is now shown against the deployed "two", not the old head
    const other = approvalHtml(html, second.id);
    expect(other).toContain('<span class="del">-prompt = &quot;two&quot;');
    expect(other).toContain('<span class="add">+prompt = &quot;three&quot;');
  });

  test('tag retention and a destroy are shown at the next load', async () => {
    const deployed = t.hive.approvals.list(true).find((x) => x.agent === 'ana' && x.status === 'deployed')!;
    expect(await page()).toContain(`proposal/${deployed.id} → approved/${deployed.id} → building/${deployed.id} → deployed/${deployed.id}`);
    const removed = await t.hive.retention.run();
    expect(removed.ana).toContain(`proposal/${deployed.id}`);
    const html = await page();
    expect(html).not.toContain(`proposal/${deployed.id} → approved/${deployed.id}`);
    expect(html).toContain(`deployed/${deployed.id}`);

    const pending = t.hive.approvals.list().find((x) => x.agent === 'ana')!;
    expect(approvalHtml(await page(), pending.id)).toContain('+prompt = &quot;three&quot;');
    const before = gitSpawnCount();
    await page();
    expect(gitSpawnCount()).toBe(before);
    await t.hive.lifecycle.destroy('bo');
    await t.hive.kept.purge('bo');
    expect(await page()).not.toContain(`denied/${ids.boDenied}`);
  });
});

/** A GET as an operator's load gets it: its status and body. */
async function load(path: string): Promise<{ status: number; body: string }> {
  const res = await tab.get(path);
  return { status: res.status, body: await res.text() };
}

/** A GET that must answer 200; its body. */
async function html(path: string): Promise<string> {
  const r = await load(path);
  expect(r.status, `${path}: ${r.body.slice(0, 200)}`).toBe(200);
  return r.body;
}

/** How many git processes `fn` started. */
async function gitDuring(fn: () => Promise<unknown>): Promise<number> {
  const before = gitSpawnCount();
  await fn();
  return gitSpawnCount() - before;
}

describe('the repo browser reads git once per change', () => {
  /** The approval id of cid's first deploy. */
  const cid = { first: 0 };

  test('warm loads of every repo-browser route run no git', async () => {
    await t.hive.lifecycle.spawn('cid', { start: false });
    const first = await propose('cid', 'prompt = "cid one"\n');
    expect((await t.hive.gate.approve(first.id)).status).toBe('deployed');
    cid.first = first.id;
    await t.hive.gate.deny((await propose('cid', 'prompt = "cid no"\n')).id, 'no');
    const [head, parent] = await t.hive.repos.log('cid', 2);
    const paths = [
      '/repos/cid',
      `/repos/cid/commit/${head!.sha}`,
      `/repos/cid/commit/${parent!.sha.slice(0, 12)}`,
      '/repos/cid/file/HEAD',
      `/repos/cid/file/deployed/${first.id}`,
      `/repos/cid/file/${parent!.sha}`,
      '/deploys',
    ];
    const cold = new Map<string, string>();
    for (const p of paths) cold.set(p, await html(p));
    expect(cold.get('/repos/cid')).toContain(`denied/`);
    expect(cold.get(`/repos/cid/commit/${head!.sha}`)).toContain('+prompt = &quot;cid one&quot;');
    expect(cold.get('/repos/cid/file/HEAD')).toBe('prompt = "cid one"\n');
    expect(cold.get('/deploys')).toContain(`cid: approval #${first.id} deployed`);

    const warm = new Map<string, string>();
    expect(await gitDuring(async () => {
      for (const p of paths) warm.set(p, await html(p));
    })).toBe(0);
    for (const p of paths) expect(warm.get(p)).toBe(cold.get(p)!);
    // concurrent loads, and a name with no repo, run none either
    expect(await gitDuring(() => Promise.all(paths.map(html)))).toBe(0);
    expect(await gitDuring(async () => expect((await load('/repos/nobody')).status).toBe(404))).toBe(0);
  });

  test('after a request, a deny, a deploy, a rollback, retention, a destroy and a purge, the next load shows it', async () => {
    const fill = () => Promise.all(['/repos/cid', '/repos/cid/file/HEAD', '/deploys'].map(html));
    await fill();
    const asked = await propose('cid', 'prompt = "cid maybe"\n');
    expect(await html('/repos/cid')).toContain(`proposal/${asked.id}`);
    await fill();
    await t.hive.gate.deny(asked.id, 'no');
    expect(await html('/repos/cid')).toContain(`denied/${asked.id}`);

    const second = await propose('cid', 'prompt = "cid two"\n');
    await fill();
    expect((await t.hive.gate.approve(second.id)).status).toBe('deployed');
    const head = (await t.hive.repos.head('cid'))!;
    let page = await html('/repos/cid');
    expect(page).toContain(`head ${head.slice(0, 12)}`);
    expect(page).toContain(`deployed/${second.id}`);
    expect(page).toContain(`(approval #${second.id})`);
    expect(await html('/repos/cid/file/HEAD')).toBe('prompt = "cid two"\n');
    expect(await html('/deploys')).toContain(`cid: approval #${second.id} deployed (${head.slice(0, 12)})`);

    // a rollback from the page's own button, then its approval
    await fill();
    expect((await tab.post(`/repos/cid/rollback/${cid.first}`)).status).toBe(204);
    const back = t.hive.approvals.list().find((a) => a.agent === 'cid')!;
    expect(await html('/repos/cid')).toContain(`proposal/${back.id}`);
    await fill();
    expect((await t.hive.gate.approve(back.id)).status).toBe('deployed');
    page = await html('/repos/cid');
    expect(page).toContain(`deployed/${back.id}`);
    expect(page).toContain(`head ${(await t.hive.repos.head('cid'))!.slice(0, 12)}`);
    expect(await html('/repos/cid/file/HEAD')).toBe('prompt = "cid one"\n');
    expect(await html('/deploys')).toContain(`cid: approval #${back.id} deployed`);

    // retention drops proposal/<id> once the approval is deployed: the page and the file by tag follow
    expect(await html(`/repos/cid/file/proposal/${second.id}`)).toBe('prompt = "cid two"\n');
    expect(await html('/repos/cid')).toContain(`proposal/${second.id}`);
    const removed = await t.hive.retention.run();
    expect(removed.cid).toContain(`proposal/${second.id}`);
    expect(await html('/repos/cid')).not.toContain(`proposal/${second.id}`);
    expect((await load(`/repos/cid/file/proposal/${second.id}`)).status).toBe(404);

    // destroy keeps the applied repo and writes the deploy log; purge removes the repo
    const commit = `/repos/cid/commit/${(await t.hive.repos.head('cid'))!}`;
    await Promise.all([fill(), html(commit)]);
    await t.hive.lifecycle.destroy('cid');
    expect(await html('/deploys')).toContain('cid: destroyed (state kept)');
    expect(await html('/repos/cid')).toContain(`deployed/${back.id}`);
    await html(commit);
    await t.hive.kept.purge('cid');
    for (const p of ['/repos/cid', commit, '/repos/cid/file/HEAD']) expect((await load(p)).status).toBe(404);
  });

  test('commit diffs and files are kept by commit id in an LRU bounded by entries and bytes', async () => {
    await t.hive.lifecycle.spawn('dee', { start: false });
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const a = await propose('dee', `prompt = "dee ${i}"\n${'# padding\n'.repeat(i * 20)}`);
      expect((await t.hive.gate.approve(a.id)).status).toBe('deployed');
      last = a.id;
    }
    const log = await t.hive.repos.log('dee', 10);
    expect(log.length).toBe(6);

    const byCount = new RepoCache(t.hive.repos, t.hive.bus, { maxEntries: 3 });
    for (const c of log) await byCount.commitDiff('dee', c.sha);
    expect(byCount.stats().texts).toBe(3);
    expect(await gitDuring(() => byCount.commitDiff('dee', log[5]!.sha))).toBe(0);
    expect(await gitDuring(() => byCount.commitDiff('dee', log[0]!.sha))).toBeGreaterThan(0);
    expect(byCount.stats().texts).toBe(3);

    const sizes = await Promise.all(log.map(async (c) => (await t.hive.repos.commitDiff('dee', c.sha)).length * 2));
    const maxBytes = Math.ceil(Math.max(...sizes) * 2.5);
    const byBytes = new RepoCache(t.hive.repos, t.hive.bus, { maxBytes });
    for (const c of log) {
      await byBytes.commitDiff('dee', c.sha);
      expect(byBytes.stats().textBytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(byBytes.stats().texts).toBeGreaterThanOrEqual(2);
    expect(byBytes.stats().texts).toBeLessThan(log.length);

    // a text over the byte bound is served, not kept
    const tiny = new RepoCache(t.hive.repos, t.hive.bus, { maxBytes: 16 });
    expect(await tiny.commitDiff('dee', log[0]!.sha)).toContain(`commit ${log[0]!.sha}`);
    expect(tiny.stats()).toMatchObject({ texts: 0, textBytes: 0 });

    // a deploy keeps what a commit id names and drops what a tag or a short id names
    const cache = new RepoCache(t.hive.repos, t.hive.bus);
    const full = () => cache.commitDiff('dee', log[1]!.sha);
    const short = () => cache.commitDiff('dee', log[1]!.sha.slice(0, 10));
    const byTag = () => cache.file('dee', `deployed/${last}`, 'agent.toml');
    await Promise.all([full(), short(), byTag()]);
    expect(await gitDuring(() => Promise.all([full(), short(), byTag()]))).toBe(0);
    expect((await t.hive.gate.approve((await propose('dee', 'prompt = "dee 5"\n')).id)).status).toBe('deployed');
    expect(await gitDuring(full)).toBe(0);
    expect(await gitDuring(short)).toBeGreaterThan(0);
    expect(await gitDuring(byTag)).toBeGreaterThan(0);
    // tag retention may leave commits unreachable, for git to prune: what a commit id names is read again
    expect((await t.hive.retention.run()).dee?.length).toBeGreaterThan(0);
    expect(await gitDuring(full)).toBeGreaterThan(0);
    // a failed read is not kept
    await expect(cache.commitDiff('dee', 'deadbeef00')).rejects.toThrow(/no commit/);
    expect(await gitDuring(() => cache.commitDiff('dee', 'deadbeef00').catch(() => null))).toBeGreaterThan(0);
  });
});
