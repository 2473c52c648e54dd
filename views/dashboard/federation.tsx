/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/federation
 * The federation on the dashboard of a hive started with `--nats` (docs/federation.md); a hive on
 * its own shows none of it. Two parts, each kept current by the live stream:
 * - {@link FederationLink}, in the chrome strip (`#federation-link`): this hive's name, its link to
 *   the NATS servers (`NATS up`, `NATS down 3m`, `NATS connecting`) and, when envelopes wait to be
 *   published, the outbox depth (`20 waiting`): `hive ha · NATS down 3m · 20 waiting`. A link that
 *   is not up is marked `warn`.
 * - {@link OtherHives}, under the swarm table (`#hives-body`): each other hive as this one hears
 *   it (reachable or not, when last heard, how many agents its heartbeat counted) with its agents'
 *   last-known state and model, named `name@hive` as they are addressed.
 * The props are plain data: the core's `Federation.status()` and its presence lists.
 */
import type { RemoteAgentRecord } from '../../src/shared/wire.ts';
import { clock } from '../format.ts';
import { Age, Clock } from '../time.tsx';

/**
 * This hive's link, as `Federation.status()` gives it:
 * `{ hive: 'ha', link: 'up' | 'down' | 'connecting', since: <unix ms>, outbox: 20, last_error: 'connect: …' | null }`.
 */
export interface FederationLinkState {
  /** This hive's name. */
  hive: string;
  /** `connecting` until the first connection, then `up` or `down`. */
  link: 'connecting' | 'up' | 'down';
  /** When the link last changed, unix ms. */
  since: number;
  /** Envelopes (messages and receipts) stored here and not yet acknowledged by JetStream. */
  outbox: number;
  /** The last error of a publish or of the connection, or null. */
  last_error: string | null;
}

/** Another hive as this one hears it: `{ name: 'hb', heard_at: <unix ms, this host's clock>, reachable: true, agents: 2 }`. */
export interface RemoteHiveItem {
  name: string;
  /** When its last heartbeat arrived here, unix ms (this host's clock). */
  heard_at: number;
  /** False once no heartbeat has arrived for the unreachable threshold. */
  reachable: boolean;
  /** How many agents it had at its last heartbeat. */
  agents: number;
}

/** An agent of another hive with its last-known state, as the wire gives it (`RemoteAgentRecord`). */
export type RemoteAgentItem = RemoteAgentRecord;

/** What the page shows of the federation: null for a hive started without `--nats`. */
export interface FederationView {
  link: FederationLinkState;
  hives: RemoteHiveItem[];
  agents: RemoteAgentItem[];
}

/**
 * The chrome strip's federation part, the body of `#federation-link`:
 * `hive ha · NATS up`, `hive ha · NATS down 3m · 20 waiting`, `hive ha · NATS connecting`. A down
 * link, and a waiting outbox while the link is not up, carry the `warn` class (connecting is `dim`);
 * since when and the last error are in the title.
 */
export function FederationLink({ state: s, now = Date.now() }: { state: FederationLinkState; now?: number }): JSX.Element {
  const cls = s.link === 'up' ? 'federation-state up' : s.link === 'down' ? 'federation-state warn' : 'federation-state dim';
  const tip = `the link to the federation's NATS servers: ${s.link === 'connecting' ? 'not made yet' : `${s.link} since ${clock(s.since)} UTC`}${s.last_error ? ` · last error: ${s.last_error}` : ''}`;
  return (
    <>
      <span class="federation-hive" title="this hive's name: other hives reach its agents as name@hive" safe>
        {`hive ${s.hive}`}
      </span>
      {' · '}
      <span class={cls} data-link={s.link} title={tip}>
        {s.link === 'down' ? (
          <>
            NATS down <Age ms={s.since} now={now} />
          </>
        ) : (
          <span safe>{`NATS ${s.link}`}</span>
        )}
      </span>
      {s.outbox > 0 ? (
        <>
          {' · '}
          <span
            class={s.link === 'up' ? 'federation-outbox' : 'federation-outbox warn'}
            data-outbox={String(s.outbox)}
            title="messages and receipts for other hives stored here, not yet acknowledged by NATS"
            safe
          >
            {`${s.outbox} waiting`}
          </span>
        </>
      ) : (
        ''
      )}
    </>
  );
}

/** A remote status as a class name (`idle`, `thinking` …): what another hive wrote, so anything else is `unknown`. */
function statusClass(status: string): string {
  return /^[a-z_]{1,32}$/.test(status) ? status : 'unknown';
}

/** A remote hive's line with the agents heard of it: listed by name, the hive only known from its agents when `hive` is null. */
function HiveEntry({ name, hive, agents, now }: { name: string; hive: RemoteHiveItem | null; agents: RemoteAgentItem[]; now: number }): JSX.Element {
  return (
    <li id={`hive-${name}`} data-reachable={hive ? String(hive.reachable) : undefined}>
      <div class="remote-hive-head">
        <strong class="remote-hive-name" safe>
          {name}
        </strong>{' '}
        {hive === null ? (
          <span class="dim">no heartbeat heard yet</span>
        ) : (
          <>
            {hive.reachable ? (
              <span class="badge ok">reachable</span>
            ) : (
              <span class="badge warn" title="no heartbeat for the unreachable threshold: messages to its agents wait in the stream until it is back">
                unreachable
              </span>
            )}{' '}
            <span class="dim">
              heard <Age ms={hive.heard_at} now={now} /> ago · <span safe>{`${hive.agents} agent${hive.agents === 1 ? '' : 's'}`}</span>
            </span>
          </>
        )}
      </div>
      {agents.length === 0 ? (
        <p class="dim empty">no agents known</p>
      ) : (
        <table class="remote-agents">
          <tbody>
            {agents.map((a) => (
              <tr id={`remote-${a.name}-${name}`} data-status={statusClass(a.status)}>
                <td>
                  <span safe>{`${a.name}@${a.hive}`}</span>
                  {a.role === 'manager' || a.role === 'peer' ? <span class="dim" safe>{` ${a.role}`}</span> : ''}
                </td>
                <td data-label="state">
                  <span class={`badge ${statusClass(a.status)}`} safe>
                    {a.status}
                  </span>{' '}
                  {a.at > 0 ? (
                    <span class="dim" title="when its hive reported this state (that host's clock)">
                      as of <Clock ms={a.at} timeOnly={clock(a.at).slice(0, 10) === clock(now).slice(0, 10)} />
                    </span>
                  ) : (
                    ''
                  )}
                </td>
                <td data-label="model" safe>
                  {a.model}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}

/**
 * The "other hives" section's body, `#hives-body`: each other hive heard since this core started,
 * by name (and any hive known only from its agents' entries), with its agents; one dim line when
 * none has been heard yet.
 */
export function OtherHives({ hives, agents, now = Date.now() }: { hives: RemoteHiveItem[]; agents: RemoteAgentItem[]; now?: number }): JSX.Element {
  const names = [...new Set([...hives.map((h) => h.name), ...agents.map((a) => a.hive)])].sort((a, b) => a.localeCompare(b));
  if (names.length === 0) return <p class="dim empty">no other hive heard yet</p>;
  return (
    <ul class="remote-hives">
      {names.map((name) => (
        <HiveEntry name={name} hive={hives.find((h) => h.name === name) ?? null} agents={agents.filter((a) => a.hive === name)} now={now} />
      ))}
    </ul>
  );
}
