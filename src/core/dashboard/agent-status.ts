/**
 * @module dashboard/agent-status
 * `GET /agents/<name>/status`: what the core knows of one agent's state, for its page. The page
 * hears its state from the harness over its own stream; when that stream drops (the harness is
 * stopping, crashed, being rebuilt, or the link broke), only the core can say what became of the
 * agent, so the page's script (`static/agent.js`) asks here until the harness is back.
 *
 * JSON ({@link AgentPageStatus}) by default; with `Accept: text/event-stream` an SSE stream of the
 * same object, sent at once and again on every change to the agent (the bus's `agent` events), and
 * a last one with status `gone` when the agent is destroyed. GET only, behind the dashboard's
 * operator token and Host checks like every other route.
 */
import type { AnyElysia } from 'elysia';
import { MANAGER, validateAgentName } from '../../shared/names.ts';
import { sseResponse } from '../../shared/sse.ts';
import type { AgentRecord, AgentStatus, DesiredState } from '../../shared/wire.ts';
import { label } from '../../../views/format.ts';
import type { Hive } from '../hive.ts';

/** How soon a page's status stream reconnects after the core went away, ms. */
const STATUS_RETRY_MS = 1000;

/** One agent's state as its page shows it while its own link to the harness is down. */
export interface AgentPageStatus {
  name: string;
  /** The core's status of the agent, or `gone` once it was destroyed. */
  status: AgentStatus | 'gone';
  /** When `status` began, unix ms. */
  since: number;
  /** Whether the operator wants it running; null once it is gone. */
  desired: DesiredState | null;
  /** The harness is up as far as the core knows (idle or thinking, and not being stopped). */
  up: boolean;
  /** Why the page cannot send to the agent now, as a sentence for the operator; null when it is up. */
  reason: string | null;
}

/** The status of `agent` as its page shows it (`gone` for an agent that no longer exists). */
export function pageStatus(name: string, agent: AgentRecord | undefined, now = Date.now()): AgentPageStatus {
  const who = label(name);
  if (!agent) return { name, status: 'gone', since: now, desired: null, up: false, reason: `${who} no longer exists` };
  const base = { name, status: agent.status, since: agent.status_since, desired: agent.desired };
  const running = agent.status === 'idle' || agent.status === 'thinking';
  if (running && agent.desired === 'running') return { ...base, up: true, reason: null };
  return { ...base, up: false, reason: reasonOf(who, agent, running) };
}

/** Why the page of an agent that is not up cannot send to it. */
function reasonOf(who: string, a: AgentRecord, running: boolean): string {
  if (running) return `${who} is being stopped`;
  switch (a.status) {
    case 'building':
      return `${who} is being rebuilt; the prompt comes back when it is up`;
    case 'starting':
      return `${who} is starting; the prompt comes back when it is up`;
    case 'crashed':
      return `${who} crashed (${a.last_exit ?? 'no exit status'}); the core restarts it shortly`;
    case 'failed':
      return `${who} cannot start: ${a.problem ?? 'see the dashboard'}`;
    default:
      return a.desired === 'stopped'
        ? `${who} is stopped; start it from the dashboard to send it a message`
        : `${who} is offline; the core starts it when it can`;
  }
}

/**
 * The answer to one `GET /agents/<name>/status`.
 * @throws HiveError `bad_name`, or `not_found` for an agent the core does not know.
 */
export function agentStatusResponse(hive: Hive, name: string, request: Request): Response {
  if (name !== MANAGER) validateAgentName(name);
  const agent = hive.registry.require(name);
  if (!(request.headers.get('accept') ?? '').includes('text/event-stream'))
    return new Response(JSON.stringify(pageStatus(name, agent)), { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
  return sseResponse((sink) => {
    const send = (s: AgentPageStatus) => sink.send({ data: JSON.stringify(s), retry: STATUS_RETRY_MS });
    send(pageStatus(name, hive.registry.get(name)));
    return hive.bus.on((ev) => {
      if (ev.type === 'agent' && ev.agent.name === name) send(pageStatus(name, ev.agent));
      else if (ev.type === 'agent_removed' && ev.name === name) {
        send(pageStatus(name, undefined));
        sink.close();
      }
    });
  });
}

/** The route `GET /agents/:name/status`. */
export function agentStatusRoutes(hive: Hive) {
  return (app: AnyElysia) =>
    app.get('/agents/:name/status', ({ params, request }) => agentStatusResponse(hive, params.name, request));
}
