/**
 * @module agent/prompts
 * Renders the Markdown templates in `prompts/`. A template names variables as `{{name}}`; rendering
 * with a variable missing throws, so a renamed variable fails loudly instead of reaching the model
 * as literal braces.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../shared/version.ts';

/** Directory holding the prompt templates. */
export const PROMPTS_DIR = join(PACKAGE_ROOT, 'prompts');

const VAR = /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g;

/**
 * Replaces every `{{name}}` in `template` with `vars[name]`.
 * @throws Error listing every variable the template uses that `vars` lacks.
 * @example renderTemplate('hi {{who}}', { who: 'alice' }) // 'hi alice'
 */
export function renderTemplate(template: string, vars: Record<string, string | number>, label = 'template'): string {
  const missing = new Set<string>();
  const out = template.replace(VAR, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) {
      missing.add(name);
      return '';
    }
    return String(v);
  });
  if (missing.size) throw new Error(`${label}: no value for {{${[...missing].join('}}, {{')}}}`);
  return out;
}

/**
 * Loads `prompts/<name>.md` and renders it.
 * @throws Error when the file is missing or a variable has no value.
 */
export function renderPrompt(name: string, vars: Record<string, string | number>, dir = PROMPTS_DIR): string {
  const text = readFileSync(join(dir, `${name}.md`), 'utf8');
  return renderTemplate(text, vars, `prompts/${name}.md`);
}
