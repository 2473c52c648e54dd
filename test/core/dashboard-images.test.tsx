/** @jsxImportSource @kitajs/html */
/**
 * The agents' images on the dashboard (the rebuilds pane), with parity to `hive ctl images`: the
 * section rendered from fabricated records (short key, MiB, age, users or "unused", the base set
 * summarised, the total, the prune button only when something is unused); the one-line explanation
 * of a core without images (the process runtime); and, on a bwrap core whose images dir holds
 * fabricated images no agent uses, the two-click prune (refused without the CSRF token or from a
 * foreign origin, removing nothing), its answer, and the live refresh after a prune, a deploy and a
 * purge, with no image reads on unrelated events.
 */
import { describe as plainDescribe, expect, test as plainTest } from 'bun:test';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import type { ImageRecord } from '../../src/shared/wire.ts';
import { ImageList, packageSummary, prunedLine, type ImagesState } from '../../views/dashboard/images.tsx';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';
import { readSse } from '../support/sse.ts';

const withGit = requires('core dashboard images', 'git');
const boxed = requires('core dashboard images under bwrap', 'root', 'bwrap', 'git');

const BASE = ['bash', 'ca-certificates', 'coreutils', 'curl', 'git'];
const MiB = 1024 * 1024;
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger')!).toast as { text: string; ok: boolean };

/** An image record as `Hive.imageReport` lists one. */
function record(key: string, o: { extra?: string[]; mib: number; users?: string[]; agoMs?: number }): ImageRecord {
  return {
    key,
    distribution: 'debian',
    suite: 'bookworm',
    architecture: 'amd64',
    packages: [...BASE, ...(o.extra ?? [])].sort(),
    bytes: o.mib * MiB,
    built_at: NOW - (o.agoMs ?? 3_600_000),
    build_ms: 16_400,
    users: o.users ?? [],
  };
}

const render = (state: Partial<ImagesState>, removed?: Array<{ key: string; bytes: number }>) =>
  String(<ImageList state={{ dir: '/var/lib/hyperhive/images', problem: null, images: [], base: BASE, ...state }} removed={removed} now={NOW} />);

plainDescribe('the images section, rendered', () => {
  const used = record('c7e52bb00024583a', { mib: 160, users: ['alice', 'manager'], agoMs: 2 * 86_400_000 });
  const unused = record('0f1e2d3c4b5a6978', { extra: ['ripgrep', 'jq'], mib: 202, agoMs: 5 * 60_000 });

  plainTest('each image: short key with the full one as title, MiB, age, users (the manager as hm1nd), distribution and base + its own packages', () => {
    const html = render({ images: [unused, used] });
    expect(html).toContain('<tr id="image-c7e52bb00024583a" data-users="2">');
    expect(html).toContain('<code title="c7e52bb00024583a">c7e52bb0</code>');
    expect(html).toContain('>160 MiB</td>');
    expect(html).toContain('>202 MiB</td>');
    expect(html).toContain('alice, hm1nd');
    expect(html).toMatch(/<tr id="image-0f1e2d3c4b5a6978" data-users="0">.*<span class="dim">unused<\/span>/);
    expect(html).toContain('>2d</time> ago');
    expect(html).toContain('>5m</time> ago');
    expect(html).toContain('(16.4 s)');
    expect(html).toContain('<span class="dim">debian bookworm </span><span class="dim" title="the base set: bash ca-certificates coreutils curl git">base</span><span> + jq ripgrep</span>');
    expect(html).toMatch(/<tr id="image-c7e52bb00024583a"[^]*>base<\/span><\/td><\/tr>/);
    expect(html).toContain('<span>2 images, 362 MiB</span>');
    expect(html).toContain('/var/lib/hyperhive/images');
  });

  plainTest('the prune button is there only while some image is unused, and asks before it acts', () => {
    const withUnused = render({ images: [unused, used] });
    expect(withUnused).toContain('<button hx-post="/images/prune" hx-swap="outerHTML" class="danger" aria-label="prune unused images">');
    expect(withUnused).toContain('prune unused images</span></button>');
    expect(withUnused).not.toContain('name="confirm"');
    expect(render({ images: [used] })).not.toContain('/images/prune');
    expect(render({ images: [] })).not.toContain('/images/prune');
  });

  plainTest('no images, images that cannot be built, a core that uses none: one line says so', () => {
    expect(render({ images: [] })).toContain('no images yet: each is built the first time an agent needs it');
    expect(render({ images: [] })).toContain('<span>0 images, 0 MiB</span>');
    const cannot = render({ images: [used], problem: 'mmdebstrap not found (Debian and Ubuntu: apt install mmdebstrap)' });
    expect(cannot).toContain('cannot build images here: mmdebstrap not found (Debian and Ubuntu: apt install mmdebstrap)');
    expect(cannot.indexOf('cannot build images here')).toBeLessThan(cannot.indexOf('<table'));
    const none = render({ dir: null, problem: 'the process runtime uses no images' });
    expect(none).toBe('<p class="dim empty">no images: the process runtime uses no images</p>');
  });

  plainTest('text from outside (the dir, the problem) is escaped', () => {
    const html = render({ dir: '/tmp/<b>x</b>', problem: '<img src=x onerror=alert(1)>', images: [used] });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  plainTest('after a prune, a line says what went', () => {
    expect(prunedLine([])).toBe('nothing to remove: every image is in use');
    expect(prunedLine([{ key: 'a', bytes: 160 * MiB }])).toBe('removed 1 image, 160 MiB');
    expect(prunedLine([{ key: 'a', bytes: 160 * MiB }, { key: 'b', bytes: 244 * MiB }])).toBe('removed 2 images, 404 MiB');
    expect(render({ images: [used] }, [{ key: unused.key, bytes: unused.bytes }])).toStartWith('<p class="pruned" role="status">removed 1 image, 202 MiB</p>');
    expect(render({ images: [used] })).not.toContain('class="pruned"');
  });

  plainTest('packages: the base set is summarised only when complete', () => {
    expect(packageSummary([...BASE, 'jq'].sort(), BASE)).toEqual({ base: true, extra: ['jq'] });
    expect(packageSummary(BASE, BASE)).toEqual({ base: true, extra: [] });
    expect(packageSummary(['bash', 'jq'], BASE)).toEqual({ base: false, extra: ['bash', 'jq'] });
  });
});

withGit.describe('the images section on a core without images (process runtime)', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let tab: DashboardClient;
  withGit.beforeAll(async () => {
    t = await openTestHive();
    tab = await DashboardClient.open(createDashboard(t.hive));
  });
  withGit.afterAll(() => t.close());

  withGit.test('the page, the fragment and a prune say in one line that there are none, as hive ctl images does', async () => {
    expect(t.hive.imageReport(false)).toMatchObject({ dir: null, problem: 'the process runtime uses no images', images: [] });
    const page = await (await tab.get('/')).text();
    expect(page).toMatch(/<div class="pane fill" id="pane-rebuilds"[^]*<section class="panel images-panel" aria-labelledby="images-h">/);
    expect(page).toContain('<div id="images-body"><p class="dim empty">no images: the process runtime uses no images</p></div>');
    expect(await (await tab.get('/fragments/images')).text()).toBe('<p class="dim empty">no images: the process runtime uses no images</p>');
    const res = await tab.post('/images/prune', { confirm: '1' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<p class="pruned" role="status">nothing to remove: every image is in use</p><p class="dim empty">no images: the process runtime uses no images</p>');
    expect(toast(res)).toEqual({ text: 'nothing to remove: every image is in use', ok: true });
  });
});

boxed.describe('pruning images from the dashboard (bwrap core, fabricated images)', () => {
  let images: string;
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let app: ReturnType<typeof createDashboard>;
  let tab: DashboardClient;

  /** Writes a finished image `key` into the images dir by hand: `image.json`, an empty `root` and `etc`. */
  function fabricate(key: string, extra: string[], mib: number): void {
    mkdirSync(join(images, key, 'root'), { recursive: true });
    mkdirSync(join(images, key, 'etc'));
    const meta = { distribution: 'debian', suite: 'bookworm', architecture: 'amd64', packages: [...BASE, ...extra].sort(), recipe: 1, key, bytes: mib * MiB, built_at: Date.now(), build_ms: 18_000 };
    writeFileSync(join(images, key, 'image.json'), `${JSON.stringify(meta, null, 2)}\n`);
  }

  boxed.beforeAll(async () => {
    images = tempDir('hv-img-');
    t = await openTestHive({ runtime: 'bwrap', 'images-dir': images });
    app = createDashboard(t.hive);
    tab = await DashboardClient.open(app);
  });
  boxed.afterAll(async () => {
    await t.close();
    rmSync(images, { recursive: true, force: true });
  });

  boxed.test('unused images are listed with the prune button; the first click only asks, a forged or cross-origin confirmation removes nothing', async () => {
    fabricate('aaaaaaaaaaaaaaaa', [], 160);
    fabricate('bbbbbbbbbbbbbbbb', ['jq', 'ripgrep'], 244);
    const page = await (await tab.get('/')).text();
    expect(page).toContain('<tr id="image-aaaaaaaaaaaaaaaa" data-users="0">');
    expect(page).toContain('<tr id="image-bbbbbbbbbbbbbbbb" data-users="0">');
    expect(page).toContain('<span>2 images, 404 MiB</span>');
    expect(page).toContain('hx-post="/images/prune"');
    expect(page).toContain(images);

    const first = await tab.post('/images/prune');
    expect(first.status).toBe(200);
    const form = await first.text();
    expect(form).toContain('<form class="confirm" hx-post="/images/prune" hx-target="#images-body" hx-swap="innerHTML"><input type="hidden" name="confirm" value="1"/>');
    expect(form).toContain('prune unused images? click to confirm');
    expect(form).toContain('class="quiet disarm"');

    expect((await tab.post('/images/prune', { confirm: '1' }, { token: false })).status).toBe(403);
    expect((await tab.post('/images/prune', { confirm: '1' }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await tab.post('/images/prune', { confirm: '1' }, { origin: null, token: false })).status).toBe(403);
    for (const key of ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']) expect(existsSync(join(images, key, 'image.json'))).toBe(true);
    expect(t.hive.imageReport(false).images).toHaveLength(2);
  });

  boxed.test('the confirmed prune removes them, answers with the section and what went, and open pages follow', async () => {
    const sse = readSse(await tab.get('/events'));
    await sse.until('<tr id="image-bbbbbbbbbbbbbbbb"');
    const res = await tab.post('/images/prune', { confirm: '1' });
    expect(res.status).toBe(200);
    expect(toast(res)).toEqual({ text: 'removed 2 images, 404 MiB', ok: true });
    const html = await res.text();
    expect(html).toStartWith('<p class="pruned" role="status">removed 2 images, 404 MiB</p>');
    expect(html).toContain('no images yet');
    expect(html).not.toContain('/images/prune');
    for (const key of ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']) expect(existsSync(join(images, key))).toBe(false);
    expect(t.logs.some((l) => l.includes('image aaaaaaaaaaaaaaaa: removed (no agent uses it)'))).toBe(true);
    await sse.until('no images yet: each is built');
    await sse.cancel();
  });

  boxed.test('a deploy re-renders the section live; unrelated events read no images', async () => {
    const sse = readSse(await tab.get('/events'));
    await sse.until('no images yet: each is built');
    let reads = 0;
    const report = t.hive.imageReport.bind(t.hive);
    t.hive.imageReport = (prune) => {
      reads++;
      return report(prune);
    };
    try {
      fabricate('cccccccccccccccc', ['python3'], 190);
      for (let i = 0; i < 20; i++) {
        t.hive.bus.emit({ type: 'inbox' });
        t.hive.bus.emit({ type: 'drafts' });
      }
      expect(reads).toBe(0);
      t.hive.bus.emit({ type: 'deploys' });
      await sse.until('<tr id="image-cccccccccccccccc"');
      expect(reads).toBe(1);
    } finally {
      t.hive.imageReport = report;
      await sse.cancel();
    }
  });

  boxed.test("a purge prunes the images no agent uses, and open pages see them go", async () => {
    const sse = readSse(await tab.get('/events'));
    await sse.until('<tr id="image-cccccccccccccccc"');
    mkdirSync(t.hive.layout.agent('old').state, { recursive: true });
    expect(await (await tab.post('/kept/old/purge')).text()).toContain('purge old? click to confirm');
    expect(existsSync(join(images, 'cccccccccccccccc'))).toBe(true);
    const purged = await tab.post('/kept/old/purge', { confirm: '1' });
    expect(purged.status).toBe(204);
    expect(existsSync(join(images, 'cccccccccccccccc'))).toBe(false);
    await sse.until('no images yet: each is built');
    await sse.cancel();
  });
});
