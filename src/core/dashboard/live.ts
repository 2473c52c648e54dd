/**
 * @module dashboard/live
 * The dashboard's live updates: one SSE stream per open page (`GET /events[?after=<message
 * id>][&seen=<mark>]`; a reconnect's `Last-Event-ID` wins over `after`) carrying `<hx-partial>`
 * fragments that htmx swaps into the page. A stream first catches up (every section the page does
 * not have as it is now, then the messages after the last one the page has), then follows the
 * hive's event bus. The page names what it has with `seen`, the {@link LiveUpdates.mark} it was
 * rendered at: a section no event has touched since is already current there and is not sent
 * again. A mark from another run of the core, or taken before something no event announces
 * changed (the UTC day, the credentials, the images dir, the federation's view), means nothing, and
 * every section is sent.
 *
 * Each section is rendered and framed at most once per change and shared by every open stream (and
 * the swarm table by page loads too): a change marks the sections it touches stale, and the first
 * stream to need a stale section renders it. Events that carry their own content (a message, a
 * delivery, a rebuild line) are rendered and framed once per event. The recent rebuild output is
 * kept here too ({@link RecentBuilds}), for page loads.
 */
import type { AnyElysia } from 'elysia';
import { OPERATOR } from '../../shared/names.ts';
import { encodeSseEvent, sseResponse } from '../../shared/sse.ts';
import { htmxPartial } from '../../shared/web.ts';
import type { BuildLineItem } from '../../../views/dashboard/builds.tsx';
import type { EventBus, HiveEvent } from '../bus.ts';
import type { Hive } from '../hive.ts';
import { FLOW_LIMIT, utcStarts, type Sections } from './sections.tsx';

/** Rebuild output lines kept for page loads. */
const BUILD_LINES = 300;

/**
 * A value computed on first use after each {@link Memo.invalidate}, then shared. A rejected promise
 * is dropped, so the next use tries again.
 */
class Memo<T> {
  private value: T | undefined;
  private valid = false;
  /**
   * @param expired checked on each use: true makes the value stale although no event said so (the
   *   swarm table's spend "today" after midnight UTC).
   */
  constructor(
    private readonly compute: () => T,
    private readonly expired: () => boolean = () => false,
  ) {}

  /** The current value, computed now if stale. */
  get(): T {
    if (this.valid && !this.expired()) return this.value as T;
    const v = this.compute();
    this.value = v;
    this.valid = true;
    if (v instanceof Promise)
      v.catch(() => {
        if (this.value === v) this.valid = false;
      });
    return v;
  }

  /** Marks the value stale. */
  invalidate(): void {
    this.valid = false;
    this.value = undefined;
  }
}

/** A message id from `Last-Event-ID` or `?after=` (0: the page had none), else null. */
export function messageIdParam(raw: string | null | undefined): number | null {
  if (!raw || !/^\d{1,15}$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

/** The last rebuild output lines, oldest first, kept from the bus since the dashboard was built. */
export class RecentBuilds {
  private readonly lines: BuildLineItem[] = [];

  constructor(bus: EventBus, max = BUILD_LINES) {
    bus.on((ev) => {
      if (ev.type !== 'build') return;
      this.lines.push({ agent: ev.agent, approval: ev.approval, line: ev.line, at: ev.at });
      if (this.lines.length > max) this.lines.splice(0, this.lines.length - max);
    });
  }

  /** The kept lines, oldest first. */
  list(): readonly BuildLineItem[] {
    return this.lines;
  }
}

/** A section's partial as a stream sends it: the HTML (to tell a change) and its SSE frame. */
interface Partial {
  html: string;
  frame: Uint8Array;
}

/** A partial with its frame. */
function partial(html: string): Partial {
  return { html, frame: encodeSseEvent({ data: html }) };
}

/** The live-update fan-out of one dashboard. */
export class LiveUpdates {
  /** Each section as the partial that replaces it on the page. */
  private readonly partials: Record<Section, Memo<Partial | Promise<Partial>>>;
  /** The swarm table's rows (`#agents-body`), for streams and page loads alike. */
  private readonly agentRows: Memo<string>;
  /** Frames of events that carry their own content, rendered once per event. */
  private readonly ownFrames = new WeakMap<HiveEvent, Uint8Array>();
  /** The sections a stream gets and keeps current, in order: without `--nats`, none of the federation's. */
  private readonly sent: ReadonlySet<Section>;
  /** This run of the core, in {@link mark}s: a page from an earlier run has seen nothing of this one. */
  private readonly run = crypto.randomUUID().slice(0, 8);
  /** Events seen on the bus so far. */
  private seq = 0;
  /** The {@link seq} of the last event that touched each section. */
  private readonly touchedAt = new Map<Section, number>();

  /**
   * Subscribes to the hive's bus at once, so the shared renderings are marked stale before any
   * stream hears of a change.
   * @param unannounced what the page shows that no bus event announces when it changes, as one
   *   string (`sections.tsx` `unannounced`); a mark carries a hash of it.
   */
  constructor(
    private readonly hive: Hive,
    private readonly sections: Sections,
    private readonly unannounced: () => string,
  ) {
    // the rows show each agent's spend today: a new UTC day makes them stale, and the frame made
    // of them (each keeps the day it was made on)
    let rowsDay = utcStarts().day;
    const agentRows = (this.agentRows = new Memo(
      () => {
        rowsDay = utcStarts().day;
        return sections.agents();
      },
      () => utcStarts().day !== rowsDay,
    ));
    let frameDay = rowsDay;
    const agentsPartial = () => {
      frameDay = utcStarts().day;
      return partial(htmxPartial('#agents-body', 'innerHTML', agentRows.get()));
    };
    this.partials = {
      agents: new Memo(agentsPartial, () => utcStarts().day !== frameDay),
      names: new Memo(() => partial(htmxPartial('#agent-names', 'innerHTML', sections.names()))),
      turns: new Memo(() => partial(htmxPartial('#turns-body', 'innerHTML', sections.turns()))),
      questions: new Memo(() => partial(htmxPartial('#questions-body', 'innerHTML', sections.questions()))),
      kept: new Memo(() => partial(htmxPartial('#kept-body', 'innerHTML', sections.kept()))),
      reminders: new Memo(() => partial(htmxPartial('#reminders-body', 'innerHTML', sections.reminders()))),
      images: new Memo(() => partial(htmxPartial('#images-body', 'innerHTML', sections.images()))),
      alerts: new Memo(() => {
        const alerts = hive.alerts.list();
        return partial(htmxPartial('#banners', 'innerHTML', sections.alerts(alerts)) + htmxPartial('#alert-count', 'innerHTML', sections.alertCount(alerts.length)));
      }),
      inbox: new Memo(() => partial(htmxPartial('#inbox-body', 'innerHTML', sections.inbox()))),
      waiting: new Memo(() => partial(htmxPartial('#waiting', 'innerHTML', sections.waiting()))),
      approvals: new Memo(async () => partial(htmxPartial('#approvals-body', 'innerHTML', await sections.approvals()))),
      federation: new Memo(() => partial(htmxPartial('#federation-link', 'innerHTML', sections.federation()))),
      hives: new Memo(() => partial(htmxPartial('#hives-body', 'innerHTML', sections.hives()))),
    };
    // a hive on its own has no federation parts on its page: its streams send none
    this.sent = new Set(hive.federation ? SECTIONS : SECTIONS.filter((k) => !FEDERATION_SECTIONS.includes(k)));
    hive.bus.on((ev) => {
      this.seq++;
      for (const k of touches(ev)) {
        this.touchedAt.set(k, this.seq);
        this.partials[k].invalidate();
        if (k === 'agents') agentRows.invalidate();
      }
    });
  }

  /**
   * Where the sections stand now, as `<run>.<event count>.<hash of the unannounced state>`
   * (`3f2a9c1e.1042.9b1c27d0`): a page rendered now passes it back as `seen`, and its stream sends
   * only the sections that changed after. The page keeps its rendering for as long as this stays.
   */
  mark(): string {
    return `${this.run}.${this.seq}.${this.fingerprint()}`;
  }

  /** 8 hex digits of a hash of {@link unannounced}. */
  private fingerprint(): string {
    return Bun.hash.wyhash(this.unannounced()).toString(16).padStart(16, '0').slice(0, 8);
  }

  /**
   * The event count in a page's `seen` mark, or null when it is absent, malformed, from another
   * run, or taken before the unannounced state changed.
   */
  private seenSeq(seen: string | null): number | null {
    const m = seen ? /^([0-9a-f]{8})\.(\d{1,15})\.([0-9a-f]{8})$/.exec(seen) : null;
    if (!m || m[1] !== this.run || m[3] !== this.fingerprint()) return null;
    const n = Number(m[2]);
    return n <= this.seq ? n : null;
  }

  /**
   * The swarm table's rows as streams last got them (`#agents-body`), rendered now if something
   * changed since: a page load takes them from here rather than rendering its own.
   */
  swarmRows(): string {
    return this.agentRows.get();
  }

  /** The frame of an event that carries its own content, or null for one that only touches sections. */
  private ownFrame(ev: HiveEvent): Uint8Array | null {
    let f = this.ownFrames.get(ev);
    if (f) return f;
    if (ev.type === 'message') f = encodeSseEvent({ id: ev.message.id, data: htmxPartial('#flow', 'afterbegin', this.sections.message(ev.message)) });
    else if (ev.type === 'delivered') f = encodeSseEvent({ data: htmxPartial(`#msg-${ev.message.id} .state`, 'innerHTML', '✓') });
    else if (ev.type === 'build') f = encodeSseEvent({ data: htmxPartial('#builds', 'beforeend', this.sections.buildLine(ev)) });
    else return null;
    this.ownFrames.set(ev, f);
    return f;
  }

  /**
   * One page's stream: every section the page does not have as it is now (all of them unless
   * `seen` is a {@link mark} of this run), then the messages after `lastSeen` (when the page named
   * one), then each change as it happens, until the page goes away.
   */
  stream(lastSeen: number | null, seen: string | null = null): Response {
    const since = this.seenSeq(seen);
    return sseResponse((sink) => {
      // A section is sent only when it differs from what this page last got. Git-backed sections
      // are sent in order, one at a time, so a slow render never lands after a newer one.
      const shown = new Map<Section, string>();
      const put = (k: Section, p: Partial) => {
        if (sink.signal.aborted || shown.get(k) === p.html) return;
        shown.set(k, p.html);
        sink.send(p.frame);
      };
      let queue = Promise.resolve();
      const send = (k: Section) => {
        const v = this.partials[k].get();
        if (!(v instanceof Promise)) put(k, v);
        else
          queue = queue
            .then(async () => put(k, await v))
            .catch((err) => this.hive.log(`dashboard: ${k}: ${(err as Error).message}`));
      };
      for (const k of this.sent) if (since === null || (this.touchedAt.get(k) ?? 0) > since) send(k);
      if (lastSeen !== null)
        for (const m of this.hive.broker.list({ afterId: lastSeen, limit: FLOW_LIMIT }))
          sink.send({ id: m.id, data: htmxPartial('#flow', 'afterbegin', this.sections.message(m)) });
      return this.hive.bus.on((ev) => {
        const own = this.ownFrame(ev);
        if (own) sink.send(own);
        for (const k of touches(ev)) if (this.sent.has(k)) send(k);
      });
    });
  }
}

/** The sections a stream keeps current, in the order a new stream gets them. */
const SECTIONS = ['agents', 'names', 'turns', 'questions', 'kept', 'reminders', 'images', 'alerts', 'inbox', 'waiting', 'federation', 'hives', 'approvals'] as const;
type Section = (typeof SECTIONS)[number];
/** The chrome strip's federation link and the other hives: only on the page of a hive with `--nats`. */
const FEDERATION_SECTIONS: readonly Section[] = ['federation', 'hives'];

/** The sections an event changes. */
function touches(ev: HiveEvent): Section[] {
  switch (ev.type) {
    case 'agent':
    case 'agent_removed':
      return ['agents', 'names'];
    case 'usage':
      return ['agents'];
    case 'turn':
      return ['turns'];
    case 'question':
      return ev.question.to === OPERATOR ? ['questions', 'waiting'] : [];
    case 'approval':
      return ['approvals', 'waiting'];
    case 'drafts':
    case 'tags':
      return ['approvals'];
    case 'kept':
      return ['kept', 'images'];
    case 'deploys':
    case 'images':
      return ['images'];
    case 'reminder':
      return ['reminders'];
    case 'alerts':
      return ['alerts', 'waiting'];
    case 'message':
      // a message to another hive (`name@hive`) joined the outbox in its own commit; the federation
      // says nothing of a row added, only of a publish batch
      if (ev.message.to.includes('@')) return ['federation'];
      return ev.message.to === OPERATOR ? ['inbox', 'waiting'] : [];
    case 'federation':
      return ['federation', 'hives', 'names'];
    case 'inbox':
      return ['inbox', 'waiting'];
    default:
      return [];
  }
}

/** The stream route, `GET /events`. */
export function liveRoutes(live: LiveUpdates) {
  return (app: AnyElysia) =>
    app.get('/events', ({ request, query }) =>
      live.stream(
        messageIdParam(request.headers.get('last-event-id')) ?? messageIdParam(typeof query.after === 'string' ? query.after : undefined),
        typeof query.seen === 'string' ? query.seen : null,
      ),
    );
}
