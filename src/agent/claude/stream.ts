/**
 * @module agent/claude/stream
 * The parser of Claude Code's `--output-format stream-json` output: one line in, one typed event
 * out (the event shapes and guards are in `shared/stream-json.ts`), and what the turn loop reads
 * off an event.
 */
import { blocksOf, isMessage, type ClaudeEvent } from '../../shared/stream-json.ts';

/**
 * Parses one stream-json line.
 * @returns the event, or null for blank lines and lines that are not a JSON object with a `type`.
 */
export function parseEventLine(line: string): ClaudeEvent | null {
  const t = line.trim();
  if (!t) return null;
  try {
    const v = JSON.parse(t) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string') return v as ClaudeEvent;
  } catch {
    /* not JSON: callers record it as raw output */
  }
  return null;
}

/** Names of the tools an assistant event calls. */
export function toolCalls(e: ClaudeEvent): string[] {
  if (e.type !== 'assistant' || !isMessage(e)) return [];
  return blocksOf(e)
    .filter((b) => b.type === 'tool_use' && typeof b.name === 'string')
    .map((b) => b.name!);
}
