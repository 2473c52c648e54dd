/** @jsxImportSource @kitajs/html */
/**
 * The dashboard's `/shared` pages against a real core and a real shared directory: names, sizes,
 * the read-only viewer (escaped, capped, binary files not shown), and everything an agent could
 * plant there to lead the dashboard elsewhere: `..` in any spelling, links to files and
 * directories outside, a link on the way, a FIFO. Loading the pages runs no git.
 */
import { expect } from 'bun:test';
import net from 'node:net';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitSpawnCount } from '../../src/core/configs/git.ts';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { MAX_VIEW_BYTES, sharedSegments } from '../../src/core/dashboard/shared-browser.tsx';
import { openTestHive, tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('dashboard /shared', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let shared: string;
let outside: string;
const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(`http://localhost${path}`, { headers }));
const text = async (path: string) => {
  const res = await get(path);
  return { status: res.status, body: await res.text() };
};

beforeAll(async () => {
  t = await openTestHive();
  app = createDashboard(t.hive);
  shared = t.hive.layout.sharedDir;
  outside = tempDir('hv-out-');
  writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE SECRET');
  mkdirSync(join(shared, 'reports', 'weekly'), { recursive: true });
  writeFileSync(join(shared, 'notes.md'), '# plan\n<script>alert(1)</script> & more\n');
  writeFileSync(join(shared, 'reports', 'weekly', 'w1.txt'), 'week one');
  writeFileSync(join(shared, 'reports', 'big.log'), 'x'.repeat(MAX_VIEW_BYTES + 5000));
  writeFileSync(join(shared, 'blob.bin'), Buffer.from([0x89, 0x50, 0x00, 0x01, 0x02]));
  writeFileSync(join(shared, 'a <b> & "c".txt'), 'odd name');
  symlinkSync(join(outside, 'secret.txt'), join(shared, 'leak.txt'));
  symlinkSync(t.hive.layout.secretFile, join(shared, 'hive-secret'));
  symlinkSync(outside, join(shared, 'out'));
  symlinkSync('/etc', join(shared, 'etc'));
  const fifo = Bun.spawnSync(['mkfifo', join(shared, 'pipe')]);
  if (fifo.exitCode !== 0) throw new Error(`mkfifo: ${fifo.stderr}`);
});
afterAll(async () => {
  await t.close();
});

describe('GET /shared', () => {
  test('lists names, kinds and sizes, directories first; links shown with their target, not followed', async () => {
    const { status, body } = await text('/shared');
    expect(status).toBe(200);
    expect(body).toContain('<a href="/shared/reports">reports/</a>');
    expect(body).toContain('<a href="/shared/notes.md">notes.md</a>');
    expect(body).toMatch(/notes\.md<\/a><\/td><td class="dim">40 B<\/td>/);
    expect(body.indexOf('reports/')).toBeLessThan(body.indexOf('notes.md'));
    expect(body).toContain(`leak.txt</span><span class="dim"> → ${join(outside, 'secret.txt')} (a link, not followed)`);
    expect(body).not.toContain('href="/shared/leak.txt"');
    expect(body).not.toContain('OUTSIDE SECRET');
    // an agent-chosen name is escaped, and its link encoded
    expect(body).toContain('href="/shared/a%20%3Cb%3E%20%26%20%22c%22.txt"');
    expect(body).toContain('a &lt;b&gt; &amp; &quot;c&quot;.txt');
    expect(body).not.toContain('a <b>');
  });

  test('a subdirectory, with its breadcrumbs', async () => {
    const { status, body } = await text('/shared/reports');
    expect(status).toBe(200);
    expect(body).toContain('<a href="/shared/reports/weekly">weekly/</a>');
    expect(body).toContain('<a href="/shared/reports/big.log">big.log</a>');
    expect(body).toContain('<a href="/shared">/shared</a> / <a href="/shared/reports">reports</a>');
    expect((await text('/shared/reports/weekly/w1.txt')).body).toContain('week one');
  });

  test('a text file is shown escaped; a big one capped; a binary one not at all', async () => {
    const notes = await text('/shared/notes.md');
    expect(notes.status).toBe(200);
    expect(notes.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(notes.body).not.toContain('<script>alert(1)');
    const big = await text('/shared/reports/big.log');
    expect(big.body).toContain('showing the first 256.0 KiB of 260.9 KiB');
    expect(big.body.length).toBeLessThan(MAX_VIEW_BYTES + 10_000);
    const blob = await text('/shared/blob.bin');
    expect(blob.body).toContain('a binary file of 5 B: not shown');
  });

  test('an odd name opens by its encoded link', async () => {
    const res = await text('/shared/a%20%3Cb%3E%20%26%20%22c%22.txt');
    expect(res.status).toBe(200);
    expect(res.body).toContain('odd name');
  });

  test('missing paths are 404', async () => {
    expect((await text('/shared/nothing')).status).toBe(404);
    expect((await text('/shared/notes.md/below')).status).toBe(404);
  });
});

describe('no way out of /shared', () => {
  test('a link to a file or directory outside is refused and shows nothing of it', async () => {
    for (const path of ['/shared/leak.txt', '/shared/hive-secret', '/shared/out', '/shared/out/secret.txt', '/shared/etc/passwd', '/shared/etc']) {
      const res = await text(path);
      expect(res.status).toBe(403);
      expect(res.body).toContain('link');
      expect(res.body).not.toContain('OUTSIDE SECRET');
      expect(res.body).not.toContain('root:x:0:0');
    }
  });

  test('a FIFO is not opened', async () => {
    const res = await text('/shared/pipe');
    expect(res.status).toBe(400);
    expect(res.body).toContain('neither a file nor a directory');
  });

  test('"..", in any spelling the URL keeps, is refused before the file system is asked', async () => {
    for (const path of ['/shared/..%2Fsecret', '/shared/reports%2F..%2F..%2Fsecret', '/shared/%2e%2e%2fsecret', '/shared/reports/%00']) {
      const res = await text(path);
      expect(res.status).toBe(400);
    }
    expect(() => sharedSegments('/shared/../secret')).toThrow('is not a name in /shared');
    expect(() => sharedSegments('/shared/a//b')).toThrow('is not a name in /shared');
    expect(() => sharedSegments('/shared/%E0%A4%A')).toThrow('is not a valid path segment');
    expect(sharedSegments('/shared/a%2Fb'.replace('%2F', '%20'))).toEqual(['a b']);
  });

  test('"/shared/../secret" sent as is over a real socket does not reach the data dir', async () => {
    const server = app.listen({ hostname: '127.0.0.1', port: 0 });
    try {
      const port = server.server!.port!;
      for (const path of ['/shared/../secret', '/shared/../../etc/passwd', '/shared/reports/../../secret']) {
        const reply = await new Promise<string>((resolve, reject) => {
          let out = '';
          const s = net.createConnection({ host: '127.0.0.1', port }, () => s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
          s.on('data', (d) => (out += d.toString()));
          s.on('end', () => resolve(out));
          s.on('error', reject);
        });
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
        // either the path is refused or normalised before routing; it never shows the data dir's files
        expect([400, 403, 404]).toContain(status);
        expect(reply).not.toContain('root:x:0:0');
      }
    } finally {
      await app.stop(true);
    }
    app = createDashboard(t.hive);
  });

  test('the pages run no git', async () => {
    const before = gitSpawnCount();
    for (const p of ['/shared', '/shared/reports', '/shared/notes.md', '/shared/leak.txt']) await get(p);
    expect(gitSpawnCount()).toBe(before);
  });
});

describe('the dashboard links to it', () => {
  test('the chrome strip of / has a link to /shared', async () => {
    const { body } = await text('/');
    expect(body).toMatch(/<div class="chrome">[\s\S]*<a href="\/shared"[^>]*>\s*\/shared\s*<\/a>/);
  });
});
