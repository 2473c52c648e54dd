/**
 * @module ctl
 * `hive ctl`: the operator's command line over the admin socket (`<data>/run/host.sock`). Each
 * command prints a readable summary, or the raw reply with `--json` for scripts. Exit status: 0 on
 * success, 1 when the core refused (the message says why), 2 for a usage error.
 */
import { HiveError, toErrorInfo } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { DataLayout } from '../shared/paths.ts';
import { HostOps, type AgentRecord, type ApprovalRecord, type MessageRecord, type QuestionRecord, type TurnRecord } from '../shared/wire.ts';

/** Help for `hive ctl`. */
export const CTL_HELP = `hive ctl — control a running hive core over its admin socket

usage: hive ctl <command> [args] [--json] [--data-dir DIR]

commands:
  status                 core version, data dir, runtime, dashboard address
  list                   agents with state, model, runtime and whether their network is isolated
  spawn NAME             create and start agent NAME (1-9 chars: a-z, 0-9, '-')
  start NAME             start a stopped agent
  stop NAME              stop an agent (it stays registered)
  destroy NAME           remove an agent's sandbox; its state and claude dirs are kept
  restart NAME           stop and start an agent (re-reads its agent.toml)
  model NAME MODEL       switch an agent's model until its config changes
  model NAME --reset     go back to the model its config names
  kept                   destroyed agents whose state is kept
  purge NAME             delete a destroyed agent's kept state for good
  send NAME TEXT...      send TEXT to NAME (an agent or "manager") as the operator
  questions [--all]      questions for the operator (unanswered, or all recent)
  answer ID TEXT...      answer a free-text question
  answer ID --choice C [--choice C2]
                         answer a choice question (repeat --choice for several)
  rebuild NAME           a fresh sandbox with the applied config; prints when it is up
  approvals [--all]      pending approvals (or all recent)
  approval ID            one approval and the change it makes (a diff)
  approve ID             approve and carry out an approval (waits for the rebuild)
  deny ID [--reason R]   deny an approval; the manager is told
  propose NAME SHA       queue commit SHA of NAME's proposed config repo for approval
  rollback NAME TO       queue a return to an earlier config: TO is a deploy's approval
                         id (its deployed/ID tag) or an applied commit id
  drafts                 agents the manager is drafting (two-step spawn)
  discard NAME           drop a draft (its pending spawn is denied)
  repo NAME [--limit K]  NAME's applied config repo: head, tags, log
  deploys [--limit K]    the deploy log (meta repo), newest first
  retention [--days N]   drop superseded tags now (failed/denied older than N days)
  alerts                 open alerts: failed deploys, crash loops, requests the model gateway refused
  dismiss ID             close alert ID by hand
  reminders [--agent N]  pending reminders
  messages [--agent N] [--limit K]
                         recent broker messages, oldest first
  turns [--agent N] [--limit K]
                         recent claude turns, newest first
  costs [--agent N] [--since WHEN]
                         model spend through the gateway per agent; WHEN is today, month
                         (the default), 24h, 7d or a date like 2026-11-01 (UTC)

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
  all?: boolean;
  choices?: string[];
  reason?: string;
  reset?: boolean;
  days?: number;
  /** `--since`: today, month, `<N>h`, `<N>d`, or an ISO date or date-time (UTC). */
  since?: string;
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
        const rt = !r.sandboxed ? ' (unsandboxed: agents see the host and can act as the operator)' : r.privileged ? ' (privileged: root in a sandbox is host root)' : '';
        const net = r.network_isolated ? 'isolated: each agent has loopback only; model and egress through the core' : 'shared with the host';
        print(r, () => `hive ${r.version}\ndata dir:  ${r.data_dir}\nruntime:   ${r.runtime}${rt}\nnetwork:   ${net}\ndashboard: ${r.dashboard}\nup since:  ${time(r.started_at)}\n`);
        break;
      }
      case 'list': {
        const r = await client.call('list', {});
        print(r, () => agentTable(r.agents, r.isolation));
        break;
      }
      case 'spawn':
      case 'start':
      case 'stop':
      case 'restart':
      case 'rebuild': {
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
      case 'model': {
        const [name, model] = need(args, 1, 'an agent NAME');
        if (!args.reset && !model) usage('model needs NAME and MODEL, or NAME --reset');
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
        const [id, ...words] = need(args, 1, 'a question ID');
        const answer = words.length ? { text: words.join(' ') } : { choices: args.choices ?? [] };
        const r = await client.call('answer', { question_id: positiveInt(id!), ...answer });
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
        const [id] = need(args, 1, 'an approval ID');
        const approval_id = positiveInt(id!);
        const r = args.command === 'approve'
          ? await client.call('approve', { approval_id })
          : await client.call('deny', { approval_id, ...(args.reason ? { reason: args.reason } : {}) });
        print(r, () => approvalList([r.approval]));
        break;
      }
      case 'approval': {
        const [id] = need(args, 1, 'an approval ID');
        const r = await client.call('approval', { approval_id: positiveInt(id!) });
        print(r, () => approvalList([r.approval]) + (r.approval.subject ? `  ${r.approval.subject}\n` : '') + (r.diff ? `\n${r.diff}` : '  (no diff)\n'));
        break;
      }
      case 'propose': {
        const [name, sha] = need(args, 2, 'NAME and SHA');
        const r = await client.call('request_apply_commit', { name: name!, sha: sha! });
        print(r, () => approvalList([r.approval]));
        break;
      }
      case 'rollback': {
        const [name, to] = need(args, 2, 'NAME and TO (an approval id or a commit id)');
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
        const [name] = need(args, 1, 'a draft NAME');
        const r = await client.call('discard_draft', { name: name! });
        print(r, () => `discarded the draft of ${r.name}\n`);
        break;
      }
      case 'repo': {
        const [name] = need(args, 1, 'an agent NAME');
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
      case 'purge': {
        const [name] = need(args, 1, 'an agent NAME');
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
        const [id] = need(args, 1, 'an alert ID');
        const r = await client.call('dismiss_alert', { alert_id: positiveInt(id!) });
        print(r, () => `dismissed alert #${r.alert.id} (${r.alert.kind} ${r.alert.agent})\n`);
        break;
      }
      case 'reminders': {
        const r = await client.call('reminders', args.agent ? { agent: args.agent } : {});
        print(r, () => (r.reminders.length ? r.reminders.map((m) => `#${m.id} due ${time(m.due_at)} ${m.owner} → ${m.to}: ${m.body}\n`).join('') : 'no pending reminders\n'));
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

function positiveInt(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) usage(`"${s}" is not an id (a positive integer)`);
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
        const rt = a.runtime === 'process' ? 'process (unsandboxed)' : privileged ? `${a.runtime} (privileged)` : a.runtime;
        const crash = a.restarts ? `  ↻${a.restarts} ${a.last_exit ?? ''}` : '';
        const problem = a.problem ? `\n  ! ${a.problem}` : '';
        const warn = a.config_warnings.map((w) => `\n  warning: ${w}`).join('');
        return pad(a.name, 11) + pad(a.status, 10) + pad(a.desired, 9) + pad(a.model + (a.model_override ? '*' : ''), 12) + pad(rt, 22) + net + crash + problem + warn + '\n';
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
