/**
 * @module sockets/host
 * Handler of the admin socket `run/host.sock`: the operator's CLI (`hive ctl`). Whoever can open
 * this socket is the operator, so it is created owner-only (0600).
 */
import { OPERATOR } from '../../shared/names.ts';
import type { OpHandler } from '../../shared/jsonl.ts';
import type { Hive } from '../hive.ts';

type Args = Record<string, unknown>;

/** Builds the admin-socket handler for `hive`. Requests arrive validated against `HostOps`. */
export function hostHandler(hive: Hive): OpHandler {
  return async (op, req: Args) => {
    switch (op) {
      case 'status':
        return hive.status();
      case 'list':
        return { agents: hive.registry.list() };
      case 'spawn':
        return { agent: await hive.spawn(req.name as string) };
      case 'start':
        return { agent: await hive.start(req.name as string) };
      case 'stop':
        return { agent: await hive.stop(req.name as string) };
      case 'destroy':
        await hive.destroy(req.name as string);
        return { name: req.name as string };
      case 'send':
        return { id: hive.send(OPERATOR, req.to as string, req.body as string).id };
      case 'messages':
        return { messages: hive.broker.list({ agent: req.agent as string | undefined, limit: req.limit as number | undefined }) };
      case 'turns':
        return { turns: hive.turns.list({ agent: req.agent as string | undefined, limit: req.limit as number | undefined }) };
      default:
        throw new Error(`host op ${op} has no handler`);
    }
  };
}
