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
    const name = req.name as string;
    switch (op) {
      case 'status':
        return hive.status();
      case 'list':
        return {
          agents: hive.registry.list(),
          isolation: { sandboxed: hive.runtime.sandboxed, privileged: hive.runtime.privileged, network_isolated: hive.runtime.networkIsolated },
        };
      case 'spawn':
        return { agent: await hive.spawn(name) };
      case 'start':
        return { agent: await hive.start(name) };
      case 'stop':
        return { agent: await hive.stop(name) };
      case 'restart':
        return { agent: await hive.restart(name) };
      case 'destroy':
        await hive.destroy(name);
        return { name };
      case 'send':
        return { id: hive.send(OPERATOR, req.to as string, req.body as string).id };
      case 'messages':
        return { messages: hive.broker.list({ agent: req.agent as string | undefined, limit: req.limit as number | undefined }) };
      case 'turns':
        return { turns: hive.turns.list({ agent: req.agent as string | undefined, limit: req.limit as number | undefined }) };
      case 'set_model':
        return { agent: hive.setModel(name, req.model as string | null) };
      case 'questions':
        return { questions: hive.questions.listFor(OPERATOR, req.all === true) };
      case 'answer':
        return {
          question: hive.answer(OPERATOR, req.question_id as number, { text: req.text as string | undefined, choices: req.choices as string[] | undefined }).question,
        };
      case 'approvals':
        return { approvals: hive.approvals.list(req.all === true) };
      case 'approve':
        return { approval: await hive.approve(req.approval_id as number) };
      case 'deny':
        return { approval: await hive.deny(req.approval_id as number, req.reason as string | undefined) };
      case 'approval':
        return { approval: hive.approvals.get(req.approval_id as number), diff: await hive.approvalDiff(req.approval_id as number) };
      case 'request_apply_commit':
        return { approval: await hive.requestApplyCommit(OPERATOR, name, req.sha as string) };
      case 'rebuild':
        return { agent: await hive.rebuild(name) };
      case 'rollback':
        return { approval: await hive.rollback(name, req.to as string) };
      case 'drafts':
        return { drafts: hive.drafts() };
      case 'discard_draft':
        await hive.discardDraft(name);
        return { name };
      case 'config_repo': {
        hive.registry.require(name);
        return { head: await hive.repos.head(name), tags: await hive.repos.tags(name), log: await hive.repos.log(name, (req.limit as number | undefined) ?? 50) };
      }
      case 'deploys':
        return { deploys: await hive.deploys((req.limit as number | undefined) ?? 100) };
      case 'retention':
        return { removed: await hive.retain(req.days as number | undefined) };
      case 'kept':
        return { kept: hive.kept() };
      case 'purge':
        hive.purge(name);
        return { name };
      case 'alerts':
        return { alerts: hive.alerts.list() };
      case 'dismiss_alert':
        return { alert: hive.alerts.dismiss(req.alert_id as number, OPERATOR) };
      case 'costs': {
        const now = new Date();
        const since = (req.since as number | undefined) ?? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
        return { since, totals: hive.usage.totals({ agent: req.agent as string | undefined, since }) };
      }
      case 'reminders':
        return { reminders: hive.reminders.pending(req.agent as string | undefined) };
      default:
        throw new Error(`host op ${op} has no handler`);
    }
  };
}
