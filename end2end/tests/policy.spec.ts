// Policies from the browser, against the built binary and a throwaway
// PostgreSQL server: give the `shop` database an hourly policy keeping
// 24 hourly / 7 daily / 4 weekly / 12 monthly backups, see the next runs and
// what the retention would keep before saving, save it, and see the schedule
// on the server page; then back up the server's globals now.
import { test, expect, hydrated } from './support';
import { addServer, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
});

test.afterAll(async () => {
  await pg?.stop();
});

test('hourly policy with tiers: preview, save, schedule row; globals now', async ({ page }) => {
  await page.goto('/servers');
  await hydrated(page);
  await addServer(page, pg, 'local');

  const row = page.locator('[data-testid="server-row"][data-name="local"]');
  await row.getByTestId('server-link').click();
  await expect(page).toHaveURL(/\/servers\/\d+$/);
  const serverUrl = page.url();
  await hydrated(page);

  // A backup to keep, so the preview has something to judge.
  const shop = page.locator('[data-testid="database-row"][data-name="shop"]');
  await expect(shop).toBeVisible();
  await shop.getByTestId('backup-now').click();
  const backup = page.getByTestId('backup-row').first();
  await expect(backup).toHaveAttribute('data-status', 'verified', { timeout: 60_000 });

  await page.goto(`${serverUrl}/databases/shop/policy`);
  await hydrated(page);
  await expect(page.getByTestId('policy-source')).toContainText('inherited from server default');

  const hourly = page.getByTestId('policy-preset').filter({ hasText: 'Hourly' });
  const expr = await hourly.getAttribute('data-expr');
  expect(expr).toBeTruthy();
  await hourly.click();
  await expect(page.getByTestId('policy-schedule')).toHaveValue(expr!);
  await page.getByTestId('policy-timezone').fill('Europe/Berlin');
  for (const [tier, n] of [
    ['hourly', '24'],
    ['daily', '7'],
    ['weekly', '4'],
    ['monthly', '12'],
    ['yearly', '0'],
  ]) {
    await page.getByTestId(`policy-keep-${tier}`).fill(n);
  }
  // Compression offers only what this server's pg_dump can do (pg_dump's
  // own zstd and lz4 need 16+).
  const methods = await page.getByTestId('policy-compression').locator('option').evaluateAll((os) =>
    os.map((o) => (o as HTMLOptionElement).value),
  );
  expect(methods).toContain('pgshelf');
  expect(methods).toContain('none');
  if (pg.major < 16) expect(methods).not.toContain('zstd');
  await page.getByTestId('policy-preview-button').click();

  const preview = page.getByTestId('policy-preview');
  await expect(preview.getByTestId('policy-describe')).toContainText('hour');
  await expect(preview.getByTestId('policy-describe')).toContainText('Europe/Berlin');
  await expect(preview.getByTestId('policy-next-run')).toHaveCount(5);
  await expect(preview.getByTestId('policy-next-run').first()).toContainText('UTC');
  await expect(preview.getByTestId('policy-next-run').first()).toContainText(/CES?T/);
  // The backup just taken is kept, holding the finest tiers.
  const kept = preview.getByTestId('policy-keep-row').first();
  await expect(kept).toBeVisible();
  await expect(kept.getByTestId('tier-badge').first()).toHaveText('hourly');
  await expect(preview.getByTestId('policy-prune-row')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/policy-editor.png', fullPage: true });

  await page.getByTestId('policy-save').click();
  await expect(page.getByTestId('policy-saved')).toBeVisible();
  await expect(page.getByTestId('policy-source')).toContainText('override');
  await expect(page.getByTestId('policy-use-default')).toBeVisible();

  // A bad field names the field and the fix; nothing is saved.
  await page.getByTestId('policy-keep-hourly').fill('100000');
  await page.getByTestId('policy-save').click();
  await expect(page.getByTestId('form-error').first()).toContainText('retention');
  await expect(page.getByTestId('form-error').first()).toContainText('hourly');

  await page.goto(serverUrl);
  await hydrated(page);
  const schedule = page.locator('[data-testid="schedule-row"][data-database="shop"]');
  await expect(schedule).toContainText('hour');
  await expect(schedule).toContainText('override');
  await expect(schedule.getByTestId('schedule-next')).toContainText('UTC');
  const globalsSchedule = page.locator('[data-testid="schedule-row"][data-database=""]');
  await expect(globalsSchedule).toContainText('every day');
  await expect(page.getByTestId('plan-form')).toBeVisible();

  await page.getByTestId('globals-now').click();
  const globals = page.getByTestId('globals-row').first();
  await expect(globals).toBeVisible();
  await expect(globals).toHaveAttribute('data-status', 'verified', { timeout: 60_000 });
  // Only globals are listed there.
  await expect(page.getByTestId('globals-row')).toHaveCount(1);
  await expect(globalsSchedule.getByTestId('backup-status').first()).toHaveText('verified', { timeout: 10_000 });
  await page.screenshot({ path: 'test-results/server-page.png', fullPage: true });
});
