/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/offline
 * What the dashboard answers (503) for the page of an agent whose harness is not serving it:
 * stopped, crashed, being rebuilt, starting. It says the state the core has for the agent and why,
 * links back to the dashboard, and `static/agent-offline.js` follows the core's
 * `../status` stream: it redraws the state as it changes and reloads once the agent is up and its
 * page answers.
 */
import { label } from '../format.ts';
import { Layout } from '../layout.tsx';
import { Age } from '../time.tsx';

/** Props of {@link AgentOffline}: the core's view of the agent, as `GET /agents/<name>/status` gives it. */
export interface AgentOfflineProps {
  name: string;
  /** The state to show on the badge (`offline`, `building`, `crashed` …). */
  state: string;
  /** When that state began, unix ms. */
  since: number;
  /** Why the page is not there, as a sentence for the operator. */
  reason: string;
}

/** The page shown in place of an agent's own page while its harness does not serve it. */
export function AgentOffline(p: AgentOfflineProps): JSX.Element {
  return (
    <Layout
      title={`${label(p.name)} · offline · hyperhive`}
      live={false}
      chrome={
        <>
          <span safe>{label(p.name)}</span>
          <span id="state" class={`badge ${p.state}`} data-state={p.state}>
            <span safe>{p.state}</span> <Age ms={p.since} />
          </span>
          <a href="/">dashboard</a>
        </>
      }
    >
      <main class="error-page" id="offline" data-agent={label(p.name)}>
        <h1>the page of <span safe>{label(p.name)}</span> is not being served</h1>
        <p id="offline-why" role="status" aria-live="polite" safe>
          {p.reason}
        </p>
        <p class="dim">this page follows the agent, and opens its page by itself when it is up.</p>
        <p>
          <a href="/">back to the dashboard</a>
        </p>
      </main>
      <script src="/static/agent-offline.js" defer></script>
    </Layout>
  );
}
