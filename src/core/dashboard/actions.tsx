/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard/actions
 * The operator's actions, every one a POST answered with 204 and a toast (`HX-Trigger`), or with
 * an error status and a failure toast: `POST /send` · `POST /questions/:id/answer` ·
 * `POST /approvals/:id/approve|deny` (deny takes an optional `reason`) · `POST /alerts/:id/dismiss` ·
 * `POST /agents/:name/model` · `POST /agents/:name/start|stop|restart|rebuild` · `POST /spawn`
 * (`name`) · `POST /kept/:name/spawn` (spawn again, with the kept state) ·
 * `POST /repos/:name/rollback/:id` (queues a return to `deployed/<id>` as an approval) ·
 * `POST /reminders/:owner/:id/cancel` · `POST /inbox/:id/read` · `POST /inbox/read-all` ·
 * `POST /inbox/:id/reply` (`body`; sent from the operator to the message's sender, and marks the
 * message read) · `POST /notify/test` (sends a test notification to `--notify-url` and toasts
 * whether it was delivered) · `POST /peers` (`name`, `allow`: whom it may send to, comma-separated,
 * blank for anyone; `no_model=1` withholds the model gateway) · and `POST /agents/:name/destroy`,
 * `POST /peers/:name/remove`, `POST /kept/:name/purge`, `POST /drafts/:name/discard` and
 * `POST /images/prune` (removes the images no agent uses, as `hive ctl images --prune`), which
 * take two clicks: without `confirm=1` the answer is the confirmation form, swapped in place of
 * the button. What changes reaches the page through the live updates, not through these
 * answers; only the confirmed prune also answers with the images section (`#images-body`) and a
 * line of what it removed. Forms are read with `forms.ts`.
 */
import type { AnyElysia } from 'elysia';
import { ModelName } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR } from '../../shared/names.ts';
import { htmlResponse, toastHeader } from '../../shared/web.ts';
import { nameFromLabel } from '../../../views/format.ts';
import { MAX_REASON } from '../../../views/dashboard/approvals.tsx';
import { ConfirmForm, type DangerProps } from '../../../views/dashboard/kept.tsx';
import { PRUNE_IMAGES } from '../../../views/dashboard/images.tsx';
import type { Hive } from '../hive.ts';
import { testNotification } from '../notify/notifier.ts';
import { idParam, readForm } from './forms.ts';
import type { Sections } from './sections.tsx';

/** Agent actions the swarm table offers. */
const AGENT_ACTIONS = ['start', 'stop', 'restart', 'rebuild'] as const;
/** The model-name rule of `agent.toml`, for the model switch. */
const MODEL_RE = new RegExp(ModelName.pattern!);

/** The answer to an action that was carried out: no content, a toast saying what happened. */
function done(message: string): Response {
  return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(message) } });
}

/**
 * A destructive action: the first post gets the confirmation form (naming `text` and `name`), the
 * confirmed one runs `act` and toasts what it returns.
 */
async function twoClick(request: Request, action: string, text: string, name: string, act: () => Promise<string>): Promise<Response> {
  return twoClickAnswer(request, { action, text, name }, async () => done(await act()));
}

/**
 * {@link twoClick} for a confirmation described by `confirm` (see `DangerProps`), whose confirmed
 * post is answered by `act`'s response.
 */
async function twoClickAnswer(request: Request, confirm: DangerProps, act: () => Promise<Response>): Promise<Response> {
  const form = await readForm(request);
  if (form.text('confirm') !== '1') return htmlResponse(String(<ConfirmForm {...confirm} />));
  return act();
}

/** The action routes; `sections` renders what an action answers with (the pruned images). */
export function actionRoutes(hive: Hive, sections: Sections) {
  return (app: AnyElysia) =>
    app
      .post('/send', async ({ request }) => {
        const form = await readForm(request);
        const to = nameFromLabel(form.text('to') ?? '');
        const text = form.text('body') ?? '';
        if (!to) throw new HiveError('bad_request', 'choose a recipient');
        if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
        const m = await hive.policy.sendGrouped(OPERATOR, to, text);
        return done(`sent #${m.id} to ${to}`);
      })
      .post('/notify/test', async () => {
        const notifier = hive.notifier;
        if (!notifier) throw new HiveError('conflict', 'no notification URL is set: start the core with --notify-url URL');
        try {
          await notifier.send(testNotification());
        } catch (err) {
          throw new HiveError('unavailable', `the test notification was not delivered: ${(err as Error).message}`);
        }
        return done('test notification delivered');
      })
      .post('/inbox/read-all', () => {
        const n = hive.inbox.markAllRead();
        return done(n === 0 ? 'nothing unread' : `marked ${n} message${n === 1 ? '' : 's'} read`);
      })
      .post('/inbox/:id/read', ({ params }) => {
        const id = idParam(params.id, 'message');
        return done(hive.inbox.markRead(id) ? `marked #${id} read` : `#${id} was read already`);
      })
      .post('/inbox/:id/reply', async ({ request, params }) => {
        const id = idParam(params.id, 'message');
        const m = hive.broker.message(id);
        if (!m || m.to !== OPERATOR) throw new HiveError('not_found', `there is no message #${id} to the operator`);
        const form = await readForm(request);
        const text = form.text('body') ?? '';
        if (!text.trim()) throw new HiveError('bad_request', 'the reply is empty');
        const sent = await hive.policy.sendGrouped(OPERATOR, m.from, text);
        hive.inbox.markRead(id);
        return done(`sent #${sent.id} to ${m.from}`);
      })
      .post('/questions/:id/answer', async ({ request, params }) => {
        const id = idParam(params.id, 'question');
        const form = await readForm(request);
        const q = hive.questions.get(id);
        const options = q.options;
        const answer =
          options === null
            ? { text: form.text('text') ?? '' }
            : {
                choices: form.list('choice').map((i) => {
                  const o = /^\d+$/.test(i) ? options[Number(i)] : undefined;
                  if (o === undefined) throw new HiveError('bad_request', `choice "${i.slice(0, 20)}" is not an option of question #${id}`);
                  return o;
                }),
              };
        if (q.multi && answer.choices?.length === 0) throw new HiveError('bad_request', `tick at least one choice to answer question #${id}`);
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
          const reason = form.text('reason')?.trim() ?? '';
          if (reason.length > MAX_REASON) throw new HiveError('bad_request', `the reason is ${reason.length} characters; the limit is ${MAX_REASON}`);
          await hive.gate.deny(id, reason);
          return done(`approval #${id} denied${reason ? `: ${reason}` : ''}`);
        }
        throw new HiveError('not_found', `no action "${params.action}" on approvals; use approve or deny`);
      })
      .post('/alerts/:id/dismiss', ({ params }) => {
        const a = hive.alerts.dismiss(idParam(params.id, 'alert'), OPERATOR);
        return done(`dismissed the ${a.kind.replace('_', ' ')} alert for ${a.agent}`);
      })
      .post('/agents/:name/destroy', ({ request, params }) =>
        twoClick(request, `/agents/${params.name}/destroy`, 'destroy', params.name, async () => {
          hive.registry.require(params.name);
          await hive.lifecycle.destroy(params.name);
          return `destroyed ${params.name}; its state is kept`;
        }),
      )
      .post('/peers', async ({ request }) => {
        const form = await readForm(request);
        const name = form.text('name')?.trim() ?? '';
        if (!name) throw new HiveError('bad_request', 'type the name of the peer to add');
        const allow = (form.text('allow') ?? '').split(',').map((n) => n.trim()).filter(Boolean);
        const { peer } = await hive.peers.add(name, { allowedRecipients: allow.length ? allow : null, modelAccess: form.text('no_model') !== '1' });
        return done(`added peer ${peer.name}: bind ${peer.socket_dir} into it at /run/hive (its row's "connect" says how)`);
      })
      .post('/peers/:name/remove', ({ request, params }) =>
        twoClick(request, `/peers/${params.name}/remove`, 'remove', params.name, async () => {
          await hive.peers.remove(params.name);
          return `removed peer ${params.name}: its sockets are closed`;
        }),
      )
      .post('/kept/:name/purge', ({ request, params }) =>
        twoClick(request, `/kept/${params.name}/purge`, 'purge', params.name, async () => {
          hive.kept.purge(params.name);
          return `purged the kept state of ${params.name}`;
        }),
      )
      .post('/drafts/:name/discard', ({ request, params }) =>
        twoClick(request, `/drafts/${params.name}/discard`, 'discard', params.name, async () => {
          await hive.gate.discardDraft(params.name);
          return `discarded the draft of ${params.name}`;
        }),
      )
      .post(PRUNE_IMAGES.action, ({ request }) =>
        twoClickAnswer(request, PRUNE_IMAGES, async () => {
          const pruned = sections.pruneImages();
          return htmlResponse(pruned.html, { headers: { 'HX-Trigger': toastHeader(pruned.summary) } });
        }),
      )
      .post('/spawn', async ({ request }) => {
        const form = await readForm(request);
        const name = form.text('name')?.trim() ?? '';
        if (!name) throw new HiveError('bad_request', 'type the name of the agent to spawn');
        const a = await hive.lifecycle.spawn(name);
        return done(`spawned ${a.name}`);
      })
      .post('/kept/:name/spawn', async ({ params }) => {
        if (!hive.kept.list().some((k) => k.name === params.name)) throw new HiveError('not_found', `there is no kept state of "${params.name}"`);
        const a = await hive.lifecycle.spawn(params.name);
        return done(`spawned ${a.name} again with its kept state`);
      })
      .post('/repos/:name/rollback/:id', async ({ params }) => {
        const id = idParam(params.id, 'deploy');
        const a = await hive.gate.rollback(params.name, String(id));
        return done(`approval #${a.id}: roll ${params.name} back to deployed/${id}, waiting for approval`);
      })
      .post('/reminders/:owner/:id/cancel', ({ params }) => {
        const r = hive.reminders.cancel(params.owner, idParam(params.id, 'reminder'));
        return done(`cancelled reminder #${r.id} (${r.owner} → ${r.to})`);
      })
      .post('/agents/:name/model', async ({ request, params }) => {
        const form = await readForm(request);
        const reset = form.text('reset') === '1';
        const model = form.text('model')?.trim() ?? '';
        if (!reset && !MODEL_RE.test(model)) throw new HiveError('bad_request', `"${model.slice(0, 100)}" is not a model name`);
        const a = hive.lifecycle.setModel(params.name, reset ? null : model);
        return done(`${a.name} now uses ${a.model}`);
      })
      .post('/agents/:name/:action', async ({ params }) => {
        const action = params.action as (typeof AGENT_ACTIONS)[number];
        if (!AGENT_ACTIONS.includes(action)) throw new HiveError('not_found', `no action "${params.action}" on agents; use ${AGENT_ACTIONS.join(', ')}`);
        const a = await hive.lifecycle[action](params.name);
        return done(`${a.name}: ${action === 'rebuild' ? 'rebuilt, up' : action === 'stop' ? 'stopped' : `${action}ed`}`);
      });
}
