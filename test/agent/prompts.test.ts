import { describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { renderPrompt, renderSystemPrompt, renderTemplate, systemPromptVars, PROMPTS_DIR } from '../../src/agent/prompts.ts';
import { notesPromptVars } from '../../src/agent/notes.ts';
import { allowedToolsFor, buildClaudeArgv, renderMcpConfig, claudeEnv, GATEWAY_PLACEHOLDER_KEY, httpHiveServer, stdioHiveServer } from '../../src/agent/claude/argv.ts';
import { DEFAULT_AGENT_CONFIG, parseAgentConfig, type AgentConfig } from '../../src/shared/agent-config.ts';

const cfg = (over: Partial<AgentConfig> = {}): AgentConfig => ({ ...DEFAULT_AGENT_CONFIG, ...over });
const matrix = { command: '/bin/mx', args: ['--room', '#ops'], env: { T: '1' }, allowedTools: ['send_message', 'join_*'] };

describe('prompt templates', () => {
  test('substitutes variables', () => {
    expect(renderTemplate('hi {{ who }}, {{who}}!', { who: 'alice' })).toBe('hi alice, alice!');
  });

  test('a missing variable fails loudly, naming every missing one', () => {
    expect(() => renderTemplate('{{a}} {{b}} {{c}}', { b: 1 }, 'x.md')).toThrow('x.md: no value for {{a}}, {{c}}');
  });

  test('every shipped prompt renders with the variables the harness gives it', () => {
    const sys = systemPromptVars({ name: 'alice', role: 'agent', stateDir: '/state', config: cfg() });
    const vars = { ...sys, heading: 'New message #1 from bob', hint: '', time: 't', body: 'b', retry: '', pending: 'p', ...notesPromptVars('alice', 3000, 2048) };
    const names = readdirSync(PROMPTS_DIR).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
    expect(names.sort()).toEqual(['agent', 'manager', 'notes-compact', 'wake']);
    for (const n of names) expect(renderPrompt(n, vars)).not.toContain('{{');
    expect(renderPrompt('agent', vars)).toContain('You are alice');
    expect(renderPrompt('wake', vars)).toContain('from bob');
    expect(renderPrompt('notes-compact', vars)).toContain('The file has grown to 3000 bytes');
    expect(renderPrompt('notes-compact', vars)).toContain('Aim for at most 1024 bytes.');
  });

  test('a prompt missing a variable of the system prompt fails loudly', () => {
    const { recipients: _r, ...partial } = systemPromptVars({ name: 'alice', role: 'agent', stateDir: '/state', config: cfg() });
    expect(() => renderPrompt('agent', partial)).toThrow('prompts/agent.md: no value for {{recipients}}');
  });

  test('the agent prompt names its tools, its notes and who it can reach', () => {
    const text = renderSystemPrompt({ name: 'alice', role: 'agent', stateDir: '/state', config: cfg() });
    for (const needle of ['`send(to, body)`', '`recv(wait_seconds?)`', '`ask(to, question)`', '`answer(question_id, text)`', '`remind(', '/state/notes.md', 'any agent by name'])
      expect(text).toContain(needle);
    expect(text).not.toContain('request_spawn');
    expect(text).not.toContain('mcp__<server>__<tool>');
  });

  test('the prompt follows the config: recipients, extra servers, instructions', () => {
    const text = renderSystemPrompt({
      name: 'alice',
      role: 'agent',
      stateDir: '/state',
      config: cfg({ allowedRecipients: ['bob', 'operator'], extraMcpServers: { matrix }, prompt: 'You review patches.' }),
    });
    expect(text).toContain('`manager`, `bob`, `operator` only');
    expect(text).toContain('`mcp__<server>__<tool>`');
    expect(text).toContain('`matrix` (`mcp__matrix__…`)');
    expect(text).toContain('## Your role\n\nYou review patches.');
  });

  test("the manager's prompt names its lifecycle tools and ask_operator", () => {
    const text = renderSystemPrompt({ name: 'manager', role: 'manager', stateDir: '/state', config: cfg() });
    for (const needle of ['request_spawn(name)', 'kill(name)', 'restart(name)', 'ask_operator(question, options?, multi?)', 'agents()'])
      expect(text).toContain(needle);
  });
});

describe('claude command line', () => {
  const base = {
    claudeBin: '/bin/claude',
    model: 'haiku',
    prompt: '--not-a-flag and words',
    systemPrompt: 'sys',
    mcpConfigPath: '/state/.hive/mcp.json',
    allowedTools: allowedToolsFor(cfg()),
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

  test('the MCP config points claude at the harness endpoint with its token', () => {
    expect(renderMcpConfig(httpHiveServer('http://127.0.0.1:4100/mcp', 'tok'))).toEqual({
      config: { mcpServers: { hyperhive: { type: 'http', url: 'http://127.0.0.1:4100/mcp', headers: { Authorization: 'Bearer tok' } } } },
      warnings: [],
    });
  });

  test('the stdio fallback runs `hive mcp` with the agent socket and role', () => {
    expect(renderMcpConfig(stdioHiveServer(['/bun', '/src/main.ts'], '/run/hive/mcp.sock', 'agent'))).toEqual({
      config: {
        mcpServers: {
          hyperhive: { type: 'stdio', command: '/bun', args: ['/src/main.ts', 'mcp'], env: { HIVE_SOCKET: '/run/hive/mcp.sock', HIVE_ROLE: 'agent' } },
        },
      },
      warnings: [],
    });
  });

  test('extra MCP servers are merged into the config and their tools allowed', () => {
    const { config, warnings } = renderMcpConfig(stdioHiveServer(['/bun', '/m.ts'], '/s', 'agent'), { matrix, plain: { command: 'p', args: [], env: {}, allowedTools: ['*'] } });
    expect(warnings).toEqual([]);
    expect(Object.keys(config.mcpServers)).toEqual(['hyperhive', 'matrix', 'plain']);
    expect(config.mcpServers.matrix).toEqual({ type: 'stdio', command: '/bin/mx', args: ['--room', '#ops'], env: { T: '1' } });
    expect(config.mcpServers.plain).toEqual({ type: 'stdio', command: 'p', args: [] });
    const tools = allowedToolsFor(cfg({ extraMcpServers: { matrix, plain: { command: 'p', args: [], env: {}, allowedTools: ['*'] } } }));
    expect(tools).toEqual(['mcp__hyperhive__*', 'Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash', 'mcp__matrix__send_message', 'mcp__matrix__join_*', 'mcp__plain__*']);
  });

  test('an extra server keyed like the built-in one is dropped with a warning', () => {
    const hijack = { command: '/evil', args: [], env: {}, allowedTools: ['*'] };
    const { config, warnings } = renderMcpConfig(stdioHiveServer(['/bun', '/m.ts'], '/s', 'agent'), { hyperhive: hijack, matrix });
    expect(config.mcpServers.hyperhive).toMatchObject({ type: 'stdio', command: '/bun' });
    expect(Object.keys(config.mcpServers)).toEqual(['hyperhive', 'matrix']);
    expect(warnings).toEqual([expect.stringContaining('extraMcpServers.hyperhive was dropped')]);
    expect(allowedToolsFor(cfg({ extraMcpServers: { hyperhive: hijack } }))).toEqual(['mcp__hyperhive__*', 'Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash']);
    // the same warning is what the operator sees when the config is read
    expect(parseAgentConfig('[extraMcpServers.hyperhive]\ncommand = "/evil"\n').warnings).toEqual(warnings);
  });

  test('a tool allow-list replaces blanket shell access', () => {
    const tools = allowedToolsFor(cfg({ allowedTools: ['Read', 'Edit', 'Bash(git *)', 'Bash(nix build *)'] }));
    expect(tools).toEqual(['mcp__hyperhive__*', 'Read', 'Edit', 'Bash(git *)', 'Bash(nix build *)']);
    expect(tools).not.toContain('Bash');
    const argv = buildClaudeArgv({ ...base, allowedTools: tools, session: { id: 'u1', resume: false } });
    expect(argv.slice(argv.indexOf('--allowedTools') + 1, argv.indexOf('--append-system-prompt'))).toEqual(tools);
  });

  test('claude runs quiet, with MCP tools visible, reaching the model only through the gateway socket', () => {
    const env = claudeEnv({ PATH: '/usr/bin', UNSET: undefined }, '/c', { modelSocket: '/run/hive/model.sock', proxyPort: 4123 });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      CLAUDE_CONFIG_DIR: '/c',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ENABLE_TOOL_SEARCH: 'false',
      ANTHROPIC_UNIX_SOCKET: '/run/hive/model.sock',
      ANTHROPIC_BASE_URL: 'http://localhost',
      ANTHROPIC_API_KEY: GATEWAY_PLACEHOLDER_KEY,
      HTTPS_PROXY: 'http://127.0.0.1:4123',
      HTTP_PROXY: 'http://127.0.0.1:4123',
    });
    // model traffic to localhost never goes through the egress proxy
    expect(env.NO_PROXY).toContain('localhost');
    expect('UNSET' in env).toBe(false);
    // no forwarder: no proxy variables at all
    expect(Object.keys(claudeEnv({}, '/c', { modelSocket: '/m', proxyPort: null })).filter((k) => /proxy/i.test(k))).toEqual([]);
  });
});
