/**
 * @module version
 * The hive's version and where the package lives, so the core can start `hive agent serve` and
 * `hive mcp` with the same code it runs itself.
 *
 * The version is package.json's `version` plus a hash of the code the agents run
 * ({@link CODE_ID}), as semver build metadata: `0.1.0+4a18600a8ed3`. The core records it when an
 * agent's sandbox comes up and rebuilds an agent whose record differs at the next core start
 * (auto-update), so new code reaches running agents without a version bump.
 */
import { existsSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };

/**
 * Set by `bun build --define` when the harness is bundled (`core/agents/harness-bundle.ts`): the
 * bundle lives in the data dir, so its own location says nothing about where the package is.
 */
declare const HIVE_PACKAGE_ROOT: string | undefined;

/** The package root directory (holds package.json, prompts/, static/, views/). */
export const PACKAGE_ROOT: string = typeof HIVE_PACKAGE_ROOT === 'string' ? HIVE_PACKAGE_ROOT : resolve(import.meta.dir, '../..');

/** What {@link codeId} hashes, relative to the package root: what an agent's harness runs. */
export const CODE_PATHS = { dirs: ['src', 'prompts'], files: ['package.json', 'bun.lock'] } as const;

/**
 * A hash of the code under `root`: every file in {@link CODE_PATHS}, by relative path and
 * content, in path order. Any change to a file there changes it; nothing else does (timestamps,
 * the dashboard's `views/` and `static/`, the data dir). A path that is missing or cannot be read
 * is hashed as such (its error code), so the result is the same for the same tree and never throws.
 * About 1.5 ms for the hive's ~80 files (docs/performance.md).
 * @returns 12 hex digits (the start of a sha256).
 */
export function codeId(root: string): string {
  const hash = new Bun.CryptoHasher('sha256');
  const record = (rel: string, data: Uint8Array | string) => hash.update(`${rel}\0`).update(data).update('\0');
  const failed = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return `\0${code === 'ENOENT' ? 'absent' : `unreadable: ${code}`}`;
  };
  const file = (rel: string) => {
    try {
      record(rel, readFileSync(join(root, rel)));
    } catch (err) {
      // hashed as what it is (absent, unreadable): the id stays defined and still tells trees apart
      record(rel, failed(err));
    }
  };
  const dir = (rel: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch (err) {
      return record(rel, failed(err)); // as for a file: the failure is part of what is hashed
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.isDirectory()) dir(`${rel}/${e.name}`);
      else file(`${rel}/${e.name}`);
    }
  };
  for (const d of CODE_PATHS.dirs) dir(d);
  for (const f of CODE_PATHS.files) file(f);
  return hash.digest('hex').slice(0, 12);
}

/** {@link codeId} of this package, computed once when this module loads. */
export const CODE_ID: string = codeId(PACKAGE_ROOT);

/** package.json's version, e.g. `0.1.0`. */
export const PACKAGE_VERSION: string = pkg.version;

/**
 * The hive's version: {@link PACKAGE_VERSION} with {@link CODE_ID} as build metadata, e.g.
 * `0.1.0+4a18600a8ed3`. Shown by `hive --version`, `hive ctl status` and the dashboard, and
 * recorded as an agent's `built_version` (see auto-update in docs/config-repos.md).
 */
export const VERSION: string = `${PACKAGE_VERSION}+${CODE_ID}`;

/** Absolute path of the CLI entry point (`src/main.ts`). */
export const ENTRY = join(PACKAGE_ROOT, 'src', 'main.ts');

/**
 * The command that runs this same hive binary: the Bun executable and the entry script.
 * Used to start agents and to name `hive mcp` in claude's MCP config.
 */
export function selfCommand(): string[] {
  return [process.execPath, ENTRY];
}

/**
 * Finds the pinned claude CLI: `HIVE_CLAUDE_BIN` when set, else the package's own
 * `node_modules/.bin/claude`, else `claude` on PATH.
 */
export function defaultClaudeBin(env: Record<string, string | undefined> = process.env): string {
  if (env.HIVE_CLAUDE_BIN) return env.HIVE_CLAUDE_BIN;
  const local = join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude');
  return existsSync(local) ? local : 'claude';
}
