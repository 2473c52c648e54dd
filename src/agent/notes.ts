/**
 * @module agent/notes
 * Notes compaction. An agent keeps what it must not forget in `<state>/notes.md`; left alone the
 * file only grows. When it passes `notes.compactAt` bytes (agent.toml) after a turn, or when the
 * operator asks (`/compact-notes` on the agent's page), the harness runs a short-lived claude
 * session of its own, not the agent's: `--bare`, no tools, no MCP servers, no saved transcript,
 * the system prompt `prompts/notes-compact.md`, and the notes on stdin between `<notes>` tags. Its
 * answer, the rewritten notes between the same tags, replaces the file only when it is non-empty,
 * smaller than the file, and the file did not change meanwhile. The previous version is kept first as
 * `<state>/.hive/notes/notes-<UTC time>.md`, the newest `notes.keep` of them (default 5).
 *
 * The run is a job on the loop's queue (never beside a turn) and shows in the agent's history: a
 * `job` row when it starts, its claude events, and a `job` row with the outcome. A failed run
 * leaves `notes.md` as it was and says why. After a run, whatever its outcome, the size check
 * leaves the file alone until it changes again, so a failing rewrite is not retried after every turn.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPrompt } from './prompts.ts';
import type { Outcome, TurnLoop } from './loop.ts';

/** The notes file, in the state dir. */
export const NOTES_FILE = 'notes.md';
/** Where previous versions are kept, below the state dir. */
export const NOTES_COPIES_DIR = join('.hive', 'notes');
/** Retries claude makes for a failed model request in a notes run (its default, 10, can take minutes). */
const NOTES_MAX_RETRIES = '2';
/** The history key/value entry holding the file's size and mtime at the last run. */
const LAST_RUN_KEY = 'notes_compacted';

/** What starts a notes compaction: the size check after a turn, or the operator. */
export type NotesTrigger = 'size' | 'operator';

/**
 * The variables of `prompts/notes-compact.md`: the agent's `name`, the notes' size in `bytes`, and
 * the `target` size, half of `compactAt` (or of the notes, when `compactAt` is null or larger).
 */
export function notesPromptVars(name: string, bytes: number, compactAt: number | null): Record<string, string | number> {
  return { name, bytes, target: Math.floor(Math.min(bytes, compactAt ?? bytes) / 2) };
}

/**
 * The argv of a notes run: print mode; `--bare`, so nothing from the state dir (a `CLAUDE.md`
 * there, hooks, auto-memory) reaches it; no tools, no MCP, no saved session; the prompt on stdin.
 */
export function notesArgv(claudeBin: string, model: string, systemPrompt: string): string[] {
  return [
    claudeBin,
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--model',
    model,
    '--bare',
    '--tools',
    '',
    '--strict-mcp-config',
    '--no-session-persistence',
    '--system-prompt',
    systemPrompt,
  ];
}

/**
 * The rewritten notes in a reply: the text between the first `<notes>` and the last `</notes>`,
 * trimmed. @returns null when the reply has no such block.
 */
export function extractNotes(reply: string): string | null {
  const start = reply.indexOf('<notes>');
  const end = reply.lastIndexOf('</notes>');
  if (start < 0 || end < start) return null;
  return reply.slice(start + '<notes>'.length, end).trim();
}

/** Size and modification time of a file, to tell whether it changed. */
const signature = (path: string): string | null => {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    // no notes file: nothing to compact
    return null;
  }
};

/** One agent's notes compaction. */
export class NotesCompactor {
  constructor(
    private readonly loop: TurnLoop,
    private readonly now: () => number = Date.now,
  ) {}

  /** Absolute path of `notes.md`. */
  get path(): string {
    return join(this.loop.env.stateDir, NOTES_FILE);
  }

  /** Absolute path of the dir holding previous versions. */
  get copiesDir(): string {
    return join(this.loop.env.stateDir, NOTES_COPIES_DIR);
  }

  /** The kept previous versions, newest first (file names in {@link copiesDir}). */
  copies(): string[] {
    try {
      return readdirSync(this.copiesDir)
        .filter((f) => /^notes-.*\.md$/.test(f))
        .sort()
        .reverse();
    } catch {
      // no copies dir yet: nothing kept
      return [];
    }
  }

  /**
   * The size check after a turn: compacts when `notes.compactAt` is set, the file is larger, and
   * it changed since the last run. Never throws.
   */
  async afterTurn(): Promise<void> {
    const limit = this.loop.identity.config.notes.compactAt;
    if (limit === null) return;
    const sig = signature(this.path);
    if (!sig || Number(sig.split(':')[0]) <= limit) return;
    if (this.loop.history.getKv(LAST_RUN_KEY) === sig) return;
    await this.compact('size');
  }

  /** Compacts the notes once the queue is free (see the module comment). Never throws. */
  compact(trigger: NotesTrigger): Promise<Outcome> {
    return this.loop.exclusive(() => this.run(trigger));
  }

  private async run(trigger: NotesTrigger): Promise<Outcome> {
    const { loop } = this;
    let before: string;
    try {
      before = readFileSync(this.path, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return { ok: false, text: missing ? `there are no notes to compact: ${this.path} does not exist` : `cannot read ${this.path}: ${(err as Error).message}` };
    }
    if (!before.trim()) return { ok: false, text: `there are no notes to compact: ${this.path} is empty` };
    const sig = signature(this.path);
    if (sig) loop.history.setKv(LAST_RUN_KEY, sig);
    const bytes = Buffer.byteLength(before);
    const limit = loop.identity.config.notes.compactAt;
    const started = this.now();
    const why = trigger === 'size' ? `past notes.compactAt = ${limit} bytes` : 'asked by the operator';
    let systemPrompt: string;
    try {
      systemPrompt = renderPrompt('notes-compact', notesPromptVars(loop.identity.name, bytes, limit));
    } catch (err) {
      return { ok: false, text: `the notes were not compacted: ${(err as Error).message}` };
    }
    const run = await loop.runJob('notes', notesArgv(loop.env.claudeBin, loop.model, systemPrompt), {
      text: `compacting notes.md (${bytes} bytes, ${why})`,
      env: { CLAUDE_CODE_MAX_RETRIES: NOTES_MAX_RETRIES },
      stdin: `<notes>\n${before}\n</notes>\n`,
    });
    const fail = (reason: string): Outcome => {
      const text = `notes.md was not compacted and is left as it was: ${reason}`;
      loop.endJob('notes', run, false, text, started, { trigger, before_bytes: bytes });
      return { ok: false, text };
    };
    if (run.error) return fail(run.error);
    const r = run.result;
    if (!r || r.is_error || run.exit?.exitCode !== 0)
      return fail(r?.result || run.exit?.stderrTail.trim() || `claude exited ${run.exit?.exitCode ?? run.exit?.signal} without a result`);
    const after = extractNotes(r.result ?? '');
    if (after === null) return fail('the answer held no <notes> block');
    if (!after) return fail('the rewrite was empty');
    const afterBytes = Buffer.byteLength(after + '\n');
    if (afterBytes >= bytes) return fail(`the rewrite (${afterBytes} bytes) is not smaller than the notes (${bytes} bytes)`);
    if (signature(this.path) !== sig) return fail('notes.md changed while it was being compacted');
    let kept: string;
    try {
      kept = this.keep(before);
      const tmp = `${this.path}.compact-${process.pid}`;
      writeFileSync(tmp, after + '\n');
      renameSync(tmp, this.path);
    } catch (err) {
      return fail(`could not write: ${(err as Error).message}`);
    }
    const now = signature(this.path);
    if (now) loop.history.setKv(LAST_RUN_KEY, now);
    const text = `notes.md compacted from ${bytes} to ${afterBytes} bytes; the previous version is ${NOTES_COPIES_DIR}/${kept}`;
    loop.endJob('notes', run, true, text, started, { trigger, before_bytes: bytes, after_bytes: afterBytes, kept: `${NOTES_COPIES_DIR}/${kept}` });
    return { ok: true, text };
  }

  /** Writes `text` as a new dated copy and drops the oldest beyond `notes.keep`. @returns its file name. */
  private keep(text: string): string {
    mkdirSync(this.copiesDir, { recursive: true });
    const stamp = new Date(this.now()).toISOString().replace(/:/g, '-');
    let name = `notes-${stamp}.md`;
    for (let i = 2; this.copies().includes(name); i++) name = `notes-${stamp}-${i}.md`;
    writeFileSync(join(this.copiesDir, name), text, { flag: 'wx' });
    for (const old of this.copies().slice(this.loop.identity.config.notes.keep)) rmSync(join(this.copiesDir, old), { force: true });
    return name;
  }
}
