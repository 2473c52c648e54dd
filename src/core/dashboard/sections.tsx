/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard/sections
 * The dashboard's sections, read from the hive and rendered by `views/dashboard/`: the whole page
 * (`GET /`) and each section on its own (`GET /fragments/agents|flow[?agent=]|turns|questions|
 * approvals|kept|reminders|alerts|inbox|waiting|images|federation|hives`; the last two are empty for a
 * hive without `--nats`). The live updates (`live.ts`) send the same renderings.
 */
import { statSync } from 'node:fs';
import type { AnyElysia } from 'elysia';
import { OPERATOR } from '../../shared/names.ts';
import { stageRank } from '../../shared/repo-tags.ts';
import type { ApprovalRecord, MessageRecord } from '../../shared/wire.ts';
import { VERSION } from '../../shared/version.ts';
import { htmlResponse } from '../../shared/web.ts';
import { nameFromLabel } from '../../../views/format.ts';
import { AgentNames, DashboardPage } from '../../../views/dashboard/index.tsx';
import { AlertCount, Banners } from '../../../views/dashboard/banners.tsx';
import { AgentRows, type AgentSpend, type RuntimeFacts } from '../../../views/dashboard/agents.tsx';
import { MessageItem, MessageItems } from '../../../views/dashboard/flow.tsx';
import { TurnRows } from '../../../views/dashboard/turns.tsx';
import { QuestionList, type QuestionsState } from '../../../views/dashboard/questions.tsx';
import { ApprovalList, type ApprovalDetail } from '../../../views/dashboard/approvals.tsx';
import { BuildLine, type BuildLineItem } from '../../../views/dashboard/builds.tsx';
import { KeptList } from '../../../views/dashboard/kept.tsx';
import { ImageList, prunedLine, type ImagesState } from '../../../views/dashboard/images.tsx';
import { FederationLink, OtherHives, type FederationLinkState, type FederationView } from '../../../views/dashboard/federation.tsx';
import { ReminderList } from '../../../views/dashboard/reminders.tsx';
import { InboxList, WaitingCount } from '../../../views/dashboard/inbox.tsx';
import { BASE_PACKAGES } from '../images/recipe.ts';
import type { RequestGuard } from './guard.ts';
import { RepoCache } from './repo-cache.ts';
import type { Hive } from '../hive.ts';

/** Messages shown at load, in a filtered flow, and replayed at most on reconnect. */
export const FLOW_LIMIT = 200;
/** Turns shown. */
const TURN_LIMIT = 30;
/** Messages to the operator shown in the inbox. */
const INBOX_LIMIT = 50;
/** Approvals whose diff or tag chain is read from the config repos. */
const APPROVAL_DETAILS = 30;

/** Start of the UTC day and month of `now` (unix ms), unix ms. */
export function utcStarts(now = Date.now()): { day: number; month: number } {
  const d = new Date(now);
  return { day: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()), month: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) };
}

/** Renders each dashboard section, and the whole page, from the hive's current state. */
export class Sections {
  /** What the core's runtime gives every agent. */
  readonly facts: RuntimeFacts;
  /**
   * The config repos' diffs and tags as last read, dropped on the bus events that change them (see
   * `repo-cache.ts`), so a page load or a live update runs no git once they are read.
   */
  private readonly repoCache: RepoCache;

  /**
   * @param builds the recent rebuild output, oldest first, for the page's rebuild section.
   */
  constructor(
    private readonly hive: Hive,
    private readonly builds: () => readonly BuildLineItem[],
  ) {
    this.facts = { sandboxed: hive.runtime.sandboxed, privileged: hive.runtime.privileged, networkIsolated: hive.runtime.networkIsolated };
    this.repoCache = new RepoCache(hive.repos, hive.bus);
  }

  /** Each agent's model spend through the gateway this UTC day and month. */
  spend(): Map<string, AgentSpend> {
    const { day, month } = utcStarts();
    const out = new Map<string, AgentSpend>();
    for (const t of this.hive.usage.totals({ since: month })) out.set(t.agent, { today: 0, month: t.cost_usd, unpriced: t.unpriced });
    for (const t of this.hive.usage.totals({ since: day })) {
      const s = out.get(t.agent);
      if (s) s.today = t.cost_usd;
    }
    return out;
  }

  /** The swarm table's body, `#agents-body`. */
  agents(): string {
    return String(<AgentRows agents={this.hive.registry.list()} runtime={this.facts} spend={this.spend()} peers={this.hive.peers.list()} />);
  }

  /** The recipients' `<option>`s, `#agent-names`. */
  names(): string {
    return String(<AgentNames agents={this.hive.registry.list()} remote={this.hive.federation?.presence.remoteAgents()} />);
  }

  /** The recent turns' rows, `#turns-body`. */
  turns(): string {
    return String(<TurnRows turns={this.hive.turns.list({ limit: TURN_LIMIT })} />);
  }

  /** The banners, `#banners`. */
  alerts(alerts = this.hive.alerts.list()): string {
    return String(<Banners alerts={alerts} />);
  }

  /** The chrome strip's alert count, `#alert-count`. */
  alertCount(count: number): string {
    return String(<AlertCount count={count} />);
  }

  /** The operator's pending questions, or why they could not be read. */
  questionsState(): QuestionsState {
    try {
      return { questions: this.hive.questions.listFor(OPERATOR) };
    } catch (err) {
      this.hive.log(`dashboard: questions could not be read: ${(err as Error).message}`);
      return { error: (err as Error).message };
    }
  }

  /** The questions section's body, `#questions-body`. */
  questions(): string {
    return String(<QuestionList state={this.questionsState()} />);
  }

  /** The kept-state section's body, `#kept-body`. */
  kept(): string {
    return String(<KeptList kept={this.hive.kept.list()} />);
  }

  /**
   * The agents' images as `hive ctl images` lists them, with the base package set; when they cannot
   * be read, no images and why. With `prune`, those no agent uses are removed first, and `removed`
   * holds them.
   */
  imagesState(prune = false): ImagesState & { removed: Array<{ key: string; bytes: number }> } {
    try {
      return { ...this.hive.imageReport(prune), base: BASE_PACKAGES };
    } catch (err) {
      if (prune) throw err;
      this.hive.log(`dashboard: images could not be read: ${(err as Error).message}`);
      return { dir: null, problem: `the images could not be read: ${(err as Error).message}`, images: [], removed: [], base: BASE_PACKAGES };
    }
  }

  /** The images section's body, `#images-body` (reads each image's `image.json`; no subprocess). */
  images(): string {
    return String(<ImageList state={this.imagesState()} />);
  }

  /**
   * Removes the images no agent uses (as `hive ctl images --prune`) and renders the images section
   * with a line saying what went; `summary` is that line.
   */
  pruneImages(): { html: string; summary: string } {
    const state = this.imagesState(true);
    return { html: String(<ImageList state={state} removed={state.removed} />), summary: prunedLine(state.removed) };
  }

  /**
   * The federation as the page shows it, read from memory and one count of the outbox (no network):
   * this hive's link and the other hives and agents as last heard; null without `--nats`.
   */
  federationView(): FederationView | null {
    const link = this.federationLink();
    const fed = this.hive.federation;
    return link && fed ? { link, hives: fed.presence.remoteHives(), agents: fed.presence.remoteAgents() } : null;
  }

  /** This hive's federation link and outbox depth, or null without `--nats`. */
  federationLink(): FederationLinkState | null {
    const status = this.hive.federation?.status();
    if (!status) return null;
    const { hive, link, since, outbox, last_error } = status;
    return { hive, link, since, outbox, last_error };
  }

  /** The chrome strip's federation link, `#federation-link` (empty without `--nats`; counts the outbox). */
  federation(): string {
    const link = this.federationLink();
    return link ? String(<FederationLink state={link} />) : '';
  }

  /** The other hives under the swarm table, `#hives-body` (empty without `--nats`; from memory only). */
  hives(): string {
    const fed = this.hive.federation;
    return fed ? String(<OtherHives hives={fed.presence.remoteHives()} agents={fed.presence.remoteAgents()} />) : '';
  }

  /** The reminders section's body, `#reminders-body`: every pending reminder, soonest first. */
  reminders(): string {
    return String(<ReminderList reminders={this.hive.reminders.pending()} />);
  }

  /** The inbox section's body, `#inbox-body`: messages to the operator, newest first. */
  inbox(): string {
    return String(<InboxList items={this.hive.inbox.list(INBOX_LIMIT)} unread={this.hive.inbox.unread()} />);
  }

  /**
   * How many things wait for the operator: pending questions to them, pending approvals, open
   * alerts and unread inbox messages.
   */
  waitingCount(): number {
    const q = this.questionsState();
    const questions = 'questions' in q ? q.questions.length : 0;
    return questions + this.hive.approvals.list(false).length + this.hive.alerts.list().length + this.hive.inbox.unread();
  }

  /** The chrome strip's waiting count, `#waiting`. */
  waiting(count = this.waitingCount()): string {
    return String(<WaitingCount count={count} />);
  }

  /**
   * Diffs of pending approvals and tag chains of recent decisions, from the config repos through
   * the dashboard's cache: git runs only for what changed since it was last read.
   */
  async approvalDetails(approvals: ApprovalRecord[]): Promise<Map<number, ApprovalDetail>> {
    const details = new Map<number, ApprovalDetail>();
    const recent = approvals.slice(0, APPROVAL_DETAILS);
    const read = await Promise.all(
      recent.map(async (a): Promise<ApprovalDetail | null> => {
        try {
          if (a.status === 'pending') return { diff: await this.repoCache.diff(a) };
          const chain = (await this.repoCache.tags(a.agent)).filter((t) => t.approval === a.id).sort((x, y) => stageRank(x) - stageRank(y));
          return { tags: chain.map((t) => t.name) };
        } catch (err) {
          this.hive.log(`dashboard: approval #${a.id}: ${(err as Error).message}`);
          return null;
        }
      }),
    );
    recent.forEach((a, i) => {
      if (read[i]) details.set(a.id, read[i]);
    });
    return details;
  }

  /** The approvals section's body, `#approvals-body` (reads the config repos). */
  async approvals(): Promise<string> {
    const approvals = this.hive.approvals.list(true);
    return String(<ApprovalList approvals={approvals} details={await this.approvalDetails(approvals)} drafts={this.hive.gate.drafts()} />);
  }

  /** The message flow, newest first, only messages from or to `agent` when given. */
  flow(agent?: string): string {
    return String(<MessageItems messages={this.hive.broker.list({ limit: FLOW_LIMIT, agent })} />);
  }

  /** One message of the flow. */
  message(m: MessageRecord): string {
    return String(<MessageItem m={m} />);
  }

  /** One line of rebuild output. */
  buildLine(b: BuildLineItem): string {
    return String(<BuildLine b={b} />);
  }

  /**
   * The whole page, its forms carrying the session's CSRF token `csrf`.
   * @param kept.agentRows the swarm table's rows as {@link agents} renders them, when kept from an
   *   earlier rendering; else rendered now.
   * @param kept.seen the live updates' mark taken before this rendering, for the page's stream.
   */
  async page(csrf: string, kept: { agentRows?: string; seen?: string } = {}): Promise<string> {
    const { agentRows, seen } = kept;
    const hive = this.hive;
    const approvals = hive.approvals.list(true);
    const details = await this.approvalDetails(approvals);
    return String(
      <DashboardPage
        version={VERSION}
        runtime={hive.runtime.name}
        facts={this.facts}
        spend={agentRows === undefined ? this.spend() : new Map()}
        csrf={csrf}
        dataDir={hive.config.dataDir}
        notify={hive.notifier !== null}
        credentials={hive.credentials.status()}
        agents={hive.registry.list()}
        peers={hive.peers.list()}
        agentRows={agentRows}
        seen={seen}
        messages={hive.broker.list({ limit: FLOW_LIMIT })}
        turns={hive.turns.list({ limit: TURN_LIMIT })}
        questions={this.questionsState()}
        approvals={approvals}
        approvalDetails={details}
        drafts={hive.gate.drafts()}
        builds={[...this.builds()]}
        kept={hive.kept.list()}
        images={this.imagesState()}
        reminders={hive.reminders.pending()}
        alerts={hive.alerts.list()}
        lastMessageId={hive.broker.lastId()}
        inbox={hive.inbox.list(INBOX_LIMIT)}
        unread={hive.inbox.unread()}
        waiting={this.waitingCount()}
        federation={this.federationView()}
      />,
    );
  }
}

/**
 * Whatever a page shows that no bus event announces when it changes: the UTC day (each agent's
 * spend today), the model credentials (the login link), the images directory (an image added or
 * removed by hand changes its mtime) and, with `--nats`, the federation's link and the other hives
 * as last heard. With the live updates' mark, it says whether a page rendered earlier is still the
 * page.
 */
export function unannounced(sections: Sections, hive: Hive): string {
  let images: number | null = null;
  try {
    if (hive.images) images = statSync(hive.images.dir).mtimeMs;
  } catch {
    // no images dir yet: the page says so, and its creation changes this
  }
  return JSON.stringify([utcStarts().day, hive.credentials.status(), images, hive.federation ? sections.federationView() : null]);
}

const encoder = new TextEncoder();

/** A rendered page split around its CSRF token, UTF-8 encoded, and the mark it was rendered at. */
interface KeptPage {
  key: string;
  head: Uint8Array;
  tail: Uint8Array;
}

/**
 * The page's bytes with `token` between the kept halves, as a stream of the three parts: joining
 * them into one buffer per load would copy the whole page each time.
 * @throws Error when `token` is not base64url: it goes into an attribute unescaped.
 */
function pageBody(page: KeptPage, token: string): ReadableStream<Uint8Array> {
  if (!/^[\w-]+$/.test(token)) throw new Error('a CSRF token must be base64url');
  const parts = [page.head, encoder.encode(token), page.tail];
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(p);
      controller.close();
    },
  });
}

/** What a page load takes from the live updates (`live.ts` `LiveUpdates`). */
export interface PageLive {
  /** Where the sections stand now, for the page's stream (`seen`); it moves with every bus event and with anything {@link unannounced}. */
  mark(): string;
  /** The swarm table's rows as kept between changes. */
  swarmRows(): string;
}

/**
 * The read-only routes: the page (with the request's CSRF session, setting its cookie when new)
 * and each section as a fragment.
 *
 * The page is rendered once per change, not per load: it is kept split around its CSRF token until
 * the live updates' mark moves on, and each load sends the kept bytes with its own token between
 * them. At 100 agents the page is about 240 KiB; rendered per load, a burst of loads held some
 * 40 MiB of the core's memory in garbage (docs/performance.md).
 */
export function sectionRoutes(sections: Sections, guard: RequestGuard, live: PageLive) {
  let kept: KeptPage | null = null;
  /** The page for `token`: the kept one, or one rendered now (and kept, unless something changed meanwhile). */
  const page = async (token: string): Promise<ReadableStream<Uint8Array>> => {
    // the mark first: whatever changes while the page renders is sent by its stream
    const seen = live.mark();
    if (kept?.key === seen) return pageBody(kept, token);
    // a placeholder that nothing on the page can contain, replaced by each load's token
    const placeholder = `csrf-${crypto.randomUUID()}`;
    const html = await sections.page(placeholder, { agentRows: live.swarmRows(), seen });
    const at = html.indexOf(placeholder);
    if (at < 0 || html.indexOf(placeholder, at + 1) >= 0) throw new Error('the page must carry its CSRF token exactly once');
    const rendered: KeptPage = { key: seen, head: encoder.encode(html.slice(0, at)), tail: encoder.encode(html.slice(at + placeholder.length)) };
    if (live.mark() === seen) kept = rendered;
    return pageBody(rendered, token);
  };
  return (app: AnyElysia) =>
    app
      .get('/', async ({ request }) => {
        const session = guard.session(request);
        const res = htmlResponse(await page(session.token));
        if (session.setCookie) res.headers.append('set-cookie', session.setCookie);
        return res;
      })
      .get('/fragments/agents', () => htmlResponse(sections.agents()))
      .get('/fragments/turns', () => htmlResponse(sections.turns()))
      .get('/fragments/questions', () => htmlResponse(sections.questions()))
      .get('/fragments/approvals', async () => htmlResponse(await sections.approvals()))
      .get('/fragments/kept', () => htmlResponse(sections.kept()))
      .get('/fragments/reminders', () => htmlResponse(sections.reminders()))
      .get('/fragments/images', () => htmlResponse(sections.images()))
      .get('/fragments/alerts', () => htmlResponse(sections.alerts()))
      .get('/fragments/inbox', () => htmlResponse(sections.inbox()))
      .get('/fragments/waiting', () => htmlResponse(sections.waiting()))
      .get('/fragments/federation', () => htmlResponse(sections.federation()))
      .get('/fragments/hives', () => htmlResponse(sections.hives()))
      .get('/fragments/flow', ({ query }) => {
        const agent = nameFromLabel(typeof query.agent === 'string' ? query.agent : '');
        return htmlResponse(sections.flow(agent || undefined));
      });
}
