/**
 * @module ctl
 * `hive ctl`: the operator's command line over the admin socket (`<data>/run/host.sock`). Each
 * command prints a readable summary, or the raw reply with `--json` for scripts. Exit status: 0 on
 * success, 1 when the core refused (the message says why), 2 for a usage error.
 */
import { HiveError, toErrorInfo } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { MAX_NAME_LENGTH } from '../shared/names.ts';
import { DataLayout, resolveDataDir } from '../shared/paths.ts';
import { peerSetup } from '../shared/peer-setup.ts';
import { repeatText } from '../shared/reminders.ts';
import {
  HostOps,
  MAX_LIST_LIMIT,
  type AgentRecord,
  type OpResult,
  type ApprovalRecord,
  type MessageRecord,
  type PeerRecord,
  type QuestionRecord,
  type TurnRecord,
} from '../shared/wire.ts';

/** An option of `hive ctl`: `value` names its argument, absent for a flag. */
interface CtlOption {
  value?: string;
  help: string;
  /** May be given more than once (each value is kept). */
  multiple?: boolean;
}

/** Every option `hive ctl` knows, by name (without the leading `--`). */
export const CTL_OPTIONS = {
  json: { help: "print the core's reply as JSON" },
  'data-dir': { value: 'DIR', help: "the core's data dir (env HIVE_DATA_DIR; default as for `hive core serve`)" },
  agent: { value: 'N', help: 'only agent N' },
  limit: { value: 'K', help: `at most K entries (1-${MAX_LIST_LIMIT})` },
  all: { help: 'all recent ones, not only the open ones' },
  choice: { value: 'C', help: 'a choice to answer with; repeat it for several', multiple: true },
  reason: { value: 'R', help: 'why; the manager is told' },
  reset: { help: 'go back to the model its config names' },
  days: { value: 'N', help: 'drop failed/ and denied/ tags older than N days' },
  since: { value: 'WHEN', help: 'today, month (the default), 24h, 7d or a UTC date like 2026-11-01' },
  'allow-recipients': { value: 'A,B', help: 'whom the peer may send to besides the manager (default: anyone; "" for the manager only)' },
  'no-model': { help: "serve the peer no model gateway (model.sock, the operator's credentials)" },
  prune: { help: 'first remove the images no agent uses' },
} as const satisfies Record<string, CtlOption>;

/** Name of an option in {@link CTL_OPTIONS}. */
export type CtlOptionName = keyof typeof CTL_OPTIONS;

/** Options every command takes. */
const GLOBAL_OPTIONS: readonly CtlOptionName[] = ['json', 'data-dir'];

/** One `hive ctl` command: how it is called, what it does, which options it takes. */
export interface CtlCommand {
  /** Its forms after `hive ctl`, each with what it does (continuation lines after `\n`). */
  forms: ReadonlyArray<readonly [synopsis: string, description: string]>;
  /** How many arguments it takes after its name: at least `min`, at most `max`. */
  min: number;
  max: number;
  /** What to say when arguments are missing, e.g. `an agent NAME`. */
  needs?: string;
  /** Options beyond `--json` and `--data-dir`. */
  options?: readonly CtlOptionName[];
  /** Its first argument is an id (a positive integer). */
  id?: boolean;
}

const NAME_ARG = { min: 1, max: 1, needs: 'an agent NAME' } as const;

/**
 * Every `hive ctl` command, in the order the help lists them. The help, each command's own
 * `--help`, argument checking and the docs tests are made from this table.
 */
export const CTL_COMMANDS: Readonly<Record<string, CtlCommand>> = {
  status: { forms: [['status', 'core version, data dir, runtime, dashboard address']], min: 0, max: 0 },
  list: { forms: [['list', 'agents with state, model, runtime and whether their network is isolated']], min: 0, max: 0 },
  spawn: { forms: [['spawn NAME', `create and start agent NAME (1-${MAX_NAME_LENGTH} chars: a-z, 0-9, '-')`]], ...NAME_ARG },
  start: { forms: [['start NAME', 'start a stopped agent']], ...NAME_ARG },
  stop: { forms: [['stop NAME', 'stop an agent (it stays registered)']], ...NAME_ARG },
  destroy: { forms: [['destroy NAME', "remove an agent's sandbox; its state and claude dirs are kept"]], ...NAME_ARG },
  restart: { forms: [['restart NAME', 'stop and start an agent (re-reads its agent.toml)']], ...NAME_ARG },
  model: {
    forms: [
      ['model NAME MODEL', "switch an agent's model until its config changes"],
      ['model NAME --reset', 'go back to the model its config names'],
    ],
    min: 1,
    max: 2,
    needs: 'NAME and MODEL, or NAME --reset',
    options: ['reset'],
  },
  kept: { forms: [['kept', 'destroyed agents whose state is kept']], min: 0, max: 0 },
  purge: { forms: [['purge NAME', "delete a destroyed agent's kept state for good"]], ...NAME_ARG },
  send: { forms: [['send NAME TEXT...', 'send TEXT to NAME (an agent or "manager") as the operator']], min: 2, max: Infinity, needs: 'NAME and TEXT' },
  questions: { forms: [['questions [--all]', 'questions for the operator (unanswered, or all recent)']], min: 0, max: 0, options: ['all'] },
  answer: {
    forms: [
      ['answer ID TEXT...', 'answer a free-text question'],
      ['answer ID --choice C [--choice C2]', 'answer a choice question (repeat --choice for several)'],
    ],
    min: 1,
    max: Infinity,
    needs: 'a question ID',
    options: ['choice'],
    id: true,
  },
  rebuild: { forms: [['rebuild NAME', 'a fresh sandbox with the applied config; prints when it is up']], ...NAME_ARG },
  approvals: { forms: [['approvals [--all]', 'pending approvals (or all recent)']], min: 0, max: 0, options: ['all'] },
  approval: { forms: [['approval ID', 'one approval and the change it makes (a diff)']], min: 1, max: 1, needs: 'an approval ID', id: true },
  approve: { forms: [['approve ID', 'approve and carry out an approval (waits for the rebuild)']], min: 1, max: 1, needs: 'an approval ID', id: true },
  deny: { forms: [['deny ID [--reason R]', 'deny an approval; the manager is told']], min: 1, max: 1, needs: 'an approval ID', options: ['reason'], id: true },
  propose: { forms: [['propose NAME SHA', "queue commit SHA of NAME's proposed config repo for approval"]], min: 2, max: 2, needs: 'NAME and SHA' },
  rollback: {
    forms: [['rollback NAME TO', "queue a return to an earlier config: TO is a deploy's approval\nid (its deployed/ID tag) or an applied commit id"]],
    min: 2,
    max: 2,
    needs: 'NAME and TO (an approval id or a commit id)',
  },
  drafts: { forms: [['drafts', 'agents the manager is drafting (two-step spawn)']], min: 0, max: 0 },
  discard: { forms: [['discard NAME', 'drop a draft (its pending spawn is denied)']], min: 1, max: 1, needs: 'a draft NAME' },
  repo: { forms: [['repo NAME [--limit K]', "NAME's applied config repo: head, tags, log"]], ...NAME_ARG, options: ['limit'] },
  deploys: { forms: [['deploys [--limit K]', 'the deploy log (meta repo), newest first']], min: 0, max: 0, options: ['limit'] },
  retention: { forms: [['retention [--days N]', 'drop superseded tags now (failed/denied older than N days)']], min: 0, max: 0, options: ['days'] },
  alerts: { forms: [['alerts', 'open alerts: failed deploys, crash loops, requests the model gateway refused, stuck agents']], min: 0, max: 0 },
  dismiss: { forms: [['dismiss ID', 'close alert ID by hand']], min: 1, max: 1, needs: 'an alert ID', id: true },
  reminders: { forms: [['reminders [--agent N]', 'pending reminders']], min: 0, max: 0, options: ['agent'] },
  messages: { forms: [['messages [--agent N] [--limit K]', 'recent broker messages, oldest first']], min: 0, max: 0, options: ['agent', 'limit'] },
  turns: { forms: [['turns [--agent N] [--limit K]', 'recent claude turns, newest first']], min: 0, max: 0, options: ['agent', 'limit'] },
  peer: {
    forms: [
      ['peer list', 'peers: containers and processes the hive does not run, with an identity on the broker'],
      ['peer add NAME [--allow-recipients A,B] [--no-model]', 'give NAME an identity on the broker; prints how to bind its socket dir\ninto its container and what to run there'],
      ['peer remove NAME', 'revoke peer NAME: its sockets close and its socket dir goes'],
    ],
    min: 0,
    max: 2,
    needs: 'list, add NAME or remove NAME',
    options: ['allow-recipients', 'no-model'],
  },
  images: {
    forms: [['images [--prune]', "agents' root filesystems: packages, size, built, which agents use them"]],
    min: 0,
    max: 0,
    options: ['prune'],
  },
  costs: {
    forms: [['costs [--agent N] [--since WHEN]', 'model spend through the gateway per agent; WHEN is today, month\n(the default), 24h, 7d or a date like 2026-11-01 (UTC)']],
    min: 0,
    max: 0,
    options: ['agent', 'since'],
  },
};

/** A help line: `synopsis` in a 23-column field, or on a line of its own when longer. */
function helpLine(synopsis: string, description: string): string {
  const indent = ' '.repeat(25);
  const [first, ...more] = description.split('\n');
  const head = synopsis.length < 23 ? `  ${synopsis.padEnd(23)}${first}` : `  ${synopsis}\n${indent}${first}`;
  return [head, ...more.map((l) => indent + l)].join('\n') + '\n';
}

function optionLines(names: readonly CtlOptionName[]): string {
  return names.map((n) => helpLine(`--${n}${'value' in CTL_OPTIONS[n] ? ` ${CTL_OPTIONS[n].value}` : ''}`, CTL_OPTIONS[n].help)).join('');
}

/** Help for `hive ctl`. */
export const CTL_HELP = `hive ctl — control a running hive core over its admin socket

usage: hive ctl <command> [args] [--json] [--data-dir DIR]
       hive ctl <command> --help

commands:
${Object.values(CTL_COMMANDS)
  .flatMap((c) => c.forms.map(([s, d]) => helpLine(s, d)))
  .join('')}
options:
${optionLines(GLOBAL_OPTIONS)}
A "--" ends the options: hive ctl send alice -- -5 degrees
`;

/** Help for one command, e.g. `hive ctl spawn --help`. */
export function ctlCommandHelp(name: string): string {
  const c = CTL_COMMANDS[name];
  if (!c) return CTL_HELP;
  const usage = c.forms.map(([s], i) => `${i ? '       ' : 'usage: '}hive ctl ${s} [--json] [--data-dir DIR]\n`).join('');
  return `${usage}\n${c.forms.map(([s, d]) => helpLine(s, d)).join('')}\noptions:\n${optionLines([...(c.options ?? []), ...GLOBAL_OPTIONS])}`;
}

/** Parsed `hive ctl` invocation. */
export interface CtlArgs {
  command: string;
  positionals: string[];
  json: boolean;
  dataDir: string;
  agent?: string;
  limit?: number;
  all?: boolean;
  choices?: string[];
  reason?: string;
  reset?: boolean;
  days?: number;
  /** `--since`: today, month, `<N>h`, `<N>d`, or an ISO date or date-time (UTC). */
  since?: string;
  /** `images --prune`. */
  prune?: boolean;
  /** `peer add --allow-recipients`: the names, or undefined for anyone. */
  allowRecipients?: string[];
  /** `peer add --no-model`. */
  noModel?: boolean;
}

/** A command line `hive ctl` cannot run: exit status 2, with the message and the command's usage. */
export class CtlUsageError extends Error {
  constructor(
    message: string,
    /** The command it concerns, when known. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'CtlUsageError';
  }
}

/**
 * Parses the arguments after `hive ctl`. Options may stand anywhere before a `--`; everything after
 * it is an argument. `--help` or `-h` (before `--`) wins over any other fault.
 * @returns `{help}`, the text to print, or `{args}` to run.
 * @throws CtlUsageError naming an unknown command or option, an option the command does not take,
 *   a missing or extra argument, or a bad option value.
 */
export function parseCtlArgs(argv: readonly string[], env: Record<string, string | undefined> = process.env): { help: string } | { args: CtlArgs } {
  if (argv.length === 0) return { help: CTL_HELP };
  const positionals: string[] = [];
  const values = new Map<CtlOptionName, string[]>();
  const faults: string[] = [];
  let help = false;
  let ended = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (ended || a === '-' || !a.startsWith('-')) {
      positionals.push(a);
      continue;
    }
    if (a === '--') {
      ended = true;
      continue;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? a.slice(2, eq < 0 ? undefined : eq) : null;
    const opt = name !== null && Object.hasOwn(CTL_OPTIONS, name) ? (CTL_OPTIONS[name as CtlOptionName] as CtlOption) : null;
    if (!opt) {
      faults.push(`unknown option ${eq < 0 ? a : a.slice(0, eq)}`);
      continue;
    }
    let value: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
    if (opt.value && value === undefined) {
      value = argv[++i];
      if (value === undefined) faults.push(`--${name} needs a value (${opt.value})`);
    } else if (!opt.value && value !== undefined) faults.push(`--${name} takes no value`);
    const list = values.get(name as CtlOptionName) ?? [];
    if (list.length && opt.value && !opt.multiple) faults.push(`--${name} is given twice`);
    values.set(name as CtlOptionName, [...list, value ?? '']);
  }
  const [command, ...pos] = positionals;
  const spec = command === undefined ? undefined : Object.hasOwn(CTL_COMMANDS, command) ? CTL_COMMANDS[command] : undefined;
  if (help) return { help: spec ? ctlCommandHelp(command!) : CTL_HELP };
  if (command === undefined) throw new CtlUsageError(faults[0] ?? 'no command given');
  if (!spec) throw new CtlUsageError(`unknown command "${command}"`);
  if (faults.length) throw new CtlUsageError(faults[0]!, command);
  const allowed = new Set([...GLOBAL_OPTIONS, ...(spec.options ?? [])]);
  for (const name of values.keys()) if (!allowed.has(name)) throw new CtlUsageError(`${command} does not take --${name}`, command);
  const one = (name: CtlOptionName) => values.get(name)?.[0];

  // `model` takes NAME MODEL, or NAME alone with --reset.
  const [min, max] = command === 'model' ? (values.has('reset') ? [1, 1] : [2, 2]) : [spec.min, spec.max];
  if (pos.length < min) throw new CtlUsageError(`${command} needs ${spec.needs}`, command);
  if (pos.length > max) {
    if (command === 'model') throw new CtlUsageError(`model takes NAME and MODEL, or NAME --reset`, command);
    const takes = max === 0 ? 'no arguments' : `${max} argument${max === 1 ? '' : 's'}`;
    throw new CtlUsageError(`${command} takes ${takes}; unexpected "${pos[max]}"`, command);
  }
  if (spec.id) positiveInt(pos[0]!, command);
  if (command === 'answer' && pos.length > 1 && values.has('choice')) throw new CtlUsageError('answer takes TEXT or --choice, not both', command);
  if (command === 'peer') checkPeerArgs(pos, values);

  const limit = one('limit');
  if (limit !== undefined && !/^[1-9]\d{0,8}$/.test(limit)) throw new CtlUsageError('--limit must be a positive integer', command);
  const days = one('days');
  if (days !== undefined && !/^\d{1,5}$/.test(days)) throw new CtlUsageError('--days must be a whole number of days', command);
  const since = one('since');
  if (since !== undefined) {
    try {
      parseSince(since);
    } catch (err) {
      throw new CtlUsageError((err as Error).message, command);
    }
  }
  return {
    args: {
      command,
      positionals: pos,
      json: values.has('json'),
      dataDir: resolveDataDir(one('data-dir'), env),
      agent: one('agent'),
      limit: limit === undefined ? undefined : Number(limit),
      all: values.has('all'),
      choices: values.get('choice'),
      reason: one('reason'),
      reset: values.has('reset'),
      days: days === undefined ? undefined : Number(days),
      since,
      allowRecipients: values.has('allow-recipients') ? splitNames(one('allow-recipients')!) : undefined,
      noModel: values.has('no-model'),
      prune: values.has('prune'),
    },
  };
}

/** `a, b,c` as `['a', 'b', 'c']`; an empty text is an empty list. */
function splitNames(text: string): string[] {
  return text.split(',').map((n) => n.trim()).filter(Boolean);
}

/**
 * `peer`'s own rules: `list` (also with no subcommand), `add NAME` (its options only there) or `remove NAME`.
 * @throws CtlUsageError naming what is wrong.
 */
function checkPeerArgs(pos: readonly string[], values: ReadonlyMap<CtlOptionName, string[]>): void {
  const [sub = 'list', ...rest] = pos;
  if (sub !== 'list' && sub !== 'add' && sub !== 'remove') throw new CtlUsageError(`peer has no subcommand "${sub}"; use list, add NAME or remove NAME`, 'peer');
  if (sub === 'list' && rest.length) throw new CtlUsageError(`peer list takes no arguments; unexpected "${rest[0]}"`, 'peer');
  if (sub !== 'list' && rest.length !== 1) throw new CtlUsageError(`peer ${sub} needs a NAME`, 'peer');
  for (const name of values.keys())
    if (sub !== 'add' && !GLOBAL_OPTIONS.includes(name)) throw new CtlUsageError(`peer ${sub} does not take --${name}`, 'peer');
}

/**
 * `hive ctl` as a program: parses `argv` (the arguments after `ctl`), prints help or a usage
 * error, or runs the command.
 * @returns the exit status: 0 on success and for help, 1 when the core refused or is unreachable,
 *   2 for a usage error.
 */
export async function ctlMain(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let parsed: ReturnType<typeof parseCtlArgs>;
  try {
    parsed = parseCtlArgs(argv);
  } catch (e) {
    if (!(e instanceof CtlUsageError)) throw e;
    err(usageMessage(e));
    return 2;
  }
  if ('help' in parsed) {
    out(parsed.help);
    return 0;
  }
  return runCtl(parsed.args, out, err);
}

/** A usage error as printed: the fault, the command's forms, and where to read more. */
function usageMessage(e: CtlUsageError): string {
  const c = e.command ? CTL_COMMANDS[e.command] : undefined;
  const forms = c ? c.forms.map(([s]) => `usage: hive ctl ${s}\n`).join('') : '';
  return `hive ctl: ${e.message}\n${forms}run "hive ctl ${c ? `${e.command} ` : ''}--help" for more\n`;
}

/**
 * Parses a `--since` value into unix ms.
 * @throws HiveError `bad_request` saying which forms are accepted.
 */
export function parseSince(text: string, now = Date.now()): number {
  const d = new Date(now);
  if (text === 'today') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (text === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const rel = /^(\d{1,5})([hd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * (rel[2] === 'h' ? 3_600_000 : 86_400_000);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?Z?$/.test(text)) {
    const ms = Date.parse(text.includes('T') || text.includes(' ') ? `${text.replace(' ', 'T').replace(/Z$/, '')}Z` : `${text}T00:00:00Z`);
    if (Number.isFinite(ms)) return ms;
  }
  throw new HiveError('bad_request', `--since ${text}: expected today, month, a number of hours or days (24h, 7d), or a UTC date like 2026-11-01`);
}

const pad = (s: string, n: number) => (s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length));
const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** The `--agent`/`--limit` filters of `messages` and `turns`, omitting those not given. */
function filters(args: CtlArgs): { agent?: string; limit?: number } {
  return { ...(args.agent ? { agent: args.agent } : {}), ...(args.limit ? { limit: args.limit } : {}) };
}

/** The command's arguments, checked against its entry in {@link CTL_COMMANDS}. */
function need(args: CtlArgs): string[] {
  const c = CTL_COMMANDS[args.command];
  if (!c) throw new CtlUsageError(`unknown command "${args.command}"`);
  if (args.positionals.length < c.min) throw new CtlUsageError(`${args.command} needs ${c.needs}`, args.command);
  return args.positionals;
}

/**
 * Runs one ctl command, writing to `out`.
 * @returns the process exit code.
 */
export async function runCtl(
  args: CtlArgs,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const client = new JsonLineClient(new DataLayout(args.dataDir).hostSocket, HostOps);
  const print = (value: unknown, human: () => string) => out(args.json ? JSON.stringify(value, null, 2) + '\n' : human());
  try {
    switch (args.command) {
      case 'status': {
        const r = await client.call('status', {});
        const rt = !r.sandboxed ? ' (unsandboxed: agents see the host and can act as the operator)' : r.privileged ? ' (privileged: root in a sandbox is host root)' : '';
        const net = r.network_isolated ? 'isolated: each agent has loopback only; model and egress through the core' : 'shared with the host';
        const f = r.federation;
        const fed = f
          ? `federation: ${f.link} since ${time(f.since)} (${f.servers.join(', ')}); outbox ${f.outbox}${f.last_error ? `; last error: ${f.last_error}` : ''}\n`
          : 'federation: none (no --nats)\n';
        print(r, () => `hive ${r.version}\nhive name: ${r.hive}\ndata dir:  ${r.data_dir}\nruntime:   ${r.runtime}${rt}\nnetwork:   ${net}\ndashboard: ${r.dashboard}\nup since:  ${time(r.started_at)}\n${fed}`);
        break;
      }
      case 'list': {
        const r = await client.call('list', {});
        print(r, () => agentTable(r.agents, r.isolation) + remoteTable(r.remote, r.hives));
        break;
      }
      case 'spawn':
      case 'start':
      case 'stop':
      case 'restart':
      case 'rebuild': {
        const [name] = need(args);
        const r = await client.call(args.command, { name: name! });
        print(r, () => `${args.command}: ${r.agent.name} is ${r.agent.status} (wanted ${r.agent.desired})\n`);
        break;
      }
      case 'destroy': {
        const [name] = need(args);
        const r = await client.call('destroy', { name: name! });
        print(r, () => `destroyed ${r.name}; its state and claude dirs are kept under ${args.dataDir}/agents/${r.name}\n`);
        break;
      }
      case 'send': {
        const [to, ...words] = need(args);
        const r = await client.call('send', { to: to!, body: words.join(' ') });
        print(r, () => `sent message #${r.id} to ${to}\n`);
        break;
      }
      case 'model': {
        const [name, model] = need(args);
        if (!args.reset && !model) throw new CtlUsageError('model needs NAME and MODEL, or NAME --reset', 'model');
        const r = await client.call('set_model', { name: name!, model: args.reset ? null : model! });
        print(r, () => `${r.agent.name} now uses ${r.agent.model}${r.agent.model_override ? ' (operator override until its config changes)' : ' (from its config)'}\n`);
        break;
      }
      case 'questions': {
        const r = await client.call('questions', { all: !!args.all });
        print(r, () => questionList(r.questions));
        break;
      }
      case 'answer': {
        const [id, ...words] = need(args);
        const answer = words.length ? { text: words.join(' ') } : { choices: args.choices ?? [] };
        const r = await client.call('answer', { question_id: positiveInt(id!, 'answer'), ...answer });
        print(r, () => `answered question #${r.question.id}; the answer is in ${r.question.from}'s inbox\n`);
        break;
      }
      case 'approvals': {
        const r = await client.call('approvals', { all: !!args.all });
        print(r, () => approvalList(r.approvals));
        break;
      }
      case 'approve':
      case 'deny': {
        const [id] = need(args);
        const approval_id = positiveInt(id!, args.command);
        const r = args.command === 'approve'
          ? await client.call('approve', { approval_id })
          : await client.call('deny', { approval_id, ...(args.reason ? { reason: args.reason } : {}) });
        print(r, () => approvalList([r.approval]));
        break;
      }
      case 'approval': {
        const [id] = need(args);
        const r = await client.call('approval', { approval_id: positiveInt(id!, 'approval') });
        print(r, () => approvalList([r.approval]) + (r.approval.subject ? `  ${r.approval.subject}\n` : '') + (r.diff ? `\n${r.diff}` : '  (no diff)\n'));
        break;
      }
      case 'propose': {
        const [name, sha] = need(args);
        const r = await client.call('request_apply_commit', { name: name!, sha: sha! });
        print(r, () => approvalList([r.approval]));
        break;
      }
      case 'rollback': {
        const [name, to] = need(args);
        const r = await client.call('rollback', { name: name!, to: to! });
        print(r, () => approvalList([r.approval]));
        break;
      }
      case 'drafts': {
        const r = await client.call('drafts', {});
        print(r, () =>
          r.drafts.length
            ? r.drafts.map((d) => `${pad(d.name, 11)}by ${d.requested_by} ${time(d.created_at)}${d.approval ? ` — spawn waiting as approval #${d.approval}` : ''}\n`).join('')
            : 'no drafts\n',
        );
        break;
      }
      case 'discard': {
        const [name] = need(args);
        const r = await client.call('discard_draft', { name: name! });
        print(r, () => `discarded the draft of ${r.name}\n`);
        break;
      }
      case 'repo': {
        const [name] = need(args);
        const r = await client.call('config_repo', { name: name!, ...(args.limit ? { limit: args.limit } : {}) });
        print(r, () => {
          const tags = r.tags.map((t) => `  ${pad(t.name, 16)} ${t.commit.slice(0, 12)} ${time(t.created_at)} ${t.message}\n`).join('');
          const log = r.log.map((c) => `  ${c.sha.slice(0, 12)} ${time(c.at)} ${c.subject}\n`).join('');
          return `${name} applied head ${r.head?.slice(0, 12) ?? '(none)'}\ntags:\n${tags || '  (none)\n'}log:\n${log || '  (none)\n'}`;
        });
        break;
      }
      case 'deploys': {
        const r = await client.call('deploys', args.limit ? { limit: args.limit } : {});
        print(r, () => (r.deploys.length ? r.deploys.map((c) => `${time(c.at)} ${c.subject}\n`).join('') : 'no deploys\n'));
        break;
      }
      case 'retention': {
        const r = await client.call('retention', args.days === undefined ? {} : { days: args.days });
        print(r, () => {
          const names = Object.keys(r.removed);
          return names.length ? names.map((n) => `${n}: removed ${r.removed[n]!.length} tags\n`).join('') : 'nothing to remove\n';
        });
        break;
      }
      case 'kept': {
        const r = await client.call('kept', {});
        print(r, () => (r.kept.length ? r.kept.map((k) => `${pad(k.name, 11)}last changed ${time(k.modified_at)}\n`).join('') : 'no kept state\n'));
        break;
      }
      case 'images': {
        const r = await client.call('images', args.prune ? { prune: true } : {});
        print(r, () => {
          const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
          const gone = r.removed.map((x) => `removed ${x.key} (${mib(x.bytes)})\n`).join('');
          if (!r.dir) return `${gone}no images: ${r.problem}\n`;
          const head = `${r.dir}${r.problem ? ` (cannot build here: ${r.problem})` : ''}\n`;
          if (!r.images.length) return `${gone}${head}no images yet\n`;
          const rows = r.images.map(
            (i) =>
              pad(i.key, 18) + pad(mib(i.bytes), 10) + pad(time(i.built_at), 21) + pad(i.users.length ? i.users.join(',') : '(unused)', 24) +
              `${i.distribution} ${i.suite}: ${i.packages.join(' ')}\n`,
          );
          const total = r.images.reduce((n, i) => n + i.bytes, 0);
          return `${gone}${head}${pad('IMAGE', 18)}${pad('SIZE', 10)}${pad('BUILT', 21)}${pad('USERS', 24)}PACKAGES\n${rows.join('')}${r.images.length} images, ${mib(total)}\n`;
        });
        break;
      }
      case 'purge': {
        const [name] = need(args);
        const r = await client.call('purge', { name: name! });
        print(r, () => `purged the kept state of ${r.name}\n`);
        break;
      }
      case 'costs': {
        const r = await client.call('costs', { ...(args.agent ? { agent: args.agent } : {}), ...(args.since ? { since: parseSince(args.since) } : {}) });
        print(r, () => {
          const head = `since ${time(r.since)} (UTC)\n`;
          if (r.totals.length === 0) return `${head}no model requests\n`;
          const rows = r.totals.map(
            (t) =>
              pad(t.agent, 11) + pad(`$${t.cost_usd.toFixed(4)}`, 12) + pad(String(t.requests), 10) + pad(String(t.input_tokens), 12) + pad(String(t.output_tokens), 12) +
              pad(String(t.cache_read_tokens), 12) + (t.unpriced ? `${t.unpriced} unpriced` : '') + '\n',
          );
          const total = r.totals.reduce((n, t) => n + t.cost_usd, 0);
          return head + pad('AGENT', 11) + pad('COST', 12) + pad('REQUESTS', 10) + pad('INPUT', 12) + pad('OUTPUT', 12) + 'CACHE READ\n' + rows.join('') + `total $${total.toFixed(4)}\n`;
        });
        break;
      }
      case 'alerts': {
        const r = await client.call('alerts', {});
        print(r, () =>
          r.alerts.length
            ? r.alerts.map((a) => `#${a.id} ${time(a.updated_at)} ${a.kind}${a.count > 1 ? ` (×${a.count})` : ''} ${a.agent}: ${a.text}\n`).join('')
            : 'no open alerts\n',
        );
        break;
      }
      case 'dismiss': {
        const [id] = need(args);
        const r = await client.call('dismiss_alert', { alert_id: positiveInt(id!, 'dismiss') });
        print(r, () => `dismissed alert #${r.alert.id} (${r.alert.kind} ${r.alert.agent})\n`);
        break;
      }
      case 'reminders': {
        const r = await client.call('reminders', args.agent ? { agent: args.agent } : {});
        print(r, () => (r.reminders.length ? r.reminders.map((m) => `#${m.id} due ${time(m.due_at)} ${m.owner} → ${m.to}${m.every === null ? '' : ` (${repeatText(m)})`}: ${m.body}\n`).join('') : 'no pending reminders\n'));
        break;
      }
      case 'messages': {
        const r = await client.call('messages', filters(args));
        print(r, () => messageList(r.messages));
        break;
      }
      case 'turns': {
        const r = await client.call('turns', filters(args));
        print(r, () => turnList(r.turns));
        break;
      }
      case 'peer': {
        const [sub = 'list', name] = args.positionals;
        if (sub === 'add') {
          const r = await client.call('peer_add', {
            name: name!,
            ...(args.allowRecipients ? { allowed_recipients: args.allowRecipients } : {}),
            ...(args.noModel ? { model_access: false } : {}),
          });
          print(r, () => `added peer ${r.peer.name}\n\n${peerSetup(r.peer)}`);
        } else if (sub === 'remove') {
          const r = await client.call('peer_remove', { name: name! });
          print(r, () => `removed peer ${r.name}: its sockets are closed and its socket dir is gone; messages queued for it stay in the broker\n`);
        } else {
          const r = await client.call('peers', {});
          const agents = args.json ? [] : (await client.call('list', {})).agents;
          print(r, () => peerTable(r.peers, agents));
        }
        break;
      }
      default:
        throw new CtlUsageError(`unknown command "${args.command}"`);
    }
    return 0;
  } catch (e) {
    if (e instanceof CtlUsageError) {
      err(usageMessage(e));
      return 2;
    }
    const { code, message } = toErrorInfo(e);
    if (args.json) out(JSON.stringify({ ok: false, error: { code, message } }, null, 2) + '\n');
    else {
      const hint = code === 'unavailable' ? `\nis the core running? start it with: hive core serve --data-dir ${args.dataDir}` : '';
      err(`hive ctl: ${code}: ${message}${hint}\n`);
    }
    return 1;
  } finally {
    client.close();
  }
}

/** `s` as an id. @throws CtlUsageError when it is not a positive integer. */
function positiveInt(s: string, command: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw new CtlUsageError(`"${s}" is not an id (a positive integer)`, command);
  return n;
}

function questionList(qs: QuestionRecord[]): string {
  if (qs.length === 0) return 'no pending questions\n';
  return qs
    .map((q) => {
      const how = q.options ? `${q.multi ? 'choose any' : 'choose one'} (--choice): ${q.options.join(' | ')}` : 'free text';
      const ans = q.answer ? `\n  answered: ${q.answer.choices ? q.answer.choices.join(', ') || '(none)' : q.answer.text}` : '';
      return `#${q.id} ${time(q.created_at)} from ${q.from}: ${q.question}\n  ${how}${ans}\n`;
    })
    .join('');
}

function approvalList(as: ApprovalRecord[]): string {
  if (as.length === 0) return 'no pending approvals\n';
  return as
    .map((a) => `#${a.id} ${time(a.created_at)} ${a.kind} ${a.agent}${a.sha ? ` @${a.sha.slice(0, 12)}` : ''} by ${a.requested_by}: ${a.status}${a.note ? ` (${a.note})` : ''}\n`)
    .join('');
}

function agentTable(agents: AgentRecord[], isolation: { privileged: boolean; network_isolated: boolean }): string {
  if (agents.length === 0) return 'no agents\n';
  const { privileged } = isolation;
  const net = isolation.network_isolated ? 'isolated' : 'host';
  const head = pad('NAME', 11) + pad('STATE', 10) + pad('WANTED', 9) + pad('MODEL', 12) + pad('RUNTIME', 22) + 'NETWORK\n';
  return (
    head +
    agents
      .map((a) => {
        const model = pad(a.model + (a.model_override ? '*' : ''), 12);
        if (a.role === 'peer') return pad(a.name, 11) + pad(a.status, 10) + pad('-', 9) + model + pad('peer (not run here)', 22) + 'its own\n';
        const rt = a.runtime === 'process' ? 'process (unsandboxed)' : privileged ? `${a.runtime} (privileged)` : a.runtime;
        const crash = a.restarts ? `  ↻${a.restarts} ${a.last_exit ?? ''}` : '';
        const problem = a.problem ? `\n  ! ${a.problem}` : '';
        const warn = a.config_warnings.map((w) => `\n  warning: ${w}`).join('');
        return pad(a.name, 11) + pad(a.status, 10) + pad(a.desired, 9) + model + pad(rt, 22) + net + crash + problem + warn + '\n';
      })
      .join('')
  );
}

/** Agents of other hives with their last-known state, and the hives as this one hears them (nothing without a federation). */
function remoteTable(remote: OpResult<typeof HostOps, 'list'>['remote'], hives: OpResult<typeof HostOps, 'list'>['hives']): string {
  if (remote.length === 0 && hives.length === 0) return '';
  const hiveLines = hives.map((h) => `hive ${h.name}: ${h.reachable ? 'reachable' : 'UNREACHABLE'}, last heard ${time(h.heard_at)}, ${h.agents} agents\n`).join('');
  const rows = remote.map((a) => pad(`${a.name}@${a.hive}`, 24) + pad(a.status, 10) + pad(a.model, 12) + `${a.role}, as of ${time(a.at)}\n`).join('');
  return `\nother hives:\n${hiveLines}${rows ? pad('NAME', 24) + pad('STATE', 10) + pad('MODEL', 12) + 'LAST KNOWN\n' + rows : ''}`;
}

function peerTable(peers: PeerRecord[], agents: AgentRecord[]): string {
  if (peers.length === 0) return 'no peers\n';
  const head = pad('NAME', 11) + pad('STATE', 10) + pad('MODEL', 7) + pad('SENDS TO', 24) + 'SOCKET DIR\n';
  return (
    head +
    peers
      .map((p) => {
        const state = agents.find((a) => a.name === p.name)?.status ?? '?';
        const to = p.allowed_recipients ? [...p.allowed_recipients, 'manager'].join(',') : 'anyone';
        return pad(p.name, 11) + pad(state, 10) + pad(p.model_access ? 'yes' : 'no', 7) + pad(to, 24) + p.socket_dir + '\n';
      })
      .join('')
  );
}

function messageList(ms: MessageRecord[]): string {
  if (ms.length === 0) return 'no messages\n';
  return ms
    .map((m) => `#${m.id} ${time(m.created_at)} ${m.from} → ${m.to} ${m.delivered_at ? '(delivered)' : '(queued)'}\n  ${m.body.replace(/\n/g, '\n  ')}\n`)
    .join('');
}

function turnList(ts: TurnRecord[]): string {
  if (ts.length === 0) return 'no turns\n';
  return ts
    .map((t) => {
      const cost = t.cost_usd === null ? '' : ` $${t.cost_usd.toFixed(4)}`;
      const dur = t.duration_ms === null ? '' : ` ${(t.duration_ms / 1000).toFixed(1)}s`;
      return `${time(t.started_at)} ${pad(t.agent, 10)} ${pad(t.status, 8)}${dur}${cost} tools: ${t.tools.join(', ') || '-'}\n  ${(t.result ?? '').split('\n')[0]}\n`;
    })
    .join('');
}
