/**
 * Notes compaction end to end: a real hive (in this process, `process` runtime), a real harness for
 * bob with `[notes] compactAt = 2048, keep = 2` applied through the config gate, and real `claude`
 * runs against the scripted Messages API:
 *
 * - a config with a bad `notes.compactAt` is refused, naming the field;
 * - a turn whose Write tool grows `notes.md` past 2048 bytes is followed by a secondary claude run
 *   (no tools, nothing from the state dir's `CLAUDE.md`, the notes on stdin,
 *   `prompts/notes-compact.md` as the system prompt) that replaces
 *   the file; the old text is kept in `.hive/notes/`; the run shows in bob's history;
 * - the operator's `/compact-notes` (through the dashboard's proxy to bob's page) does the same on
 *   demand, and only the newest `keep` copies stay;
 * - a run the model fails (HTTP 500), or whose answer has no `<notes>` block, leaves `notes.md`
 *   byte for byte as it was and says why.
 */
import { expect } from 'bun:test';
import { Database } from 'bun:sqlite';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { isMainTurn, lastUserPrompt, lastUserText, startModelServer, systemText, toolResults, type ModelServer } from '../support/model-server.ts';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('notes compaction e2e', 'git');

/** What the notes run's system prompt starts with (prompts/notes-compact.md). */
const NOTES_SYSTEM = 'You rewrite the notes of bob';

let model: ModelServer;
let t: Awaited<ReturnType<typeof openTestHive>>;
let page: DashboardClient;
let state: string;
/** How the stand-in answers a notes run: a short rewrite, an HTTP 500, or text without the tags. */
let notesMode: 'rewrite' | 'fail' | 'garbage' = 'rewrite';

/** `n` bytes of notes, headed by `fact`. */
const bigNotes = (fact: string, n = 3000) => `# bob's notes\n\nFACT: ${fact}\n\n${'- an entry that repeats itself\n'.repeat(Math.ceil(n / 30))}`.slice(0, n);
const notesPath = () => join(state, 'notes.md');
const copies = () => readdirSync(join(state, '.hive', 'notes')).sort();
/** The notes runs the model server saw. */
const notesRuns = () => model.requests.filter((r) => systemText(r.body).includes(NOTES_SYSTEM));

/** bob's history rows of kind `job` for notes, oldest first. */
function notesJobs(): any[] {
  const db = new Database(join(state, '.hive', 'history.db'), { readonly: true });
  try {
    return db
      .query<{ data: string }, []>(`SELECT data FROM events WHERE kind = 'job' ORDER BY id`)
      .all()
      .map((r) => JSON.parse(r.data))
      .filter((d) => d.job === 'notes');
  } finally {
    db.close();
  }
}

/** Proposes `toml` as bob's agent.toml through the gate and approves it. @returns the approval. */
async function configure(toml: string) {
  const dir = join(t.dir, 'proposed', 'bob', 'config');
  writeFileSync(join(dir, 'agent.toml'), toml);
  const git = (...args: string[]) => Bun.spawnSync(['git', '-C', dir, ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'notes compaction');
  const a = await t.hive.gate.requestApplyCommit('manager', 'bob', git('rev-parse', 'HEAD'));
  return t.hive.gate.approve(a.id);
}

/** Sends `body` to bob and waits for the turn it wakes. */
async function turn(body: string) {
  const m = t.hive.policy.send('operator', 'bob', body);
  return waitFor(`bob's turn for #${m.id}`, () => t.hive.turns.list({ agent: 'bob', limit: 20 }).find((x) => x.trigger_message_id === m.id && x.status !== 'running'), 60_000);
}

const send = (body: string) => page.post('/agents/bob/page/send', { body });
const toast = (res: Response) => JSON.parse(res.headers.get('hx-trigger') ?? '{}').toast as { text: string; ok: boolean };

beforeAll(async () => {
  model = await startModelServer((req) => {
    if (systemText(req.body).includes(NOTES_SYSTEM)) {
      if (notesMode === 'fail') throw new Error('scripted notes failure');
      if (notesMode === 'garbage') return [{ type: 'text', text: 'I would rather not.' }];
      const fact = /FACT: (.*)/.exec(lastUserText(req.body))?.[1] ?? 'none';
      return [{ type: 'text', text: `<notes>\n# bob's notes, compacted\n\n- FACT: ${fact}\n</notes>` }];
    }
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    if (toolResults(req.body).length) return [{ type: 'text', text: 'written' }];
    const grow = /@@GROW (\S+)@@/.exec(lastUserPrompt(req.body));
    if (grow && systemText(req.body).includes('You are bob'))
      return [{ type: 'tool_use', name: 'Write', input: { file_path: notesPath(), content: bigNotes(grow[1]!) } }];
    return [{ type: 'text', text: 'noted' }];
  });
  t = await openTestHive({ 'no-manager': false }, model.env);
  await t.hive.lifecycle.spawn('bob');
  state = t.hive.layout.agent('bob').state;
  page = await DashboardClient.open(createDashboard(t.hive));
});

afterAll(async () => {
  await t?.close();
  await model?.close();
});

describe('notes compaction', () => {
  test('a bad notes.compactAt is refused, naming the field; a good one is applied', async () => {
    const dir = join(t.dir, 'proposed', 'bob', 'config');
    writeFileSync(join(dir, 'agent.toml'), '[notes]\ncompactAt = 10\n');
    const git = (...args: string[]) => Bun.spawnSync(['git', '-C', dir, ...args], { stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'too small');
    await expect(t.hive.gate.requestApplyCommit('manager', 'bob', git('rev-parse', 'HEAD'))).rejects.toThrow(
      'notes.compactAt: must be a size in bytes, from 1024 to 1048576',
    );
    expect((await configure('[notes]\ncompactAt = 2048\nkeep = 2\n')).status).toBe('deployed');
    await waitFor('bob idle', () => t.hive.registry.require('bob').status === 'idle', 60_000);
  });

  test('a turn that grows notes.md past compactAt is followed by a compaction; the old notes are kept', async () => {
    writeFileSync(join(state, 'CLAUDE.md'), 'CLAUDE-MD-MARKER: bob wrote this for his own turns\n');
    const done = await turn('please note this @@GROW alpha@@');
    expect(done.status).toBe('ok');
    const grown = bigNotes('alpha');
    await waitFor('the notes run to end', () => notesJobs().some((j) => j.phase === 'end'), 60_000);
    const [start, end] = notesJobs();
    expect(start).toMatchObject({ phase: 'start', text: `compacting notes.md (${grown.length} bytes, past notes.compactAt = 2048 bytes)` });
    expect(end).toMatchObject({ phase: 'end', ok: true, trigger: 'size', before_bytes: grown.length });
    const now = readFileSync(notesPath(), 'utf8');
    expect(now).toBe("# bob's notes, compacted\n\n- FACT: alpha\n");
    expect(end.text).toBe(`notes.md compacted from ${grown.length} to ${now.length} bytes; the previous version is ${end.kept}`);
    expect(copies()).toHaveLength(1);
    expect(readFileSync(join(state, end.kept), 'utf8')).toBe(grown);

    // the secondary session: its own system prompt, no tools, the notes as the prompt
    const [run] = notesRuns();
    expect(run!.body.tools ?? []).toEqual([]);
    expect(lastUserText(run!.body)).toContain(`<notes>\n${grown}\n</notes>`);
    expect(systemText(run!.body)).toContain('Aim for at most 1024 bytes.');
    expect(JSON.stringify(run!.body)).not.toContain('CLAUDE-MD-MARKER');

    // small notes after a turn: no run (the loop checks before it takes the next message)
    const before = notesRuns().length;
    await turn('nothing to note');
    await turn('nothing again');
    expect(notesRuns().length).toBe(before);
  });

  test('the operator compacts the notes from the page; only the newest `keep` copies stay', async () => {
    for (const fact of ['beta', 'gamma']) {
      writeFileSync(notesPath(), bigNotes(fact, 1500));
      const res = await send('/compact-notes');
      expect(res.status).toBe(204);
      const { text, ok } = toast(res);
      expect(ok).toBe(true);
      expect(text).toMatch(/^notes\.md compacted from 1500 to \d+ bytes; the previous version is \.hive\/notes\/notes-.*\.md$/);
      expect(readFileSync(notesPath(), 'utf8')).toContain(`FACT: ${fact}`);
    }
    expect(notesJobs().filter((j) => j.phase === 'end').map((j) => j.trigger)).toEqual(['size', 'operator', 'operator']);
    const kept = copies();
    expect(kept).toHaveLength(2);
    expect(kept.map((f) => readFileSync(join(state, '.hive', 'notes', f), 'utf8'))).toEqual([bigNotes('beta', 1500), bigNotes('gamma', 1500)]);
  });

  test('a failed run leaves notes.md as it was and says why', async () => {
    const notes = bigNotes('delta', 2500);
    writeFileSync(notesPath(), notes);
    const kept = copies();

    notesMode = 'fail';
    const failed = await send('/compact-notes');
    expect(toast(failed).ok).toBe(false);
    expect(toast(failed).text).toStartWith('notes.md was not compacted and is left as it was: ');
    expect(toast(failed).text).toContain('500');
    expect(readFileSync(notesPath(), 'utf8')).toBe(notes);

    notesMode = 'garbage';
    const refused = await send('/compact-notes');
    expect(toast(refused)).toEqual({ text: 'notes.md was not compacted and is left as it was: the answer held no <notes> block', ok: false });
    expect(readFileSync(notesPath(), 'utf8')).toBe(notes);
    expect(copies()).toEqual(kept);
    expect(notesJobs().at(-1)).toMatchObject({ phase: 'end', ok: false, trigger: 'operator' });

    // the size check leaves the notes it could not compact alone until they change
    const before = notesRuns().length;
    await turn('still here');
    await turn('still here, again');
    expect(notesRuns().length).toBe(before);
    notesMode = 'rewrite';
  });
});
