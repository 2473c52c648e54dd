import { describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { renderPrompt, renderTemplate, PROMPTS_DIR } from '../../src/agent/prompts.ts';
import { buildClaudeArgv, renderMcpConfig, hiveAllowedTools, claudeEnv } from '../../src/agent/claude/argv.ts';

describe('prompt templates', () => {
  test('substitutes variables', () => {
    expect(renderTemplate('hi {{ who }}, {{who}}!', { who: 'alice' })).toBe('hi alice, alice!');
  });

  test('a missing variable fails loudly, naming every missing one', () => {
    expect(() => renderTemplate('{{a}} {{b}} {{c}}', { b: 1 }, 'x.md')).toThrow('x.md: no value for {{a}}, {{c}}');
  });

  test('every shipped prompt renders with the variables the harness gives it', () => {
    const vars = { name: 'alice', model: 'haiku', state_dir: '/state', id: 1, from: 'bob', time: 't', body: 'b', pending: 'p' };
    const names = readdirSync(PROMPTS_DIR).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
    expect(names.sort()).toEqual(['agent', 'manager', 'wake']);
    for (const n of names) expect(renderPrompt(n, vars)).not.toContain('{{');
    expect(renderPrompt('agent', vars)).toContain('You are alice');
    expect(renderPrompt('wake', vars)).toContain('from bob');
  });

  test('the agent prompt names its tools and its notes', () => {
    const text = renderPrompt('agent', { name: 'alice', model: 'm', state_dir: '/state' });
    for (const needle of ['`send(to, body)`', '`recv(wait_seconds?)`', '/state/notes.md', 'operator', 'manager']) expect(text).toContain(needle);
  });
});

describe('claude command line', () => {
  const base = {
    claudeBin: '/bin/claude',
    model: 'haiku',
    prompt: '--not-a-flag and words',
    systemPrompt: 'sys',
    mcpConfigPath: '/state/.hive/mcp.json',
    allowedTools: hiveAllowedTools(),
  };

  test('headless stream-json with the hive MCP server only, prompt after --', () => {
    const argv = buildClaudeArgv({ ...base, session: { id: 'u1', resume: false } });
    expect(argv.slice(0, 5)).toEqual(['/bin/claude', '-p', '--output-format', 'stream-json', '--verbose']);
    expect(argv).toContain('--strict-mcp-config');
    expect(argv[argv.indexOf('--mcp-config') + 1]).toBe('/state/.hive/mcp.json');
    const tools = argv.slice(argv.indexOf('--allowedTools') + 1, argv.indexOf('--append-system-prompt'));
    expect(tools).toEqual(['mcp__hyperhive__*', 'Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash']);
    expect(argv[argv.indexOf('--model') + 1]).toBe('haiku');
    expect(argv[argv.indexOf('--session-id') + 1]).toBe('u1');
    expect(argv).not.toContain('--resume');
    expect(argv.at(-2)).toBe('--');
    expect(argv.at(-1)).toBe('--not-a-flag and words');
  });

  test('later turns resume the session and name the MCP config again', () => {
    const argv = buildClaudeArgv({ ...base, session: { id: 'u1', resume: true } });
    expect(argv[argv.indexOf('--resume') + 1]).toBe('u1');
    expect(argv).not.toContain('--session-id');
    expect(argv).toContain('--mcp-config');
  });

  test('the MCP config runs `hive mcp` with the agent socket', () => {
    expect(renderMcpConfig(['/bun', '/src/main.ts'], '/run/hive/mcp.sock')).toEqual({
      mcpServers: { hyperhive: { type: 'stdio', command: '/bun', args: ['/src/main.ts', 'mcp'], env: { HIVE_SOCKET: '/run/hive/mcp.sock' } } },
    });
  });

  test('claude runs quiet, with MCP tools visible', () => {
    const env = claudeEnv({ ANTHROPIC_API_KEY: 'k', UNSET: undefined }, '/c');
    expect(env).toMatchObject({ ANTHROPIC_API_KEY: 'k', CLAUDE_CONFIG_DIR: '/c', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ENABLE_TOOL_SEARCH: 'false' });
    expect('UNSET' in env).toBe(false);
  });
});
