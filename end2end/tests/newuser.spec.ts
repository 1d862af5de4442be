// The dashboard as a new user meets it: what adding a server schedules, the
// maintenance database left out, "Back up now" clicked twice, a form with
// three mistakes, the 404 page's header, a deleted server's last error, and
// the server and policy pages on a phone and a laptop.
import type { Page } from '@playwright/test';
import { test, expect, hydrated } from './support';
import { addServer, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
});

test.afterAll(async () => {
  await pg?.stop();
});

/** How much wider than the viewport the document is (0: no horizontal scroll). */
async function overflow(page: Page): Promise<number> {
  return await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Adds `pg` as `name` and opens its page. */
async function openServer(page: Page, name: string, password?: string): Promise<string> {
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, name, password);
  const row = page.locator(`[data-testid="server-row"][data-name="${name}"]`);
  await row.getByTestId('server-link').click();
  await expect(page).toHaveURL(/\/servers\/\d+$/);
  await hydrated(page);
  return page.url();
}

test('adding a server says what is scheduled, tests it, and leaves postgres out', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const plan = page.getByTestId('default-plan');
  await expect(plan.getByTestId('default-plan-databases')).toHaveText(
    'every database except postgres and the templates (new ones picked up): every day at 03:30 UTC',
  );
  await expect(plan.getByTestId('default-plan-globals')).toContainText('every day at 03:15 UTC');

  await addServer(page, pg, 'fresh');
  const check = page.getByTestId('added-connection');
  await expect(check).toHaveAttribute('data-ok', 'true');
  await expect(check).toContainText(`PostgreSQL ${pg.major}`);

  const fresh = page.locator('[data-testid="server-row"][data-name="fresh"]');
  await expect(fresh.getByTestId('server-health')).toHaveAttribute('data-state', 'ok');
  await fresh.getByTestId('server-link').click();
  await hydrated(page);
  const postgres = page.locator('[data-testid="schedule-row"][data-database="postgres"]');
  await expect(postgres).toContainText('not covered');
  await expect(page.locator('[data-testid="schedule-row"][data-database="shop"]')).not.toContainText('not covered');
  await expect(page.getByTestId('summary-not-scheduled')).toContainText('postgres');
  await expect(page.getByTestId('summary-scheduled')).toContainText('1 databases');
  // The server plan says so, and can take it back in.
  await expect(page.getByTestId('plan-exclude')).toHaveValue('postgres');
});

test('a wrong password is flagged when added, and the server page has Edit', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, 'typo', 'not-the-password');
  const check = page.getByTestId('added-connection');
  await expect(check).toHaveAttribute('data-ok', 'false');
  await expect(check).toContainText('password authentication failed');
  await expect(check).toContainText('Saved anyway');

  const typo = page.locator('[data-testid="server-row"][data-name="typo"]');
  // After a reload the list still tells it apart from a healthy server
  // (`/` is the overview once a server exists: the list is at /servers).
  await page.goto('/servers');
  await hydrated(page);
  await expect(typo.getByTestId('server-health')).toHaveAttribute('data-state', 'error');
  await expect(typo.getByTestId('server-health')).toHaveText('cannot connect');
  await typo.getByTestId('server-link').click();
  await hydrated(page);
  await expect(page.getByTestId('connection-result').first()).toContainText('(Edit)');
  await page.getByTestId('server-edit').click();
  const form = page.getByTestId('server-edit-panel').getByTestId('server-form');
  await form.getByTestId('server-password').fill(pg.password);
  await form.getByTestId('server-submit').click();
  await expect(page.getByTestId('server-edit-panel')).toHaveCount(0);
  await expect(page.getByTestId('connection-result').first()).toContainText(`PostgreSQL ${pg.major}`);
});

test('a form with three mistakes shows all three at once', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const form = page.getByTestId('server-form').first();
  await form.getByTestId('server-name').fill('has space');
  await form.getByTestId('server-host').fill('');
  await form.getByTestId('server-port').fill('99999');
  await form.getByTestId('server-user').fill('');
  await form.getByTestId('server-submit').click();
  const errors = form.getByTestId('form-error');
  await expect(errors).toHaveCount(4);
  for (const text of await errors.allInnerTexts()) {
    expect(text).toContain('Fix:');
  }
  await expect(form.locator('[aria-invalid="true"]')).toHaveCount(4);
});

test('Back up now clicked twice makes one run, followed to its end', async ({ page }) => {
  const serverUrl = await openServer(page, 'twice');
  const shop = page.locator('[data-testid="database-row"][data-name="shop"]');
  await shop.getByTestId('backup-now').dblclick();
  const status = shop.getByTestId('run-now-status');
  await expect(status).toBeVisible();
  await expect(status).toHaveAttribute('data-status', 'verified', { timeout: 60_000 });
  const id = await status.getAttribute('data-backup');
  await expect(status.locator('a')).toHaveAttribute('href', `/backups/${id}`);
  const rows = page.locator('[data-testid="backup-row"]');
  await expect(rows).toHaveCount(1);

  // Two requests at the same moment (as from two tabs): the engine queues one
  // and refuses the other, naming the run.
  const answers = await page.evaluate(async () => {
    const serverId = location.pathname.split('/')[2];
    const body = `server_id=${serverId}&kind=database&database=shop`;
    const send = () =>
      fetch('/api/backups/start', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
    return await Promise.all([send(), send()]);
  });
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses, JSON.stringify(answers)).toEqual([200, 409]);
  const refused = answers.find((a) => a.status === 409)!;
  expect(refused.text).toContain('already queued or running');
  expect(refused.text).toContain('Fix:');

  await page.goto(serverUrl);
  await hydrated(page);
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toHaveAttribute('data-status', 'verified', { timeout: 60_000 });

  // Layout, on a phone: neither the server page nor the policy page is wider
  // than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(serverUrl);
  await hydrated(page);
  expect(await overflow(page), 'server page at 390 px').toBeLessThanOrEqual(0);
  await page.goto(`${serverUrl}/databases/shop/policy`);
  await hydrated(page);
  await expect(page.getByTestId('policy-keep-row').first()).toBeVisible();
  expect(await overflow(page), 'policy page at 390 px').toBeLessThanOrEqual(0);
  // The reason column is wide enough to read words, not letters.
  const reason = page.getByTestId('policy-keep-row').first().locator('td').last();
  const box = (await reason.boundingBox())!;
  expect(box.width, 'reason column width').toBeGreaterThan(80);

  // On a laptop the time column does not run into the tier badges.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.reload();
  await hydrated(page);
  const row = page.getByTestId('policy-keep-row').first();
  await expect(row).toBeVisible();
  const gap = await row.evaluate((tr) => {
    const cells = tr.querySelectorAll('td');
    const time = cells[1];
    const range = document.createRange();
    range.selectNodeContents(time);
    const text = range.getBoundingClientRect();
    const tiers = cells[2].getBoundingClientRect();
    return { textRight: text.right, cellRight: time.getBoundingClientRect().right, tiersLeft: tiers.left };
  });
  expect(gap.textRight, JSON.stringify(gap)).toBeLessThanOrEqual(gap.cellRight + 0.5);
  expect(gap.textRight, JSON.stringify(gap)).toBeLessThanOrEqual(gap.tiersLeft + 0.5);
  expect(await overflow(page), 'policy page at 1280 px').toBeLessThanOrEqual(0);
});

test('the server page has a summary and a section nav that the address opens', async ({ page }) => {
  const serverUrl = await openServer(page, 'sections');
  await expect(page.getByTestId('server-summary')).toBeVisible();
  const nav = page.getByTestId('section-nav');
  await expect(nav.locator('a')).toHaveText(['Databases', 'Schedules', 'Recent backups', 'Globals', 'Server plan']);
  // Keyboard: the links are reachable and follow the hash.
  await nav.locator('a[data-section="schedules"]').focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#schedules$/);
  await expect(page.locator('#schedules')).toBeInViewport();
  // A link with the hash opens the page at that section.
  await page.goto(`${serverUrl}#server-plan`);
  await hydrated(page);
  await expect(page.locator('#server-plan')).toBeInViewport();
});

test('the 404 page header shows the workers, not an internal message', async ({ page }) => {
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toBeVisible();
  const bar = page.getByTestId('worker-status');
  await expect(bar.locator('[data-testid="worker"][data-name="backup-runner"]')).toBeVisible();
  await expect(bar).not.toContainText('leptos_routes_with_context');
  await expect(bar).not.toContainText('unavailable');
  expect(await page.content()).not.toContain('leptos_routes_with_context');
});

test("a deleted server's last error leaves the header", async ({ page }) => {
  await openServer(page, 'doomed', 'not-the-password');
  const shop = page.locator('[data-testid="database-row"][data-name="shop"]');
  // The databases cannot be listed with a wrong password: back up globals.
  await expect(shop).toHaveCount(0);
  await page.getByTestId('globals-now').click();
  const status = page.getByTestId('run-now-status');
  await expect(status).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  const runner = page.locator('[data-testid="worker"][data-name="backup-runner"]');
  await expect(runner).toContainText('doomed', { timeout: 15_000 });

  await page.goto('/servers');
  await hydrated(page);
  const row = page.locator('[data-testid="server-row"][data-name="doomed"]');
  await row.getByTestId('server-delete').click();
  await row.getByTestId('server-delete-confirm').click();
  await expect(row).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('worker-status')).toBeVisible();
  await expect(page.locator('[data-testid="worker"][data-name="backup-runner"]')).not.toContainText('doomed');
  await expect(page.getByTestId('worker-status')).not.toContainText('doomed');
});
