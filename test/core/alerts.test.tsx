/**
 * Alerts for the operator, raised by real conditions in a real core (in process, `process` runtime,
 * real agent processes): a deploy that fails, an agent killed three times in a row. Each shows as an escaped banner through
 * `app.handle` and the SSE stream, closes when its condition clears or on dismiss, and survives a
 * core restart. `hive ctl alerts` / `dismiss` go through the real admin socket.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { Database } from 'bun:sqlite';
import { MIGRATIONS, migrate, openCoreDb } from '../../src/core/db.ts';

import { ctlJsonAsync, openHiveAt, openTestHive, tempDir, waitFor } from '../support/hive.ts';
import { readSse } from '../support/sse.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core alerts', 'git');

setDefaultTimeout(90_000);

const ORIGIN = 'http://127.0.0.1:7000';
let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let tab: DashboardClient;

const post = (path: string, body: Record<string, string> = {}, origin = ORIGIN) => tab.post(path, body, { origin });
const banners = async () => (await app.handle(new Request(ORIGIN + '/fragments/alerts'))).text();
const open = (kind: string, agent: string) => t.hive.alerts.list().find((a) => a.kind === kind && a.agent === agent);
const idle = (name: string) => waitFor(`${name} idle`, () => t.hive.registry.get(name)?.status === 'idle');

beforeAll(async () => {
  t = await openTestHive();
  app = createDashboard(t.hive);
  tab = await DashboardClient.open(app, ORIGIN);
});
afterAll(async () => {
  await t?.hive.close();
  rmSync(t.dir, { recursive: true, force: true });
});

describe('alerts', () => {
  test('a failed deploy raises a banner linking the config repo, with the commit text escaped; a later good deploy closes it', async () => {
    await t.hive.lifecycle.spawn('dep');
    const repo = join(t.dir, 'proposed', 'dep', 'config');
    const git = (...args: string[]) => {
      const r = Bun.spawnSync(['git', ...args], { cwd: repo, stdout: 'pipe', stderr: 'pipe' });
      if (r.exitCode !== 0) throw new Error(r.stderr.toString());
      return r.stdout.toString().trim();
    };
    // the server's program exists when the commit is requested (it is checked then) and is gone at deploy
    const program = join(t.dir, '<img src=x onerror=alert(1)>');
    writeFileSync(program, '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(repo, 'agent.toml'), `[extraMcpServers.x]\ncommand = "${program}"\n`);
    git('commit', '-qam', 'break it');
    const bad = await t.hive.gate.requestApplyCommit('operator', 'dep', git('rev-parse', 'HEAD'));
    rmSync(program);
    expect((await t.hive.gate.approve(bad.id)).status).toBe('failed');
    const a = open('deploy_failed', 'dep')!;
    expect(a.text).toContain(`approval #${bad.id} failed`);
    const html = await banners();
    expect(html).toContain('deploy failed');
    expect(html).toContain('href="/repos/dep"');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    writeFileSync(join(repo, 'agent.toml'), 'model = "sonnet"\n');
    git('commit', '-qam', 'fix it');
    const good = await t.hive.gate.requestApplyCommit('operator', 'dep', git('rev-parse', 'HEAD'));
    expect((await t.hive.gate.approve(good.id)).status).toBe('deployed');
    expect(open('deploy_failed', 'dep')).toBeUndefined();
  });

  test('an agent killed three times in a row raises a crash-loop banner; the operator stopping it closes it', async () => {
    await t.hive.lifecycle.spawn('loop');
    for (let i = 1; i <= 3; i++) {
      const pid = t.hive.registry.require('loop').pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(`crash #${i}`, () => t.hive.registry.require('loop').restarts === i);
      if (i < 3) {
        expect(open('crash_loop', 'loop')).toBeUndefined();
        await waitFor(`restart #${i}`, () => {
          const a = t.hive.registry.require('loop');
          return a.status === 'idle' && a.pid !== pid;
        });
      }
    }
    const a = open('crash_loop', 'loop')!;
    expect(a.text).toMatch(/^loop crashed 3 times in a row, last signal SIGKILL after \d+ s; the core restarts it in 4 s/);
    expect(a.text).toContain('loop.log');
    expect(await banners()).toContain('crash loop');
    await t.hive.lifecycle.stop('loop');
    expect(open('crash_loop', 'loop')).toBeUndefined();
  });

  test('a new banner reaches an open SSE stream as a partial for #banners', async () => {
    const sse = readSse(await app.handle(new Request(ORIGIN + '/events')));
    await sse.until('hx-target="#banners"');
    const a = t.hive.alerts.raise('gateway_refused', 'sse', 'over budget: <b>someone</b>');
    await sse.until(`id="alert-${a.id}"`);
    expect(sse.text).toContain('over budget: &lt;b&gt;someone&lt;/b&gt;');
    await sse.cancel();
    t.hive.alerts.dismiss(a.id, 'operator');
  });

  test('dismiss: from the dashboard (same origin only) and with hive ctl; bad and unknown ids are refused', async () => {
    const one = t.hive.alerts.raise('deploy_failed', 'gone', 'gone: rebuild by operator failed: test');
    expect((await post(`/alerts/${one.id}/dismiss`, {}, 'http://evil.example')).status).toBe(403);
    expect(open('deploy_failed', 'gone')).toBeDefined();
    const r = await post(`/alerts/${one.id}/dismiss`);
    expect(r.status).toBe(204);
    expect(JSON.parse(r.headers.get('hx-trigger')!).toast.text).toBe('dismissed the deploy failed alert for gone');
    expect(open('deploy_failed', 'gone')).toBeUndefined();
    expect((await post(`/alerts/${one.id}/dismiss`)).status).toBe(404);
    expect((await post('/alerts/x1/dismiss')).status).toBe(400);

    const two = t.hive.alerts.raise('crash_loop', 'gone', 'gone crashed 3 times in a row');
    const listed = (await ctlJsonAsync(t.dir, 'alerts')).alerts as Array<{ id: number; kind: string }>;
    expect(listed.map((a) => a.id)).toContain(two.id);
    expect((await ctlJsonAsync(t.dir, 'dismiss', String(two.id))).alert).toMatchObject({ id: two.id, kind: 'crash_loop', agent: 'gone' });
    expect((await ctlJsonAsync(t.dir, 'alerts')).alerts.map((a: { id: number }) => a.id)).not.toContain(two.id);
  });

  test('open alerts survive a core restart', async () => {
    const a = t.hive.alerts.raise('deploy_failed', 'keep', 'keep: approval #99 failed: kept across restarts');
    await t.hive.close();
    t.hive = await openHiveAt(t.dir, []);
    expect(t.hive.alerts.list().find((x) => x.id === a.id)).toMatchObject({ kind: 'deploy_failed', agent: 'keep', text: a.text });
  });

  test('a page-port alert left open by an earlier version is closed on upgrade, and the rest read as before', () => {
    const path = join(tempDir('hv-mig-'), 'hive.db');
    const old = new Database(path, { create: true, strict: true });
    migrate(old, MIGRATIONS.slice(0, 5));
    old.query("INSERT INTO alerts (kind, agent, text, created_at, updated_at) VALUES ('port_conflict', 'a', 'held', 1, 1), ('crash_loop', 'b', 'loops', 1, 1)").run();
    old.close();
    const db = openCoreDb(path);
    const open = db.query<{ kind: string }, []>('SELECT kind FROM alerts WHERE closed_at IS NULL').all();
    expect(open).toEqual([{ kind: 'crash_loop' }]);
    db.close();
  });
});
