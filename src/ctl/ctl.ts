/**
 * @module ctl
 * `hive ctl`: the operator's command line over the admin socket (`<data>/run/host.sock`). Each
 * command prints a readable summary, or the raw reply with `--json` for scripts. Exit status: 0 on
 * success, 1 when the core refused (the message says why), 2 for a usage error.
 */
import { HiveError, toErrorInfo } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { DataLayout } from '../shared/paths.ts';
import { HostOps, type AgentRecord, type MessageRecord, type TurnRecord } from '../shared/wire.ts';

/** Help for `hive ctl`. */
export const CTL_HELP = `hive ctl — control a running hive core over its admin socket

usage: hive ctl <command> [args] [--json] [--data-dir DIR]

commands:
  status                 core version, data dir, runtime, dashboard address
  list                   agents with state, model, runtime and page port
  spawn NAME             create and start agent NAME (1-9 chars: a-z, 0-9, '-')
  start NAME             start a stopped agent
  stop NAME              stop an agent (it stays registered)
  destroy NAME           remove an agent's sandbox; its state and claude dirs are kept
  send NAME TEXT...      send TEXT to NAME (an agent or "manager") as the operator
  messages [--agent N] [--limit K]
                         recent broker messages, oldest first
  turns [--agent N] [--limit K]
                         recent claude turns, newest first

options:
  --json                 print the core's reply as JSON
  --data-dir DIR         the core's data dir (env HIVE_DATA_DIR; default as for \`hive core serve\`)
`;

/** Parsed `hive ctl` invocation. */
export interface CtlArgs {
  command: string;
  positionals: string[];
  json: boolean;
  dataDir: string;
  agent?: string;
  limit?: number;
}

const pad = (s: string, n: number) => (s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length));
const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function usage(msg: string): never {
  throw new HiveError('bad_request', `${msg}\n\n${CTL_HELP}`);
}

/** The `--agent`/`--limit` filters of `messages` and `turns`, omitting those not given. */
function filters(args: CtlArgs): { agent?: string; limit?: number } {
  return { ...(args.agent ? { agent: args.agent } : {}), ...(args.limit ? { limit: args.limit } : {}) };
}

function need(args: CtlArgs, n: number, what: string): string[] {
  if (args.positionals.length < n) usage(`${args.command} needs ${what}`);
  return args.positionals;
}

/**
 * Runs one ctl command, writing to `out`.
 * @returns the process exit code.
 */
export async function runCtl(args: CtlArgs, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const client = new JsonLineClient(new DataLayout(args.dataDir).hostSocket, HostOps);
  const print = (value: unknown, human: () => string) => out(args.json ? JSON.stringify(value, null, 2) + '\n' : human());
  try {
    switch (args.command) {
      case 'status': {
        const r = await client.call('status', {});
        print(r, () => `hive ${r.version}\ndata dir:  ${r.data_dir}\nruntime:   ${r.runtime}\ndashboard: ${r.dashboard}\nup since:  ${time(r.started_at)}\n`);
        break;
      }
      case 'list': {
        const r = await client.call('list', {});
        print(r, () => agentTable(r.agents));
        break;
      }
      case 'spawn':
      case 'start':
      case 'stop': {
        const [name] = need(args, 1, 'an agent NAME');
        const r = await client.call(args.command, { name: name! });
        print(r, () => `${args.command}: ${r.agent.name} is ${r.agent.status} (wanted ${r.agent.desired})\n`);
        break;
      }
      case 'destroy': {
        const [name] = need(args, 1, 'an agent NAME');
        const r = await client.call('destroy', { name: name! });
        print(r, () => `destroyed ${r.name}; its state and claude dirs are kept under ${args.dataDir}/agents/${r.name}\n`);
        break;
      }
      case 'send': {
        const [to, ...words] = need(args, 2, 'NAME and TEXT');
        const r = await client.call('send', { to: to!, body: words.join(' ') });
        print(r, () => `sent message #${r.id} to ${to}\n`);
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
      default:
        usage(`unknown command "${args.command}"`);
    }
    return 0;
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    if (args.json) out(JSON.stringify({ ok: false, error: { code, message } }, null, 2) + '\n');
    else {
      const hint = code === 'unavailable' ? `\nis the core running? start it with: hive core serve --data-dir ${args.dataDir}` : '';
      process.stderr.write(`hive ctl: ${code}: ${message}${hint}\n`);
    }
    return code === 'bad_request' && /^unknown command|needs /.test(message) ? 2 : 1;
  } finally {
    client.close();
  }
}

function agentTable(agents: AgentRecord[]): string {
  if (agents.length === 0) return 'no agents\n';
  const head = pad('NAME', 11) + pad('STATE', 10) + pad('WANTED', 9) + pad('MODEL', 12) + pad('RUNTIME', 22) + 'PORT\n';
  return (
    head +
    agents
      .map((a) => {
        const rt = a.runtime === 'process' ? 'process (unsandboxed)' : a.runtime;
        const crash = a.restarts ? `  ↻${a.restarts} ${a.last_exit ?? ''}` : '';
        return pad(a.name, 11) + pad(a.status, 10) + pad(a.desired, 9) + pad(a.model, 12) + pad(rt, 22) + a.port + crash + '\n';
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
