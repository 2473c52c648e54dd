/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/index
 * The dashboard's index page (`GET /`), the whole document: the chrome strip, the banners, then two
 * columns. The first holds what waits for the operator and is always in view: the send form, the
 * manager's questions and the approvals. The second is a strip of tabs over one pane each: swarm
 * (with the spawn form), message flow, the operator's inbox, recent turns, kept state, reminders,
 * rebuild output with the agents' images, and stats. Each section is rendered by its own module in this folder.
 * With `--nats`, the chrome strip names the hive and its federation link, and the swarm pane lists
 * the other hives under the local agents (`federation.tsx`); a hive on its own shows neither.
 * Everything below the chrome (and the chrome's counts and federation link) is updated in place by
 * the `/events` SSE stream, hidden panes too (fragments are swapped by id); `static/hive.js` switches the tabs, remembers the last one, and
 * counts on a hidden tab what arrived in its pane since it was shown.
 */
import type { Children } from '@kitajs/html';
import type { AgentRecord, AlertRecord, ApprovalRecord, MessageRecord, PeerRecord, ReminderRecord, TurnRecord } from '../../src/shared/wire.ts';
import { AlertCount, Banners } from './banners.tsx';
import { ApprovalList, type ApprovalDetail, type DraftItem } from './approvals.tsx';
import { BuildLines, type BuildLineItem } from './builds.tsx';
import { FederationLink, OtherHives, type FederationView } from './federation.tsx';
import { ImageList, type ImagesState } from './images.tsx';
import { KeptList } from './kept.tsx';
import { LoginLink, type LoginStatus } from './login.tsx';
import { InboxList, titleWithCount, WaitingCount, type InboxEntry } from './inbox.tsx';
import { QuestionList, type QuestionsState } from './questions.tsx';
import { ReminderList } from './reminders.tsx';
import { SwarmStats } from './stats.tsx';
import { Layout, Panel, TableHead } from '../layout.tsx';
import { AgentRows, PeerForm, type AgentSpend, type RuntimeFacts } from './agents.tsx';
import { MessageItems } from './flow.tsx';
import { TurnRows } from './turns.tsx';
import { label } from '../format.ts';

/** Everything the page shows at load. */
export interface DashboardData {
  version: string;
  runtime: string;
  facts: RuntimeFacts;
  spend: Map<string, AgentSpend>;
  /** The session's CSRF token, for every state-changing request the page makes. */
  csrf: string;
  dataDir: string;
  /** A webhook for operator notifications is set (`--notify-url`): offer the test button. */
  notify: boolean;
  /** The hive's model credentials, for the chrome strip's link to the login page. */
  credentials: LoginStatus;
  agents: AgentRecord[];
  /** The peers among `agents` (socket dirs and policy). */
  peers?: PeerRecord[];
  /**
   * The swarm table's rows as HTML, already rendered from the same `agents`, `spend` and `peers`
   * (the dashboard keeps them between changes); rendered here when absent.
   */
  agentRows?: string;
  messages: MessageRecord[];
  turns: TurnRecord[];
  questions: QuestionsState;
  approvals: ApprovalRecord[];
  approvalDetails: Map<number, ApprovalDetail>;
  drafts: DraftItem[];
  builds: BuildLineItem[];
  kept: Array<{ name: string; modified_at: number }>;
  /** The agents' root filesystems, as `hive ctl images` lists them. */
  images: ImagesState;
  reminders: ReminderRecord[];
  alerts: AlertRecord[];
  lastMessageId: number;
  /** Where the live updates stood when this page was rendered (`LiveUpdates.mark`), passed back by its stream as `seen`. */
  seen?: string;
  /** Messages to the operator, newest first, with their read state. */
  inbox: InboxEntry[];
  unread: number;
  /** Pending questions and approvals, open alerts and unread inbox messages. */
  waiting: number;
  /**
   * The federation (`--nats`): this hive's link for the chrome strip, the other hives and their
   * agents for the swarm pane; null (or absent) for a hive on its own, which shows none of it.
   */
  federation?: FederationView | null;
}

/** Everyone a message can be sent to or filtered by, as `<option>`s for `#agent-names`: this hive's agents, then (in a federation) the other hives' as `name@hive`. */
export function AgentNames({ agents, remote = [] }: { agents: AgentRecord[]; remote?: ReadonlyArray<{ name: string; hive: string }> }): JSX.Element {
  return (
    <>
      {agents.map((a) => (
        <option value={a.name} safe>
          {label(a.name)}
        </option>
      ))}
      {remote.map((a) => (
        <option value={`${a.name}@${a.hive}`} safe>
          {`${a.name}@${a.hive}`}
        </option>
      ))}
    </>
  );
}

/** The tabs of the dashboard, in strip order; the first is shown until the page picks another. */
export const DASHBOARD_TABS = ['swarm', 'flow', 'inbox', 'turns', 'kept', 'reminders', 'rebuilds', 'stats'] as const;

/** One tab's name: its button is `#tab-<name>`, its pane `#pane-<name>`. */
export type DashboardTab = (typeof DASHBOARD_TABS)[number];

/** One button of the tab strip; `children` go between its label and its "new" badge. */
function Tab(p: { name: DashboardTab; glyph: string; label: string; children?: Children }): JSX.Element {
  const selected = p.name === DASHBOARD_TABS[0];
  return (
    <button
      type="button"
      role="tab"
      id={`tab-${p.name}`}
      aria-controls={`pane-${p.name}`}
      aria-selected={selected ? 'true' : 'false'}
      tabindex={selected ? '0' : '-1'}
      data-tab={p.name}
    >
      <span class="glyph" safe>{p.glyph}</span> <span class="tab-label" safe>{p.label}</span>
      {p.children}
      <span class="tab-new" hidden></span>
    </button>
  );
}

/**
 * One tab's pane. `items` selects the elements that count as one new thing each when they arrive
 * while the pane is hidden; `fill` gives the pane's one long list (`.scroll`) the height left under
 * the rest of the panel, so it scrolls alone.
 */
function Pane(p: { name: DashboardTab; items?: string; fill?: boolean; children: Children }): JSX.Element {
  return (
    <div
      class={p.fill ? 'pane fill' : 'pane'}
      id={`pane-${p.name}`}
      role="tabpanel"
      aria-labelledby={`tab-${p.name}`}
      tabindex="0"
      data-items={p.items}
      hidden={p.name !== DASHBOARD_TABS[0]}
    >
      {p.children}
    </div>
  );
}

/**
 * A live count in a header or a tab: `static/hive.js` keeps its text `<n> <noun>` current from
 * the page, counting the elements `selector` matches, or reading the attribute `attr` of the first
 * one when given.
 */
function LiveCount(p: { n: number; noun?: string; selector: string; attr?: string }): JSX.Element {
  return (
    <span class={p.n > 0 ? 'count' : 'count dim'} data-live-count={p.selector} data-count-attr={p.attr} data-noun={p.noun} safe>
      {p.noun ? `${p.n} ${p.noun}` : String(p.n)}
    </span>
  );
}

/** The whole dashboard document. */
export function DashboardPage(d: DashboardData): JSX.Element {
  const questions = 'questions' in d.questions ? d.questions.questions.length : 0;
  const pending = d.approvals.filter((a) => a.status === 'pending').length;
  // rendered by AgentRows from these same records, escaped there
  const safeAgentRows = d.agentRows;
  return (
    <Layout
      title={titleWithCount('hyperhive', d.waiting)}
      csrf={d.csrf}
      fit
      chrome={
        <>
          <span safe>{`v${d.version}`}</span>
          <span safe>{`runtime: ${d.runtime}`}</span>
          {d.federation ? (
            <span id="federation-link" class="federation">
              <FederationLink state={d.federation.link} />
            </span>
          ) : (
            ''
          )}
          <LoginLink status={d.credentials} />
          <span class="dim data-dir" title={d.dataDir} safe>
            {d.dataDir}
          </span>
          <a href="/shared" title="the directory every agent shares at /shared, read-only">
            /shared
          </a>
          <span id="waiting">
            <WaitingCount count={d.waiting} />
          </span>
          <span id="alert-count">
            <AlertCount count={d.alerts.length} />
          </span>
          <button type="button" id="notify-me" class="quiet chrome-button" hidden title="show a browser notification when something waits for you while this tab is hidden">
            notify me
          </button>
          {d.notify ? (
            <button type="button" class="quiet chrome-button" hx-post="/notify/test" hx-swap="none" title="send a test notification to the notification URL">
              test notification
            </button>
          ) : (
            ''
          )}
        </>
      }
    >
      <div hx-sse:connect={`/events?after=${d.lastMessageId}${d.seen ? `&seen=${d.seen}` : ''}`} hx-swap="none" id="sse"></div>
      <datalist id="agent-names">
        <AgentNames agents={d.agents} remote={d.federation?.agents} />
      </datalist>
      {d.facts.sandboxed ? (
        ''
      ) : (
        <div class="banner unsandboxed" role="alert">
          <strong class="kind">▲ no sandbox</strong>{' '}
          <span class="text">
            The process runtime runs agents as plain processes of your user: they share this host's network and files, can reach this
            dashboard and the admin socket, and so can act as the operator. Use nspawn or bwrap (see hive doctor) for agents you do not
            fully trust.
          </span>
        </div>
      )}
      <div id="banners" aria-live="assertive">
        <Banners alerts={d.alerts} />
      </div>
      <datalist id="models">
        <option value="haiku"></option>
        <option value="sonnet"></option>
        <option value="opus"></option>
      </datalist>
      <main class="board">
        <div class="attention" role="region" aria-label="waiting for the operator">
          <Panel id="send" glyph="◈" name="Y3R C4LL" sub="send as the operator" class="send-panel">
            <form class="send" hx-post="/send" hx-swap="none" data-reset>
              <input name="to" list="agent-names" aria-label="recipient" placeholder="to (name)" autocomplete="off" required />
              <textarea name="body" aria-label="message" placeholder="message as operator" required></textarea>
              <button type="submit">
                <span class="spin">◐</span> send
              </button>
            </form>
          </Panel>
          <Panel
            id="questions"
            glyph="◇"
            name="M1ND H4S QU3STI0NS"
            sub="the manager asks the operator"
            class="attend questions-panel"
            aside={<LiveCount n={questions} noun="open" selector="#questions-body form.question" />}
          >
            <div id="questions-body" class="scroll">
              <QuestionList state={d.questions} />
            </div>
          </Panel>
          <Panel
            id="approvals"
            glyph="◆"
            name="APPR0VALS"
            sub="changes waiting for the operator"
            class="attend approvals-panel"
            aside={<LiveCount n={pending} noun="pending" selector={'#approvals-body .approval[data-status="pending"]'} />}
          >
            <div id="approvals-body" class="scroll">
              <ApprovalList approvals={d.approvals} details={d.approvalDetails} drafts={d.drafts} />
            </div>
          </Panel>
        </div>
        <div class="desk">
          <div class="tabs" role="tablist" aria-label="dashboard sections">
            <Tab name="swarm" glyph="◆" label="SW4RM" />
            <Tab name="flow" glyph="▚" label="M4TR1X" />
            <Tab name="inbox" glyph="✉" label="1NB0X">
              <LiveCount n={d.unread} selector="#inbox-body [data-unread]" attr="data-unread" />
            </Tab>
            <Tab name="turns" glyph="▞" label="TURN5" />
            <Tab name="kept" glyph="◇" label="K3PT" />
            <Tab name="reminders" glyph="◇" label="R3M1ND3RS" />
            <Tab name="rebuilds" glyph="▤" label="R3BU1LD" />
            <Tab name="stats" glyph="◔" label="ST4TS" />
          </div>
          <div class="panes">
            <Pane name="swarm" items="#agents-body > tr[id]">
              <Panel id="swarm" glyph="◆" name="SW4RM" sub="agents and their state">
                <form class="spawn" hx-post="/spawn" hx-swap="none" data-reset="all">
                  <input name="name" aria-label="name of the agent to spawn" placeholder="new agent name" autocomplete="off" required />
                  <button type="submit">
                    <span class="spin">◐</span> spawn
                  </button>
                </form>
                <PeerForm />
                <table>
                  <TableHead columns={['agent', 'state', 'model', 'runtime', 'spend', 'wanted', 'actions']} />
                  <tbody id="agents-body">
                    {safeAgentRows ?? <AgentRows agents={d.agents} runtime={d.facts} spend={d.spend} peers={d.peers} />}
                  </tbody>
                </table>
              </Panel>
              {d.federation ? (
                <Panel id="hives" glyph="◆" name="0TH3R H1V3S" sub="other hives of the federation, as last heard" class="hives-panel">
                  <div id="hives-body">
                    <OtherHives hives={d.federation.hives} agents={d.federation.agents} />
                  </div>
                </Panel>
              ) : (
                ''
              )}
            </Pane>
            <Pane name="flow" items="#flow > li[id]" fill>
              <Panel id="flow" glyph="▚" name="M4TR1X" sub="message flow, newest first">
                <form class="flow-filter" hx-get="/fragments/flow" hx-target="#flow" hx-swap="innerHTML" hx-trigger="input changed delay:250ms, search">
                  <label>
                    only messages from or to{' '}
                    <input type="search" name="agent" list="agent-names" aria-label="filter the flow by agent" placeholder="any agent" autocomplete="off" />
                  </label>
                </form>
                <ul class="flow scroll" id="flow">
                  <MessageItems messages={d.messages} />
                </ul>
              </Panel>
            </Pane>
            <Pane name="inbox" items="#inbox-body li[id]">
              <Panel id="inbox" glyph="✉" name="1NB0X" sub="messages to the operator, newest first">
                <div id="inbox-body">
                  <InboxList items={d.inbox} unread={d.unread} />
                </div>
              </Panel>
            </Pane>
            <Pane name="turns" items="#turns-body > tr[id]">
              <Panel id="turns" glyph="▞" name="TURN5" sub="recent claude turns">
                <table>
                  <TableHead columns={['started', 'agent', 'status', 'woke by', 'tools', 'result']} />
                  <tbody id="turns-body">
                    <TurnRows turns={d.turns} />
                  </tbody>
                </table>
              </Panel>
            </Pane>
            <Pane name="kept" items="#kept-body li[id]">
              <Panel id="kept" glyph="◇" name="K3PT ST4T3" sub="destroyed agents whose state is kept">
                <div id="kept-body">
                  <KeptList kept={d.kept} />
                </div>
              </Panel>
            </Pane>
            <Pane name="reminders" items="#reminders-body li[id]">
              <Panel id="reminders" glyph="◇" name="R3M1ND3RS" sub="pending reminders, soonest first">
                <div id="reminders-body">
                  <ReminderList reminders={d.reminders} />
                </div>
              </Panel>
            </Pane>
            <Pane name="rebuilds" items="#builds > li:not(.empty)" fill>
              <Panel id="rebuilds" glyph="▤" name="R3BU1LD" sub="rebuild output, live">
                <ol class="builds scroll" id="builds" aria-live="polite">
                  <BuildLines lines={d.builds} />
                </ol>
              </Panel>
              <Panel id="images" glyph="▣" name="1M4G3S" sub="agents' root filesystems" class="images-panel">
                <div id="images-body">
                  <ImageList state={d.images} />
                </div>
              </Panel>
            </Pane>
            <Pane name="stats">
              <Panel id="stats" glyph="◔" name="ST4TS" sub="the swarm over time">
                <p class="dim empty stats-placeholder">no charts yet: the swarm's telemetry will be drawn here</p>
                <div id="swarm-stats">
                  <SwarmStats />
                </div>
              </Panel>
            </Pane>
          </div>
        </div>
      </main>
    </Layout>
  );
}
