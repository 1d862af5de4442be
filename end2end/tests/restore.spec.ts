// Proof and recovery in the browser: back up, open the backup, search and
// pick a table whose name needs quoting, restore it into scratch, see its
// rows and counts, drop the scratch database; then test-restore the
// database and see it pass and the database marked as proven.
import { test, expect, hydrated } from './support';
import { addServer, runSql, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
});

test.afterAll(async () => {
  await pg?.stop();
});

test('one table into scratch with a click, then test-restore the database', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/servers');
  await hydrated(page);
  await addServer(page, pg, 'prod');
  const row = page.locator('[data-testid="server-row"][data-name="prod"]');
  await row.getByTestId('server-link').click();
  await hydrated(page);
  await page.locator('[data-testid="database-row"][data-name="shop"]').getByTestId('database-backups').click();
  await hydrated(page);

  // Never proven yet.
  await expect(page.getByTestId('last-proven')).toContainText('Never proven');

  await page.getByTestId('backup-now').first().click();
  const backup = page.getByTestId('backup-row').first();
  await expect(backup).toHaveAttribute('data-status', /^(verified|suspect)$/, { timeout: 60_000 });

  // The backup's page: its stored table of contents, searchable.
  await backup.getByTestId('backup-link').click();
  await expect(page).toHaveURL(/\/backups\/\d+$/);
  await hydrated(page);
  await expect(page.getByTestId('backup-recipe')).toContainText('pg_restore');
  await page.getByTestId('table-search').fill('order lines');
  const tables = page.getByTestId('toc-table');
  await expect(tables).toHaveCount(1);
  const table = page.locator('[data-testid="toc-table"][data-table="\\"Sales Dept\\".\\"Order Lines\\""]');
  await expect(table.getByTestId('toc-rows')).toHaveText('42');
  await table.locator('input[type="checkbox"]').check();

  const started = Date.now();
  await page.getByTestId('restore-tables').click();
  const result = page.getByTestId('restore-result');
  await expect(result).toBeVisible({ timeout: 60_000 });
  const took = Date.now() - started;
  console.log(`table restore: result shown ${took} ms after the click`);

  const scratch = (await page.getByTestId('scratch-name').innerText()).trim();
  expect(scratch).toMatch(/^scratch_shop_\d{8}_\d{4}/);
  await expect(page.getByTestId('scratch-connection')).not.toContainText(pg.password);
  // The custom archive was read by range: the header, the TOC and one block.
  await expect(page.getByTestId('restore-bytes-read')).toHaveText(/^[0-9.]+ (B|KiB)$/);
  const restored = page.getByTestId('restored-table');
  await expect(restored).toHaveCount(1);
  await expect(restored.getByTestId('rows-restored')).toHaveText('42');
  await expect(restored.getByTestId('rows-recorded')).toHaveText('42');
  await expect(restored.getByTestId('sample-row')).toHaveCount(20);
  await expect(restored.getByTestId('sample-rows')).toContainText('line 1');

  // Production moves on: one row deleted, one changed. Compare shows
  // exactly those, and putting them back (admin, name typed) restores them.
  runSql(pg, 'shop', `DELETE FROM "Sales Dept"."Order Lines" WHERE id = 3; UPDATE "Sales Dept"."Order Lines" SET label = 'oops' WHERE id = 5; INSERT INTO "Sales Dept"."Order Lines" VALUES (100, 1, 'new')`);
  await restored.getByTestId('compare-link').click();
  await expect(page).toHaveURL(/\/compare\?table=/);
  await hydrated(page);
  await expect(page.getByTestId('diff-deleted-count')).toHaveText('1');
  await expect(page.getByTestId('diff-changed-count')).toHaveText('1');
  await expect(page.getByTestId('diff-added-count')).toHaveText('1');
  await expect(page.getByTestId('diff-changed')).toContainText('line 5');
  const script = await page.request.get((await page.getByTestId('put-back-script').getAttribute('href'))!);
  expect(script.status()).toBe(200);
  const sql = await script.text();
  expect(sql).toContain('ON CONFLICT');
  expect(sql).toContain('COMMIT;');
  await page.getByTestId('put-back-apply').click();
  await page.getByTestId('put-back-confirm').fill('"Sales Dept"."Order Lines"');
  await page.getByTestId('put-back-confirm-button').click();
  await expect(page.getByTestId('put-back-applied')).toContainText('1 rows inserted, 1 updated');
  expect(runSql(pg, 'shop', `SELECT label FROM "Sales Dept"."Order Lines" WHERE id IN (3, 5) ORDER BY id`)).toBe('line 3\nline 5');
  expect(runSql(pg, 'shop', `SELECT count(*) FROM "Sales Dept"."Order Lines"`)).toBe('43');

  // The scratch list knows it; drop it from there.
  await page.getByTestId('nav-scratch').click();
  await hydrated(page);
  const listed = page.locator(`[data-testid="scratch-row"][data-name="${scratch}"]`);
  await expect(listed).toBeVisible();
  // The restore is on record: who, from which backup, into what.
  await expect(page.locator('[data-testid="restore-run"][data-status="succeeded"]').first()).toContainText(scratch);
  await listed.getByTestId('scratch-drop').click();
  await listed.getByTestId('scratch-drop-confirm').click();
  await expect(page.locator(`[data-testid="scratch-row"][data-name="${scratch}"]`)).toHaveCount(0);

  // Test-restore now, from the database page.
  await page.goto('/servers');
  await hydrated(page);
  await page.locator('[data-testid="server-row"][data-name="prod"]').getByTestId('server-link').click();
  await hydrated(page);
  await page.locator('[data-testid="database-row"][data-name="shop"]').getByTestId('database-backups').click();
  await hydrated(page);
  await page.getByTestId('database-proof').getByTestId('test-restore-now').click();
  await expect(page.locator('[data-testid="database-proof"] [data-testid="test-restore-result"]')).toHaveAttribute('data-status', 'passed', { timeout: 120_000 });
  await expect(page.getByTestId('last-proven')).toContainText('Last proven by a real restore');
  await expect(page.getByTestId('test-restore-status').first()).toHaveText('passed');
  expect(await page.content()).not.toContain(pg.password);
});
