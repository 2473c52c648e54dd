/**
 * @module claude/standby
 * A claude process started ahead of the agent's next turn, so the turn does not wait for claude to
 * start. Claude takes 350–550 ms from its spawn to its first model request (docs/performance.md,
 * "Turn start"); a claude already started under `--input-format stream-json` sends its first
 * request 110–170 ms after it is handed the prompt, because it has loaded itself and its session
 * by then.
 *
 * The turn loop starts one after a turn ends, with the argv and environment the next turn would
 * have, and keeps it for a while (`--standby-seconds`, default 30): conversations come in bursts,
 * and an agent that just turned is the one likely to turn again. While it waits, a standby holds
 * about 170 MiB and, once its own start-up is over, about 0.35 % of one core (docs/performance.md),
 * which is why it does not outlive that window, and why an agent that has been idle longer has none.
 *
 * A standby is taken only when nothing it was started with has changed: the {@link StandbyKey}
 * (argv, environment and the MCP config's content, so the model, the system prompt, the session and
 * the tools) must be equal, and the session's transcript must have the size it had when it started,
 * or claude would answer from a stale conversation. (The size, not the modification time: a
 * resuming claude touches its transcript as it starts, and transcripts only grow or are rewritten.)
 * Otherwise it is ended and the turn starts claude as usual.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startClaude, type ClaudeProcess, type ClaudeSpec } from './run.ts';

/** What a standby was started for: equal keys mean the same claude command in the same state. */
export type StandbyKey = string;

/**
 * The key of a claude run: its argv, environment and working dir, plus `extra` (the content of
 * files the argv names, such as the MCP config, whose path stays the same when its content changes).
 */
export function standbyKey(spec: ClaudeSpec, extra = ''): StandbyKey {
  const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Bun.hash(JSON.stringify([spec.argv, env, spec.cwd, extra])).toString(36);
}

/**
 * The state of session `id`'s transcript in `claudeDir` (Claude Code keeps it as
 * `projects/<project>/<id>.jsonl`): its size in bytes, as a string, or null when there is none.
 */
export function transcriptStamp(claudeDir: string, id: string): string | null {
  let projects: string[];
  try {
    projects = readdirSync(join(claudeDir, 'projects'));
  } catch {
    return null; // no transcripts yet: nothing to resume
  }
  for (const p of projects) {
    try {
      const st = statSync(join(claudeDir, 'projects', p, `${id}.jsonl`));
      return String(st.size);
    } catch {
      // not in this project's directory; look in the next
    }
  }
  return null;
}

/** Why {@link Standby.take} handed over no process: none was held, it had exited, or what it was started with changed. */
export type StandbyMiss = 'none' | 'exited' | 'changed' | 'transcript';

/**
 * At most one standby claude, with its expiry. Every method is synchronous and never throws.
 */
export class Standby {
  private held: { key: StandbyKey; stamp: string | null; proc: ClaudeProcess; since: number; timer: Timer } | null = null;

  /** @param log where a standby that could not start or was ended early is reported. */
  constructor(private readonly log: (line: string) => void = () => {}) {}

  /** The held process's pid, or null. */
  get pid(): number | null {
    return this.held?.proc.pid ?? null;
  }

  /**
   * Starts claude from `spec` and holds it for `seconds`, ending any held before. `stamp` is the
   * session transcript's state now ({@link transcriptStamp}), to be compared on {@link take}.
   * @returns whether it started.
   */
  start(spec: ClaudeSpec, key: StandbyKey, stamp: string | null, seconds: number): boolean {
    this.discard();
    let proc: ClaudeProcess;
    try {
      proc = startClaude(spec);
    } catch (err) {
      this.log(`standby claude did not start: ${(err as Error).message}`);
      return false;
    }
    // the timer is unref'd: a standby never keeps the harness alive
    const timer = setTimeout(() => this.discard(), seconds * 1000);
    timer.unref();
    this.held = { key, stamp, proc, since: Date.now(), timer };
    return true;
  }

  /**
   * Hands over the held claude when it was started with `key`, the transcript still has `stamp`,
   * and it is still running; otherwise ends it. Either way nothing is held afterwards.
   * @returns the process and how long it had waited (ms), or why there was none to take.
   */
  take(key: StandbyKey, stamp: string | null): { proc: ClaudeProcess; waitedMs: number } | { miss: StandbyMiss } {
    const h = this.held;
    if (!h) return { miss: 'none' };
    this.held = null;
    clearTimeout(h.timer);
    const miss: StandbyMiss | null = h.proc.exitCode !== null || h.proc.signalCode !== null ? 'exited' : h.key !== key ? 'changed' : h.stamp !== stamp ? 'transcript' : null;
    if (miss) {
      end(h.proc);
      return { miss };
    }
    return { proc: h.proc, waitedMs: Date.now() - h.since };
  }

  /** Ends the held claude, if any: its stdin is closed, so it exits without a model request. */
  discard(): void {
    const h = this.held;
    if (!h) return;
    this.held = null;
    clearTimeout(h.timer);
    end(h.proc);
  }
}

/**
 * Ends a standby: the end of stdin makes claude exit at once; SIGKILL follows after 5 s if it has
 * not. Its output is read away so a full pipe can never hold it.
 */
function end(proc: ClaudeProcess): void {
  void Promise.resolve(proc.stdin.end()).catch(() => undefined);
  void proc.stdout.pipeTo(new WritableStream()).catch(() => undefined);
  void proc.stderr.pipeTo(new WritableStream()).catch(() => undefined);
  const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
  kill.unref();
  void proc.exited.then(() => clearTimeout(kill));
}
