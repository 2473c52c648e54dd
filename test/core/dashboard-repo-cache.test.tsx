/** @jsxImportSource @kitajs/html */
import { expect } from 'bun:test';
import { gitSpawnCount } from '../../src/core/configs/git.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
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
