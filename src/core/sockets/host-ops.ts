/**
 * @module core/sockets/host-ops
 * The ops of the admin socket `run/host.sock`: the operator's CLI (`hive ctl`). Whoever can open
 * this socket is the operator, so it is created owner-only (0600). Each op goes to the feature
 * that owns it.
 */
import type { OpHandlers } from '../../shared/jsonl.ts';
import { OPERATOR } from '../../shared/names.ts';
import type { HostOps, OpResult } from '../../shared/wire.ts';
import type { KeptState } from '../agents/kept.ts';
import type { Lifecycle } from '../agents/lifecycle.ts';
import type { Peers } from '../agents/peers.ts';
import type { Registry } from '../agents/registry.ts';
import type { Turns } from '../agents/turns.ts';
import type { Alerts } from '../alerts.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import type { Approvals } from '../approvals/store.ts';
import type { MessagePolicy } from '../broker/policy.ts';
import type { Questions } from '../broker/questions.ts';
import type { Reminders } from '../broker/reminders.ts';
import type { Broker } from '../broker/store.ts';
import type { ConfigRepos, MetaRepo } from '../configs/repos.ts';
import type { TagRetention } from '../configs/retention.ts';
import type { UsageStore } from '../gateway/usage.ts';
import type { Federation } from '../federation/federation.ts';

/** The features the admin socket reaches, and the core's facts. */
export interface HostOpsDeps {
  status(): OpResult<typeof HostOps, 'status'>;
  isolation: { sandboxed: boolean; privileged: boolean; network_isolated: boolean };
  registry: Registry;
  lifecycle: Lifecycle;
  kept: KeptState;
  peers: Peers;
  turns: Turns;
  policy: MessagePolicy;
  broker: Broker;
  questions: Questions;
  reminders: Reminders;
  approvals: Approvals;
  gate: ApprovalGate;
  repos: ConfigRepos;
  meta: MetaRepo;
  retention: TagRetention;
  alerts: Alerts;
  usage: UsageStore;
  /** This hive's membership in a federation, or null. */
  federation: Federation | null;
  /** `hive ctl images` (see `Hive.imageReport`). */
  imageReport(prune: boolean): OpResult<typeof HostOps, 'images'>;
}

/** The admin socket's handlers. */
export function hostOps(f: HostOpsDeps): OpHandlers<typeof HostOps> {
  return {
    status: () => f.status(),
    list: () => ({ agents: f.registry.list(), isolation: f.isolation, remote: f.federation?.presence.remoteAgents() ?? [], hives: f.federation?.presence.remoteHives() ?? [] }),
    spawn: async ({ name }) => ({ agent: await f.lifecycle.spawn(name) }),
    start: async ({ name }) => ({ agent: await f.lifecycle.start(name) }),
    stop: async ({ name }) => ({ agent: await f.lifecycle.stop(name) }),
    restart: async ({ name }) => ({ agent: await f.lifecycle.restart(name) }),
    destroy: async ({ name }) => {
      await f.lifecycle.destroy(name);
      return { name };
    },
    send: async ({ to, body }) => ({ id: (await f.policy.sendGrouped(OPERATOR, to, body)).id }),
    messages: ({ agent, limit }) => ({ messages: f.broker.list({ agent, limit }) }),
    turns: ({ agent, limit }) => ({ turns: f.turns.list({ agent, limit }) }),
    set_model: ({ name, model }) => ({ agent: f.lifecycle.setModel(name, model) }),
    questions: ({ all }) => ({ questions: f.questions.listFor(OPERATOR, all === true) }),
    answer: ({ question_id, text, choices }) => ({ question: f.policy.answer(OPERATOR, question_id, { text, choices }).question }),
    approvals: ({ all }) => ({ approvals: f.approvals.list(all === true) }),
    approve: async ({ approval_id }) => ({ approval: await f.gate.approve(approval_id) }),
    deny: async ({ approval_id, reason }) => ({ approval: await f.gate.deny(approval_id, reason) }),
    approval: async ({ approval_id }) => ({ approval: f.approvals.get(approval_id), diff: await f.gate.diff(approval_id) }),
    request_apply_commit: async ({ name, sha }) => ({ approval: await f.gate.requestApplyCommit(OPERATOR, name, sha) }),
    rebuild: async ({ name }) => ({ agent: await f.lifecycle.rebuild(name) }),
    rollback: async ({ name, to }) => ({ approval: await f.gate.rollback(name, to) }),
    drafts: () => ({ drafts: f.gate.drafts() }),
    discard_draft: async ({ name }) => {
      await f.gate.discardDraft(name);
      return { name };
    },
    config_repo: async ({ name, limit }) => {
      f.registry.requireManaged(name, 'shown a config repo');
      return { head: await f.repos.head(name), tags: await f.repos.tags(name), log: await f.repos.log(name, limit ?? 50) };
    },
    deploys: async ({ limit }) => ({ deploys: await f.meta.log(limit ?? 100) }),
    retention: async ({ days }) => ({ removed: await f.retention.run(days) }),
    kept: () => ({ kept: f.kept.list() }),
    purge: ({ name }) => {
      f.kept.purge(name);
      return { name };
    },
    alerts: () => ({ alerts: f.alerts.list() }),
    dismiss_alert: ({ alert_id }) => ({ alert: f.alerts.dismiss(alert_id, OPERATOR) }),
    costs: ({ agent, since }) => {
      const now = new Date();
      const from = since ?? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
      return { since: from, totals: f.usage.totals({ agent, since: from }) };
    },
    reminders: ({ agent }) => ({ reminders: f.reminders.pending(agent) }),
    peer_add: ({ name, allowed_recipients, model_access }) => f.peers.add(name, { allowedRecipients: allowed_recipients, modelAccess: model_access }),
    peer_remove: async ({ name }) => {
      await f.peers.remove(name);
      return { name };
    },
    peers: () => ({ peers: f.peers.list() }),
    images: ({ prune }) => f.imageReport(prune === true),
  };
}
