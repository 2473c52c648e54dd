/**
 * @module dashboard/live
 * The dashboard's live updates: one SSE stream per open page (`GET /events[?after=<message id>]`;
 * a reconnect's `Last-Event-ID` wins over `after`) carrying `<hx-partial>` fragments that htmx
 * swaps into the page. A stream first catches up (every section whole, then the messages after the
 * last one the page has), then follows the hive's event bus.
 *
 * Each section is rendered at most once per change and shared by every open stream: a change marks
 * the sections it touches stale, and the first stream to need a stale section renders it. Events
 * that carry their own content (a message, a delivery, a rebuild line) are rendered once per event.
 * The recent rebuild output is kept here too ({@link RecentBuilds}), for page loads.
 */
import type { AnyElysia } from 'elysia';
import { OPERATOR } from '../../shared/names.ts';
import { sseResponse, type SseEvent } from '../../shared/sse.ts';
import { htmxPartial } from '../../shared/web.ts';
import type { BuildLineItem } from '../../../views/dashboard/builds.tsx';
import type { EventBus, HiveEvent } from '../bus.ts';
import type { Hive } from '../hive.ts';
import { FLOW_LIMIT, type Sections } from './sections.tsx';

/** Rebuild output lines kept for page loads. */
const BUILD_LINES = 300;

/**
 * A value computed on first use after each {@link Memo.invalidate}, then shared. A rejected promise
 * is dropped, so the next use tries again.
 */
class Memo<T> {
  private value: T | undefined;
  private valid = false;
  constructor(private readonly compute: () => T) {}

  /** The current value, computed now if stale. */
  get(): T {
    if (this.valid) return this.value as T;
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

/** The live-update fan-out of one dashboard. */
export class LiveUpdates {
  /** Each section as the partial that replaces it on the page. */
  private readonly partials: Record<Section, Memo<string | Promise<string>>>;
  /** Frames of events that carry their own content, rendered once per event. */
  private readonly ownFrames = new WeakMap<HiveEvent, SseEvent>();
  /** The sections a stream gets and keeps current, in order: without `--nats`, none of the federation's. */
  private readonly sent: ReadonlySet<Section>;

  /**
   * Subscribes to the hive's bus at once, so the shared renderings are marked stale before any
   * stream hears of a change.
   */
  constructor(
    private readonly hive: Hive,
    private readonly sections: Sections,
  ) {
    this.partials = {
      agents: new Memo(() => htmxPartial('#agents-body', 'innerHTML', sections.agents())),
      names: new Memo(() => htmxPartial('#agent-names', 'innerHTML', sections.names())),
      turns: new Memo(() => htmxPartial('#turns-body', 'innerHTML', sections.turns())),
      questions: new Memo(() => htmxPartial('#questions-body', 'innerHTML', sections.questions())),
      kept: new Memo(() => htmxPartial('#kept-body', 'innerHTML', sections.kept())),
      reminders: new Memo(() => htmxPartial('#reminders-body', 'innerHTML', sections.reminders())),
      images: new Memo(() => htmxPartial('#images-body', 'innerHTML', sections.images())),
      alerts: new Memo(() => {
        const alerts = hive.alerts.list();
        return htmxPartial('#banners', 'innerHTML', sections.alerts(alerts)) + htmxPartial('#alert-count', 'innerHTML', sections.alertCount(alerts.length));
      }),
      inbox: new Memo(() => htmxPartial('#inbox-body', 'innerHTML', sections.inbox())),
      waiting: new Memo(() => htmxPartial('#waiting', 'innerHTML', sections.waiting())),
      approvals: new Memo(async () => htmxPartial('#approvals-body', 'innerHTML', await sections.approvals())),
      federation: new Memo(() => htmxPartial('#federation-link', 'innerHTML', sections.federation())),
      hives: new Memo(() => htmxPartial('#hives-body', 'innerHTML', sections.hives())),
    };
    // a hive on its own has no federation parts on its page: its streams send none
    this.sent = new Set(hive.federation ? SECTIONS : SECTIONS.filter((k) => !FEDERATION_SECTIONS.includes(k)));
    hive.bus.on((ev) => {
      for (const k of touches(ev)) this.partials[k].invalidate();
    });
  }

  /** The frame of an event that carries its own content, or null for one that only touches sections. */
  private ownFrame(ev: HiveEvent): SseEvent | null {
    let f = this.ownFrames.get(ev);
    if (f) return f;
    if (ev.type === 'message') f = { id: ev.message.id, data: htmxPartial('#flow', 'afterbegin', this.sections.message(ev.message)) };
    else if (ev.type === 'delivered') f = { data: htmxPartial(`#msg-${ev.message.id} .state`, 'innerHTML', '✓') };
    else if (ev.type === 'build') f = { data: htmxPartial('#builds', 'beforeend', this.sections.buildLine(ev)) };
    else return null;
    this.ownFrames.set(ev, f);
    return f;
  }

  /**
   * One page's stream: every section, then the messages after `lastSeen` (when the page named
   * one), then each change as it happens, until the page goes away.
   */
  stream(lastSeen: number | null): Response {
    return sseResponse((sink) => {
      // A section is sent only when it differs from what this page last got. Git-backed sections
      // are sent in order, one at a time, so a slow render never lands after a newer one.
      const shown = new Map<Section, string>();
      const put = (k: Section, html: string) => {
        if (sink.signal.aborted || shown.get(k) === html) return;
        shown.set(k, html);
        sink.send({ data: html });
      };
      let queue = Promise.resolve();
      const send = (k: Section) => {
        const v = this.partials[k].get();
        if (typeof v === 'string') put(k, v);
        else
          queue = queue
            .then(async () => put(k, await v))
            .catch((err) => this.hive.log(`dashboard: ${k}: ${(err as Error).message}`));
      };
      for (const k of this.sent) send(k);
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
      live.stream(messageIdParam(request.headers.get('last-event-id')) ?? messageIdParam(typeof query.after === 'string' ? query.after : undefined)),
    );
}
