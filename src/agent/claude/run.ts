/**
 * @module claude/run
 * Runs one `claude` process and streams its stdout as typed events, line by line, as they come.
 * Lines that are not stream-json are reported raw (the CLI prints plain text on some failures).
 */
import { parseEventLine } from './stream.ts';
import type { ClaudeEvent } from '../../shared/stream-json.ts';
import { eachLine } from '../../shared/lines.ts';

/** Options of {@link runClaude}. */
export interface RunClaudeOptions {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Called for every parsed stream-json event, in order. */
  onEvent: (e: ClaudeEvent) => void;
  /** Called for stdout lines that are not events and for every stderr line. */
  onRaw?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the process (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** Written to claude's stdin (which `claude -p` reads as the prompt when the argv has none); default: none. */
  stdin?: string;
}

/** How a claude run ended. */
export interface ClaudeExit {
  exitCode: number | null;
  signal: string | null;
  /** Last lines of stderr (at most 4000 characters), for error reports. */
  stderrTail: string;
}

/**
 * Runs claude to completion.
 * @throws when the binary cannot be started (e.g. not found).
 */
export async function runClaude(opts: RunClaudeOptions): Promise<ClaudeExit> {
  const stdin = opts.stdin === undefined ? 'ignore' : new Blob([opts.stdin]);
  const child = Bun.spawn(opts.argv, { cwd: opts.cwd, env: opts.env, stdin, stdout: 'pipe', stderr: 'pipe' });
  const onAbort = () => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let stderrTail = '';
  try {
    await Promise.all([
      eachLine(child.stdout, (line) => {
        const ev = parseEventLine(line);
        if (ev) opts.onEvent(ev);
        else if (line.trim()) opts.onRaw?.(line, 'stdout');
      }),
      eachLine(child.stderr, (line) => {
        stderrTail = (stderrTail + line + '\n').slice(-4000);
        opts.onRaw?.(line, 'stderr');
      }),
    ]);
    await child.exited;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return {
    exitCode: child.signalCode ? null : child.exitCode,
    signal: child.signalCode == null ? null : String(child.signalCode),
    stderrTail,
  };
}
