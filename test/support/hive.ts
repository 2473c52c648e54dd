/**
 * Test harness: a real core in a temp data dir, in-process ({@link openTestHive}) or as the real
 * `hive core serve` subprocess ({@link startCoreProcess}), plus small waiting helpers.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCoreConfig, type CoreFlags } from '../../src/core/settings.ts';
import { Hive } from '../../src/core/hive.ts';
import { ENTRY } from '../../src/shared/version.ts';

/** A fresh temp dir (short, so socket paths stay under 107 bytes). */
export function tempDir(prefix = 'hv-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Opens a real Hive on data dir `dir` (the process runtime; the manager is off unless
 * `flags['no-manager']` is false), appending its log lines to `logs`: for tests that reopen one data
 * dir across core restarts. Sandboxes show the host's `/usr` (`--host-root`) unless `flags` name an
 * `images-dir`: building images is the business of the image tests alone (`test/e2e/images*`).
 */
export function openHiveAt(dir: string, logs: string[], flags: CoreFlags = {}, env: Record<string, string> = {}): Promise<Hive> {
  const hostRoot = flags['images-dir'] === undefined ? { 'host-root': true } : {};
  const config = loadCoreConfig({ 'no-manager': true, runtime: 'process', ...hostRoot, ...flags, 'data-dir': dir }, { PATH: process.env.PATH, ...env });
  return Hive.open(config, (l) => logs.push(l));
}

/** Opens a real Hive in a temp dir. The manager is off unless `flags['no-manager']` is false. */
export async function openTestHive(flags: CoreFlags = {}, env: Record<string, string> = {}) {
  const dir = tempDir();
  const logs: string[] = [];
  const hive = await openHiveAt(dir, logs, flags, env);
  return {
    hive,
    dir,
    logs,
    async close() {
      await hive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` every 50 ms until it returns a truthy value or `ms` pass. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, ms = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await Bun.sleep(50);
  }
}

/** True while a process with id `pid` exists (signal 0 probes without delivering anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: no such process
    return false;
  }
}

/** `pid` and every process below it, read from /proc (parents before children). */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process ended while being read
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parent.get(out[i]!) ?? []));
  return out;
}

/** A process's argv from `/proc/<pid>/cmdline`, or [] once it has ended. */
export function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return []; // it ended while being read
  }
}

/**
 * How many JIT pools process `pid` maps: anonymous executable mappings, where JavaScriptCore puts
 * the code it compiles (one pool, reserved at start-up, unless the JIT is off).
 */
export function jitPools(pid: number): number {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((line) => {
      const [, perms, , , , path] = line.split(/\s+/);
      return !!perms?.includes('x') && !path;
    }).length;
}

/**
 * Each harness (`<bun> <entry> agent serve`) in the process tree under `pid`: its pid and argv. The
 * sandbox's wrappers (bwrap, systemd-nspawn) carry the command too, after their own, and are left out.
 */
export function harnessesUnder(pid: number): { pid: number; argv: string[] }[] {
  return processTree(pid)
    .map((p) => ({ pid: p, argv: argvOf(p) }))
    .filter(({ argv }) => argv[0] === process.execPath && argv.slice(-2).join(' ') === 'agent serve');
}

/** Runs `hive <args>` to completion and returns its output. */
export function hive(args: string[], env: Record<string, string | undefined> = {}) {
  const r = Bun.spawnSync([process.execPath, ENTRY, ...args], { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `hive ctl <args> --json --data-dir <dir>`, parsed. */
export function ctlJson<T = any>(dir: string, ...args: string[]): T {
  const r = hive(['ctl', ...args, '--json', '--data-dir', dir]);
  if (r.code !== 0) throw new Error(`hive ctl ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * {@link ctlJson} without blocking this process: for a core running in this same process, which
 * must keep answering while `hive ctl` waits for it.
 */
export async function ctlJsonAsync<T = any>(dir: string, ...args: string[]): Promise<T> {
  const p = Bun.spawn([process.execPath, ENTRY, 'ctl', ...args, '--json', '--data-dir', dir], { stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`hive ctl ${args.join(' ')} exited ${code}: ${stdout}${stderr}`);
  return JSON.parse(stdout) as T;
}

/** Waits (up to 60 s) for the finished turn of `agent` woken by message `id`, read with `hive ctl turns`. */
export function turnFor(dir: string, agent: string, id: number) {
  return waitFor(
    `${agent}'s turn for message #${id}`,
    () => (ctlJson(dir, 'turns', '--agent', agent, '--limit', '50').turns as any[]).find((t) => t.trigger_message_id === id && t.status !== 'running'),
    60_000,
  );
}

/**
 * Starts the real `hive core serve` as a subprocess and waits for its admin socket. The dashboard
 * listens on `listen` (default: 127.0.0.1 and a random port). As with {@link openHiveAt}, sandboxes
 * show the host's `/usr` unless `flags` hold `--images-dir`.
 */
export async function startCoreProcess(dir: string, flags: string[], env: Record<string, string>, listen: { host?: string; port?: number } = {}) {
  const port = listen.port ?? 17000 + Math.floor(Math.random() * 2000);
  const runtime = flags.includes('--runtime') ? [] : ['--runtime', 'process'];
  const hostRoot = flags.includes('--images-dir') ? [] : ['--host-root'];
  const proc = Bun.spawn([process.execPath, ENTRY, 'core', 'serve', '--data-dir', dir, '--listen', `${listen.host ?? '127.0.0.1'}:${port}`, ...runtime, ...hostRoot, ...flags], {
    env: { PATH: process.env.PATH!, HOME: dir, ...env },
    stdout: Bun.file(join(dir, 'core.out')),
    stderr: Bun.file(join(dir, 'core.err')),
  });
  await waitFor('the core to answer', () => hive(['ctl', 'status', '--data-dir', dir]).code === 0, 20_000);
  return {
    proc,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}

/**
 * A test host on 127.0.0.1 (a random port) that answers every request with `body` and records
 * each request's path in `hits`, in order. Stop it with `server.stop(true)`.
 */
export function startTestHost(body: string): { server: ReturnType<typeof Bun.serve>; hits: string[] } {
  const hits: string[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      hits.push(new URL(req.url).pathname);
      return new Response(body);
    },
  });
  return { server, hits };
}
