/** @jsxImportSource @kitajs/html */
import { expect } from 'bun:test';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive } from '../support/hive.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('dashboard approval race', 'git');

const ORIGIN = 'http://localhost';
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;
/** A stream opened by {@link openStream}. */
interface Stream {
  approvals(ok: (html: string) => boolean): Promise<string>;
  first(): Promise<string>;
  cancel(): Promise<void>;
}
const streams: Stream[] = [];

beforeAll(async () => {
  t = await openTestHive();
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
  const spawn = t.hive.gate.requestSpawn('operator', 'ana');
  expect((await t.hive.gate.approve(spawn.id)).status).toBe('deployed');
  await t.hive.lifecycle.stop('ana');
});
afterAll(async () => {
  for (const s of streams) await s.cancel();
  await t.close();
});

/** A dashboard SSE stream whose approvals partials can be awaited. */
function openStream(): Stream {
  const res = Promise.resolve(app.handle(new Request(ORIGIN + '/events')));
  let text = '';
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const dec = new TextDecoder();
  const partials = () =>
    text
      .split('\n')
      .filter((l) => l.startsWith('data: <hx-partial hx-target="#approvals-body"') && l.endsWith('</hx-partial>'));
  const s: Stream = {
    /** Reads until an approvals partial satisfies `ok`; returns it. */
    async approvals(ok: (html: string) => boolean): Promise<string> {
      reader ??= (await res).body!.getReader();
      for (;;) {
        const hit = partials().find(ok);
        if (hit) return hit;
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        text += dec.decode(value, { stream: true });
      }
    },
    /** The first approvals partial this stream got. */
    first: () => s.approvals(() => true),
    cancel: async () => {
      await reader?.cancel();
    },
  };
  streams.push(s);
  return s;
}

/** Commits `text` as ana's agent.toml in her proposed repo and asks to apply it. */
async function propose(text: string) {
  const repo = `${t.dir}/proposed/ana/config`;
  await Bun.write(`${repo}/agent.toml`, text);
  const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: repo }).stdout.toString().trim();
  git('commit', '-qam', 'tweak');
  return t.hive.gate.requestApplyCommit('operator', 'ana', git('rev-parse', 'HEAD'));
}

describe('approvals on the live dashboard', () => {
  test('an apply approval is first rendered with its staged diff, even by a stream open when it is requested', async () => {
    const early = openStream();
    await early.first();
    const a = await propose('prompt = "tweaked"\n');
    // the diff against the applied head: the default config's lines go, the new one comes
    const right = (html: string) => html.includes('<span class="del">-# agent.toml of ana') && !html.includes('new file mode');
    const mentions = (html: string) => html.includes(`/approvals/${a.id}/approve`);
    const shown = await openStream().approvals(mentions);
    expect(shown).toContain('<span class="add">+prompt = &quot;tweaked&quot;');
    expect(right(shown)).toBe(true);
    expect(right(await early.approvals(mentions))).toBe(true);
  });

  test('a denied approval is first rendered with its denied tag in the chain', async () => {
    const a = await propose('prompt = "again"\n');
    const early = openStream();
    await early.approvals((html) => html.includes(`/approvals/${a.id}/approve`));
    const res = await tab.post(`/approvals/${a.id}/deny`, { reason: 'no' });
    expect(res.status).toBe(204);
    const chain = `proposal/${a.id} → denied/${a.id}`;
    expect(await early.approvals((html) => !html.includes(`/approvals/${a.id}/approve`))).toContain(chain);
    expect(await openStream().first()).toContain(chain);
  });
});
