/**
 * @module runtime/detect
 * Which runtimes this host can run, found by trying them: nspawn and bwrap run `/usr/bin/true` in a
 * minimal sandbox, so "available" means "worked just now", not "the binary exists"; for
 * nixos-container, whose first container takes a nix build, it means root and a `nixos-container
 * list` that ran. `--runtime auto` takes the first that works in the order nixos-container,
 * nspawn, bwrap, and falls back to `process` with a warning. `hive doctor` prints the same
 * findings.
 */
import { DataLayout } from '../../shared/paths.ts';
import { HiveError } from '../../shared/errors.ts';
import { BwrapRuntime } from './bwrap.ts';
import { mkdirSync } from 'node:fs';
import { NixosContainerRuntime, readConfigurationDirectory, toolEnv } from './nixos-container.ts';
import { NspawnRuntime, probeUserNamespaces } from './nspawn.ts';
import { ProcessRuntime } from './process.ts';
import type { Runtime } from './runtime.ts';
import type { RuntimeName } from '../settings.ts';

/** What was found for one runtime. */
export interface RuntimeProbe {
  name: 'nixos-container' | 'nspawn' | 'bwrap' | 'process';
  available: boolean;
  /** Why it is or is not available, for people. */
  reason: string;
  /** The executable used, when one was found. */
  bin: string | null;
}

/** Runs argv with a timeout. @returns exit code (null on timeout) and the tail of its stderr. */
function tryRun(argv: string[], timeoutMs = 15_000): { code: number | null; stderr: string } {
  try {
    const r = Bun.spawnSync(argv, { stdout: 'ignore', stderr: 'pipe', stdin: 'ignore', timeout: timeoutMs });
    return { code: r.exitCode, stderr: r.stderr.toString().trim().split('\n').slice(-2).join(' ') };
  } catch (err) {
    return { code: 1, stderr: (err as Error).message };
  }
}

/** Every runtime, in `auto` preference order. */
export const RUNTIME_ORDER: readonly RuntimeProbe['name'][] = ['nixos-container', 'nspawn', 'bwrap', 'process'];

/** Tries one runtime: is its executable there, and does a test sandbox run? */
export function probeRuntime(name: RuntimeProbe['name'], env: Record<string, string | undefined> = process.env): RuntimeProbe {
  const isRoot = process.getuid?.() === 0;
  const which = (cmd: string) => Bun.which(cmd, { PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' });
  switch (name) {
    case 'nixos-container': {
      const nixos = which('nixos-container');
      if (!nixos) return { name, available: false, bin: null, reason: 'nixos-container not found (not a NixOS host, or boot.enableContainers is off)' };
      if (!isRoot) return { name, available: false, bin: nixos, reason: 'nixos-container needs root' };
      // building a test container would take minutes: this only checks that the tool runs
      const r = tryRun([nixos, 'list']);
      return {
        name,
        available: r.code === 0,
        bin: nixos,
        reason: r.code === 0 ? 'nixos-container list ran (each agent\'s container is built when it first starts)' : `nixos-container list failed (exit ${r.code ?? 'timeout'}): ${r.stderr}`,
      };
    }
    case 'nspawn': {
      const nspawn = which('systemd-nspawn');
      if (!nspawn) return { name, available: false, bin: null, reason: 'systemd-nspawn not found (Debian: apt install systemd-container)' };
      if (!isRoot) return { name, available: false, bin: nspawn, reason: 'systemd-nspawn needs root' };
      const r = tryRun([nspawn, '--quiet', '--register=no', '--keep-unit', '--directory=/', '--volatile=yes', '--as-pid2', '--console=pipe', '--private-network', '/usr/bin/true']);
      return {
        name,
        available: r.code === 0,
        bin: nspawn,
        reason: r.code === 0 ? 'a test container ran' : `a test container failed (exit ${r.code ?? 'timeout'}): ${r.stderr}`,
      };
    }
    case 'bwrap': {
      const bwrap = which('bwrap');
      if (!bwrap) return { name, available: false, bin: null, reason: 'bwrap not found (Debian: apt install bubblewrap)' };
      const r = tryRun([bwrap, '--unshare-user', '--unshare-pid', '--unshare-net', '--die-with-parent', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev', '/usr/bin/true']);
      return {
        name,
        available: r.code === 0,
        bin: bwrap,
        reason:
          r.code === 0
            ? `a test sandbox ran${isRoot ? ' (as root: root inside is host root, with capabilities dropped)' : ''}`
            : `a test sandbox failed (exit ${r.code ?? 'timeout'}): ${r.stderr}${isRoot ? '' : ' (unprivileged user namespaces may be disabled)'}`,
      };
    }
    case 'process':
      return { name, available: true, bin: null, reason: 'always available, but not a sandbox: agents see everything your user sees' };
  }
}

/** Probes every runtime, in `auto` preference order (for `hive doctor`). */
export function probeRuntimes(env: Record<string, string | undefined> = process.env): RuntimeProbe[] {
  return RUNTIME_ORDER.map((n) => probeRuntime(n, env));
}

/**
 * Builds the runtime named by the core's config; `auto` picks by probing.
 * @param warn receives a line when `auto` falls back to `process`.
 * @throws HiveError `unavailable` when a named runtime does not work on this host (the message says why).
 */
export function createRuntime(
  name: RuntimeName,
  opts: { dataDir: string; claudeBin: string; env?: Record<string, string | undefined> },
  warn: (line: string) => void = () => {},
): Runtime {
  if (name === 'process') return new ProcessRuntime();
  // Probe only what is needed: the named runtime, or for `auto` each in order until one works.
  let probe: RuntimeProbe | undefined;
  if (name === 'auto') {
    const failed: RuntimeProbe[] = [];
    for (const n of RUNTIME_ORDER) {
      if (n === 'process') break;
      const p = probeRuntime(n, opts.env);
      if (p.available) {
        probe = p;
        break;
      }
      failed.push(p);
    }
    if (!probe) {
      warn(`no sandbox runtime works here; agents run unsandboxed (${failed.map((p) => `${p.name}: ${p.reason}`).join('; ')})`);
      return new ProcessRuntime();
    }
  } else {
    probe = probeRuntime(name, opts.env);
  }
  if (!probe.available || !probe.bin) throw new HiveError('unavailable', `runtime ${name} does not work here: ${probe.reason}`);
  const layout = new DataLayout(opts.dataDir);
  const sandboxOpts = {
    dataDir: opts.dataDir,
    claudeBin: opts.claudeBin,
    proposedDir: layout.proposedDir,
    sandboxDir: (n: string) => layout.sandboxDir(n),
    bin: probe.bin,
  };
  if (probe.name === 'nixos-container')
    return new NixosContainerRuntime({ ...sandboxOpts, configurationDirectory: readConfigurationDirectory(probe.bin), env: toolEnv(opts.env ?? process.env) });
  if (probe.name !== 'nspawn') return new BwrapRuntime(sandboxOpts);
  mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
  const why = probeUserNamespaces(probe.bin, layout.runDir);
  if (why) warn(`nspawn containers run without a user namespace, so root inside is root on the host: ${why}`);
  return new NspawnRuntime({ ...sandboxOpts, userns: why === null });
}
