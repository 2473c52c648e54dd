/**
 * Running Debian's `nix-instantiate` (nix-bin) on the hive's Nix files, without nixpkgs: parse a
 * file, or evaluate an expression to JSON. Suites that use these require `nix-instantiate`
 * (`test/support/prereq.ts`).
 */
import { PACKAGE_ROOT } from '../../src/shared/version.ts';

/** Runs `nix-instantiate ARGS` in the repository; its exit code, stdout and stderr. */
function nixInstantiate(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = Bun.spawnSync(['nix-instantiate', ...args], { cwd: PACKAGE_ROOT, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', timeout: 60_000 });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `nix-instantiate --parse FILE`: null when it parses, else Nix's error. */
export function nixParseError(file: string): string | null {
  const r = nixInstantiate(['--parse', file]);
  return r.code === 0 ? null : r.stderr.trim() || `exit ${r.code}`;
}

/**
 * Evaluates the Nix expression `expr` strictly, with paths relative to the repository, and
 * returns its value as JSON (`--readonly-mode`: nothing is written to a store).
 * @throws Error with Nix's message when the evaluation fails.
 */
export function nixEval<T = unknown>(expr: string): T {
  const r = nixInstantiate(['--eval', '--strict', '--json', '--readonly-mode', '-E', expr]);
  if (r.code !== 0) throw new Error(`nix-instantiate --eval failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** A Nix path literal for `file` (an absolute path, or one relative to the repository). */
export function nixPath(file: string): string {
  const abs = file.startsWith('/') ? file : `${PACKAGE_ROOT}/${file}`;
  if (!/^\/[A-Za-z0-9._+/-]+$/.test(abs)) throw new Error(`not usable as a Nix path literal: ${abs}`);
  return abs;
}
