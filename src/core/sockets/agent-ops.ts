/**
 * @module core/sockets/agent-ops
 * The ops of one agent's socket. The socket is the identity: the handlers are built for one agent
 * name and every request on it acts as that agent; nothing in a request can name a sender.
 * Manager-only ops ({@link MANAGER_OPS}) are refused on every socket but the manager's. Each op
 * goes to the feature that owns it: messages, questions and reminders to the broker's policy,
 * requests for change to the approval gate, lifecycle and harness reports to the agents.
 */
import { HiveError } from '../../shared/errors.ts';
import type { OpHandlers } from '../../shared/jsonl.ts';
import { MANAGER, OPERATOR, parseAddress } from '../../shared/names.ts';
import { AgentOps, MANAGER_OPS } from '../../shared/wire.ts';
import type { Lifecycle } from '../agents/lifecycle.ts';
import type { Registry } from '../agents/registry.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import type { MessagePolicy } from '../broker/policy.ts';
import type { Questions } from '../broker/questions.ts';
import type { Reminders } from '../broker/reminders.ts';
import type { Federation } from '../federation/federation.ts';

/** The features an agent's socket reaches. */
export interface AgentOpsDeps {
  policy: MessagePolicy;
  questions: Questions;
  reminders: Reminders;
  registry: Registry;
  gate: ApprovalGate;
  lifecycle: Lifecycle;
  /** The core's settings: this hive's name. */
  config: { hive: string };
  /** This hive's membership in a federation, or null. */
  federation: Federation | null;
}

/** The handlers of the socket owned by agent `name`. */
export function agentOps(f: AgentOpsDeps, name: string): OpHandlers<typeof AgentOps> {
  /**
   * The agent of this hive a manager tool acts on: `target`, or `target@<this hive>`.
   * @throws HiveError `forbidden` for an agent of another hive (approvals and lifecycle stay per host).
   */
  const here = (target: string, tool: string): string => {
    if (!target.includes('@')) return target;
    const a = parseAddress(target, f.config.hive);
    if (a.hive === null) return a.name;
    throw new HiveError('forbidden', `${tool} acts on this hive (${f.config.hive}) only, and ${target} is in hive ${a.hive}: ask its manager (manager@${a.hive}) to do it`);
  };
  const handlers: OpHandlers<typeof AgentOps> = {
    send: async ({ to, body }) => ({ id: (await f.policy.sendGrouped(name, to, body)).id }),
    recv: async ({ wait_seconds }, conn) => ({ message: await f.policy.recv(name, wait_seconds, conn.signal) }),
    hello: ({ pid }) => {
      const { agent, config } = f.lifecycle.hello(name, pid);
      return { name: agent.name, role: agent.role, model: agent.model, config: config.config, config_warnings: config.warnings };
    },
    turn_start: ({ turn_id, trigger_message_id }) => ({ model: f.lifecycle.turnStart(name, turn_id, trigger_message_id).model }),
    turn_end: ({ turn_id, ...rest }) => {
      f.lifecycle.turnEnd(name, { ...rest, id: turn_id });
      return {};
    },
    operator_send: async ({ body }) => ({ id: (await f.policy.sendGrouped(OPERATOR, name, body)).id }),
    operator_set_model: ({ model }) => {
      const a = f.lifecycle.setModel(name, model);
      return { model: a.model, model_override: a.model_override };
    },
    ask: ({ to, question }) => {
      const r = f.policy.ask(name, to, question);
      return { question: r.question, message_id: r.message.id };
    },
    answer: ({ question_id, text }) => {
      const r = f.policy.answer(name, question_id, { text });
      return { question: r.question, message_id: r.message.id };
    },
    questions: () => f.questions.open(name),
    remind: ({ at, in_seconds, every, count, body, to }) => ({ reminder: f.policy.remind(name, { at, in_seconds, every, count }, body, to) }),
    reminders: () => ({ reminders: f.reminders.pending(name) }),
    cancel_reminder: ({ reminder_id }) => ({ reminder: f.reminders.cancel(name, reminder_id) }),

    agents: () => ({ agents: f.registry.list(), remote: f.federation?.presence.remoteAgents() ?? [] }),
    request_spawn: ({ name: target }) => ({ approval: f.gate.requestSpawn(name, here(target, 'request_spawn')) }),
    request_apply_commit: async ({ agent, sha }) => ({ approval: await f.gate.requestApplyCommit(name, here(agent, 'request_apply_commit'), sha) }),
    request_spawn_draft: async ({ name: target }) => ({ draft: await f.gate.requestSpawnDraft(name, here(target, 'request_spawn_draft')) }),
    request_spawn_commit: async ({ name: target, sha }) => ({ approval: await f.gate.requestSpawnCommit(name, here(target, 'request_spawn_commit'), sha) }),
    kill: async ({ name: target }) => {
      target = here(target, 'kill');
      if (target === MANAGER) throw new HiveError('forbidden', 'the manager cannot kill itself; the operator can stop it');
      return { agent: await f.lifecycle.stop(target) };
    },
    start: async ({ name: target }) => ({ agent: await f.lifecycle.start(here(target, 'start')) }),
    restart: async ({ name: target }) => {
      target = here(target, 'restart');
      if (target === MANAGER) throw new HiveError('forbidden', 'the manager cannot restart itself from inside a turn; the operator can');
      return { agent: await f.lifecycle.restart(target) };
    },
    ask_operator: ({ question, options, multi }) => ({ question: f.policy.askOperator(question, options, multi) }),
  };
  if (name === MANAGER) return handlers;
  const refuse = (op: string) => () => {
    throw new HiveError('forbidden', `${op} is a manager tool and ${name} is not the manager; ask the manager to do it`);
  };
  const guarded = { ...handlers };
  for (const op of MANAGER_OPS) guarded[op] = refuse(op);
  return guarded;
}
