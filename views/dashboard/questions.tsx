/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/questions
 * The manager's questions for the operator, each rendered as the form it asks for: a textarea for
 * free text, radio buttons for one choice, checkboxes for several (their values are option indices,
 * so any option text survives the round trip). A failure to read them is shown as an error, never
 * as an empty list.
 */
import type { QuestionRecord } from '../../src/shared/wire.ts';
import { label } from '../format.ts';
import { Age } from '../time.tsx';

/** What `#questions-body` shows: the pending questions, or why they could not be read. */
export type QuestionsState = { questions: QuestionRecord[] } | { error: string };

/** The body of the questions section. */
export function QuestionList({ state, now = Date.now() }: { state: QuestionsState; now?: number }): JSX.Element {
  if ('error' in state)
    return (
      <p class="error" role="alert" safe>
        {`questions could not be read: ${state.error}`}
      </p>
    );
  if (state.questions.length === 0) return <p class="dim empty">no pending questions</p>;
  return <>{state.questions.map((q) => <QuestionForm q={q} now={now} />)}</>;
}

function QuestionForm({ q, now }: { q: QuestionRecord; now: number }): JSX.Element {
  const name = `q${q.id}`;
  return (
    <form class="question" id={`question-${q.id}`} hx-post={`/questions/${q.id}/answer`} hx-swap="none">
      <p>
        <span class="dim">
          <span safe>{`#${q.id} · ${label(q.from)} · `}</span>
          <Age ms={q.created_at} now={now} /> ago
        </span>
      </p>
      <p class="q" safe>{q.question}</p>
      {q.options === null ? (
        <textarea name="text" aria-label={`answer to question ${q.id}`} required></textarea>
      ) : (
        <fieldset>
          <legend class="dim">{q.multi ? 'choose any' : 'choose one'}</legend>
          {q.options.map((o, i) => (
            <label>
              <input type={q.multi ? 'checkbox' : 'radio'} name="choice" value={String(i)} id={`${name}-${i}`} required={!q.multi} /> <span safe>{o}</span>
            </label>
          ))}
        </fieldset>
      )}
      <button type="submit">
        <span class="spin">◐</span> answer
      </button>
    </form>
  );
}
