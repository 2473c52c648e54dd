/**
 * @module core/configs/mounts
 * The host's side of an agent's `mounts`: each `host` path must resolve, through every symlink, to
 * a place under a directory the operator allows (`hive core serve --allow-mount DIR`), must not
 * show the data dir or make the hive's code writable, and `at` must not cover the hive's binaries.
 * The text-only rules (absolute paths, the hive's own places inside) are `shared/sandbox-options.ts`.
 *
 * The same check runs when a change is requested (`repos.ts`, a refusal is `bad_config` naming the
 * field), at every deploy and rebuild (`deploy.ts`), and when the sandbox is made
 * (`agents/lifecycle.ts`), which binds the resolved path rather than the one written: a symlink
 * planted after the request leads nowhere new. The `process` runtime binds nothing, so a config
 * with mounts is refused there.
 */
import { realpathSync } from 'node:fs';
import type { AgentConfig } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { pathsOverlap } from '../../shared/sandbox-options.ts';

/** What the host allows, fixed when the core starts. */
export interface MountPolicy {
  /** The operator's `--allow-mount` directories (absolute; resolved again at every check). */
  allowed: readonly string[];
  /** The core's data dir: never visible through a mount. */
  dataDir: string;
  /** The hive's code as every sandbox sees it (see `runtime/sandbox.ts` `codePaths`): never writable, never covered. */
  codePaths: readonly string[];
  /** False under the `process` runtime, which cannot bind anything. */
  sandboxed: boolean;
}

/** A mount ready to bind: `src` is the resolved host path. */
export interface ResolvedMount {
  src: string;
  dst: string;
  rw: boolean;
}

/** `realpath`, or null when the path does not resolve. */
function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    // missing, a dangling link, or a loop: the caller says the path does not resolve
    return null;
  }
}

/**
 * Checks every mount of `config` against `policy` and resolves its host path.
 * @param source prefixes messages, e.g. `/agents/alice/config@3f9c1e2a7b4d:agent.toml`.
 * @returns the mounts to bind, in config order.
 * @throws HiveError `bad_config` naming the field, e.g. `mounts.0.host: "/srv/data/x" resolves to
 *   /etc through a symlink, outside the directories the operator allows for mounts (/srv/data)`.
 */
export function resolveMounts(config: Pick<AgentConfig, 'mounts'>, policy: MountPolicy, source?: string): ResolvedMount[] {
  const fail = (field: string, why: string): never => {
    throw new HiveError('bad_config', `${source ? `${source}: ` : ''}${field}: ${why}`);
  };
  if (config.mounts.length && !policy.sandboxed)
    fail('mounts', 'the core runs agents with the process runtime, which cannot bind mounts (the agent sees the host as it is); remove them, or run the core with --runtime nspawn or bwrap');
  const allowedReal = policy.allowed.map((d) => ({ dir: d, real: real(d) }));
  const listed = policy.allowed.length ? policy.allowed.join(', ') : 'none: the core was started without --allow-mount';
  const dataReal = real(policy.dataDir) ?? policy.dataDir;
  const codeReal = policy.codePaths.map((c) => real(c) ?? c);
  return config.mounts.map((m, i) => {
    const field = `mounts.${i}`;
    for (const c of policy.codePaths)
      if (pathsOverlap(m.at, c)) fail(`${field}.at`, `"${m.at}" would cover the hive's own ${c} in the sandbox; pick another place, such as /data`);
    const src = real(m.host);
    if (!src) fail(`${field}.host`, `"${m.host}" does not exist on this host (or is a link that leads nowhere)`);
    const under = (p: string) => allowedReal.some((a) => a.real !== null && (p === a.real || p.startsWith(`${a.real}/`)));
    if (!under(src!)) {
      const lexical = policy.allowed.some((d) => m.host === d || m.host.startsWith(`${d}/`));
      fail(
        `${field}.host`,
        lexical || src !== m.host
          ? `"${m.host}" resolves to ${src} through a symlink, outside the directories the operator allows for mounts (${listed})`
          : `"${m.host}" is not under a directory the operator allows for mounts (${listed}); the operator adds one with hive core serve --allow-mount DIR`,
      );
    }
    if (pathsOverlap(src!, dataReal)) fail(`${field}.host`, `"${m.host}" (${src}) overlaps the hive's data dir, which no agent may see`);
    if (!m.readOnly && codeReal.some((c) => pathsOverlap(src!, c)))
      fail(`${field}.host`, `"${m.host}" (${src}) holds the hive's own code, which no agent may write; mount it with readOnly = true`);
    return { src: src!, dst: m.at, rw: !m.readOnly };
  });
}

/** A policy that allows no mounts (tests and tools that read configs without a core). */
export const NO_MOUNTS: MountPolicy = Object.freeze({ allowed: [], dataDir: '/nonexistent', codePaths: [], sandboxed: true });
