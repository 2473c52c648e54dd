/**
 * @module sandbox-options
 * The rules for what an `agent.toml` may ask of its sandbox beyond the hive's own layout: `env`
 * (variables for the harness, claude and its tools) and `mounts` (host directories bound in). These
 * are the checks that need nothing but the text of the config, run wherever a config is parsed
 * (`agent-config.ts`). What depends on the host (the operator's `--allow-mount` dirs, symlinks, the
 * runtime) is checked by the core (`core/configs/mounts.ts`) when a change is requested and again
 * when the sandbox is made.
 *
 * Neither is a place for secrets: the config is a git repo the manager reads and writes, and the
 * variables are visible to everything the agent runs.
 */
import { posix } from 'node:path';
import { PACKAGE_ROOT } from './version.ts';

/** Most variables in `env`. */
export const MAX_ENV_VARS = 64;
/** Longest variable name, characters. */
export const MAX_ENV_NAME = 128;
/** Longest value, characters. */
export const MAX_ENV_VALUE = 4096;
/** Most characters of all names and values together. */
export const MAX_ENV_TOTAL = 32 * 1024;
/** Most entries in `mounts`. */
export const MAX_MOUNTS = 32;
/** Longest `host` or `at` path, characters. */
export const MAX_MOUNT_PATH = 1024;

/** What an environment variable name may look like (POSIX portable names). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variable names the hive sets itself, compared without regard to case. A config may not set them:
 * they carry the agent's identity and sockets (`HIVE_*`), the model gateway (`ANTHROPIC_*`) and
 * claude's own settings (`CLAUDE_*`, `DISABLE_AUTOUPDATER`, `ENABLE_TOOL_SEARCH`), the egress path
 * (every `*_PROXY`), where programs and home are (`PATH`, `HOME`, `USER`), and how the hive's own
 * binaries load and run (`LD_*`, `BUN_*`, `MIMALLOC_*`, `NODE_OPTIONS`). `LANG`, `TZ` and `TMPDIR`, which the core
 * only passes on from its own environment, may be set and then win.
 */
export const RESERVED_ENV = {
  names: ['PATH', 'HOME', 'USER', 'NODE_OPTIONS', 'DISABLE_AUTOUPDATER', 'ENABLE_TOOL_SEARCH'],
  prefixes: ['HIVE_', 'ANTHROPIC_', 'CLAUDE_', 'LD_', 'BUN_', 'MIMALLOC_'],
  suffixes: ['_PROXY'],
} as const;

/**
 * Why `name` may not be set by an agent's `env`, or null when it may.
 * @example envNameProblem('HTTPS_PROXY') // '"HTTPS_PROXY" is reserved for the hive (every *_PROXY variable), …'
 */
export function envNameProblem(name: string): string | null {
  if (name.length > MAX_ENV_NAME) return `the name is longer than ${MAX_ENV_NAME} characters`;
  if (!ENV_NAME.test(name)) return `"${name}" is not a variable name: letters, digits and "_", not starting with a digit`;
  const upper = name.toUpperCase();
  const why = (rule: string) => `"${name}" is reserved for the hive (${rule}), which sets it or runs by it; see docs/agent-config.md for the names an agent's env may not use`;
  if ((RESERVED_ENV.names as readonly string[]).includes(upper)) return why(upper);
  for (const p of RESERVED_ENV.prefixes) if (upper.startsWith(p)) return why(`every ${p}* variable`);
  for (const s of RESERVED_ENV.suffixes) if (upper.endsWith(s)) return why(`every *${s} variable`);
  return null;
}

/**
 * Places inside every sandbox that belong to the hive: a mount may not land on one, inside one, or
 * on a directory that holds one. The hive package (`PACKAGE_ROOT`) is added to these; the bun and
 * claude binaries, whose paths depend on the host, are checked by the core.
 */
export const RESERVED_TARGETS: readonly string[] = [
  '/state',
  '/run',
  '/shared',
  '/agents',
  '/logs',
  '/root',
  '/tmp',
  '/proc',
  '/dev',
  '/sys',
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
];

/** True when `a` and `b` are the same path or one lies inside the other. */
export function pathsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(b === '/' ? '/' : `${b}/`) || b.startsWith(a === '/' ? '/' : `${a}/`);
}

/**
 * Why `path` is not an absolute, normalised path, or null when it is: it starts with `/`, has no
 * `.` or `..` segment, no empty segment, no trailing `/`, and no NUL.
 */
export function absolutePathProblem(path: string): string | null {
  if (!path.startsWith('/')) return `"${path}" is a relative path; give an absolute one`;
  if (path.includes('\0')) return 'holds a NUL character';
  if (path !== '/' && (posix.normalize(path) !== path || path.endsWith('/')))
    return `"${path}" is not in normal form (no ".", "..", "//" or trailing "/"); write ${JSON.stringify(posix.normalize(path).replace(/(.)\/$/, '$1'))}`;
  return null;
}

/**
 * Why `at` may not be a mount's place inside the sandbox, or null when it may.
 * @param extra more reserved places (the core adds its binaries' paths).
 */
export function mountTargetProblem(at: string, extra: readonly string[] = []): string | null {
  const bad = absolutePathProblem(at);
  if (bad) return bad;
  if (at === '/') return 'cannot be "/": the sandbox\'s root belongs to the hive';
  for (const r of [...RESERVED_TARGETS, PACKAGE_ROOT, ...extra])
    if (pathsOverlap(at, r)) return `"${at}" would cover the hive's own ${r} in the sandbox; pick another place, such as /data or /srv/<name>`;
  return null;
}
