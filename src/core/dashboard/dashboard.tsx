/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard
 * The operator's dashboard on the core (default `127.0.0.1:7000`): one server-rendered page whose
 * sections are kept current by one SSE stream (`/events`) of `<hx-partial>` fragments, and the
 * operator's send form. No full reloads; no client build step.
 *
 * Routes: `GET /` page · `GET /events` SSE · `GET /fragments/agents|flow|turns|questions|approvals` ·
 * `POST /send` · `POST /questions/:id/answer` · `POST /approvals/:id/approve|deny` ·
 * `POST /agents/:name/model` · `POST /agents/:name/start|stop|restart|rebuild` ·
 * `GET /repos/:name` · `GET /repos/:name/commit/:sha` · `GET /repos/:name/file/:ref` (raw
 * `agent.toml`) · `GET /deploys`: the read-only config-repo browser ·
 * `POST /agents/:name/destroy` and `POST /kept/:name/purge` (two clicks: without `confirm=1` the
 * answer is the confirmation form, swapped in place of the button).
 * State-changing routes refuse requests from another origin (see `sameOrigin`).
 */
import { Elysia } from 'elysia';
import { html } from '@elysiajs/html';
import { ModelName } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR } from '../../shared/names.ts';
import { sseResponse } from '../../shared/sse.ts';
import { errorResponder, htmlResponse, htmxPartial, sameOrigin, staticFiles, toastHeader } from '../../shared/web.ts';
import { VERSION } from '../../shared/version.ts';
import type { HiveEvent } from '../events.ts';
import type { Hive } from '../hive.ts';
import { DashboardPage } from '../../../views/dashboard/page.tsx';
import { AgentRows } from '../../../views/dashboard/agents.tsx';
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

/** Builds the dashboard app for `hive`. Call `.listen()` on it, or `.handle()` in tests. */
export function createDashboard(hive: Hive) {
  const sandboxed = hive.runtime.sandboxed;
  const privileged = hive.runtime.privileged;
  const agentsFragment = () => String(<AgentRows agents={hive.registry.list()} sandboxed={sandboxed} privileged={privileged} />);
  const turnsFragment = () => String(<TurnRows turns={hive.turns.list({ limit: TURN_LIMIT })} />);
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
        if (a.status === 'pending') details.set(a.id, { diff: await hive.approvalDiff(a.id) });
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
    return String(<ApprovalList approvals={approvals} details={await approvalDetails(approvals)} drafts={hive.drafts()} />);
  };
  const keptFragment = () => String(<KeptList kept={hive.kept()} />);
  /** A destructive action: the first post gets the confirmation form, the confirmed one acts. */
  const twoClick = async (request: Request, action: string, text: string, name: string, act: () => Promise<string>) => {
    guard(request);
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
  const guard = (request: Request) => {
    if (!sameOrigin(request)) throw new HiveError('forbidden', 'cross-origin request refused');
  };
  const done = (message: string) => new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(message) } });

  return new Elysia({ name: 'dashboard' })
    .use(html())
    .use(staticFiles())
    .onError(errorResponder(hive.log))
    .get('/', async () => {
      const approvals = hive.approvals.list(true);
      const details = await approvalDetails(approvals);
      return htmlResponse(
        String(
          <DashboardPage
            version={VERSION}
            runtime={hive.runtime.name}
            sandboxed={sandboxed}
            privileged={privileged}
            dataDir={hive.config.dataDir}
            agents={hive.registry.list()}
            messages={hive.broker.list({ limit: FLOW_LIMIT })}
            turns={hive.turns.list({ limit: TURN_LIMIT })}
            questions={questionsState()}
            approvals={approvals}
            approvalDetails={details}
            drafts={hive.drafts()}
            builds={builds}
            kept={hive.kept()}
            lastMessageId={hive.broker.lastId()}
          />,
        ),
      );
    })
    .get('/fragments/agents', () => htmlResponse(agentsFragment()))
    .get('/fragments/turns', () => htmlResponse(turnsFragment()))
    .get('/fragments/questions', () => htmlResponse(questionsFragment()))
    .get('/fragments/approvals', async () => htmlResponse(await approvalsFragment()))
    .get('/fragments/kept', () => htmlResponse(keptFragment()))
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
    .get('/deploys', async () => htmlResponse(String(<DeploysPage version={VERSION} deploys={await hive.deploys(200)} />)))
    .get('/fragments/flow', ({ query }) =>
      htmlResponse(String(<MessageItems messages={hive.broker.list({ limit: FLOW_LIMIT, agent: query.agent || undefined })} />)),
    )
    .get('/events', ({ request }) => {
      const lastSeen = Number(request.headers.get('last-event-id') ?? '');
      return sseResponse((sink) => {
        // Catch up: agents and turns are re-rendered whole; messages after the last one seen are replayed.
        sink.send({ data: htmxPartial('#agents-body', 'innerHTML', agentsFragment()) });
        sink.send({ data: htmxPartial('#turns-body', 'innerHTML', turnsFragment()) });
        sink.send({ data: htmxPartial('#questions-body', 'innerHTML', questionsFragment()) });
        sink.send({ data: htmxPartial('#kept-body', 'innerHTML', keptFragment()) });
        // fragments read from git are rendered in order, one at a time, so a slow one never lands after a newer one
        let approvalsQueue = Promise.resolve();
        const sendApprovals = () => {
          approvalsQueue = approvalsQueue
            .then(async () => sink.send({ data: htmxPartial('#approvals-body', 'innerHTML', await approvalsFragment()) }))
            .catch((err) => hive.log(`dashboard: approvals: ${(err as Error).message}`));
        };
        sendApprovals();
        if (Number.isSafeInteger(lastSeen) && lastSeen > 0) {
          for (const m of hive.broker.list({ afterId: lastSeen, limit: FLOW_LIMIT }))
            sink.send({ id: m.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={m} />)) });
        }
        const onEvent = (ev: HiveEvent) => {
          switch (ev.type) {
            case 'message':
              sink.send({ id: ev.message.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={ev.message} />)) });
              break;
            case 'delivered':
              sink.send({ data: htmxPartial(`#msg-${ev.message.id} .state`, 'innerHTML', '✓') });
              break;
            case 'agent':
            case 'agent_removed':
              sink.send({ data: htmxPartial('#agents-body', 'innerHTML', agentsFragment()) });
              break;
            case 'turn':
              sink.send({ data: htmxPartial('#turns-body', 'innerHTML', turnsFragment()) });
              break;
            case 'question':
              if (ev.question.to === OPERATOR) sink.send({ data: htmxPartial('#questions-body', 'innerHTML', questionsFragment()) });
              break;
            case 'approval':
            case 'drafts':
              sendApprovals();
              break;
            case 'kept':
              sink.send({ data: htmxPartial('#kept-body', 'innerHTML', keptFragment()) });
              break;
            case 'build':
              sink.send({ data: htmxPartial('#builds', 'beforeend', String(<BuildLine b={ev} />)) });
              break;
          }
        };
        return hive.bus.on(onEvent);
      });
    })
    .post('/questions/:id/answer', async ({ request, params }) => {
      guard(request);
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
      hive.answer(OPERATOR, id, answer);
      return done(`answered question #${id}`);
    })
    .post('/approvals/:id/:action', async ({ request, params }) => {
      guard(request);
      const id = idParam(params.id, 'approval');
      if (params.action === 'approve') {
        const a = await hive.approve(id);
        if (a.status === 'failed') throw new HiveError('conflict', `approval #${id} failed: ${a.note ?? 'unknown error'}`);
        return done(`approval #${id}: ${a.status}`);
      }
      if (params.action === 'deny') {
        const form = await readForm(request);
        await hive.deny(id, typeof form.reason === 'string' ? form.reason : undefined);
        return done(`approval #${id} denied`);
      }
      throw new HiveError('not_found', `no action "${params.action}" on approvals; use approve or deny`);
    })
    .post('/agents/:name/destroy', ({ request, params }) =>
      twoClick(request, `/agents/${params.name}/destroy`, 'destroy', params.name, async () => {
        hive.registry.require(params.name);
        await hive.destroy(params.name);
        return `destroyed ${params.name}; its state is kept`;
      }),
    )
    .post('/kept/:name/purge', ({ request, params }) =>
      twoClick(request, `/kept/${params.name}/purge`, 'purge', params.name, async () => {
        hive.purge(params.name);
        return `purged the kept state of ${params.name}`;
      }),
    )
    .post('/agents/:name/:action', async ({ request, params }) => {
      guard(request);
      const action = params.action as (typeof AGENT_ACTIONS)[number];
      if (!AGENT_ACTIONS.includes(action)) throw new HiveError('not_found', `no action "${params.action}" on agents; use ${AGENT_ACTIONS.join(', ')}`);
      const a = await hive[action](params.name);
      return done(`${a.name}: ${action === 'rebuild' ? 'rebuilt, up' : action === 'stop' ? 'stopped' : `${action}ed`}`);
    })
    .post('/agents/:name/model', async ({ request, params }) => {
      guard(request);
      const form = await readForm(request);
      const reset = form.reset === '1';
      const model = typeof form.model === 'string' ? form.model.trim() : '';
      if (!reset && !MODEL_RE.test(model)) throw new HiveError('bad_request', `"${model.slice(0, 100)}" is not a model name`);
      const a = hive.setModel(params.name, reset ? null : model);
      return done(`${a.name} now uses ${a.model}`);
    })
    .post('/send', ({ request, body }) => {
      guard(request);
      const form = (body ?? {}) as Record<string, unknown>;
      const to = typeof form.to === 'string' ? form.to.trim() : '';
      const text = typeof form.body === 'string' ? form.body : '';
      if (!to) throw new HiveError('bad_request', 'choose a recipient');
      if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
      const m = hive.send(OPERATOR, to, text);
      return done(`sent #${m.id} to ${to}`);
    });
}
