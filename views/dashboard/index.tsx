/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/index
 * The dashboard's index page (`GET /`), the whole document: the chrome strip, the banners, and
 * every section (swarm with the spawn form, the operator's inbox, questions, approvals, kept state, reminders, rebuild
 * output, message flow with the operator's send form, recent turns), each rendered by its own
 * module in this folder.
 * Everything below the chrome is updated in place by the `/events` SSE stream.
 */
import type { AgentRecord, AlertRecord, ApprovalRecord, MessageRecord, ReminderRecord, TurnRecord } from '../../src/shared/wire.ts';
import { AlertCount, Banners } from './banners.tsx';
import { ApprovalList, type ApprovalDetail, type DraftItem } from './approvals.tsx';
import { BuildLines, type BuildLineItem } from './builds.tsx';
import { KeptList } from './kept.tsx';
import { InboxList, titleWithCount, WaitingCount, type InboxEntry } from './inbox.tsx';
import { QuestionList, type QuestionsState } from './questions.tsx';
import { ReminderList } from './reminders.tsx';
import { Layout, Panel, TableHead } from '../layout.tsx';
import { AgentRows, type AgentSpend, type RuntimeFacts } from './agents.tsx';
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
  agents: AgentRecord[];
  messages: MessageRecord[];
  turns: TurnRecord[];
  questions: QuestionsState;
  approvals: ApprovalRecord[];
  approvalDetails: Map<number, ApprovalDetail>;
  drafts: DraftItem[];
  builds: BuildLineItem[];
  kept: Array<{ name: string; modified_at: number }>;
  reminders: ReminderRecord[];
  alerts: AlertRecord[];
  lastMessageId: number;
  /** Messages to the operator, newest first, with their read state. */
  inbox: InboxEntry[];
  unread: number;
  /** Pending questions and approvals, open alerts and unread inbox messages. */
  waiting: number;
}

/** Everyone a message can be sent to or filtered by, as `<option>`s for `#agent-names`. */
export function AgentNames({ agents }: { agents: AgentRecord[] }): JSX.Element {
  return (
    <>
      {agents.map((a) => (
        <option value={a.name} safe>
          {label(a.name)}
        </option>
      ))}
    </>
  );
}

/** The whole dashboard document. */
export function DashboardPage(d: DashboardData): JSX.Element {
  return (
    <Layout
      title={titleWithCount('hyperhive', d.waiting)}
      csrf={d.csrf}
      chrome={
        <>
          <span safe>{`v${d.version}`}</span>
          <span safe>{`runtime: ${d.runtime}`}</span>
          <span class="dim" safe>{d.dataDir}</span>
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
      <div hx-sse:connect={`/events?after=${d.lastMessageId}`} hx-swap="none" id="sse"></div>
      <datalist id="agent-names">
        <AgentNames agents={d.agents} />
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
      <main>
        <Panel id="swarm" glyph="◆" name="SW4RM" sub="agents and their state" wide>
          <table>
            <TableHead columns={['agent', 'state', 'model', 'runtime', 'spend', 'wanted', 'actions']} />
            <tbody id="agents-body">
              <AgentRows agents={d.agents} runtime={d.facts} spend={d.spend} />
            </tbody>
          </table>
          <form class="spawn" hx-post="/spawn" hx-swap="none" data-reset="all">
            <input name="name" aria-label="name of the agent to spawn" placeholder="new agent name" autocomplete="off" required />
            <button type="submit">
              <span class="spin">◐</span> spawn
            </button>
          </form>
        </Panel>
        <Panel id="inbox" glyph="✉" name="1NB0X" sub="messages to the operator, newest first">
          <div id="inbox-body">
            <InboxList items={d.inbox} unread={d.unread} />
          </div>
        </Panel>
        <Panel id="questions" glyph="◇" name="M1ND H4S QU3STI0NS" sub="the manager asks the operator">
          <div id="questions-body">
            <QuestionList state={d.questions} />
          </div>
        </Panel>
        <Panel id="approvals" glyph="◆" name="APPR0VALS" sub="changes waiting for the operator">
          <div id="approvals-body">
            <ApprovalList approvals={d.approvals} details={d.approvalDetails} drafts={d.drafts} />
          </div>
        </Panel>
        <Panel id="kept" glyph="◇" name="K3PT ST4T3" sub="destroyed agents whose state is kept" wide>
          <div id="kept-body">
            <KeptList kept={d.kept} />
          </div>
        </Panel>
        <Panel id="reminders" glyph="◇" name="R3M1ND3RS" sub="pending reminders, soonest first" wide>
          <div id="reminders-body">
            <ReminderList reminders={d.reminders} />
          </div>
        </Panel>
        <Panel id="rebuilds" glyph="▤" name="R3BU1LD" sub="rebuild output, live" wide>
          <ol class="builds" id="builds" aria-live="polite">
            <BuildLines lines={d.builds} />
          </ol>
        </Panel>
        <Panel id="flow" glyph="▚" name="M4TR1X" sub="message flow">
          <form class="send" hx-post="/send" hx-swap="none" data-reset>
            <input name="to" list="agent-names" aria-label="recipient" placeholder="to (name)" autocomplete="off" required />
            <textarea name="body" aria-label="message" placeholder="message as operator" required></textarea>
            <button type="submit">
              <span class="spin">◐</span> send
            </button>
          </form>
          <form class="flow-filter" hx-get="/fragments/flow" hx-target="#flow" hx-swap="innerHTML" hx-trigger="input changed delay:250ms, search">
            <label>
              only messages from or to{' '}
              <input type="search" name="agent" list="agent-names" aria-label="filter the flow by agent" placeholder="any agent" autocomplete="off" />
            </label>
          </form>
          <ul class="flow" id="flow">
            <MessageItems messages={d.messages} />
          </ul>
        </Panel>
        <Panel id="turns" glyph="▞" name="TURN5" sub="recent claude turns">
          <table>
            <TableHead columns={['started', 'agent', 'status', 'woke by', 'tools', 'result']} />
            <tbody id="turns-body">
              <TurnRows turns={d.turns} />
            </tbody>
          </table>
        </Panel>
      </main>
    </Layout>
  );
}
