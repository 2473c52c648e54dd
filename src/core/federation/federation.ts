/**
 * @module core/federation/federation
 * Hives on several hosts acting as one, over NATS JetStream (a core started with `--nats`; without
 * it no {@link Federation} is made and the NATS client is never imported: it is loaded in
 * {@link Federation.start} only).
 *
 * **Sending.** A message to `name@hive` is stored like any other (recipient `name@hive`), and in
 * the same transaction an outbox row holds its envelope (`envelope.ts`): acknowledged to the sender
 * means durable on this host. A pump publishes the outbox in id order, one envelope at a time, each
 * with the JetStream message id `<this hive>:<outbox id>` (JetStream drops a repeat within its
 * duplicate window), and clears a row only on JetStream's acknowledgement. While NATS cannot be
 * reached the rows wait, and the pump retries with a backoff (0.5 s doubling to 5 s) only while
 * rows are waiting: an idle federated hive runs no timer.
 *
 * **Receiving.** A durable consumer `hive-<this hive>` takes `hive.<this hive>.>` in stream order.
 * Each envelope is checked, stored in one transaction (the message with its origin
 * `<hive>:<id>`, unique, so a redelivery stores nothing; and the receipt for the sending hive, in
 * the outbox), and acknowledged to JetStream only after that commit. A receipt marks the sent
 * message delivered (`delivered_at`), or tells its sender why it was refused. Order per sending
 * hive is kept end to end: one outbox in id order, one stream, one consumer taking its subject in
 * order.
 *
 * Client API per the NATS authors' `@nats-io/transport-node` and `@nats-io/jetstream` 3.x.
 */
import type { Database, Statement } from 'bun:sqlite';
import { readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR, SYSTEM, isRecipient } from '../../shared/names.ts';
import type { MessageRecord, QuestionRecord } from '../../shared/wire.ts';
import type { Registry } from '../agents/registry.ts';
import type { Broker } from '../broker/store.ts';
import type { Questions } from '../broker/questions.ts';
import type { EventBus } from '../bus.ts';
import { natsCredentialKind } from '../settings.ts';
import type { Alerts } from '../alerts.ts';
import { Presence } from './presence.ts';
import { parseEnvelope, senderOf, STREAM, STREAM_SUBJECTS, subjectFor, type Envelope } from './envelope.ts';

/** What the federation reads and writes. */
export interface FederationDeps {
  db: Database;
  broker: Broker;
  bus: EventBus;
  registry: Registry;
  questions: Questions;
  /** This hive's name. */
  hive: string;
  nats: { servers: string[]; credsFile: string | null; replicas: number };
  alerts: Alerts;
  /** How long another hive may go unheard (or this one without NATS) before `hive_unreachable`, ms. */
  unreachableMs: number;
  log: (line: string) => void;
}

/**
 * This hive's link to the federation: `connecting` until the first connection, then `down` while
 * it is disconnected or JetStream refuses or does not answer its publishes, else `up`.
 */
export type LinkState = 'connecting' | 'up' | 'down';

/** The federation as `hive ctl status` and the dashboard show it. */
export interface FederationStatus {
  hive: string;
  servers: string[];
  link: LinkState;
  /** When the link last changed, unix ms. */
  since: number;
  /** Envelopes stored here and not yet acknowledged by JetStream. */
  outbox: number;
  /** The last error of a publish or of the connection, or null. */
  last_error: string | null;
}

/** JetStream's duplicate window for the stream, ns (2 h; beyond it the receiver's origin check dedupes). */
const DUPLICATE_WINDOW_NS = 2 * 3600 * 1e9;
/** How long one publish waits for JetStream's acknowledgement, ms. */
const PUBLISH_TIMEOUT_MS = 5000;
/** Outbox rows read per pass of the pump. */
const PUMP_BATCH = 256;
/** Publishes in flight at once; the pump waits for each window's acknowledgements. */
const PUBLISH_WINDOW = 64;
const BACKOFF_MIN_MS = 500;
/** How long an envelope that came before an earlier one waits before it is delivered again, ms. */
const WAIT_REDELIVERY_MS = 200;
/** Envelopes delivered and not yet acknowledged that the consumer allows. */
const MAX_ACK_PENDING = 20_000;
/** Deliveries after which an envelope is taken although the one before it has not come (about 60 s). */
const MAX_WAITS = 300;
const BACKOFF_MAX_MS = 5000;

interface OutboxRow {
  id: number;
  to_hive: string;
  payload: string;
}

/** One hive's membership in a federation. */
export class Federation {
  /** Remote agents and hives (see `presence.ts`). */
  readonly presence: Presence;
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private link: LinkState = 'connecting';
  private since = Date.now();
  private lastError: string | null = null;
  private pumping = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private backoff = BACKOFF_MIN_MS;
  private closed = false;
  /** The running consume, stopped on {@link stop}. */
  private consuming: { stop(): void } | null = null;
  /** Ends the wait between two first-connection tries (on stop). */
  private wakeConnect: (() => void) | null = null;
  private readonly addOutbox: Statement<{ id: number }, [string, string, number | null, string, number]>;
  private readonly lastOut: Statement<{ last_id: number }, [string]>;
  private readonly setLastOut: Statement<unknown, [string, number]>;
  private readonly lastIn: Statement<{ last_id: number }, [string]>;
  private readonly setLastIn: Statement<unknown, [string, number]>;
  private readonly pending: Statement<OutboxRow, [number]>;
  private readonly published: Statement<unknown, [number, number, number]>;
  private readonly depth: Statement<{ n: number }, []>;

  constructor(private readonly deps: FederationDeps) {
    const { db } = deps;
    this.addOutbox = db.query('INSERT INTO outbox (to_hive, kind, message_id, payload, queued_at) VALUES (?, ?, ?, ?, ?) RETURNING id');
    this.lastOut = db.query('SELECT last_id FROM outbox_chain WHERE to_hive = ?');
    this.setLastOut = db.query('INSERT INTO outbox_chain (to_hive, last_id) VALUES (?1, ?2) ON CONFLICT (to_hive) DO UPDATE SET last_id = ?2');
    this.lastIn = db.query('SELECT last_id FROM inbox_chain WHERE from_hive = ?');
    this.setLastIn = db.query('INSERT INTO inbox_chain (from_hive, last_id) VALUES (?1, ?2) ON CONFLICT (from_hive) DO UPDATE SET last_id = ?2');
    this.pending = db.query('SELECT id, to_hive, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?');
    this.published = db.query('UPDATE outbox SET published_at = ?, stream_seq = ? WHERE id = ?');
    this.depth = db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    deps.broker.remote = (msg) => this.queueMessage(msg);
    this.presence = new Presence({
      hive: deps.hive,
      registry: deps.registry,
      bus: deps.bus,
      alerts: deps.alerts,
      unreachableMs: deps.unreachableMs,
      link: () => ({ up: this.link === 'up', since: this.since }),
      log: deps.log,
    });
  }

  /**
   * Connects in the background (the core does not wait for NATS): makes sure the stream and this
   * hive's durable consumer exist, starts consuming, and publishes what the outbox holds.
   */
  start(): void {
    void this.run().catch((err: Error) => {
      if (this.closed) return;
      this.setLink('down', err.message);
      this.deps.log(`federation: ${err.message}`);
    });
  }

  /** The link, the outbox and the last error. */
  status(): FederationStatus {
    return {
      hive: this.deps.hive,
      servers: this.deps.nats.servers,
      link: this.link,
      since: this.since,
      outbox: this.depth.get()!.n,
      last_error: this.lastError,
    };
  }

  /** Closes the connection; what the outbox holds is published at the next start. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.wakeConnect?.();
    this.consuming?.stop();
    this.deps.broker.remote = null;
    this.presence.stop();
    await this.nc?.close().catch(() => {});
  }

  // ── sending ───────────────────────────────────────────────────────────────

  /**
   * Inside the transaction that stores `msg` (to `name@hive`): its envelope joins the outbox. A
   * question goes with its id here; an answer to a question put from that hive goes with the
   * question's id there and the answer's text.
   */
  private queueMessage(msg: MessageRecord): void {
    const at = msg.to.lastIndexOf('@');
    const toHive = msg.to.slice(at + 1);
    const base = { v: 1 as const, type: 'message' as const, id: msg.id, from: msg.from, to: msg.to.slice(0, at), created_at: msg.created_at };
    let envelope: Envelope = { ...base, kind: 'message', body: msg.body };
    if (msg.kind === 'question' && msg.ref !== null) envelope = { ...base, kind: 'question', ref: msg.ref, body: msg.body };
    if (msg.kind === 'answer' && msg.ref !== null) {
      const q = this.deps.questions.remoteOf(msg.ref);
      const origin = q?.origin?.split(':');
      if (q && origin && origin[0] === toHive && q.answer !== null) envelope = { ...base, kind: 'answer', ref: Number(origin[1]), body: q.answer };
    }
    this.enqueue(toHive, 'message', msg.id, envelope);
  }

  /** Starts the pump unless it runs, waits for a retry, or there is no connection yet. */
  private kick(): void {
    if (this.pumping || this.retry || this.closed || !this.js) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const rows = this.pending.all(PUMP_BATCH);
        if (rows.length === 0) break;
        for (let i = 0; i < rows.length && !this.closed; i += PUBLISH_WINDOW) {
          // a window of publishes on the one connection: the server stores them in the order sent
          const window = rows.slice(i, i + PUBLISH_WINDOW);
          const acks = await Promise.allSettled(
            window.map((row) => this.js!.publish(subjectFor(row.to_hive, this.deps.hive), row.payload, { msgID: `${this.deps.hive}:${row.id}`, timeout: PUBLISH_TIMEOUT_MS })),
          );
          // cleared up to the first failure; from there on everything is published again, in order
          // (what JetStream stored already is dropped as a duplicate by its message id)
          const now = Date.now();
          const failed = acks.findIndex((a) => a.status === 'rejected');
          const done = failed < 0 ? acks.length : failed;
          this.deps.db.transaction(() => {
            for (let k = 0; k < done; k++) this.published.run(now, (acks[k] as PromiseFulfilledResult<{ seq: number }>).value.seq, window[k]!.id);
          })();
          if (failed >= 0) throw (acks[failed] as PromiseRejectedResult).reason;
        }
        if (this.closed) return;
        // JetStream took them: the link works, whatever the connection said before
        this.setLink('up', null);
        this.deps.bus.emit({ type: 'federation' });
      }
      this.backoff = BACKOFF_MIN_MS;
    } catch (err) {
      if (this.closed) return;
      // connected or not, what cannot be published means the federation is out of reach (a server
      // cut off from its cluster has no JetStream quorum)
      this.setLink('down', `publish: ${(err as Error).message}`);
      this.deps.bus.emit({ type: 'federation' });
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      this.retry = setTimeout(() => {
        this.retry = null;
        this.kick();
      }, wait);
    } finally {
      this.pumping = false;
    }
  }

  // ── receiving ─────────────────────────────────────────────────────────────

  /**
   * Stores one envelope consumed from `subject` (see {@link receiveBatch}), without an order check.
   * @throws HiveError `bad_request` for an envelope that is malformed or on a foreign subject (it is
   *   never redelivered); the sqlite error when it could not be stored (it is redelivered).
   */
  receive(subject: string, text: string): void {
    const [outcome] = this.receiveBatch([{ subject, text }]);
    if (outcome instanceof Error) throw outcome;
  }

  /**
   * Stores envelopes consumed in a row, in one transaction (one commit for the lot), in order; the
   * messages stored are announced and handed to waiting receivers only after that commit.
   *
   * Order: an item with its JetStream message id (`<hive>:<outbox id>`) is taken only after the one
   * its `prev` names, the one its hive wrote to this hive before it. One that comes first (JetStream
   * stored it before an earlier one that a publish had to try again, as while a cluster elects a
   * leader) is answered `later`, and the consumer has it delivered again. After
   * {@link MAX_WAITS} such deliveries it is taken anyway, so a lost predecessor (a hive that lost its
   * data dir) cannot stall its hive's traffic for good. One at or below the last taken is a
   * redelivery and is ignored.
   * @returns per envelope: null when taken (stored, or a repeat or stray ignored); `later` when it
   *   must wait for an earlier one; else the error that keeps it out (HiveError `bad_request` for a
   *   malformed envelope or a foreign subject).
   * @throws the sqlite error when the commit failed (nothing of the batch is stored).
   */
  receiveBatch(items: ReadonlyArray<{ subject: string; text: string; msgId?: string; deliveries?: number }>): Array<Error | null | 'later'> {
    const { db, hive, log } = this.deps;
    const effects: Array<() => void> = [];
    const outcomes = db.transaction(() =>
      items.map(({ subject, text, msgId, deliveries = 1 }): Error | null | 'later' => {
        let from: string;
        try {
          from = senderOf(subject, hive);
        } catch (err) {
          return err as Error;
        }
        const id = msgId?.startsWith(`${from}:`) && /^\d+$/.test(msgId.slice(from.length + 1)) ? Number(msgId.slice(from.length + 1)) : null;
        const last = id === null ? null : (this.lastIn.get(from)?.last_id ?? null);
        if (id !== null && last !== null && id <= last) return null;
        let env: Envelope;
        try {
          env = parseEnvelope(text);
        } catch (err) {
          if (id !== null) this.setLastIn.run(from, id); // refused for good: its place in the order is passed
          return err as Error;
        }
        const waiting = id !== null && env.prev != null && (last === null || env.prev > last);
        if (waiting && deliveries < MAX_WAITS) return 'later';
        if (waiting) log(`federation: envelope ${msgId} from ${from} taken without #${env.prev} before it, after ${deliveries} deliveries`);
        try {
          // a savepoint per envelope: one that fails leaves nothing of itself behind
          db.transaction(() => this.take(from, env, effects))();
        } catch (err) {
          if (id !== null && err instanceof HiveError && err.code === 'bad_request') this.setLastIn.run(from, id);
          return err as Error;
        }
        if (id !== null) this.setLastIn.run(from, id);
        return null;
      }),
    )();
    for (const run of effects) run();
    return outcomes;
  }

  /** Inside a transaction: stores one envelope; what to announce after the commit goes to `effects`. */
  private take(from: string, env: Envelope, effects: Array<() => void>): void {
    const { broker, registry, questions, hive, log } = this.deps;
    if (env.type === 'message') {
      if (!isRecipient(env.from)) throw new HiveError('bad_request', `an envelope from ${from} with the sender "${env.from}", which is not an agent name, "manager" or "operator"`);
      const origin = `${from}:${env.id}`;
      if (broker.hasOrigin(origin)) return; // a redelivery: stored, and its receipt queued, before
      const sender = `${env.from}@${from}`;
      const refuse = (error: string) => this.enqueue(from, 'receipt', null, { v: 1, type: 'receipt', id: env.id, ok: false, error, at: Date.now() });
      if (env.to !== OPERATOR && !registry.has(env.to)) return refuse(`no agent named "${env.to}" in hive ${hive}`);
      let msg: MessageRecord | null;
      let question: QuestionRecord | null = null;
      if (env.kind === 'question' && env.ref !== undefined) {
        if (env.to === OPERATOR) return refuse(`questions for the operator of hive ${hive} go through its manager`);
        question = questions.askRemote(sender, env.to, env.body, `${from}:${env.ref}`);
        msg = broker.insertRemote(sender, env.to, env.body, origin, { kind: 'question', ref: question.id });
      } else if (env.kind === 'answer' && env.ref !== undefined) {
        const done = questions.answerRemote(env.ref, sender, env.body, origin);
        if (!done) return refuse(`question #${env.ref} of hive ${hive} is not open for an answer from ${sender}`);
        ({ message: msg, question } = done);
      } else {
        msg = broker.insertRemote(sender, env.to, env.body, origin);
      }
      if (!msg) return;
      this.enqueue(from, 'receipt', null, { v: 1, type: 'receipt', id: env.id, ok: true, at: msg.created_at });
      const stored = msg;
      const asked = question;
      effects.push(() => {
        broker.publish(stored);
        if (asked) questions.announce(asked);
      });
      return;
    }
    const sent = broker.message(env.id);
    if (!sent || !sent.to.endsWith(`@${from}`)) {
      log(`federation: a receipt from ${from} for message #${env.id}, which was not sent there; ignored`);
      return;
    }
    if (env.ok) {
      const done = broker.markDelivered(env.id, env.at);
      if (done) effects.push(() => this.deps.bus.emit({ type: 'delivered', message: done }));
      return;
    }
    if (sent.delivered_at !== null) return; // refused once already, and told
    const reason = env.error ?? 'refused';
    broker.markDelivered(env.id, env.at);
    // a question that never arrived is no longer open
    const closed = sent.kind === 'question' && sent.ref !== null ? questions.closeUndelivered(sent.ref, reason) : null;
    const notice = broker.insert(SYSTEM, sent.from, `Your ${sent.kind === 'question' ? 'question' : 'message'} #${sent.id} to ${sent.to} was not delivered: ${reason}.`);
    effects.push(() => {
      broker.publish(notice);
      if (closed) questions.announce(closed);
    });
  }

  /**
   * Inside the caller's transaction: one outbox row for `toHive`, its envelope carrying the outbox
   * id of the one written to that hive before it (`prev`), so the receiver can keep their order.
   */
  private enqueue(toHive: string, kind: 'message' | 'receipt', messageId: number | null, envelope: Envelope): void {
    const prev = this.lastOut.get(toHive)?.last_id ?? null;
    const { id } = this.addOutbox.get(toHive, kind, messageId, JSON.stringify({ ...envelope, prev }), Date.now())!;
    this.setLastOut.run(toHive, id);
    // the pump runs after the caller's commit (a rolled-back row is simply not there for it)
    setImmediate(() => this.kick());
  }

  // ── the connection ─────────────────────────────────────────────────────────

  private async run(): Promise<void> {
    const { connect, credsAuthenticator, nkeyAuthenticator } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, StorageType } = await import('@nats-io/jetstream');
    const { hive, nats, log } = this.deps;
    let creds;
    if (nats.credsFile) {
      const text = readFileSync(nats.credsFile, 'utf8');
      const bytes = new TextEncoder().encode(natsCredentialKind(text) === 'nkey' ? text.trim() : text);
      creds = natsCredentialKind(text) === 'nkey' ? nkeyAuthenticator(bytes) : credsAuthenticator(bytes);
    }
    // until the first connection, tried here (so that a stop ends the tries and the link reads
    // `down` with the reason); after it, the client reconnects by itself
    let nc: NatsConnection;
    let wait = BACKOFF_MIN_MS;
    for (;;) {
      try {
        nc = await connect({ servers: nats.servers, name: `hive-${hive}`, maxReconnectAttempts: -1, reconnectTimeWait: 1000, ...(creds ? { authenticator: creds } : {}) });
        break;
      } catch (err) {
        if (this.closed) return;
        this.setLink('down', `connect: ${(err as Error).message}`);
        await this.pause(wait);
        if (this.closed) return;
        wait = Math.min(wait * 2, BACKOFF_MAX_MS);
      }
    }
    if (this.closed) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.setLink('up', null);
    log(`federation: hive ${hive} connected to ${nc.getServer()}`);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.setLink('down', `disconnected from ${s.server}`);
        else if (s.type === 'reconnect') {
          this.setLink('up', null);
          this.kick();
        } else if (s.type === 'error') this.lastError = String(s.error);
      }
    })();
    const durable = `hive-${hive}`;
    // the stream, this hive's consumer and the presence bucket; a cluster still electing its leaders
    // refuses them for a while, so they are tried again until they are there
    for (let wait = BACKOFF_MIN_MS; ; wait = Math.min(wait * 2, BACKOFF_MAX_MS)) {
      try {
        const jsm = await jetstreamManager(nc);
        try {
          await jsm.streams.info(STREAM);
        } catch {
          try {
            await jsm.streams.add({ name: STREAM, subjects: [STREAM_SUBJECTS], storage: StorageType.File, num_replicas: nats.replicas, duplicate_window: DUPLICATE_WINDOW_NS });
            log(`federation: created the JetStream stream ${STREAM} (${nats.replicas} replica${nats.replicas === 1 ? '' : 's'})`);
          } catch (err) {
            // another hive made it meanwhile
            await jsm.streams.info(STREAM).catch(() => {
              throw err;
            });
          }
        }
        await jsm.consumers.add(STREAM, {
          durable_name: durable,
          filter_subject: subjectFor(hive, '>'),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: 30e9,
          // envelopes that wait for an earlier one stay pending: room enough that the earlier one still comes
          max_ack_pending: MAX_ACK_PENDING,
        });
        this.js = jetstream(nc);
        break;
      } catch (err) {
        if (this.closed) return;
        this.setLink('down', `JetStream: ${(err as Error).message}`);
        log(`federation: the stream or this hive's consumer is not ready (${(err as Error).message}); trying again in ${wait} ms`);
        await this.pause(wait);
        if (this.closed) return;
      }
    }
    this.kick();
    await this.startPresence(nc);
    // what arrives in one turn of the event loop is stored in one commit, then acknowledged
    let batch: JsMsg[] = [];
    const flush = () => {
      const taken = batch;
      batch = [];
      let outcomes: Array<Error | null | 'later'>;
      try {
        outcomes = this.receiveBatch(taken.map((m) => ({ subject: m.subject, text: m.string(), msgId: m.headers?.get('Nats-Msg-Id'), deliveries: m.info.deliveryCount })));
      } catch (err) {
        log(`federation: could not store ${taken.length} envelope(s): ${(err as Error).message}`);
        for (const m of taken) m.nak(1000);
        return;
      }
      taken.forEach((m, i) => {
        const err = outcomes[i];
        if (!err) return m.ack();
        if (err === 'later') return m.nak(WAIT_REDELIVERY_MS);
        const bad = err instanceof HiveError && err.code === 'bad_request';
        log(`federation: ${bad ? 'refused' : 'could not store'} an envelope on ${m.subject}: ${err.message}`);
        if (bad) m.term();
        else m.nak(1000);
      });
    };
    // consuming goes on until the stop: a consume that ends or fails (its consumer lost while the
    // cluster was split, say) is begun again
    for (let wait = BACKOFF_MIN_MS; !this.closed; wait = Math.min(wait * 2, BACKOFF_MAX_MS)) {
      try {
        const consumer = await this.js!.consumers.get(STREAM, durable);
        const messages = await consumer.consume();
        this.consuming = messages;
        for await (const m of messages) {
          wait = BACKOFF_MIN_MS;
          if (batch.push(m) === 1) setImmediate(flush);
        }
        if (this.closed) return;
        log(`federation: consuming ${durable} ended; beginning again in ${wait} ms`);
      } catch (err) {
        if (this.closed) return;
        log(`federation: consuming ${durable} failed (${(err as Error).message}); beginning again in ${wait} ms`);
      }
      await this.pause(wait);
    }
  }

  /** Waits `ms` before the next try to connect or set up, or until {@link stop}. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wakeConnect = resolve;
      this.retry = setTimeout(resolve, ms);
    });
    this.retry = null;
    this.wakeConnect = null;
  }

  /** Starts presence, trying again (in the background) while the cluster refuses the bucket. */
  private async startPresence(nc: NatsConnection, wait = BACKOFF_MIN_MS): Promise<void> {
    if (this.closed) return;
    try {
      await this.presence.start(nc, this.deps.nats.replicas);
    } catch (err) {
      if (this.closed) return;
      this.deps.log(`federation: the presence bucket is not ready (${(err as Error).message}); trying again in ${wait} ms`);
      setTimeout(() => void this.startPresence(nc, Math.min(wait * 2, BACKOFF_MAX_MS)), wait);
    }
  }

  private setLink(link: LinkState, error: string | null): void {
    if (error) this.lastError = error;
    if (this.link === link) return;
    this.link = link;
    this.since = Date.now();
    this.deps.bus.emit({ type: 'federation' });
  }
}
