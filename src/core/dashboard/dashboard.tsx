/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard
 * The operator's dashboard on the core (default `127.0.0.1:7000`): one server-rendered page whose
 * sections are kept current by one SSE stream (`/events`) of `<hx-partial>` fragments, and the
 * operator's send form. No full reloads; no client build step.
 *
 * Routes: `GET /` page · `GET /events[?after=<message id>]` SSE (a reconnect's `Last-Event-ID`
 * wins over `after`) · `GET /fragments/agents|flow[?agent=]|turns|questions|approvals|kept|alerts` ·
 * `POST /send` · `POST /questions/:id/answer` · `POST /approvals/:id/approve|deny` ·
 * `POST /alerts/:id/dismiss` ·
 * `POST /agents/:name/model` · `POST /agents/:name/start|stop|restart|rebuild` ·
 * `GET /repos/:name` · `GET /repos/:name/commit/:sha` · `GET /repos/:name/file/:ref` (raw
 * `agent.toml`) · `GET /deploys`: the read-only config-repo browser ·
 * `POST /agents/:name/destroy` and `POST /kept/:name/purge` (two clicks: without `confirm=1` the
 * answer is the confirmation form, swapped in place of the button) ·
 * `/agents/:name/page/*`: the agent's own page, proxied to the `page.sock` its harness serves.
 * Every request must name this dashboard in its `Host`, and every state-changing one must carry
 * the session's CSRF token and no foreign `Origin` (see `guard.ts`); the agent pages are behind the
 * same checks. With an operator token configured, every route (pages, fragments, the stream, static
 * files, agent pages) asks for it first (see `auth.ts`).
 */
import { Elysia } from 'elysia';
import { html } from '@elysiajs/html';
import { ModelName } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR } from '../../shared/names.ts';
import { nameFromLabel } from '../../../views/format.ts';
import { sseResponse, type SseEvent } from '../../shared/sse.ts';
import { errorResponder, htmlResponse, htmxPartial, staticFiles, toastHeader } from '../../shared/web.ts';
import { VERSION } from '../../shared/version.ts';
import type { HiveEvent } from '../bus.ts';
import { OperatorAuth } from './auth.ts';
import { loadSecret, RequestGuard } from './guard.ts';
import { proxyAgentPage } from './agent-page-proxy.ts';
import type { Hive } from '../hive.ts';
import { AgentNames, DashboardPage } from '../../../views/dashboard/page.tsx';
import { AlertCount, Banners } from '../../../views/dashboard/banners.tsx';
import { AgentRows, type AgentSpend, type RuntimeFacts } from '../../../views/dashboard/agents.tsx';
import { MessageItem, MessageItems } from '../../../views/dashboard/flow.tsx';
import { TurnRows } from '../../../views/dashboard/turns.tsx';
import { QuestionList, type QuestionsState } from '../../../views/dashboard/questions.tsx';
import { ApprovalList, type ApprovalDetail } from '../../../views/dashboard/approvals.tsx';
import { BuildLine, type BuildLineItem } from '../../../views/dashboard/builds.tsx';
import { ConfirmForm, KeptList } from '../../../views/dashboard/kept.tsx';
import { CommitPage, DeploysPage, RepoPage, stageRank } from '../../../views/dashboard/repos.tsx';
import { validateAgentName } from '../../shared/names.ts';
import { AGENT_CONFIG_FILE } from '../../shared/agent-config.ts';

/** Messages shown at load and replayed at most on reconnect. */
const FLOW_LIMIT = 200;
/** Turns shown. */
const TURN_LIMIT = 30;
/** Rebuild output lines kept for page loads. */
const BUILD_LINES = 300;
/** Agent actions the swarm table offers. */
const AGENT_ACTIONS = ['start', 'stop', 'restart', 'rebuild'] as const;
/** The model-name rule of `agent.toml`, for the model switch. */
const MODEL_RE = new RegExp(ModelName.pattern!);

/**
 * A positive integer id from a route parameter.
 * @throws HiveError `bad_request` naming the parameter.
 */
function idParam(raw: string | undefined, what: string): number {
  const n = Number(raw);
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw new HiveError('bad_request', `"${raw ?? ''}" is not a ${what} id`);
  return n;
}

/** A form field as a list: absent → [], one value → [value], repeated → all values. */
function fieldList(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Reads a urlencoded or multipart form body, keeping repeated fields. */
async function readForm(request: Request): Promise<Record<string, string | string[]>> {
  const out: Record<string, string | string[]> = {};
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return out;
  }
  for (const [k, v] of form.entries()) {
    if (typeof v !== 'string') continue;
    const cur = out[k];
    out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return out;
}

/**
 * A value computed on first use after each {@link Memo.invalidate}, then shared. A rejected promise
 * is dropped, so the next use tries again.
 */
class Memo<T> {
  private value: T | undefined;
  private valid = false;
  constructor(private readonly compute: () => T) {}

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

  invalidate(): void {
    this.valid = false;
    this.value = undefined;
  }
}

/** A message id from `Last-Event-ID` or `?after=` (0: the page had none), else null. */
function messageIdParam(raw: string | null | undefined): number | null {
  if (!raw || !/^\d{1,15}$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

/** Start of the UTC day and month of `now`, unix ms. */
function utcStarts(now = Date.now()): { day: number; month: number } {
  const d = new Date(now);
  return { day: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()), month: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) };
}

/** Builds the dashboard app for `hive`. Call `.listen()` on it, or `.handle()` in tests. */
export function createDashboard(hive: Hive) {
  const facts: RuntimeFacts = { sandboxed: hive.runtime.sandboxed, privileged: hive.runtime.privileged, networkIsolated: hive.runtime.networkIsolated };
  /** Each agent's model spend through the gateway this UTC day and month. */
  const spend = (): Map<string, AgentSpend> => {
    const { day, month } = utcStarts();
    const out = new Map<string, AgentSpend>();
    for (const t of hive.usage.totals({ since: month })) out.set(t.agent, { today: 0, month: t.cost_usd, unpriced: t.unpriced });
    for (const t of hive.usage.totals({ since: day })) {
      const s = out.get(t.agent);
      if (s) s.today = t.cost_usd;
    }
    return out;
  };
  const agentsFragment = () => String(<AgentRows agents={hive.registry.list()} runtime={facts} spend={spend()} />);
  const turnsFragment = () => String(<TurnRows turns={hive.turns.list({ limit: TURN_LIMIT })} />);
  const alertsFragment = (alerts = hive.alerts.list()) => String(<Banners alerts={alerts} />);
  const namesFragment = () => String(<AgentNames agents={hive.registry.list()} />);
  const questionsState = (): QuestionsState => {
    try {
      return { questions: hive.questions.listFor(OPERATOR) };
    } catch (err) {
      hive.log(`dashboard: questions could not be read: ${(err as Error).message}`);
      return { error: (err as Error).message };
    }
  };
  const questionsFragment = () => String(<QuestionList state={questionsState()} />);
  /** Diffs of pending approvals and tag chains of recent decisions, read from the config repos. */
  const approvalDetails = async (approvals: ReturnType<typeof hive.approvals.list>) => {
    const details = new Map<number, ApprovalDetail>();
    const tagsOf = new Map<string, Awaited<ReturnType<typeof hive.repos.tags>>>();
    for (const a of approvals.slice(0, 30)) {
      try {
        if (a.status === 'pending') details.set(a.id, { diff: await hive.gate.diff(a.id) });
        else {
          if (!tagsOf.has(a.agent)) tagsOf.set(a.agent, await hive.repos.tags(a.agent));
          const chain = tagsOf.get(a.agent)!.filter((t) => t.approval === a.id).sort((x, y) => stageRank(x) - stageRank(y));
          details.set(a.id, { tags: chain.map((t) => t.name) });
        }
      } catch (err) {
        hive.log(`dashboard: approval #${a.id}: ${(err as Error).message}`);
      }
    }
    return details;
  };
  const approvalsFragment = async () => {
    const approvals = hive.approvals.list(true);
    return String(<ApprovalList approvals={approvals} details={await approvalDetails(approvals)} drafts={hive.gate.drafts()} />);
  };
  const keptFragment = () => String(<KeptList kept={hive.kept.list()} />);

  // Each section is rendered at most once per change and shared by every open stream: a change
  // marks the sections it touches stale (this listener is registered before any stream's), and the
  // first stream to need a stale section renders it.
  const sections = {
    agents: new Memo(() => htmxPartial('#agents-body', 'innerHTML', agentsFragment())),
    names: new Memo(() => htmxPartial('#agent-names', 'innerHTML', namesFragment())),
    turns: new Memo(() => htmxPartial('#turns-body', 'innerHTML', turnsFragment())),
    questions: new Memo(() => htmxPartial('#questions-body', 'innerHTML', questionsFragment())),
    kept: new Memo(() => htmxPartial('#kept-body', 'innerHTML', keptFragment())),
    alerts: new Memo(() => {
      const alerts = hive.alerts.list();
      return (
        htmxPartial('#banners', 'innerHTML', alertsFragment(alerts)) +
        htmxPartial('#alert-count', 'innerHTML', String(<AlertCount count={alerts.length} />))
      );
    }),
    approvals: new Memo(async () => htmxPartial('#approvals-body', 'innerHTML', await approvalsFragment())),
  };
  type Section = keyof typeof sections;
  /** The sections an event changes. */
  const touches = (ev: HiveEvent): Section[] => {
    switch (ev.type) {
      case 'agent':
      case 'agent_removed':
        return ['agents', 'names'];
      case 'usage':
        return ['agents'];
      case 'turn':
        return ['turns'];
      case 'question':
        return ev.question.to === OPERATOR ? ['questions'] : [];
      case 'approval':
      case 'drafts':
        return ['approvals'];
      case 'kept':
        return ['kept'];
      case 'alerts':
        return ['alerts'];
      default:
        return [];
    }
  };
  /** Frames of events that carry their own content (a message, a build line), rendered once per event. */
  const ownFrames = new WeakMap<HiveEvent, SseEvent>();
  const ownFrame = (ev: HiveEvent): SseEvent | null => {
    let f = ownFrames.get(ev);
    if (f) return f;
    if (ev.type === 'message') f = { id: ev.message.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={ev.message} />)) };
    else if (ev.type === 'delivered') f = { data: htmxPartial(`#msg-${ev.message.id} .state`, 'innerHTML', '✓') };
    else if (ev.type === 'build') f = { data: htmxPartial('#builds', 'beforeend', String(<BuildLine b={ev} />)) };
    else return null;
    ownFrames.set(ev, f);
    return f;
  };
  hive.bus.on((ev) => {
    for (const k of touches(ev)) sections[k].invalidate();
  });
  /** A destructive action: the first post gets the confirmation form, the confirmed one acts. */
  const twoClick = async (request: Request, action: string, text: string, name: string, act: () => Promise<string>) => {
    const form = await readForm(request);
    if (form.confirm !== '1') return htmlResponse(String(<ConfirmForm action={action} text={text} name={name} />));
    return done(await act());
  };
  const builds: BuildLineItem[] = [];
  hive.bus.on((ev) => {
    if (ev.type !== 'build') return;
    builds.push({ agent: ev.agent, approval: ev.approval, line: ev.line, at: ev.at });
    if (builds.length > BUILD_LINES) builds.splice(0, builds.length - BUILD_LINES);
  });
  const done = (message: string) => new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(message) } });

  const auth = hive.config.operatorToken ? new OperatorAuth(hive.config.operatorToken) : null;
  const requests = new RequestGuard(loadSecret(hive.layout.secretFile), hive.config.listen.host, hive.config.allowedHosts);
  const onError = errorResponder(hive.log);
  /** A page with forms: rendered with the session's CSRF token, setting the session cookie if new. */
  const withSession = async (request: Request, render: (csrf: string) => string | Promise<string>) => {
    const session = requests.session(request);
    const res = htmlResponse(await render(session.token));
    if (session.setCookie) res.headers.append('set-cookie', session.setCookie);
    return res;
  };

  /** An agent's page, proxied; its links are relative, so its root needs the trailing slash. */
  const agentPage = (name: string, rest: string, request: Request) => {
    if (!rest && !new URL(request.url).pathname.endsWith('/'))
      return new Response(null, { status: 308, headers: { location: `/agents/${encodeURIComponent(name)}/page/` } });
    return proxyAgentPage(hive, name, rest, request, requests.session(request));
  };

  return new Elysia({ name: 'dashboard' })
    .onRequest(async ({ request }) => {
      const denied = auth?.check(request);
      if (denied) return denied;
      try {
        await requests.check(request);
      } catch (err) {
        return onError({ error: err, code: 'FORBIDDEN' });
      }
    })
    .use(html())
    .use(staticFiles())
    .onError(onError)
    .all('/agents/:name/page/*', ({ params, request }) => agentPage(params.name, params['*'], request))
    .get('/agents/:name/page', ({ params, request }) => agentPage(params.name, '', request))
    .get('/', ({ request }) =>
      withSession(request, async (csrf) => {
        const approvals = hive.approvals.list(true);
        const details = await approvalDetails(approvals);
        return String(
          <DashboardPage
            version={VERSION}
            runtime={hive.runtime.name}
            facts={facts}
            spend={spend()}
            csrf={csrf}
            dataDir={hive.config.dataDir}
            agents={hive.registry.list()}
            messages={hive.broker.list({ limit: FLOW_LIMIT })}
            turns={hive.turns.list({ limit: TURN_LIMIT })}
            questions={questionsState()}
            approvals={approvals}
            approvalDetails={details}
            drafts={hive.gate.drafts()}
            builds={builds}
            kept={hive.kept.list()}
            alerts={hive.alerts.list()}
            lastMessageId={hive.broker.lastId()}
          />,
        );
      }),
    )
    .get('/fragments/agents', () => htmlResponse(agentsFragment()))
    .get('/fragments/turns', () => htmlResponse(turnsFragment()))
    .get('/fragments/questions', () => htmlResponse(questionsFragment()))
    .get('/fragments/approvals', async () => htmlResponse(await approvalsFragment()))
    .get('/fragments/kept', () => htmlResponse(keptFragment()))
    .get('/fragments/alerts', () => htmlResponse(alertsFragment()))
    .get('/repos/:name', async ({ params }) => {
      const name = params.name;
      if (name !== 'manager') validateAgentName(name);
      const head = await hive.repos.head(name);
      if (!head) throw new HiveError('not_found', `agent "${name}" has no applied config repo`);
      const [tags, log] = await Promise.all([hive.repos.tags(name), hive.repos.log(name, 100)]);
      return htmlResponse(String(<RepoPage version={VERSION} name={name} head={head} tags={tags} log={log} />));
    })
    .get('/repos/:name/commit/:sha', async ({ params }) => {
      if (params.name !== 'manager') validateAgentName(params.name);
      const text = await hive.repos.commitDiff(params.name, params.sha);
      return htmlResponse(String(<CommitPage version={VERSION} name={params.name} sha={params.sha} text={text} />));
    })
    .get('/repos/:name/file/*', async ({ params }) => {
      if (params.name !== 'manager') validateAgentName(params.name);
      const ref = params['*'];
      const text = await hive.repos.show(params.name, ref === 'HEAD' ? ((await hive.repos.head(params.name)) ?? 'HEAD') : ref, AGENT_CONFIG_FILE);
      return new Response(text, { headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    })
    .get('/deploys', async () => htmlResponse(String(<DeploysPage version={VERSION} deploys={await hive.meta.log(200)} />)))
    .get('/fragments/flow', ({ query }) => {
      const agent = nameFromLabel(typeof query.agent === 'string' ? query.agent : '');
      return htmlResponse(String(<MessageItems messages={hive.broker.list({ limit: FLOW_LIMIT, agent: agent || undefined })} />));
    })
    .get('/events', ({ request, query }) => {
      const lastSeen = messageIdParam(request.headers.get('last-event-id')) ?? messageIdParam(query.after);
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
          const v = sections[k].get();
          if (typeof v === 'string') put(k, v);
          else
            queue = queue
              .then(async () => put(k, await v))
              .catch((err) => hive.log(`dashboard: ${k}: ${(err as Error).message}`));
        };
        // Catch up: every section whole, then the messages after the last one this page has.
        for (const k of Object.keys(sections) as Section[]) send(k);
        if (lastSeen !== null)
          for (const m of hive.broker.list({ afterId: lastSeen, limit: FLOW_LIMIT }))
            sink.send({ id: m.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={m} />)) });
        return hive.bus.on((ev) => {
          const own = ownFrame(ev);
          if (own) sink.send(own);
          for (const k of touches(ev)) send(k);
        });
      });
    })
    .post('/questions/:id/answer', async ({ request, params }) => {
      const id = idParam(params.id, 'question');
      const form = await readForm(request);
      const q = hive.questions.get(id);
      const text = typeof form.text === 'string' ? form.text : undefined;
      const options = q.options;
      const answer =
        options === null
          ? { text: text ?? '' }
          : {
              choices: fieldList(form.choice).map((i) => {
                const o = /^\d+$/.test(i) ? options[Number(i)] : undefined;
                if (o === undefined) throw new HiveError('bad_request', `choice "${i.slice(0, 20)}" is not an option of question #${id}`);
                return o;
              }),
            };
      hive.policy.answer(OPERATOR, id, answer);
      return done(`answered question #${id}`);
    })
    .post('/approvals/:id/:action', async ({ request, params }) => {
      const id = idParam(params.id, 'approval');
      if (params.action === 'approve') {
        const a = await hive.gate.approve(id);
        if (a.status === 'failed') throw new HiveError('conflict', `approval #${id} failed: ${a.note ?? 'unknown error'}`);
        return done(`approval #${id}: ${a.status}`);
      }
      if (params.action === 'deny') {
        const form = await readForm(request);
        await hive.gate.deny(id, typeof form.reason === 'string' ? form.reason : undefined);
        return done(`approval #${id} denied`);
      }
      throw new HiveError('not_found', `no action "${params.action}" on approvals; use approve or deny`);
    })
    .post('/agents/:name/destroy', ({ request, params }) =>
      twoClick(request, `/agents/${params.name}/destroy`, 'destroy', params.name, async () => {
        hive.registry.require(params.name);
        await hive.lifecycle.destroy(params.name);
        return `destroyed ${params.name}; its state is kept`;
      }),
    )
    .post('/kept/:name/purge', ({ request, params }) =>
      twoClick(request, `/kept/${params.name}/purge`, 'purge', params.name, async () => {
        hive.kept.purge(params.name);
        return `purged the kept state of ${params.name}`;
      }),
    )
    .post('/agents/:name/:action', async ({ request, params }) => {
      const action = params.action as (typeof AGENT_ACTIONS)[number];
      if (!AGENT_ACTIONS.includes(action)) throw new HiveError('not_found', `no action "${params.action}" on agents; use ${AGENT_ACTIONS.join(', ')}`);
      const a = await hive.lifecycle[action](params.name);
      return done(`${a.name}: ${action === 'rebuild' ? 'rebuilt, up' : action === 'stop' ? 'stopped' : `${action}ed`}`);
    })
    .post('/agents/:name/model', async ({ request, params }) => {
      const form = await readForm(request);
      const reset = form.reset === '1';
      const model = typeof form.model === 'string' ? form.model.trim() : '';
      if (!reset && !MODEL_RE.test(model)) throw new HiveError('bad_request', `"${model.slice(0, 100)}" is not a model name`);
      const a = hive.lifecycle.setModel(params.name, reset ? null : model);
      return done(`${a.name} now uses ${a.model}`);
    })
    .post('/alerts/:id/dismiss', ({ request, params }) => {
      const a = hive.alerts.dismiss(idParam(params.id, 'alert'), OPERATOR);
      return done(`dismissed the ${a.kind.replace('_', ' ')} alert for ${a.agent}`);
    })
    .post('/send', ({ request, body }) => {
      const form = (body ?? {}) as Record<string, unknown>;
      const to = nameFromLabel(typeof form.to === 'string' ? form.to : '');
      const text = typeof form.body === 'string' ? form.body : '';
      if (!to) throw new HiveError('bad_request', 'choose a recipient');
      if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
      const m = hive.policy.send(OPERATOR, to, text);
      return done(`sent #${m.id} to ${to}`);
    });
}
