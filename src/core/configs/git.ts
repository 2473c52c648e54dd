/**
 * @module core/configs/git
 * The one way the core runs git: through `simple-git`, with a fixed identity and with every
 * setting that could make git run a program from a repository's own `.git/config` overridden on
 * the command line (hooks, fsmonitor, signing). That matters because the manager, which may be
 * compromised, can write to every proposed repo; the core reads those repos as root.
 *
 * Under Bun, a git command that writes nothing to stdout takes ~50 ms longer through simple-git
 * (its completion waits on the child's `close`), so the callers prefer the chatty form of a
 * command (`git commit` without `--quiet`, `git add --verbose`) where there is one.
 *
 * Also: a per-key serial queue ({@link KeyedQueue}) so two git operations never race on one
 * repository's index or refs.
 */
import { simpleGit, type SimpleGit } from 'simple-git';
import { HiveError } from '../../shared/errors.ts';

/** Author and committer of every commit the core makes. */
export const CORE_IDENTITY = { name: 'hyperhive', email: 'hive@hyperhive.invalid' } as const;

/** A full or abbreviated commit id: 7 to 40 lowercase hex digits. */
const SHA_RE = /^[0-9a-f]{7,40}$/;

/**
 * Checks that `sha` looks like a commit id before it reaches a git command line.
 * @throws HiveError `bad_request` naming the value.
 */
export function validateSha(sha: string): string {
  if (!SHA_RE.test(sha)) throw new HiveError('bad_request', `"${sha.slice(0, 60)}" is not a commit id: expected 7 to 40 hex digits (a-f, 0-9)`);
  return sha;
}

/**
 * A git client rooted at `dir` (which must exist). Hooks, fsmonitor and signing are switched off
 * whatever the repository's config says; commits carry {@link CORE_IDENTITY}.
 */
export function git(dir: string): SimpleGit {
  return simpleGit({
    baseDir: dir,
    binary: 'git',
    maxConcurrentProcesses: 4,
    timeout: { block: 60_000 },
    config: [
      `user.name=${CORE_IDENTITY.name}`,
      `user.email=${CORE_IDENTITY.email}`,
      'core.hooksPath=/dev/null',
      'core.fsmonitor=false',
      'commit.gpgSign=false',
      'tag.gpgSign=false',
      'init.defaultBranch=main',
      'advice.detachedHead=false',
      'fetch.fsckObjects=true',
      'transfer.fsckObjects=true',
    ],
    // Only to let us set the two settings above to their harmless values; nothing else is allowed.
    unsafe: { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true },
  });
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
