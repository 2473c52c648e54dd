/**
 * An agent's session and its system prompt, with the real `hive core serve`, a real harness and
 * real `claude` turns against the scripted Messages API (the `process` runtime): turns resume the
 * agent's session while its system prompt stays the same, and a changed prompt (its config's
 * `prompt`) starts a new session that carries the new prompt, since claude would otherwise keep
 * the session's first one (docs/pitfalls.md).
 */
import { expect } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { DataLayout } from '../../src/shared/paths.ts';
import { allMessagesText, isMainTurn, lastUserPrompt, systemText, startModelServer, type ModelServer } from '../support/model-server.ts';
import { ctlJson, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('session prompt e2e', 'git');

let model: ModelServer;
let dir: string;
let core: Awaited<ReturnType<typeof startCoreProcess>>;

const aliceIdle = () => waitFor('alice idle', () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'alice' && a.status === 'idle'), 60_000);
/** The main-turn request of the turn woken by the message carrying `marker`. */
const requestFor = (marker: string) => model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes(marker)).at(-1)!;

beforeAll(async () => {
  model = await startModelServer(() => [{ type: 'text', text: 'noted' }]);
  dir = tempDir('hv-sp-');
  core = await startCoreProcess(dir, ['--no-manager'], model.env);
  ctlJson(dir, 'spawn', 'alice');
  await aliceIdle();
});

afterAll(async () => {
  await core?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("an agent's session follows its system prompt", () => {
  test('the same prompt resumes the session; a changed one starts a new session with the new prompt', async () => {
    const first = ctlJson(dir, 'send', 'alice', 'FIRST remember the word heliotrope');
    await turnFor(dir, 'alice', first.id);
    const second = ctlJson(dir, 'send', 'alice', 'SECOND what was the word?');
    await turnFor(dir, 'alice', second.id);
    // resumed: the second turn's request carries the first turn's exchange
    expect(allMessagesText(requestFor('SECOND').body)).toContain('heliotrope');

    writeFileSync(new DataLayout(dir).agent('alice').configFile, 'prompt = "Always answer in haiku. MARKER-NEW-PROMPT"\n');
    ctlJson(dir, 'restart', 'alice');
    await aliceIdle();
    const third = ctlJson(dir, 'send', 'alice', 'THIRD hello again');
    await turnFor(dir, 'alice', third.id);
    const req = requestFor('THIRD').body;
    expect(systemText(req)).toContain('MARKER-NEW-PROMPT');
    expect(allMessagesText(req)).not.toContain('heliotrope');

    // the tail says why, and the next turn resumes the new session
    const page = await (await fetch(`${core.url}/agents/alice/page/`)).text();
    expect(page).toContain('the system prompt changed since session');
    const fourth = ctlJson(dir, 'send', 'alice', 'FOURTH and now?');
    await turnFor(dir, 'alice', fourth.id);
    const next = requestFor('FOURTH').body;
    expect(allMessagesText(next)).toContain('THIRD hello again');
    expect(systemText(next)).toContain('MARKER-NEW-PROMPT');
  });
});
