/**
 * @module sockets/agent
 * Handler of one agent's socket. The socket is the identity: the handler is built for one agent
 * name and every request on it acts as that agent. Nothing in a request can name a sender.
 */
import { OPERATOR } from '../../shared/names.ts';
import type { OpHandler } from '../../shared/jsonl.ts';
import type { TurnEnd } from '../turns/turns.ts';
import type { Hive } from '../hive.ts';

type Args = Record<string, unknown>;

/** Builds the handler for the socket owned by agent `name`. */
export function agentHandler(hive: Hive, name: string): OpHandler {
  return async (op, req: Args, conn) => {
    switch (op) {
      case 'send':
        return { id: hive.send(name, req.to as string, req.body as string).id };
      case 'recv':
        return { message: await hive.recv(name, req.wait_seconds as number | undefined, conn.signal) };
      case 'hello': {
        const a = hive.hello(name, req.pid as number);
        return { name: a.name, role: a.role, model: a.model, port: a.port };
      }
      case 'turn_start':
        hive.turnStart(name, req.turn_id as string, req.trigger_message_id as number | null);
        return {};
      case 'turn_end': {
        const { id: _reqId, op: _op, turn_id, ...rest } = req;
        hive.turnEnd(name, { ...(rest as Omit<TurnEnd, 'id'>), id: turn_id as string });
        return {};
      }
      case 'operator_send':
        return { id: hive.send(OPERATOR, name, req.body as string).id };
      default:
        throw new Error(`agent op ${op} has no handler`);
    }
  };
}
