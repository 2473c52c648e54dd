/**
 * @module version
 * The hive's version (from package.json) and where the package lives, so the core can start
 * `hive agent serve` and `hive mcp` with the same code it runs itself.
 */
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import pkg from '../../package.json' with { type: 'json' };

/** The package version, e.g. `0.1.0`. */
export const VERSION: string = pkg.version;

/** The package root directory (holds package.json, prompts/, static/, views/). */
export const PACKAGE_ROOT = resolve(import.meta.dir, '../..');

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
