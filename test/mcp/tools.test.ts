import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createHiveMcpServer } from '../../src/mcp/server.ts';
import { JsonLineClient } from '../../src/shared/jsonl.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { AgentOps } from '../../src/shared/wire.ts';
import { openTestHive } from '../support/hive.ts';

let t: Awaited<ReturnType<typeof openTestHive>>;
let client: Client;
let sock: JsonLineClient<typeof AgentOps>;

beforeAll(async () => {
  t = await openTestHive();
  await t.hive.spawn('alice');
  await t.hive.stop('alice');
  await t.hive.spawn('bob');
  await t.hive.stop('bob');
  sock = new JsonLineClient(new DataLayout(t.dir).agent('alice').socket, AgentOps);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createHiveMcpServer(sock).connect(a);
  client = new Client({ name: 'test', version: '1' });
  await client.connect(b);
});
afterAll(async () => {
  await client.close();
  sock.close();
  await t.close();
});

const call = async (name: string, args: Record<string, unknown>) => {
  const r = (await client.callTool({ name, arguments: args })) as { content: Array<{ text: string }>; isError?: boolean };
  return { text: r.content.map((c) => c.text).join(''), isError: !!r.isError };
};

describe('hive mcp tools', () => {
  test('lists send and recv with descriptions that state limits and errors', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['recv', 'send']);
    const recv = tools.find((t) => t.name === 'recv')!;
    expect(recv.description).toContain('180');
    expect(recv.description).toContain('inbox empty');
    expect(tools.find((t) => t.name === 'send')!.description).toContain('not_found');
  });

  test('send stores a message from the socket owner', async () => {
    const r = await call('send', { to: 'bob', body: 'hi bob' });
    expect(r.isError).toBe(false);
    expect(r.text).toMatch(/^sent message #\d+ to bob$/);
    expect(t.hive.broker.list({ agent: 'bob' }).at(-1)).toMatchObject({ from: 'alice', to: 'bob', body: 'hi bob' });
  });

  test('recv without wait returns at once; with a wait it gets a message sent meanwhile', async () => {
    expect(await call('recv', {})).toEqual({ text: 'inbox empty', isError: false });
    const pending = call('recv', { wait_seconds: 10 });
    await Bun.sleep(50);
    const m = t.hive.send('bob', 'alice', 'answer from bob');
    const r = await pending;
    expect(r.text).toContain(`message #${m.id} from bob`);
    expect(r.text).toContain('answer from bob');
  });

  test('expected failures are tool errors the model can act on', async () => {
    const unknown = await call('send', { to: 'carol', body: 'x' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/^error \(not_found\): no agent named "carol"/);
    const badName = await call('send', { to: '../../etc', body: 'x' });
    expect(badName).toMatchObject({ isError: true });
    expect(badName.text).toContain('bad_name');
  });

  test('an unreachable core is reported, not thrown', async () => {
    const dead = new JsonLineClient('/nonexistent/hive.sock', AgentOps);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await createHiveMcpServer(dead).connect(a);
    const c = new Client({ name: 'test', version: '1' });
    await c.connect(b);
    const r = (await c.callTool({ name: 'recv', arguments: {} })) as { content: Array<{ text: string }>; isError?: boolean };
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toContain('error (unavailable)');
    expect(r.content[0]!.text).toContain('not reachable');
    await c.close();
  });
});
