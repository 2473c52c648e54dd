import { describe, expect, test } from 'bun:test';
import { Elysia } from 'elysia';
import { mkdirSync, rmSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { LazyPage, listenWithRetry } from '../../src/agent/page/listen.ts';
import { tempDir, waitFor } from '../support/hive.ts';

describe('page serving on a unix socket', () => {
  test('keeps retrying past the loud phase until the socket dir appears, then serves once', async () => {
    const dir = tempDir('hv-page-');
    const sockDir = join(dir, 'late');
    const path = join(sockDir, 'page.sock');
    const logs: string[] = [];
    const app = new Elysia().get('/', () => 'agent page');
    const serving = listenWithRetry(app, { unix: path, log: (l) => logs.push(l), firstDelayMs: 10, maxDelayMs: 40, loudAttempts: 3 });
    await waitFor('four failed attempts', () => logs.length >= 3 && logs.every((l) => l.startsWith('WARN')));
    mkdirSync(sockDir);
    const attempts = await serving;
    try {
      expect(attempts).toBeGreaterThan(3);
      expect(logs.filter((l) => l.startsWith('WARN'))).toHaveLength(3);
      expect(logs.at(-1)).toBe(`page: serving ${path} after ${attempts} attempts`);
      expect(await (await fetch('http://agent/', { unix: path } as RequestInit)).text()).toBe('agent page');
    } finally {
      await app.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a stale socket from a previous instance is replaced; a file that is not a socket is left alone', async () => {
    const dir = tempDir('hv-page-');
    const path = join(dir, 'page.sock');
    const old = new Elysia().get('/', () => 'old');
    old.listen({ unix: path } as any);
    await old.stop(true);
    const logs: string[] = [];
    const app = new Elysia().get('/', () => 'new');
    expect(await listenWithRetry(app, { unix: path, log: (l) => logs.push(l) })).toBe(1);
    expect(logs).toEqual([]);
    expect(await (await fetch('http://agent/', { unix: path } as RequestInit)).text()).toBe('new');
    await app.stop(true);

    const plain = join(dir, 'plain.sock');
    writeFileSync(plain, 'not a socket');
    const abort = new AbortController();
    const other = new Elysia().get('/', () => 'x');
    const attempt = listenWithRetry(other, { unix: plain, log: (l) => logs.push(l), firstDelayMs: 5, maxDelayMs: 5, signal: abort.signal });
    await waitFor('a refused attempt', () => logs.length > 0);
    abort.abort();
    await expect(attempt).rejects.toThrow(/aborted/);
    expect(lstatSync(plain).isFile()).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  test("the page's code loads on the first request, once; a failed load is a 500 naming why, and the next request loads again", async () => {
    const dir = tempDir('hv-page-');
    const path = join(dir, 'page.sock');
    const logs: string[] = [];
    let loads = 0;
    let fail = true;
    const page = new LazyPage(async () => {
      loads++;
      if (fail) throw new Error('the views would not load');
      return new Elysia().get('/', () => `page, load ${loads}`);
    }, (l) => logs.push(l));
    try {
      expect(await listenWithRetry(page, { unix: path, log: (l) => logs.push(l) })).toBe(1);
      expect(loads).toBe(0);
      const get = () => fetch('http://agent/', { unix: path } as RequestInit);
      const failed = await get();
      expect(failed.status).toBe(500);
      expect(await failed.text()).toContain('the views would not load');
      expect(logs).toEqual(['page: the views would not load']);
      fail = false;
      const texts = await Promise.all([get(), get(), get()].map(async (r) => (await r).text()));
      expect(texts).toEqual(['page, load 2', 'page, load 2', 'page, load 2']);
      expect(loads).toBe(2);
    } finally {
      await page.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(fetch('http://agent/', { unix: path } as RequestInit)).rejects.toThrow();
  });
});
