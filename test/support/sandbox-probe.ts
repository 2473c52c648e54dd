/**
 * Probing what an agent can see and do from inside its sandbox through its own real claude turn,
 * as the sandboxed-runtime suites do (`test/e2e/sandbox-suite.ts`, `agent-options-suite.ts`):
 * {@link probeModel} is the scripted model, and {@link bashIn} sends a command and reads back
 * what it printed.
 *
 * The wake prompt carries the probe: `@@BASH <command>@@` becomes a Bash tool call, and
 * `@@READ <path>@@` a Read tool call; the tool's output becomes the turn's result, `OUT: <output>`.
 * Anything else is answered `noted`, and requests other than the main turn `ok`.
 */
import { expect } from 'bun:test';
import { isMainTurn, lastUserPrompt, toolResults, type Responder } from './model-server.ts';
import { ctlJson, turnFor, waitFor } from './hive.ts';

/** The scripted model for probes, for `startModelServer`. */
export const probeModel: Responder = (req) => {
  if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
  const results = toolResults(req.body);
  if (results.length) return [{ type: 'text', text: `OUT: ${results.at(-1)!.content.split('<system-reminder>')[0]!.trim()}` }];
  const prompt = lastUserPrompt(req.body);
  const bash = /@@BASH (.*)@@/s.exec(prompt);
  if (bash) return [{ type: 'tool_use', name: 'Bash', input: { command: bash[1], description: 'probe the sandbox' } }];
  const read = /@@READ (\S+)@@/.exec(prompt);
  if (read) return [{ type: 'tool_use', name: 'Read', input: { file_path: read[1] } }];
  return [{ type: 'text', text: 'noted' }];
};

/**
 * Runs `command` in agent `name`'s sandbox through a real claude turn (the Bash tool), with the
 * core in `dir` answering `hive ctl` and {@link probeModel} as its model, and returns what the
 * command printed. Expects the turn to end `ok` having called Bash alone.
 */
export async function bashIn(dir: string, name: string, command: string): Promise<string> {
  const { id } = ctlJson(dir, 'send', name, `@@BASH ${command}@@`);
  const turn = await turnFor(dir, name, id);
  expect(turn).toMatchObject({ status: 'ok', tools: ['Bash'] });
  return String(turn.result).replace(/^OUT: /, '');
}

/** Waits (up to 30 s) until every agent in `names` is idle, as `hive ctl list` in `dir` says. */
export async function allIdle(dir: string, names: string[]): Promise<void> {
  await waitFor(`${names.join(', ')} idle`, () => {
    const idle = ctlJson(dir, 'list').agents.filter((a: any) => a.status === 'idle').map((a: any) => a.name);
    return names.every((n) => idle.includes(n));
  });
}
