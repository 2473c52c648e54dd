import { describe, expect, test } from 'bun:test';
import { HARNESS_JIT_OFF, HARNESS_JIT_VAR, jitOffWorks } from '../../src/core/agents/harness-jit.ts';
import { jitPools } from '../support/hive.ts';

/**
 * Starts `bun -e` with `env`, runs a hot loop in it, and counts its JIT pools once the loop is
 * done (the process then waits for its stdin to end, which is never before it is killed).
 */
async function poolsAfterHotLoop(env: Record<string, string>): Promise<number> {
  const hot = 'function f(x) { return x + 1 } for (let i = 0; i < 1e6; i++) f(i); console.log("ready"); await Bun.stdin.text()';
  const p = Bun.spawn([process.execPath, '-e', hot], { env: { PATH: process.env.PATH!, ...env }, stdin: 'pipe', stdout: 'pipe' });
  try {
    const first = await p.stdout.getReader().read();
    expect(new TextDecoder().decode(first.value)).toBe('ready\n');
    return jitPools(p.pid);
  } finally {
    p.kill();
  }
}

describe('harnesses run without the JIT where Bun takes the option', () => {
  test('this Bun starts with it, and a process started so maps no memory for compiled code', async () => {
    const logs: string[] = [];
    expect(jitOffWorks((l) => logs.push(l))).toBe(true);
    expect(logs).toEqual([]);
    expect(await poolsAfterHotLoop({ [HARNESS_JIT_VAR]: HARNESS_JIT_OFF })).toBe(0);
    expect(await poolsAfterHotLoop({})).toBeGreaterThan(0);
  });

  test('an executable that does not start with it gets no JIT setting, and says so once', () => {
    const logs: string[] = [];
    expect(jitOffWorks((l) => logs.push(l), '/bin/false')).toBe(false);
    expect(jitOffWorks((l) => logs.push(l), '/bin/false')).toBe(false);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^WARN harnesses keep the JIT: \/bin\/false refuses BUN_JSC_useJIT=0/);
  });
});
