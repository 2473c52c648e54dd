/**
 * @module core/agents/harness-jit
 * Harnesses run with JavaScriptCore's JIT off (`BUN_JSC_useJIT=0`, JSC's `useJIT` option, which
 * Bun reads from `BUN_JSC_`-prefixed variables at start-up; see Bun's docs on JSC options and
 * WebKit's `Source/JavaScriptCore/runtime/OptionsList.h`). A harness waits on sockets and hands
 * work to native code (JSON, sqlite, subprocesses); nothing it runs is hot enough for compiled code
 * to pay for the JIT's memory: with it off, an idle harness held 45.5 MiB instead of 53.8, and
 * 49.3 instead of 64.4 after ten turns, with the same CPU time per turn and the same turn start;
 * its page renders about 1 ms slower (`bench/harness.ts`, docs/performance.md#memory-benchmemoryts).
 *
 * Claude, the agent's terminals and the tools they run do not inherit it: the harness hands them
 * only the variables `agent/env.ts` passes on. The core itself keeps the JIT (the broker and the
 * dashboard are hot paths).
 */

/** The variable, and the value a harness gets. */
export const HARNESS_JIT_VAR = 'BUN_JSC_useJIT';
export const HARNESS_JIT_OFF = '0';

/** How long the probe may take before the JIT stays on, ms (it blocks the core's event loop). */
const PROBE_TIMEOUT_MS = 5000;

const probed = new Map<string, boolean>();

/**
 * Whether the Bun at `bun` starts with {@link HARNESS_JIT_VAR}=0. Bun refuses to start on a JSC
 * option it does not know, and JSC's options are not a stable API, so a harness gets the variable
 * only where this holds. Runs `bun -e ''` once per executable per process (about 15 ms); a refusal
 * is logged once through `log`.
 */
export function jitOffWorks(log: (line: string) => void, bun = process.execPath): boolean {
  let ok = probed.get(bun);
  if (ok === undefined) {
    let why: string;
    try {
      const r = Bun.spawnSync([bun, '-e', ''], {
        env: { PATH: process.env.PATH ?? '', [HARNESS_JIT_VAR]: HARNESS_JIT_OFF },
        stdout: 'ignore',
        stderr: 'pipe',
        timeout: PROBE_TIMEOUT_MS,
      });
      ok = r.exitCode === 0;
      why = r.signalCode ? `killed by ${r.signalCode} after ${PROBE_TIMEOUT_MS} ms at most` : r.stderr.toString().trim().split('\n')[0]?.slice(0, 200) || `exit ${r.exitCode}`;
    } catch (err) {
      ok = false;
      why = (err as Error).message;
    }
    if (!ok) log(`WARN harnesses keep the JIT: ${bun} refuses ${HARNESS_JIT_VAR}=${HARNESS_JIT_OFF} (${why})`);
    probed.set(bun, ok);
  }
  return ok;
}
