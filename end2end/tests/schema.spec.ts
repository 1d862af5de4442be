// Schema changes between backups, in the browser: back up, change the
// schema behind pgshelf's back (a column added, an index), back up again,
// and read on the second backup's page what changed since the first.
import { test, expect, hydrated } from './support';
import { addServer, runSql, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
});

test.afterAll(async () => {
  await pg?.stop();
});

test('the second backup says which column was added since the first', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, 'schemas');
  await page.locator('[data-testid="server-row"][data-name="schemas"]').getByTestId('server-link').click();
  await hydrated(page);
  await page.locator('[data-testid="database-row"][data-name="shop"]').getByTestId('database-backups').click();
  await hydrated(page);

  const done = /^(verified|suspect)$/;
  await page.getByTestId('backup-now').first().click();
  await expect(page.getByTestId('backup-row')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('backup-row').first()).toHaveAttribute('data-status', done, { timeout: 60_000 });

  // Second backup: two tables added.
  runSql(pg, 'shop', 'CREATE TABLE public.schema_probe (id integer, note text); CREATE TABLE public.before_probe (id integer)');
  await page.getByTestId('backup-now').first().click();
  await expect(page.getByTestId('backup-row')).toHaveCount(2, { timeout: 60_000 });
  await expect(page.getByTestId('backup-row').first()).toHaveAttribute('data-status', done, { timeout: 60_000 });
  // Third backup: a column added to a table both hold, and an index.
  runSql(pg, 'shop', 'ALTER TABLE public.before_probe ADD COLUMN added_at date; CREATE INDEX before_probe_at ON public.before_probe (added_at)');
  await page.getByTestId('backup-now').first().click();
  await expect(page.getByTestId('backup-row')).toHaveCount(3, { timeout: 60_000 });
  const newest = page.getByTestId('backup-row').first();
  await expect(newest).toHaveAttribute('data-status', done, { timeout: 60_000 });

  await newest.getByTestId('backup-link').click();
  await expect(page).toHaveURL(/\/backups\/\d+$/);
  await hydrated(page);
  const panel = page.getByTestId('schema-changes');
  await expect(panel).toContainText('Schema changes since #');
  await expect(panel.getByTestId('schema-summary')).toHaveText('1 added · 0 dropped · 1 changed');
  await expect(panel.getByTestId('schema-added').getByTestId('schema-object')).toHaveText(['public.before_probe_at']);
  const changed = panel.getByTestId('schema-changed');
  await expect(changed.getByTestId('schema-object')).toHaveText(['public.before_probe']);
  await expect(changed.getByTestId('schema-column')).toHaveText(['column added: added_at date']);
  // Old and new definitions sit in a closed <details> until asked for.
  const details = changed.locator('details').first();
  await expect(details.locator('pre').first()).toBeHidden();
  await details.locator('summary').click();
  await expect(details.locator('pre').last()).toContainText('added_at date');

  // The previous backup: its own changes, and "since" links back further.
  await panel.getByTestId('schema-against').click();
  await expect(page).toHaveURL(/\/backups\/\d+#schema-changes$/);
  await hydrated(page);
  const second = page.getByTestId('schema-changes');
  await expect(second.getByTestId('schema-summary')).toHaveText('2 added · 0 dropped · 0 changed');
  await second.getByTestId('schema-against').click();
  await hydrated(page);
  await expect(page.getByTestId('schema-first')).toBeVisible();
});
