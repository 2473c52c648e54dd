/**
 * @module core/gateway/agent-policy
 * What the model gateway enforces for an agent, read from its applied config, and what happens
 * when it refuses a request: a `gateway_refused` banner for the operator and, the first time while
 * that banner is open, a notice to the manager, who can propose a config change.
 */
import { MANAGER, SYSTEM } from '../../shared/names.ts';
import type { Registry } from '../agents/registry.ts';
import type { Alerts } from '../alerts.ts';
import type { Broker } from '../broker/store.ts';
import type { AgentConfigs } from '../configs/agent-configs.ts';
import type { GatewayPolicy } from './model-gateway.ts';

/**
 * The gateway policy of `name` from its applied config.
 * @throws HiveError `bad_config` naming the field when the config is invalid.
 */
export function gatewayPolicyOf(configs: AgentConfigs, name: string): GatewayPolicy {
  const c = configs.get(name).config;
  return { upstream: c.upstream, models: c.models, budget: c.budget };
}

/** Builds the gateway's `onRefused` callback: raises the banner, tells the manager once. */
export function onGatewayRefused(deps: { alerts: Alerts; registry: Registry; broker: Broker; log: (line: string) => void }) {
  return (name: string, reason: 'budget' | 'model', message: string): void => {
    const { alerts, registry, broker, log } = deps;
    const already = alerts.list().some((a) => a.kind === 'gateway_refused' && a.agent === name);
    alerts.raise('gateway_refused', name, message);
    log(`gateway: ${name}: refused (${reason}): ${message}`);
    if (!already && name !== MANAGER && registry.has(MANAGER))
      broker.send(SYSTEM, MANAGER, `the model gateway refused a request of ${name} (${reason}): ${message}`, { kind: 'notice' });
  };
}
