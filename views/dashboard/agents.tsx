/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/agents
 * The swarm table: one row per agent with its live state badge and the age of that state.
 */
import type { AgentRecord } from '../../src/shared/wire.ts';
import { age, label } from '../format.ts';
import { DangerButton } from './kept.tsx';

/** The table body `#agents-body`; re-rendered whole on every agent event. */
export function AgentRows({
  agents,
  sandboxed,
  privileged = false,
  now = Date.now(),
}: {
  agents: AgentRecord[];
  sandboxed: boolean;
  /** Root inside the runtime's sandboxes is host root. */
  privileged?: boolean;
  now?: number;
}): JSX.Element {
  if (agents.length === 0)
    return (
      <tr>
        <td colspan="7" class="dim">no agents yet: spawn one with `hive ctl spawn NAME`</td>
      </tr>
    );
  return <>{agents.map((a) => <AgentRow agent={a} sandboxed={sandboxed} privileged={privileged} now={now} />)}</>;
}

function AgentRow({ agent: a, sandboxed, privileged, now }: { agent: AgentRecord; sandboxed: boolean; privileged: boolean; now: number }): JSX.Element {
  return (
    <tr id={`agent-${a.name}`} data-status={a.status}>
      <td>
        <a href={`http://127.0.0.1:${a.port}/`} target="_blank" rel="noopener" safe>
          {label(a.name)}
        </a>
        {a.role === 'manager' ? <span class="dim"> manager</span> : ''}{' '}
        <a class="dim" href={`/repos/${a.name}`} title="config repo: tags, log, diffs">
          config
        </a>
      </td>
      <td data-label="state">
        <span class={`badge ${a.status}`} safe>{a.status}</span> <span class="dim" title="time in this state" safe>{age(a.status_since, now)}</span>
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
          {a.model_override ? (
            <button name="reset" value="1" class="quiet" title="back to the configured model">
              ↺
            </button>
          ) : (
            ''
          )}
        </form>
      </td>
      <td data-label="runtime">
        <span safe>{a.runtime}</span>
        {sandboxed ? '' : <span class="badge unsandboxed" title="this runtime gives the agent the host's full view"> unsandboxed</span>}
        {sandboxed && privileged ? (
          <span class="badge privileged" title="root inside this sandbox is root on the host">
            {' '}
            privileged
          </span>
        ) : (
          ''
        )}
      </td>
      <td data-label="page port" safe>{String(a.port)}</td>
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
