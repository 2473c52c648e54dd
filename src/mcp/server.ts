/**
 * @module mcp/server
 * `hive mcp`: the stdio MCP server that claude spawns inside the sandbox. Each tool call is
 * forwarded over the agent's socket (`HIVE_SOCKET`, default `/run/hive/mcp.sock`); the core decides
 * who the caller is from the socket alone. Expected failures (unknown recipient, core unreachable,
 * bad arguments) come back as tool results with `isError: true` and a message the model can act
 * on; only bugs throw.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { toErrorInfo } from '../shared/errors.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { VERSION } from '../shared/version.ts';
import { AgentOps, MAX_BODY_CHARS, MAX_WAIT_SECONDS, type MessageRecord } from '../shared/wire.ts';

/** Renders a received message for the model. */
export function formatMessage(m: MessageRecord): string {
  return `message #${m.id} from ${m.from} at ${new Date(m.created_at).toISOString()}:\n\n${m.body}`;
}

const text = (t: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(isError ? { isError } : {}) });

/** Runs a tool body, turning thrown errors into an `isError` result naming the error code. */
async function tool(fn: () => Promise<string>): Promise<CallToolResult> {
  try {
    return text(await fn());
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    const hint = code === 'unavailable' ? ' (the hive core is not reachable; try again shortly)' : '';
    return text(`error (${code}): ${message}${hint}`, true);
  }
}

/** Builds the MCP server with the agent tools, talking to the core through `client`. */
export function createHiveMcpServer(client: JsonLineClient<typeof AgentOps>): McpServer {
  const server = new McpServer({ name: 'hyperhive', version: VERSION });

  server.registerTool(
    'send',
    {
      title: 'Send a message',
      description:
        'Queue a message for another agent (by name), for "manager", or for "operator" (the human). ' +
        `The message is stored durably before this returns. Body: 1 to ${MAX_BODY_CHARS} characters. ` +
        'Fails with not_found for an unknown recipient and too_large for an over-long body.',
      inputSchema: {
        to: z.string().min(1).describe('recipient: an agent name, "manager" or "operator"'),
        body: z.string().min(1).max(MAX_BODY_CHARS).describe('the message text'),
      },
    },
    ({ to, body }) => tool(async () => `sent message #${(await client.call('send', { to, body })).id} to ${to}`),
  );

  server.registerTool(
    'recv',
    {
      title: 'Receive a message',
      description:
        'Take the oldest unread message from your inbox. Without wait_seconds (or with 0) it returns at once, ' +
        `saying "inbox empty" when there is nothing. With a positive wait_seconds it waits up to that long (at most ${MAX_WAIT_SECONDS} s) ` +
        'for a message to arrive. A message you receive is removed from the inbox.',
      inputSchema: {
        wait_seconds: z.number().min(0).optional().describe(`seconds to wait for a message, at most ${MAX_WAIT_SECONDS}; omit to not wait`),
      },
    },
    ({ wait_seconds }) =>
      tool(async () => {
        const args = wait_seconds === undefined ? {} : { wait_seconds };
        const { message } = await client.call('recv', args);
        return message ? formatMessage(message) : 'inbox empty';
      }),
  );

  return server;
}

/** `hive mcp`: serves the tools on stdin/stdout until stdin closes. */
export async function runMcpStdio(socket: string): Promise<void> {
  const client = new JsonLineClient(socket, AgentOps);
  const server = createHiveMcpServer(client);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  process.stdin.on('end', () => void server.close());
  await closed;
  client.close();
}
