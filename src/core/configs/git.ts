/**
 * @module core/configs/git
 * The one way the core runs git: {@link git} gives a small client over `Bun.spawn` for one
 * repository. Every command is an argv array (never a shell line) and runs
 *
 * - with a fixed identity ({@link CORE_IDENTITY}) and with every setting that could make git run a
 *   program from a repository's own `.git/config` overridden on the command line (hooks, fsmonitor,
 *   signing). That matters because the manager, which may be compromised, can write to every
 *   proposed repo; the core reads those repos as root;
 * - in an environment of its own ({@link gitEnv}): no system or user config (`GIT_CONFIG_NOSYSTEM`,
 *   `GIT_CONFIG_GLOBAL=/dev/null`), no inherited `GIT_*` variable (a stray `GIT_DIR` or
 *   `GIT_INDEX_FILE` would redirect a command to another repository), no search for a repository
 *   above its directory, no prompt, C locale;
 * - with a time limit ({@link GIT_TIMEOUT_MS}).
 *
 * A command that exits non-zero rejects with a {@link GitError} carrying git's exit code and stderr.
 * {@link Git.revParse} is the one place where a failure means "absent": `rev-parse --verify
 * --quiet` exits 1 with nothing on stderr for a name that does not resolve, and that alone gives
 * null; anything else (not a repository, a corrupt ref or object) is an error.
 *
 * simple-git was used before; it cost ~50 ms per command that writes nothing to stdout under Bun
 * and was used almost only through `raw()`. `bench/git.ts` compares the two; see
 * docs/config-repos.md ("How the core runs git").
 *
 * Also: a per-key serial queue ({@link KeyedQueue}) so two git operations never race on one
 * repository's index or refs.
 */
import { dirname, resolve } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { COMMIT_ID_RE } from '../../shared/wire.ts';

/** Author and committer of every commit the core makes. */
export const CORE_IDENTITY = { name: 'hyperhive', email: 'hive@hyperhive.invalid' } as const;

/** Longest a git command may run before it is killed, ms. Config repos are tiny; this is a hang guard. */
export const GIT_TIMEOUT_MS = 60_000;

/**
 * `-c` settings given to every command. They take precedence over the repository's own config,
 * which for a proposed repo the manager writes.
 */
const SAFE_CONFIG = [
  `user.name=${CORE_IDENTITY.name}`,
  `user.email=${CORE_IDENTITY.email}`,
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.pager=cat',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'init.defaultBranch=main',
  'advice.detachedHead=false',
  'fetch.fsckObjects=true',
  'transfer.fsckObjects=true',
].flatMap((kv) => ['-c', kv]);


/**
 * Checks that `sha` looks like a commit id before it reaches a git command line.
 * @returns `sha` unchanged.
 * @throws HiveError `bad_request` naming the value.
 */
export function validateSha(sha: string): string {
  if (!COMMIT_ID_RE.test(sha)) throw new HiveError('bad_request', `"${sha.slice(0, 60)}" is not a commit id: expected 7 to 40 hex digits (a-f, 0-9)`);
  return sha;
}

/**
 * The environment of a git command run in `dir`: `PATH` from the core's environment and nothing
 * else inherited; system and user config files switched off; no terminal prompt; C locale, so
 * messages are the same everywhere; and no repository discovery above `dir` (a data dir inside
 * some checkout never makes a command act on that checkout).
 */
export function gitEnv(dir: string, env: Record<string, string | undefined> = process.env): Record<string, string> {
  return {
    PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    GIT_CEILING_DIRECTORIES: dirname(resolve(dir)),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    LC_ALL: 'C',
  };
}

/** A git command that did not succeed: it exited non-zero, was killed, or could not start. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    /** The arguments after `git` (without the `-c` settings). */
    readonly args: readonly string[],
    /** The repository (working directory) it ran in. */
    readonly dir: string,
    /** Its exit code; null when it was killed or never started. */
    readonly exitCode: number | null,
    /** What git wrote to stderr, trimmed. */
    readonly stderr: string,
    why?: string,
  ) {
    const said = stderr.split('\n').filter(Boolean).slice(0, 5).join(' / ');
    super(`git ${args[0] ?? ''} in ${dir} failed (${why ?? `exit ${exitCode}`})${said ? `: ${said}` : ''}`);
  }
}

/** What a command left behind, whatever its exit code. */
export interface GitOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A git client for one repository (or, for `init`/`clone`, the directory to run in). */
export interface Git {
  /** The directory every command runs in. */
  readonly dir: string;
  /**
   * Runs `git <args>` and returns its stdout (untrimmed).
   * @param opts.input text written to git's stdin.
   * @throws GitError when git exits non-zero, is killed after {@link GIT_TIMEOUT_MS}, or cannot start.
   */
  run(args: readonly string[], opts?: { input?: string }): Promise<string>;
  /**
   * Runs `git <args>` and returns exit code, stdout and stderr, for callers that give a non-zero
   * exit a meaning of their own.
   * @throws GitError only when git is killed after {@link GIT_TIMEOUT_MS} or cannot start.
   */
  exec(args: readonly string[], opts?: { input?: string }): Promise<GitOutput>;
  /**
   * The object id `rev` names (`rev-parse --verify --quiet`), or null when it names nothing.
   * @throws GitError for any other failure (not a repository, a corrupt ref or object).
   */
  revParse(rev: string): Promise<string | null>;
}

/**
/** Git processes started by {@link git} clients in this process. */
let spawned = 0;

/**
 * How many git processes {@link git} clients have started in this process so far (whether or not
 * they succeeded): a counter for benchmarks and tests that check a path runs no git.
 */
export function gitSpawnCount(): number {
  return spawned;
}

/**
 * A git client rooted at `dir` (which must exist). Hooks, fsmonitor and signing are off whatever
 * the repository's config says; commits carry {@link CORE_IDENTITY}; see the module comment.
 */
export function git(dir: string): Git {
  const exec = async (args: readonly string[], opts: { input?: string } = {}): Promise<GitOutput> => {
    let proc: ReturnType<typeof Bun.spawn>;
    spawned++;
    try {
      proc = Bun.spawn(['git', ...SAFE_CONFIG, ...args], {
        cwd: dir,
        env: gitEnv(dir),
        stdin: opts.input === undefined ? 'ignore' : new TextEncoder().encode(opts.input),
        stdout: 'pipe',
        stderr: 'pipe',
        timeout: GIT_TIMEOUT_MS,
      });
    } catch (err) {
      throw new GitError(args, dir, null, '', `cannot start git: ${(err as Error).message}`);
    }
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout as ReadableStream).text(),
      new Response(proc.stderr as ReadableStream).text(),
      proc.exited,
    ]);
    if (proc.signalCode) throw new GitError(args, dir, null, stderr.trim(), proc.killed ? `killed after ${GIT_TIMEOUT_MS / 1000} s` : `killed by ${proc.signalCode}`);
    return { exitCode, stdout, stderr };
  };
  return {
    dir,
    exec,
    async run(args, opts) {
      const r = await exec(args, opts);
      if (r.exitCode !== 0) throw new GitError(args, dir, r.exitCode, r.stderr.trim());
      return r.stdout;
    },
    async revParse(rev) {
      const args = ['rev-parse', '--verify', '--quiet', '--end-of-options', rev];
      const r = await exec(args);
      if (r.exitCode === 0) return r.stdout.trim() || null;
      // "does not resolve" is exit 1 and a silent stderr; anything else is a broken repository
      if (r.exitCode === 1 && !r.stderr.trim()) return null;
      throw new GitError(args, dir, r.exitCode, r.stderr.trim());
    },
  };
}

/**
 * Runs tasks one at a time per key (an agent's name, or `meta`), in submission order; different
 * keys run concurrently. A failing task does not stop the ones queued after it.
 */
export class KeyedQueue {
  private tails = new Map<string, Promise<unknown>>();

  /** Resolves once every queued task has settled. */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.all(this.tails.values());
  }

  /** Queues `task` behind every earlier task of `key`; resolves or rejects with its outcome. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    // the tail only orders the next task; each task's own outcome goes to its caller through `next`
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
