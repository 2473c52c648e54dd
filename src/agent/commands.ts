/**
 * @module agent/commands
 * Slash commands, typed in the agent page's prompt box (`POST /send`) or given by its buttons. The
 * harness handles them itself; they never reach the model as a message. Text that starts with
 * `/<word>` followed by a space or nothing is a command; anything else (including `/state/notes.md
 * is stale`) is a message, and a leading `//` sends the rest as a message starting with `/`.
 *
 * | command | does |
 * |---|---|
 * | `/help` | lists the commands |
 * | `/cancel` | cancels the running turn (or session/notes compaction) |
 * | `/clear` | the next turn starts a new claude session (`session.ts`) |
 * | `/compact [focus]` | compacts the session with Claude Code's `/compact` (`session.ts`) |
 * | `/model [NAME \| reset]` | switches the model from the next turn, like the dashboard's override |
 * | `/compact-notes` | rewrites `notes.md` compactly (`notes.ts`) |
 *
 * Each answer comes back as a toast and as a `command` row in the agent's history (so in its tail):
 * `{input, ok, text}`. Commands that wait on the loop's queue (clear, compact, compact-notes) answer
 * when done, or after {@link ANSWER_WAIT_MS} (at once when a turn is running) with where the result
 * will show. An unknown command is refused (`bad_request`) with the list of known ones.
 */
import { HiveError } from '../shared/errors.ts';
import { ModelName } from '../shared/agent-config-shape.ts';
import { htmlResponse, toastHeader } from '../shared/web.ts';
import { COMMAND_BUTTONS, CommandButton, CommandConfirm } from '../../views/agent/commands.tsx';
import type { Outcome, TurnLoop } from './loop.ts';
import { clearSession, compactSession } from './session.ts';

/** How long a command that waits on the queue may take before its answer says "still running", ms. */
export const ANSWER_WAIT_MS = 15_000;

/** One slash command. */
export interface CommandSpec {
  /** Without the slash. */
  name: string;
  /** What may follow the name, for `/help`; empty when nothing may. */
  args: string;
  summary: string;
  /**
   * `job`: it runs claude; its `job` rows tell the outcome, so its `command` row is written when it
   * is asked. `queued`: it waits on the loop's queue. Neither: it answers at once.
   */
  runs: 'job' | 'queued' | 'now';
  /** What it is called while it waits or runs (`job` and `queued` commands), e.g. "the session compaction". */
  doing?: string;
  run(loop: TurnLoop, arg: string): Promise<Outcome> | Outcome;
}

const MODEL_RE = new RegExp(ModelName.pattern!);

/** Refuses an argument for a command that takes none. */
function noArgs(name: string, arg: string): void {
  if (arg) throw new HiveError('bad_request', `/${name} takes nothing after it`);
}

/** The commands, in the order `/help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'help',
    args: '',
    summary: 'list these commands',
    runs: 'now',
    run: () => ({ ok: true, text: helpText() }),
  },
  {
    name: 'cancel',
    args: '',
    summary: 'cancel the running turn, or a running compaction',
    runs: 'now',
    run: (loop, arg) => {
      noArgs('cancel', arg);
      if (loop.cancelTurn()) return { ok: true, text: 'cancelling the running turn' };
      const job = loop.cancelJob();
      if (job) return { ok: true, text: `cancelling the running ${job === 'notes' ? 'notes' : 'session'} compaction` };
      return { ok: false, text: 'nothing to cancel: no turn is running' };
    },
  },
  {
    name: 'clear',
    args: '',
    summary: 'start a new claude session from the next turn (the old one stays in the history)',
    runs: 'queued',
    doing: '/clear',
    run: (loop, arg) => {
      noArgs('clear', arg);
      return clearSession(loop);
    },
  },
  {
    name: 'compact',
    args: '[what to focus on]',
    summary: "compact the session with Claude Code's own compaction",
    runs: 'job',
    doing: 'the session compaction',
    run: (loop, arg) => compactSession(loop, arg),
  },
  {
    name: 'model',
    args: '[NAME | reset]',
    summary: "switch this agent's model from the next turn, until its config changes (reset: back to the configured one)",
    runs: 'now',
    run: (loop, arg) => setModel(loop, arg),
  },
  {
    name: 'compact-notes',
    args: '',
    summary: 'rewrite notes.md compactly, keeping the previous version',
    runs: 'job',
    doing: 'the notes compaction',
    run: (loop, arg) => {
      noArgs('compact-notes', arg);
      return loop.notes.compact('operator');
    },
  },
];

/** The `/help` answer: one `/name args: summary` per command, joined with ` · `. */
export function helpText(): string {
  return COMMANDS.map((c) => `/${c.name}${c.args ? ` ${c.args}` : ''}: ${c.summary}`).join(' · ');
}

/** What the prompt box's text is. */
export type Input = { kind: 'message'; body: string } | { kind: 'command'; name: string; arg: string };

/** Tells a command from a message (see the module comment). */
export function parseInput(text: string): Input {
  const t = text.trim();
  if (t.startsWith('//')) return { kind: 'message', body: t.slice(1) };
  const m = /^\/([A-Za-z][A-Za-z0-9_-]*)(?:\s+([\s\S]*))?$/.exec(t);
  if (!m) return { kind: 'message', body: text };
  return { kind: 'command', name: m[1]!.toLowerCase(), arg: (m[2] ?? '').trim() };
}

/** The command named `name`. @throws HiveError `bad_request` naming the known commands. */
export function findCommand(name: string): CommandSpec {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new HiveError('bad_request', `unknown command /${name}; the commands are ${COMMANDS.map((c) => `/${c.name}`).join(', ')} (/help says what each does; start with // to send a message that begins with /)`);
  return spec;
}

async function setModel(loop: TurnLoop, arg: string): Promise<Outcome> {
  const name = loop.identity.name;
  if (!arg) return { ok: true, text: `${name}'s last turn used ${loop.model}; /model NAME switches it, /model reset goes back to its configured model` };
  const reset = arg === 'reset';
  if (!reset && !MODEL_RE.test(arg)) throw new HiveError('bad_request', `"${arg.slice(0, 100)}" is not a model name (e.g. haiku, sonnet, claude-sonnet-4-5)`);
  const r = await loop.client.call('operator_set_model', { model: reset ? null : arg });
  loop.model = r.model;
  return {
    ok: true,
    text: r.model_override
      ? `${name} uses ${r.model} from its next turn, until its config changes`
      : `${name} is back to its configured model, ${r.model}, from its next turn`,
  };
}

/** `p`'s value if it settles within `ms`, else undefined (0: do not wait). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return undefined;
  let timer: Timer | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs command `name` with `arg` for the operator and writes its `command` row.
 * @returns the answer: the outcome, or for a command still waiting or running after
 *   {@link ANSWER_WAIT_MS} (at once when something runs already), where its result will show.
 * @throws HiveError `bad_request` for an unknown command or bad arguments; `unavailable` when the
 *   core cannot be reached (`/model`).
 */
export async function runCommand(loop: TurnLoop, name: string, arg: string, waitMs = ANSWER_WAIT_MS): Promise<Outcome> {
  const spec = findCommand(name);
  const input = `/${name}${arg ? ` ${arg}` : ''}`;
  const row = (o: Outcome) => loop.history.append(null, 'command', { input, ok: o.ok, text: o.text });
  if (spec.runs === 'now') {
    const o = await spec.run(loop, arg);
    row(o);
    return o;
  }
  const waiting = loop.occupied;
  const label = spec.doing ?? input;
  const asked = spec.run(loop, arg);
  if (spec.runs === 'job') row({ ok: true, text: waiting ? `${label} waits for the running turn to end` : `${label} is starting` });
  const done = Promise.resolve(asked).then((o) => {
    if (spec.runs !== 'job') row(o);
    return o;
  });
  done.catch((err) => loop.log(`${input} failed: ${(err as Error).message}`));
  const o = await within(done, waiting ? 0 : waitMs);
  if (o) return o;
  return { ok: true, text: waiting ? `${label} waits for the running turn to end; the result will show in the tail` : `${label} is still running; the result will show in the tail` };
}

const fieldOf = (form: unknown, key: string): string => {
  const v = (form as Record<string, unknown> | null)?.[key];
  return typeof v === 'string' ? v : '';
};

/**
 * The page's `POST /send`: form field `body` is a message for the agent (`operator_send`, 204 and a
 * toast naming its id) or a command (204 and its answer as a toast, red when it failed). A command
 * button's post (`arm=1` or `confirm=1`) is answered with HTML for its place: the confirmation for
 * `arm`, the first button again (with the answer's toast) for `confirm`.
 * @throws HiveError `bad_request` for an empty body, an unknown command or bad arguments;
 *   whatever `operator_send` throws.
 */
export async function handleSend(loop: TurnLoop, form: unknown): Promise<Response> {
  const text = fieldOf(form, 'body');
  if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
  const input = parseInput(text);
  if (input.kind === 'message') {
    const { id } = await loop.client.call('operator_send', { body: input.body });
    return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(`queued as message #${id}`) } });
  }
  const button = COMMAND_BUTTONS.find((b) => b.command === input.name);
  if (button && fieldOf(form, 'arm') === '1') return htmlResponse(String(CommandConfirm(button)));
  if (button && fieldOf(form, 'confirm') === '1') {
    let o: Outcome;
    try {
      o = await runCommand(loop, input.name, input.arg);
    } catch (err) {
      o = { ok: false, text: (err as Error).message };
    }
    return htmlResponse(String(CommandButton(button)), { headers: { 'HX-Trigger': toastHeader(o.text, o.ok) } });
  }
  const o = await runCommand(loop, input.name, input.arg);
  return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(o.text, o.ok) } });
}
