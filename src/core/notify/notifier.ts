/**
 * @module core/notify/notifier
 * Tells the operator when they are needed, by pushing a notification to a webhook
 * (`--notify-url`, ntfy-compatible): a plain-text POST body, with the headers `Title`, `Tags` and
 * `Priority`, and `Authorization: Bearer <token>` when `--notify-token-file` is set.
 *
 * What is sent, from the event bus:
 * - a new question to the operator (`question` event, unanswered, first seen);
 * - a new pending approval (`approval` event with status `pending`, first seen);
 * - a newly raised alert (an `alerts` event that opened an alert id not open before; raising an
 *   open alert again only updates it and is not sent again);
 * - a plain message from an agent to the operator (`message` event of kind `message`).
 *
 * Delivery never blocks the core: each POST runs on its own with a timeout ({@link NOTIFY_TIMEOUT_MS}).
 * At most {@link NOTIFY_LIMIT} notifications go out in any {@link NOTIFY_WINDOW_MS}; the ones over
 * the limit are held back and counted, and once the window has room one summary ("and K more")
 * goes out in their place. A failed delivery logs one line (`notify: …`); further failures within
 * the same window are counted into the next line instead.
 */
import { OPERATOR } from '../../shared/names.ts';
import type { AlertRecord, ApprovalRecord, MessageRecord, QuestionRecord } from '../../shared/wire.ts';
import type { EventBus, HiveEvent } from '../bus.ts';

/** Notifications sent at most per window. */
export const NOTIFY_LIMIT = 10;
/** The rate-limit window, ms. */
export const NOTIFY_WINDOW_MS = 60_000;
/** How long one delivery may take before it is abandoned, ms. */
export const NOTIFY_TIMEOUT_MS = 5_000;
/** Longest notification body sent, characters (longer ones are cut with `…`). */
export const MAX_NOTIFY_BODY = 1_000;

/** One notification, as it goes out. */
export interface Notification {
  /** One line (sent as the `Title` header; characters outside printable ASCII become `?`). */
  title: string;
  /** Plain text, the POST body. */
  body: string;
  /** ntfy tags (emoji short codes or words), sent comma-separated as `Tags`. */
  tags?: string[];
  /** ntfy priority: 1 (min) to 5 (max); 3 is the default and is not sent. */
  priority?: 1 | 2 | 3 | 4 | 5;
}

/** What a {@link Notifier} needs. */
export interface NotifierOptions {
  /** The webhook URL (http or https). */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when not null. */
  token: string | null;
  bus: EventBus;
  /** The open alerts, to tell a newly raised one from an update. */
  openAlerts: () => AlertRecord[];
  /** The core log, one line per call. */
  log: (line: string) => void;
  /** Default {@link NOTIFY_LIMIT}. */
  limit?: number;
  /** Default {@link NOTIFY_WINDOW_MS}. */
  windowMs?: number;
  /** Default {@link NOTIFY_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Pushes operator notifications for bus events to a webhook. Build it, then {@link Notifier.start}. */
export class Notifier {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly timeoutMs: number;
  /** Send times within the current window, oldest first. */
  private sent: number[] = [];
  /** Notifications held back by the rate limit since the last summary. */
  private held = 0;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** Ids already notified (or open at start), so each is sent once. */
  private lastQuestion = 0;
  private lastApproval = 0;
  private knownAlerts = new Set<number>();
  private lastFailureLog = -Infinity;
  private unloggedFailures = 0;
  private off: (() => void) | null = null;
  private readonly stopping = new AbortController();

  constructor(private readonly o: NotifierOptions) {
    this.limit = o.limit ?? NOTIFY_LIMIT;
    this.windowMs = o.windowMs ?? NOTIFY_WINDOW_MS;
    this.timeoutMs = o.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  }

  /** Starts listening to the bus. Alerts open now are taken as known (not sent). */
  start(): void {
    if (this.off) return;
    for (const a of this.o.openAlerts()) this.knownAlerts.add(a.id);
    this.off = this.o.bus.on((ev) => this.onEvent(ev));
  }

  /** Stops listening, drops what is held back and abandons deliveries in flight (without logging them). */
  stop(): void {
    this.off?.();
    this.off = null;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.held = 0;
    this.stopping.abort();
  }

  /** Pushes the notification `ev` calls for, if any. */
  private onEvent(ev: HiveEvent): void {
    if (ev.type === 'question') {
      const q = ev.question;
      if (q.to !== OPERATOR || q.answered_at !== null || q.id <= this.lastQuestion) return;
      this.lastQuestion = q.id;
      this.push(questionNotification(q));
    } else if (ev.type === 'approval') {
      const a = ev.approval;
      if (a.status !== 'pending' || a.id <= this.lastApproval) return;
      this.lastApproval = a.id;
      this.push(approvalNotification(a));
    } else if (ev.type === 'alerts') {
      const open = this.o.openAlerts();
      for (const a of open) if (!this.knownAlerts.has(a.id)) this.push(alertNotification(a));
      this.knownAlerts = new Set(open.map((a) => a.id));
    } else if (ev.type === 'message') {
      const m = ev.message;
      if (m.to === OPERATOR && m.from !== OPERATOR && m.kind === 'message') this.push(messageNotification(m));
    }
  }

  /**
   * Queues `n` for delivery under the rate limit and returns at once. Over the limit, `n` is
   * counted and replaced by the summary sent when the window has room again.
   */
  push(n: Notification): void {
    const now = Date.now();
    this.prune(now);
    if (this.held === 0 && this.sent.length < this.limit) {
      this.sent.push(now);
      this.fire(n);
      return;
    }
    this.held++;
    this.scheduleFlush(now);
  }

  /**
   * Sends `n` now, outside the rate limit, and waits for the answer (the dashboard's test button).
   * @throws Error saying why it was not delivered: the webhook's HTTP status, a network error, or
   *   the timeout.
   */
  async send(n: Notification): Promise<void> {
    await this.deliver(n);
  }

  /** Drops send times older than the window. */
  private prune(now: number): void {
    while (this.sent.length && this.sent[0]! <= now - this.windowMs) this.sent.shift();
  }

  /** Arms the timer that sends the summary once the oldest send leaves the window. */
  private scheduleFlush(now: number): void {
    if (this.flushTimer) return;
    const wait = this.sent.length ? Math.max(0, this.sent[0]! + this.windowMs - now) : 0;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const t = Date.now();
      this.prune(t);
      if (this.held === 0) return;
      if (this.sent.length >= this.limit) return this.scheduleFlush(t);
      const k = this.held;
      this.held = 0;
      this.sent.push(t);
      this.fire({
        title: `hyperhive: and ${k} more`,
        body: `${k} more notification${k === 1 ? ' was' : 's were'} held back (at most ${this.limit} per ${Math.round(this.windowMs / 1000)} s); see the dashboard.`,
        tags: ['bell'],
      });
    }, wait);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Delivers `n` in the background; a failure is logged (rate-limited). */
  private fire(n: Notification): void {
    this.deliver(n).catch((err) => {
      if (!this.stopping.signal.aborted) this.failed(err as Error);
    });
  }

  /** One POST to the webhook. @throws Error on a network error, a timeout or a non-2xx answer. */
  private async deliver(n: Notification): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', Title: headerText(n.title) };
    if (n.tags?.length) headers.Tags = headerText(n.tags.join(','));
    if (n.priority && n.priority !== 3) headers.Priority = String(n.priority);
    if (this.o.token) headers.Authorization = `Bearer ${this.o.token}`;
    let res: Response;
    try {
      res = await fetch(this.o.url, {
        method: 'POST',
        headers,
        body: cut(n.body),
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.stopping.signal]),
      });
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TimeoutError') throw new Error(`no answer within ${this.timeoutMs / 1000} s`);
      throw new Error(e.message);
    }
    await res.body?.cancel().catch(() => {});
    if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }

  /** Logs a failed delivery: one line per window, counting the ones in between. */
  private failed(err: Error): void {
    const now = Date.now();
    if (now - this.lastFailureLog < this.windowMs) {
      this.unloggedFailures++;
      return;
    }
    const more = this.unloggedFailures ? ` (and ${this.unloggedFailures} more failed since the last report)` : '';
    this.lastFailureLog = now;
    this.unloggedFailures = 0;
    this.o.log(`notify: delivery to ${hostOf(this.o.url)} failed: ${err.message}${more}`);
  }
}

/** The test notification the dashboard's button sends. */
export function testNotification(): Notification {
  return { title: 'hyperhive: test notification', body: 'Notifications from this hive reach you here.', tags: ['bell'] };
}

/** A question to the operator. */
export function questionNotification(q: QuestionRecord): Notification {
  const options = q.options ? `\n\n${q.options.map((o, i) => `${i + 1}. ${o}`).join('\n')}` : '';
  return { title: `hyperhive: question #${q.id} from ${q.from}`, body: q.question + options, tags: ['question'], priority: 4 };
}

/** A pending approval. */
export function approvalNotification(a: ApprovalRecord): Notification {
  const what = a.kind === 'spawn' ? `spawn ${a.agent}` : `apply a config commit to ${a.agent}${a.subject ? `: ${a.subject}` : ''}`;
  return { title: `hyperhive: approval #${a.id} waiting`, body: `${a.requested_by} asks to ${what}.`, tags: ['hourglass'], priority: 4 };
}

/** A newly raised alert. */
export function alertNotification(a: AlertRecord): Notification {
  return { title: `hyperhive: ${a.kind.replace(/_/g, ' ')} (${a.agent})`, body: a.text, tags: ['warning'], priority: 4 };
}

/** A message from an agent to the operator. */
export function messageNotification(m: MessageRecord): Notification {
  return { title: `hyperhive: message #${m.id} from ${m.from}`, body: m.body, tags: ['speech_balloon'] };
}

/** `s` as one header line of printable ASCII, at most 200 characters. */
function headerText(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 200).trim();
}

/** `s` cut to {@link MAX_NOTIFY_BODY} characters. */
function cut(s: string): string {
  return s.length > MAX_NOTIFY_BODY ? `${s.slice(0, MAX_NOTIFY_BODY - 1)}…` : s;
}

/** The host part of `url`, for log lines (the path may be a secret topic). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the notify URL';
  }
}
