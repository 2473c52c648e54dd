/**
 * @module sockets/agent
 * Handler of one agent's socket. The socket is the identity: the handler is built for one agent
 * name and every request on it acts as that agent. Nothing in a request can name a sender.
 * Manager-only ops ({@link MANAGER_OPS}) are refused on every socket but the manager's.
 */
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, OPERATOR } from '../../shared/names.ts';
import type { OpHandler } from '../../shared/jsonl.ts';
import { MANAGER_OPS } from '../../shared/wire.ts';
import type { TurnEnd } from '../agents/turns.ts';
import type { Hive } from '../hive.ts';

type Args = Record<string, unknown>;

/** Builds the handler for the socket owned by agent `name`. */
export function agentHandler(hive: Hive, name: string): OpHandler {
  return async (op, req: Args, conn) => {
    if (MANAGER_OPS.has(op) && name !== MANAGER)
      throw new HiveError('forbidden', `${op} is a manager tool and ${name} is not the manager; ask the manager to do it`);
    const target = req.name as string;
    switch (op) {
      case 'send':
        return { id: hive.send(name, req.to as string, req.body as string).id };
      case 'recv':
        return { message: await hive.recv(name, req.wait_seconds as number | undefined, conn.signal) };
      case 'hello': {
        const { agent, config } = hive.hello(name, req.pid as number);
        return { name: agent.name, role: agent.role, model: agent.model, config: config.config, config_warnings: config.warnings };
      }
      case 'turn_start':
        return { model: hive.turnStart(name, req.turn_id as string, req.trigger_message_id as number | null).model };
      case 'turn_end': {
        const { id: _reqId, op: _op, turn_id, ...rest } = req;
        hive.turnEnd(name, { ...(rest as Omit<TurnEnd, 'id'>), id: turn_id as string });
        return {};
      }
      case 'operator_send':
        return { id: hive.send(OPERATOR, name, req.body as string).id };
      case 'ask': {
        const r = hive.ask(name, req.to as string, req.question as string);
        return { question: r.question, message_id: r.message.id };
      }
      case 'answer': {
        const r = hive.answer(name, req.question_id as number, { text: req.text as string });
        return { question: r.question, message_id: r.message.id };
      }
      case 'questions':
        return hive.questions.open(name);
      case 'remind':
        return {
          reminder: hive.remind(name, { at: req.at as string | undefined, in_seconds: req.in_seconds as number | undefined }, req.body as string, req.to as string | undefined),
        };
      case 'reminders':
        return { reminders: hive.reminders.pending(name) };
      case 'cancel_reminder':
        return { reminder: hive.reminders.cancel(name, req.reminder_id as number) };
      case 'agents':
        return { agents: hive.registry.list() };
      case 'request_spawn':
        return { approval: hive.requestSpawn(name, target) };
      case 'request_apply_commit':
        return { approval: await hive.requestApplyCommit(name, req.agent as string, req.sha as string) };
      case 'request_spawn_draft':
        return { draft: await hive.requestSpawnDraft(name, target) };
      case 'request_spawn_commit':
        return { approval: await hive.requestSpawnCommit(name, target, req.sha as string) };
      case 'kill':
        if (target === MANAGER) throw new HiveError('forbidden', 'the manager cannot kill itself; the operator can stop it');
        return { agent: await hive.stop(target) };
      case 'start':
        return { agent: await hive.start(target) };
      case 'restart':
        if (target === MANAGER) throw new HiveError('forbidden', 'the manager cannot restart itself from inside a turn; the operator can');
        return { agent: await hive.restart(target) };
      case 'ask_operator':
        return { question: hive.askOperator(req.question as string, req.options as string[] | undefined, req.multi as boolean | undefined) };
      default:
        throw new Error(`agent op ${op} has no handler`);
    }
  };
}
