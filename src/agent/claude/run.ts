/**
 * @module claude/run
 * Starts `claude` processes and runs them to completion, streaming stdout as typed events, line by
 * line, as they come. Lines that are not stream-json are reported raw (the CLI prints plain text on
 * some failures).
 *
 * A turn's claude reads its prompt as one stream-json user message on stdin
 * (`--input-format stream-json`, {@link userMessageLine}), so it can be started before the prompt
 * is known ({@link startClaude}) and handed the prompt later ({@link runClaude} with `proc`): that
 * is how a standby claude (`standby.ts`) takes the next turn. Facts about the pinned CLI
 * (2.1.329, checked): in that mode it prints nothing and connects to no MCP server and no model
 * before the first message arrives; after the message and the end of stdin it runs the turn and
 * exits; the end of stdin with no message makes it exit 0 at once with no output.
 */
import type { Subprocess } from 'bun';
import { parseEventLine } from './stream.ts';
import type { ClaudeEvent } from '../../shared/stream-json.ts';
import { eachLine } from '../../shared/lines.ts';

/** What a claude process is started with. */
export interface ClaudeSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

/** A started claude process whose stdin is still open (see {@link startClaude}). */
export type ClaudeProcess = Subprocess<'pipe', 'pipe', 'pipe'>;

/** Options of {@link runClaude}. */
export interface RunClaudeOptions extends ClaudeSpec {
  /** Called for every parsed stream-json event, in order. */
  onEvent: (e: ClaudeEvent) => void;
  /** Called for stdout lines that are not events and for every stderr line. */
  onRaw?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the process (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /**
   * Written to claude's stdin, which is then closed: a prompt when the argv has none, or a
   * {@link userMessageLine} under `--input-format stream-json`. Default: nothing (stdin closed).
   */
  stdin?: string;
  /**
   * A process {@link startClaude} started earlier with this spec, to run instead of starting one.
   * It must not have been handed anything on stdin yet.
   */
  proc?: ClaudeProcess;
}

/** How a claude run ended. */
export interface ClaudeExit {
  exitCode: number | null;
  signal: string | null;
  /** Last lines of stderr (at most 4000 characters), for error reports. */
  stderrTail: string;
}

/**
 * The stdin line of one user message under `--input-format stream-json`, newline-terminated.
 * Shape as Claude Code's stream-json input reads it: `{type: 'user', message: {role: 'user', content}}`.
 */
export function userMessageLine(prompt: string): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } })}\n`;
}

/**
 * Starts claude with stdin, stdout and stderr as pipes, and returns at once. Nothing reads its
 * output until {@link runClaude} is given the process; under `--input-format stream-json` it writes
 * nothing before its first message.
 * @throws when the binary cannot be started (e.g. not found).
 */
export function startClaude(spec: ClaudeSpec): ClaudeProcess {
  return Bun.spawn(spec.argv, { cwd: spec.cwd, env: spec.env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
}

/**
 * Runs claude to completion: `opts.proc` when given, else a process started from the spec.
 * @throws when the binary cannot be started (e.g. not found).
 */
export async function runClaude(opts: RunClaudeOptions): Promise<ClaudeExit> {
  const child = opts.proc ?? startClaude(opts);
  const onAbort = () => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let stderrTail = '';
  try {
    if (opts.signal?.aborted) onAbort();
    // A process that already exited (a standby whose claude failed) takes no input: EPIPE is its
    // answer, and its output below says why it ended.
    try {
      if (opts.stdin !== undefined) child.stdin.write(opts.stdin);
      await child.stdin.end();
    } catch {
      // the exit status and stderr read below report the failure
    }
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
