import { describe, expect, test } from 'bun:test';
import { Elysia } from 'elysia';
import { listenWithRetry } from '../../src/agent/page.tsx';

describe('page bind retry', () => {
  test('keeps retrying past the loud phase until a held port is released, then binds once', async () => {
    const holder = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('holder') });
    const port = holder.port!;
    const logs: string[] = [];
    const app = new Elysia().get('/', () => 'agent page');
    setTimeout(() => holder.stop(true), 600);
    const attempts = await listenWithRetry(app, { hostname: '127.0.0.1', port, log: (l) => logs.push(l), firstDelayMs: 10, maxDelayMs: 40, loudAttempts: 3 });
    try {
      expect(attempts).toBeGreaterThan(3);
      expect(logs.filter((l) => l.startsWith('WARN'))).toHaveLength(3);
      expect(logs.at(-1)).toBe(`page: bound 127.0.0.1:${port} after ${attempts} attempts`);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('agent page');
    } finally {
      await app.stop(true);
    }
  });

  test('a first-try bind logs nothing', async () => {
    const logs: string[] = [];
    const app = new Elysia().get('/', () => 'x');
    expect(await listenWithRetry(app, { hostname: '127.0.0.1', port: 0, log: (l) => logs.push(l) })).toBe(1);
    await app.stop(true);
    expect(logs).toEqual([]);
  });
});
