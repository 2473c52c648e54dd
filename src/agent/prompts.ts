/**
 * @module agent/prompts
 * Renders the Markdown templates in `prompts/`. A template names variables as `{{name}}`; rendering
 * with a variable missing throws, so a renamed variable fails loudly instead of reaching the model
 * as literal braces.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { partitionExtraServers, type AgentConfig } from '../shared/agent-config-shape.ts';
import { describeMessage } from '../shared/messages.ts';
import { PACKAGE_ROOT } from '../shared/version.ts';
import type { MessageRecord } from '../shared/wire.ts';

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

/** What the system prompt needs to know about the agent. */
export interface PromptContext {
  name: string;
  role: string;
  stateDir: string;
  /** Where the manager finds the proposed config repos (`/agents` in a sandbox). */
  agentsDir?: string;
  /** Where the manager reads every agent's log and build output (`/logs` in a sandbox). */
  logsDir?: string | null;
  /** The hive-wide shared directory (`/shared` in a sandbox), or null when the agent has none. */
  sharedDir?: string | null;
  config: AgentConfig;
}

/**
 * The variables of `agent.md` / `manager.md` for an agent: who it may reach (from
 * `allowedRecipients`), a note on extra MCP servers' tools, the config's own instructions, a note
 * on the shared directory when it has one (`shared`), and where the manager reads logs (`logs_dir`).
 */
export function systemPromptVars(ctx: PromptContext): Record<string, string> {
  const allowed = ctx.config.allowedRecipients;
  const recipients =
    allowed === null
      ? 'any agent by name, `manager`, and `operator`.'
      : `\`manager\`${allowed.filter((r) => r !== 'manager').map((r) => `, \`${r}\``).join('')} only; your configuration refuses other recipients.`;
  const { kept } = partitionExtraServers(ctx.config.extraMcpServers);
  const keys = Object.keys(kept);
  const extra = keys.length
    ? `\n## More tools\n\nYour configuration adds MCP servers beyond hyperhive; their tools appear as \`mcp__<server>__<tool>\`: ${keys
        .map((k) => `\`${k}\` (\`mcp__${k}__…\`)`)
        .join(', ')}.\n`
    : '';
  const instructions = ctx.config.prompt ? `\n## Your role\n\n${ctx.config.prompt}\n` : '';
  const shared = ctx.sharedDir
    ? `\n\`${ctx.sharedDir}\` is the hive's shared directory: every agent that has it reads and writes the same files, and the operator sees them on the dashboard. Put there what others should read (write under a name of your own, such as \`${ctx.sharedDir}/${ctx.name}/\`), and look there for what they left. It is kept when agents go away. Keep your own notes in your state dir.\n`
    : '';
  return {
    name: ctx.name,
    state_dir: ctx.stateDir,
    agents_dir: ctx.agentsDir ?? '/agents',
    logs_dir: ctx.logsDir ?? '/logs',
    recipients,
    extra_tools: extra,
    instructions,
    shared,
  };
}

/**
 * The system prompt of an agent: `manager.md` for the manager, `agent.md` otherwise.
 * @throws Error when a template variable has no value.
 */
export function renderSystemPrompt(ctx: PromptContext, dir = PROMPTS_DIR): string {
  return renderPrompt(ctx.role === 'manager' ? 'manager' : 'agent', systemPromptVars(ctx), dir);
}

/**
 * The variables of `wake.md` for the message that starts a turn: `heading` and `hint` (by its
 * kind), `time` (when it was sent, ISO 8601), `body`, `retry` (on a message handed out again
 * because the turn it started was interrupted, a paragraph saying so; else empty) and `pending`.
 */
export function wakePromptVars(msg: MessageRecord): Record<string, string> {
  const { heading, hint } = describeMessage(msg);
  const retry =
    msg.attempt > 1
      ? `This is attempt ${msg.attempt}: your previous turn on this message was interrupted before it finished ` +
        '(the hive or your harness restarted). Check what you already did for it (messages sent, notes written) ' +
        'before doing it again.\n'
      : '';
  return {
    heading,
    hint: hint ? `${hint}\n` : '',
    time: new Date(msg.created_at).toISOString(),
    body: msg.body,
    retry,
    pending: 'Call `recv` to see whether more messages are waiting.',
  };
}
