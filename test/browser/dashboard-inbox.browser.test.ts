/**
 * The operator inbox in real headless Chromium: a message to the operator puts the waiting count
 * in the page title and on the favicon, and marking it read drops the count again, through the
 * live stream alone.
 */
import { expect } from 'bun:test';
import { waitFor } from '../support/hive.ts';
import { liveDashboard, showTab } from '../support/browser.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, ...hooks } = requires('browser dashboard inbox', 'chromium', 'git');

const live = liveDashboard(hooks);

const title = (want: string) => waitFor(`the title "${want}"`, async () => (await live.page.title()) === want, 10_000);
const iconHref = () => live.page.locator('link[rel="icon"]').getAttribute('href');

describe('the operator inbox in a browser', () => {
  test('the title shows what waits, and drops after mark read', async () => {
    expect(await live.page.title()).toBe('hyperhive');
    await showTab(live.page, 'inbox');
    const m = live.hive.broker.send('manager', 'operator', 'the operator is needed');
    await title('(1) hyperhive');
    await live.page.locator(`#inbox-${m.id}.unread`).waitFor({ timeout: 10_000 });
    await waitFor('the favicon badge', async () => (await iconHref())?.startsWith('data:image/png'), 10_000);

    const a = live.hive.gate.requestSpawn('manager', 'wai');
    await title('(2) hyperhive');
    await live.hive.gate.deny(a.id);
    await title('(1) hyperhive');

    await live.page.locator(`#inbox-${m.id}`).getByRole('button', { name: `mark message ${m.id} read` }).click();
    await live.page.locator('.toast', { hasText: `marked #${m.id} read` }).waitFor({ timeout: 10_000 });
    await title('hyperhive');
    await live.page.locator(`#inbox-${m.id}.read`).waitFor({ timeout: 10_000 });
    expect(await iconHref()).toBe('/static/favicon.svg');
    expect(live.hive.inbox.unread()).toBe(0);
  });

  test('reply inline: the reply goes to the sender', async () => {
    await live.hive.lifecycle.spawn('bob', { start: false });
    const m = live.hive.broker.send('bob', 'operator', 'may I?');
    await title('(1) hyperhive');
    const item = live.page.locator(`#inbox-${m.id}`);
    await item.locator('summary').click();
    await item.getByRole('textbox', { name: `reply to message ${m.id} from bob` }).fill('yes');
    await item.getByRole('button', { name: 'reply' }).click();
    await live.page.locator('.toast', { hasText: 'to bob' }).waitFor({ timeout: 10_000 });
    await title('hyperhive');
    expect(live.hive.broker.list({ agent: 'bob' }).at(-1)).toMatchObject({ from: 'operator', to: 'bob', body: 'yes' });
    expect(live.errors).toEqual([]);
  });
});
