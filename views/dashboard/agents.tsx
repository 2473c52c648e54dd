/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/agents
 * The swarm table: one row per agent with its live state badge and the age of that state, what
 * its runtime isolates, and what its model requests cost through the gateway. A peer (an agent the
 * hive does not run) has a `peer` badge, how to connect it, and only a remove button (two clicks);
 * {@link PeerForm} adds one.
 */
import { peerSetup } from '../../src/shared/peer-setup.ts';
import type { AgentRecord, PeerRecord } from '../../src/shared/wire.ts';
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
  peers = [],
  now = Date.now(),
}: {
  agents: AgentRecord[];
  runtime: RuntimeFacts;
  spend?: Map<string, AgentSpend>;
  /** The peers among `agents`, with their socket dirs and policy. */
  peers?: PeerRecord[];
  now?: number;
}): JSX.Element {
  if (agents.length === 0)
    return (
      <tr>
        <td colspan="7" class="dim">no agents yet: spawn one with `hive ctl spawn NAME`</td>
      </tr>
    );
  return (
    <>
      {agents.map((a) => {
        return a.role === 'peer' ? (
          <PeerRow agent={a} peer={peers.find((p) => p.name === a.name)} spend={spend.get(a.name)} now={now} />
        ) : (
          <AgentRow agent={a} runtime={runtime} spend={spend.get(a.name)} now={now} />
        );
      })}
    </>
  );
}

/** The live state badge, its age, and what went wrong, if anything. */
function StateCell({ agent: a, now }: { agent: AgentRecord; now: number }): JSX.Element {
  return (
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
  );
}

/** The model switch: the override until the config changes, or back to the configured model. */
function ModelCell({ agent: a }: { agent: AgentRecord }): JSX.Element {
  return (
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
  );
}

function SpendCell({ spend }: { spend: AgentSpend | undefined }): JSX.Element {
  return (
    <td data-label="spend" title="model requests through the gateway, UTC day and month">
      {spend ? <span safe>{`${usd(spend.today)} today · ${usd(spend.month)} month${spend.unpriced ? ` · ${spend.unpriced} unpriced` : ''}`}</span> : <span class="dim">none</span>}
    </td>
  );
}

/**
 * A peer's row: no page, no config repo and no lifecycle buttons (the hive does not run it), how
 * to connect it, and remove, which revokes its socket.
 */
function PeerRow({ agent: a, peer, spend, now }: { agent: AgentRecord; peer: PeerRecord | undefined; spend: AgentSpend | undefined; now: number }): JSX.Element {
  const sends = peer?.allowed_recipients ? [...peer.allowed_recipients, 'manager'].join(', ') : 'anyone';
  return (
    <tr id={`agent-${a.name}`} data-status={a.status} data-role="peer">
      <td>
        <span safe>{label(a.name)}</span> <span class="badge peer" title="an agent identity for a container or process the hive does not run">
          peer
        </span>
      </td>
      <StateCell agent={a} now={now} />
      <ModelCell agent={a} />
      <td data-label="runtime">
        <span class="dim" safe>{`not run by the hive · sends to ${sends}${peer ? ` · model gateway ${peer.model_access ? 'served' : 'withheld'}` : ''}`}</span>
        {peer ? (
          <details class="peer-setup">
            <summary>connect</summary>
            <pre safe>{peerSetup(peer)}</pre>
          </details>
        ) : (
          ''
        )}
      </td>
      <SpendCell spend={spend} />
      <td data-label="wanted" class="dim">—</td>
      <td class="actions">
        <DangerButton action={`/peers/${a.name}/remove`} text="remove" name={a.name} />
      </td>
    </tr>
  );
}

/** Adds a peer: its name, whom it may send to (blank: anyone), and whether it gets the model gateway. */
export function PeerForm(): JSX.Element {
  return (
    <form class="peer-add" hx-post="/peers" hx-swap="none" data-reset="all">
      <input name="name" aria-label="name of the peer to add" placeholder="new peer name" autocomplete="off" required />
      <input name="allow" aria-label="whom the peer may send to" placeholder="sends to: a,b (blank: anyone)" autocomplete="off" />
      <label title="serve it no model.sock: no model requests on the operator's credentials">
        <input type="checkbox" name="no_model" value="1" /> no model
      </label>
      <button type="submit">
        <span class="spin">◐</span> add peer
      </button>
    </form>
  );
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
      <StateCell agent={a} now={now} />
      <ModelCell agent={a} />
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
      <SpendCell spend={spend} />
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
