/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/agents
 * The swarm table: one row per agent with its live state badge and the age of that state, what
 * its runtime isolates, and what its model requests cost through the gateway.
 */
import type { AgentRecord } from '../../src/shared/wire.ts';
import { label, usd } from '../format.ts';
import { Age } from '../time.tsx';
import { DangerButton } from './kept.tsx';

/** What the core's runtime gives every agent. */
export interface RuntimeFacts {
  /** Agents have a sandbox at all (false: the `process` runtime). */
  sandboxed: boolean;
  /** Root inside the sandbox is host root. */
  privileged: boolean;
  /** Each agent has its own network namespace with only loopback. */
  networkIsolated: boolean;
}

/** An agent's model spend through the gateway, USD. */
export interface AgentSpend {
  today: number;
  month: number;
  /** Requests whose model has no price in the table (their cost is not in the sums). */
  unpriced: number;
}

/** The table body `#agents-body`; re-rendered whole on every agent event. */
export function AgentRows({
  agents,
  runtime,
  spend = new Map(),
  now = Date.now(),
}: {
  agents: AgentRecord[];
  runtime: RuntimeFacts;
  spend?: Map<string, AgentSpend>;
  now?: number;
}): JSX.Element {
  if (agents.length === 0)
    return (
      <tr>
        <td colspan="7" class="dim">no agents yet: spawn one with `hive ctl spawn NAME`</td>
      </tr>
    );
  return <>{agents.map((a) => <AgentRow agent={a} runtime={runtime} spend={spend.get(a.name)} now={now} />)}</>;
}

function AgentRow({ agent: a, runtime, spend, now }: { agent: AgentRecord; runtime: RuntimeFacts; spend: AgentSpend | undefined; now: number }): JSX.Element {
  const { sandboxed, privileged, networkIsolated } = runtime;
  return (
    <tr id={`agent-${a.name}`} data-status={a.status}>
      <td>
        <a href={`/agents/${a.name}/page/`} title="the agent's own page: live claude events, a prompt" safe>
          {label(a.name)}
        </a>
        {a.role === 'manager' ? <span class="dim"> manager</span> : ''}{' '}
        <a class="dim" href={`/repos/${a.name}`} title="config repo: tags, log, diffs">
          config
        </a>
      </td>
      <td data-label="state">
        <span class={`badge ${a.status}`}>{a.status}</span> <span class="dim" title="time in this state">
          <Age ms={a.status_since} now={now} />
        </span>
        {a.restarts > 0 ? <span class="dim" safe>{` ↻${a.restarts} (${a.last_exit ?? ''})`}</span> : ''}
        {a.problem ? (
          <div class="error" safe>
            {a.problem}
          </div>
        ) : (
          ''
        )}
        {a.config_warnings.map((w) => (
          <div class="warn" safe>
            {w}
          </div>
        ))}
      </td>
      <td data-label="model">
        <form class="model" hx-post={`/agents/${a.name}/model`} hx-swap="none" title="switch the model until the config changes">
          <input name="model" value={a.model} list="models" size="10" aria-label={`model of ${a.name}`} />
          {/* the form's default button: Enter in the field sets the typed model, never the reset below */}
          <button type="submit" hidden tabindex="-1" aria-hidden="true">
            set
          </button>
          {a.model_override ? (
            <button type="submit" name="reset" value="1" class="quiet" title="back to the configured model">
              ↺
            </button>
          ) : (
            ''
          )}
        </form>
      </td>
      <td data-label="runtime">
        <span safe>{a.runtime}</span>
        {sandboxed ? (
          ''
        ) : (
          <span class="badge unsandboxed" title="this runtime gives the agent the host's full view: it can reach the dashboard and the admin socket and act as the operator">
            {' '}
            unsandboxed: can act as the operator
          </span>
        )}
        {networkIsolated ? (
          <span class="badge isolated" title="its own network namespace: loopback only; the model and allowed hosts through the core's sockets">
            {' '}
            no network
          </span>
        ) : (
          <span class="badge unsandboxed" title="shares the host's network"> host network</span>
        )}
        {sandboxed && privileged ? (
          <span class="badge privileged" title="root inside this sandbox is root on the host">
            {' '}
            privileged
          </span>
        ) : (
          ''
        )}
      </td>
      <td data-label="spend" title="model requests through the gateway, UTC day and month">
        {spend ? <span safe>{`${usd(spend.today)} today · ${usd(spend.month)} month${spend.unpriced ? ` · ${spend.unpriced} unpriced` : ''}`}</span> : <span class="dim">none</span>}
      </td>
      <td data-label="wanted" class="dim">{a.desired}</td>
      <td class="actions">
        {(a.desired === 'running' ? ['stop', 'restart', 'rebuild'] : ['start', 'rebuild']).map((act) => (
          <button hx-post={`/agents/${a.name}/${act}`} hx-swap="none" class={act === 'stop' ? 'quiet' : ''} aria-label={`${act} ${a.name}`}>
            <span class="spin">◐</span> <span safe>{act}</span>
          </button>
        ))}
        {a.role === 'manager' ? '' : <DangerButton action={`/agents/${a.name}/destroy`} text="destroy" name={a.name} />}
      </td>
    </tr>
  );
}
