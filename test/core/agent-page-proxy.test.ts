/**
 * The dashboard's proxy to an agent's page, on the real `hive core serve` process with a real
 * harness under the `process` runtime: a harness killed while its page's event stream is being
 * proxied ends the browser's stream cleanly, and the core prints nothing uncaught.
 */
import { expect } from 'bun:test';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ctlJson, startCoreProcess, tempDir, waitFor } from '../support/hive.ts';
import { readSse } from '../support/sse.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('agent page proxy', 'git');

let dir: string;
let core: Awaited<ReturnType<typeof startCoreProcess>>;

beforeAll(async () => {
  dir = tempDir('hv-pp-');
  core = await startCoreProcess(dir, ['--no-manager'], {});
  ctlJson(dir, 'spawn', 'alice');
});
afterAll(async () => {
  await core?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The agent `name`'s record in `hive ctl list`. */
const listed = (name: string) => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === name);

describe('the agent page proxy', () => {
  test("a harness killed while its page's stream is proxied: the stream ends, and the core prints nothing uncaught", async () => {
    const page = `${core.url}/agents/alice/page/`;
    await waitFor("alice's page to be served", async () => (await fetch(page)).status === 200, 30_000);
    const res = await fetch(page + 'events', { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const stream = readSse(res);
    await stream.until('id="state"');
    const pid = listed('alice').pid as number;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');

    // the client's stream ends (cleanly or with an error, but it ends) instead of hanging
    const ended = await Promise.race([
      stream.rest().then(
        () => 'ended',
        () => 'ended with an error',
      ),
      Bun.sleep(20_000).then(() => 'still open'),
    ]);
    // the core saw the crash, and kept serving
    await waitFor('alice to be back', () => listed('alice')?.pid && listed('alice').pid !== pid && listed('alice').status === 'idle', 30_000);
    expect((await fetch(core.url + '/')).status).toBe(200);
    const err = readFileSync(join(dir, 'core.err'), 'utf8');
    expect({ ended, uncaught: err.match(/.*(ECONNRESET|TypeError|uncaught|unhandled).*/gi) }).toEqual({ ended: 'ended', uncaught: null });
  });
});
