// The first real flow, in Debian's Chromium against the built binary and a
// throwaway PostgreSQL server: add a server, test it, back up a database
// from the browser, and watch the backup appear and succeed without a reload.
import { test, expect, hydrated } from './support';
import { addServer, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
});

test.afterAll(async () => {
  await pg?.stop();
});

test('add a server, back up a database, see it succeed without reloading', async ({ page }) => {
  await page.goto('/servers');
  await hydrated(page);
  await addServer(page, pg, 'local');

  const row = page.locator('[data-testid="server-row"][data-name="local"]');
  await expect(row).toBeVisible();
  // The password never reaches the browser.
  expect(await page.content()).not.toContain(pg.password);

  await row.getByTestId('test-connection').click();
  await expect(page.getByTestId('connection-result').first()).toContainText(`PostgreSQL ${pg.major}`);

  await row.getByTestId('server-link').click();
  await hydrated(page);
  const db = page.locator('[data-testid="database-row"][data-name="shop"]');
  await expect(db).toBeVisible();
  await db.getByTestId('database-backups').click();
  await expect(page).toHaveURL(/\/databases\/shop$/);
  await hydrated(page);

  // Mark this document: a reload would lose the mark.
  await page.evaluate(() => ((window as unknown as { __pgshelfMark: number }).__pgshelfMark = 42));
  await page.getByTestId('backup-now').first().click();

  const backup = page.getByTestId('backup-row').first();
  await expect(backup).toBeVisible();
  await expect(backup).toHaveAttribute('data-status', 'verified', { timeout: 60_000 });
  const size = (await backup.getByTestId('backup-size').innerText()).trim();
  expect(size).toMatch(/^[0-9.]+ (B|KiB|MiB|GiB)/);
  expect(parseFloat(size)).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as unknown as { __pgshelfMark?: number }).__pgshelfMark)).toBe(42);
});

test('a wrong password shows the cause and the fix', async ({ page }) => {
  await page.goto('/servers');
  await hydrated(page);
  await addServer(page, pg, 'wrongpw', 'not-the-password');
  const row = page.locator('[data-testid="server-row"][data-name="wrongpw"]');
  await row.getByTestId('test-connection').click();
  const result = page.getByTestId('connection-result').first();
  await expect(result).toContainText('password authentication failed');
  await expect(result).toContainText('Fix:');
  expect(await page.content()).not.toContain('not-the-password');
});
