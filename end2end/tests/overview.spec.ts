// The overview in Chromium against the built binary and a throwaway
// PostgreSQL server: `/` is the servers page until the first server exists,
// then the overview, which lists a database whose backup really failed (it
// was dropped after discovery) before the healthy one, and shows what the
// `local` destination stores.
import { test, expect, hydrated } from './support';
import { addServer, runSql, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
  runSql(pg, 'postgres', 'DROP DATABASE IF EXISTS doomed');
  runSql(pg, 'postgres', 'CREATE DATABASE doomed');
  runSql(pg, 'doomed', 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g');
});

test.afterAll(async () => {
  await pg?.stop();
});

async function backUp(page: import('@playwright/test').Page, url: string, status: string): Promise<void> {
  await page.goto(url);
  await hydrated(page);
  const before = await page.getByTestId('backup-row').count();
  await page.getByTestId('backup-now').first().click();
  await expect(page.getByTestId('backup-row')).toHaveCount(before + 1, { timeout: 30_000 });
  await expect(page.getByTestId('backup-row').first()).toHaveAttribute('data-status', status, { timeout: 60_000 });
}

test('the overview lists the failing database first, then the healthy one, and the storage', async ({ page }) => {
  // No server yet: `/` is where the first one is added.
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByTestId('no-servers')).toBeVisible();
  await addServer(page, pg, 'prod');
  const row = page.locator('[data-testid="server-row"][data-name="prod"]');
  await expect(row).toBeVisible();

  // The server page discovers both databases.
  await row.getByTestId('server-link').click();
  await expect(page).toHaveURL(/\/servers\/\d+$/);
  await hydrated(page);
  await expect(page.locator('[data-testid="database-row"][data-name="doomed"]')).toBeVisible();
  const serverUrl = page.url();

  await backUp(page, `${serverUrl}/databases/shop`, 'verified');
  await backUp(page, `${serverUrl}/databases/doomed`, 'verified');
  // Gone after discovery: its next backup fails for real.
  runSql(pg, 'postgres', 'DROP DATABASE doomed WITH (FORCE)');
  await backUp(page, `${serverUrl}/databases/doomed`, 'failed');

  await page.goto('/');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Overview', level: 1 })).toBeVisible();

  const rows = page.getByTestId('overview-row');
  await expect(rows.first()).toHaveAttribute('data-database', 'doomed');
  await expect(rows.first()).toHaveAttribute('data-health', 'failing');
  const order = await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-database'), e.getAttribute('data-health')]));
  const shopAt = order.findIndex(([db]) => db === 'shop');
  expect(shopAt, JSON.stringify(order)).toBeGreaterThan(0);
  expect(order[shopAt][1]).toBe('healthy');
  // Failing first, then suspect, overdue, never backed up, healthy.
  const rank = ['failing', 'suspect', 'overdue', 'never-backed-up', 'healthy'];
  const ranks = order.map(([, h]) => rank.indexOf(h ?? ''));
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));

  // The failing row links to the failed backup; the problem list names it with its cause.
  const failedLink = rows.first().getByTestId('overview-problem-link');
  await expect(failedLink).toContainText('failed run #');
  const problem = page.locator('[data-testid="problem-row"][data-database="doomed"]');
  await expect(problem).toHaveAttribute('data-status', 'failed');
  await expect(problem).toContainText('doomed');
  await expect(page.getByTestId('health-count').first()).toHaveAttribute('data-health', 'failing');

  // The healthy row: a size and a link to its database page.
  const shop = rows.nth(shopAt);
  await expect(shop.getByTestId('overview-size')).toContainText(/[0-9.]+ (B|KiB|MiB)/);

  // Storage: the built-in destination holds the two good backups.
  const local = page.locator('[data-testid="storage-destination"][data-name="local"]');
  await expect(local).toBeVisible();
  await expect(local).toContainText(/[0-9.]+ (B|KiB|MiB)/);
  await expect(local.locator('td').nth(1)).toHaveText('2');
  await expect(page.getByTestId('storage-projection')).toContainText('Not enough history');

  // Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => document.querySelector('main')!.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);

  // Rows lead to the failed backup and to the database page.
  await failedLink.click();
  await expect(page).toHaveURL(/\/backups\/\d+$/);
  await page.goto('/');
  await hydrated(page);
  await page.getByTestId('overview-row').first().getByTestId('overview-database-link').click();
  await expect(page).toHaveURL(/\/databases\/doomed$/);

  // The servers list lives at /servers, one click from the header.
  await page.getByTestId('nav-servers').click();
  await expect(page).toHaveURL(/\/servers$/);
  await expect(page.locator('[data-testid="server-row"][data-name="prod"]')).toBeVisible();
});
