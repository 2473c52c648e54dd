/**
 * @module agent/session
 * The operator's changes to the agent's claude session, asked for from its page (`commands.ts`):
 *
 * - **clear**: the stored session id is dropped, so the next turn starts a new session. The old
 *   transcript stays in the claude dir and its events in history; a `session` row marks the boundary.
 * - **compact**: Claude Code's own compaction, run headless as
 *   `claude -p --resume <session> … -- /compact [instructions]` with the turn's other flags. It
 *   summarises the conversation in one model request and rewrites the session, which the next turn
 *   resumes. Claude reports the outcome in stream-json `system` events, not in its exit code or
 *   `result` (see docs/pitfalls.md): `status` with `compact_result` `success` or `failed` (and
 *   `compact_error`), and `compact_boundary` with `compact_metadata.pre_tokens`/`post_tokens`.
 *
 * Both wait on the loop's queue, so neither runs during a turn.
 */
import type { ClaudeEvent } from '../shared/stream-json.ts';
import { blocksOf, isMessage } from '../shared/stream-json.ts';
import type { Outcome, TurnLoop } from './loop.ts';

/** What a compaction run reported: the token counts before and after, or why it failed. */
export type CompactionReport = { ok: true; preTokens: number | null; postTokens: number | null } | { ok: false; why: string };

/**
 * Reads the outcome of a `/compact` run from its stream-json events (shapes seen with Claude Code
 * 2.1.329): a `compact_boundary` event means it compacted; otherwise the `compact_error` of a
 * failed `status` event, or the text claude answered with (e.g. "Error: No messages to compact"),
 * says why not.
 */
export function readCompaction(events: ClaudeEvent[]): CompactionReport {
  let failure: string | null = null;
  let said: string | null = null;
  for (const e of events) {
    if (e.type === 'system' && e.subtype === 'compact_boundary') {
      const meta = (e as { compact_metadata?: { pre_tokens?: unknown; post_tokens?: unknown } }).compact_metadata ?? {};
      const n = (v: unknown) => (typeof v === 'number' ? v : null);
      return { ok: true, preTokens: n(meta.pre_tokens), postTokens: n(meta.post_tokens) };
    }
    if (e.type === 'system' && e.subtype === 'status' && (e as { compact_result?: unknown }).compact_result === 'failed')
      failure = String((e as { compact_error?: unknown }).compact_error ?? 'compaction failed');
    if (e.type === 'assistant' && isMessage(e)) said = blocksOf(e).map((b) => b.text ?? '').join(' ').trim() || said;
    if (e.type === 'result' && typeof (e as { result?: unknown }).result === 'string') said = (e as { result: string }).result.trim() || said;
  }
  return { ok: false, why: failure ?? said ?? 'claude reported no compaction' };
}

/**
 * Drops the stored session once the queue is free: the next turn starts a new one. Writes a
 * `session` row `{action: 'cleared', session_id, text}`.
 */
export function clearSession(loop: TurnLoop): Promise<Outcome> {
  return loop.exclusive(() => {
    const old = loop.history.getKv('session');
    if (!old) return { ok: true, text: 'there is no session yet: the next turn starts a new one' };
    loop.history.setKv('session', '');
    const text = `session cleared: the next turn starts a new one (the old one was ${old})`;
    loop.history.append(null, 'session', { action: 'cleared', session_id: old, text });
    return { ok: true, text };
  });
}

/**
 * Compacts the stored session with Claude Code's `/compact` once the queue is free; `instructions`
 * (may be empty) are handed to it as what to focus on. On success writes a `session` row
 * `{action: 'compacted', session_id, pre_tokens, post_tokens, text}`; either way a `job` row ends
 * the run. Never throws.
 */
export function compactSession(loop: TurnLoop, instructions = ''): Promise<Outcome> {
  return loop.exclusive(async () => {
    const id = loop.history.getKv('session');
    if (!id) return { ok: false, text: 'there is no session to compact yet: the next turn starts one' };
    const started = Date.now();
    const prompt = `/compact${instructions.trim() ? ` ${instructions.trim()}` : ''}`;
    const run = await loop.runJob('compact', loop.sessionArgv(prompt, { id, resume: true }), { text: `compacting session ${id}` });
    if (typeof run.result?.total_cost_usd === 'number') loop.recordSessionCost(run.result.total_cost_usd);
    let report: CompactionReport = run.error ? { ok: false, why: run.error } : readCompaction(run.events);
    // a run that failed outright (e.g. the transcript is gone) says why on stderr
    if (!report.ok && !run.error && run.exit && run.exit.exitCode !== 0)
      report = { ok: false, why: run.exit.stderrTail.trim() || `claude exited ${run.exit.exitCode ?? run.exit.signal}` };
    if (!report.ok) {
      const text = `the session was not compacted: ${report.why}`;
      loop.endJob('compact', run, false, text, started);
      return { ok: false, text };
    }
    const tokens = report.preTokens !== null && report.postTokens !== null ? `: about ${report.preTokens} → ${report.postTokens} tokens` : '';
    const text = `session compacted${tokens}`;
    loop.history.append(run.id, 'session', { action: 'compacted', session_id: id, pre_tokens: report.preTokens, post_tokens: report.postTokens, text });
    loop.endJob('compact', run, true, text, started);
    return { ok: true, text };
  });
}
