/**
 * Group commit under kill -9: sixteen senders keep the real core busy over its admin socket; the
 * core is killed outright at some moment, three times over. Every send that was acknowledged is in
 * the database exactly once, and nothing is stored twice.
 */
import { expect } from 'bun:test';
import { Database } from 'bun:sqlite';
import { rmSync } from 'node:fs';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { HostOps } from '../../src/shared/wire.ts';
import { ctlJson, startCoreProcess, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, afterAll } = requires('core group commit', 'git');

const SENDERS = 16;

describe('group commit', () => {
  const dir = tempDir();
  const layout = new DataLayout(dir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a kill -9 at any moment loses no acknowledged send and stores none twice', async () => {
    let core = await startCoreProcess(dir, ['--no-manager'], {});
    ctlJson(dir, 'spawn', 'sink');
    ctlJson(dir, 'stop', 'sink'); // its inbox only fills
    const acked = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const clients = Array.from({ length: SENDERS }, () => new JsonLineClient(layout.hostSocket, HostOps, { timeoutMs: 10_000 }));
      const before = acked.size;
      const sending = clients.map(async (c, s) => {
        for (let i = 0; ; i++) {
          const body = `r${round}-s${s}-${i}`;
          try {
            await c.call('send', { to: 'sink', body });
          } catch {
            return; // the core is gone: this send was never acknowledged
          }
          acked.add(body);
        }
      });
      // kill it at a different depth each round, while every sender has requests on the wire
      await waitFor('sends to be acknowledged', () => acked.size - before >= 500 * (round + 1), 60_000);
      core.proc.kill('SIGKILL');
      await core.proc.exited;
      await Promise.all(sending);
      for (const c of clients) c.close();
      core = await startCoreProcess(dir, ['--no-manager'], {});
    }
    await core.stop();

    const db = new Database(layout.db, { readonly: true });
    const rows = db.query<{ body: string; n: number }, []>("SELECT body, count(*) AS n FROM messages WHERE recipient = 'sink' GROUP BY body").all();
    db.close();
    const stored = new Map(rows.map((r) => [r.body, r.n]));
    const missing = [...acked].filter((b) => !stored.has(b));
    const twice = rows.filter((r) => r.n > 1).map((r) => r.body);
    expect(acked.size).toBeGreaterThanOrEqual(3000);
    expect(missing).toEqual([]);
    expect(twice).toEqual([]);
  });
});
