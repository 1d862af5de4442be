// The database page's history in Chromium against the built binary and a
// throwaway PostgreSQL server: three backups of a growing table, then the
// size chart's hover read-out checked against the catalog's own figures
// (the JSON the app serves its backups table from), the keyboard read-out,
// the range selector (kept in the URL across a reload), and the per-table
// chart naming the table that grew.
import { test, expect, hydrated } from './support';
import { addServer, runSql, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  pg = await startPostgres();
  runSql(pg, 'shop', 'DROP TABLE IF EXISTS public.growing; CREATE TABLE public.growing (id bigint, body text)');
});

test.afterAll(async () => {
  await pg?.stop();
});

/** `12893184` as `12,893,184`, as the read-out writes it. */
const grouped = (n: number) => n.toLocaleString('en-US');

interface CatalogBackup {
  id: number;
  status: string;
  stored_bytes: number;
  raw_bytes: number;
}

test('a database page charts its backups with the catalog\'s figures', async ({ page, baseURL }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, 'charts');
  const row = page.locator('[data-testid="server-row"][data-name="charts"]');
  await row.getByTestId('server-link').click();
  await hydrated(page);
  await page.locator('[data-testid="database-row"][data-name="shop"]').getByTestId('database-backups').click();
  await expect(page).toHaveURL(/\/servers\/\d+\/databases\/shop$/);
  await hydrated(page);
  const serverId = Number(/\/servers\/(\d+)\//.exec(page.url())![1]);
  const dbUrl = `/servers/${serverId}/databases/shop`;

  // No backups yet: the charts say so plainly.
  await expect(page.getByTestId('size-chart-empty')).toHaveText('No backups in this range.');
  await expect(page.getByTestId('failure-log-empty')).toBeVisible();

  // Three backups, the table growing between them.
  for (const [i, rows] of [20_000, 60_000, 120_000].entries()) {
    runSql(
      pg,
      'shop',
      `INSERT INTO public.growing SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${rows}) g`,
    );
    await page.getByTestId('backup-now').first().click();
    // The new run's row, not the previous (already verified) one.
    await expect(page.getByTestId('backup-row')).toHaveCount(i + 1, { timeout: 30_000 });
    const newest = page.getByTestId('backup-row').first();
    await expect(newest).toHaveAttribute('data-status', /verified|suspect/, { timeout: 90_000 });
    // The chart takes in each finished run without a reload.
    await expect(page.getByTestId('size-chart').getByTestId('size-chart-col')).toHaveCount(i + 1);
  }
  await page.goto(dbUrl);
  await hydrated(page);

  // The catalog's figures, from the JSON the app itself serves.
  const res = await page.request.post(`${baseURL}/api/backups/list`, {
    form: { server_id: String(serverId), database: 'shop', limit: '50' },
    headers: { Origin: baseURL! },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
  const listed = ((await res.json()) as { backups: { backup: CatalogBackup }[] }).backups
    .map((b) => b.backup)
    .filter((b) => ['verified', 'suspect', 'succeeded'].includes(b.status))
    .reverse(); // oldest first, as the chart draws them
  expect(listed).toHaveLength(3);
  expect(listed[2].stored_bytes).toBeGreaterThan(listed[0].stored_bytes);

  const chart = page.getByTestId('size-chart');
  await expect(chart).toBeVisible();
  const cols = chart.getByTestId('size-chart-col');
  await expect(cols).toHaveCount(3);
  await expect(chart.locator('circle.chart-point')).toHaveCount(3);
  // Axes carry units.
  await expect(chart.locator('text.chart-label').first()).toHaveText(/\d (B|KiB|MiB|GiB)$/);

  const readout = page.getByTestId('size-chart-readout');
  for (const i of [0, 2, 1]) {
    await cols.nth(i).hover();
    const value = readout.locator('.chart-readout-value');
    await expect(value).toHaveAttribute('data-bytes', String(listed[i].stored_bytes));
    await expect(value).toContainText(`(${grouped(listed[i].stored_bytes)} bytes)`);
    await expect(readout.locator('[data-backup]')).toHaveAttribute('data-backup', String(listed[i].id));
    await expect(readout.getByTestId('size-chart-backup-link')).toHaveAttribute('href', `/backups/${listed[i].id}`);
    // The time in the viewer's zone, UTC on hover.
    await expect(readout.locator('time')).toHaveAttribute('title', / UTC$/);
  }
  // Each column reads without JavaScript too.
  await expect(cols.nth(0).locator('title')).toContainText(`${grouped(listed[0].stored_bytes)} bytes`);

  // Keyboard: focus the newest backup, step back with the arrow key.
  await page.mouse.move(0, 0);
  await cols.nth(2).focus();
  await expect(readout.locator('.chart-readout-value')).toHaveAttribute('data-bytes', String(listed[2].stored_bytes));
  await page.keyboard.press('ArrowLeft');
  await expect(readout.locator('.chart-readout-value')).toHaveAttribute('data-bytes', String(listed[1].stored_bytes));
  await expect(cols.nth(1)).toBeFocused();

  // The per-table chart names the growing table, first and as the one that grew.
  const tables = page.getByTestId('table-growth');
  await expect(tables.getByTestId('table-chart-legend-item').first()).toContainText('public.growing');
  await expect(tables.getByTestId('grew-most')).toContainText('public.growing');
  await tables.getByTestId('table-chart-col').nth(2).hover();
  await expect(
    page.getByTestId('table-chart-readout').locator('.chart-readout-value[data-series="public.growing"]'),
  ).toContainText('200,000 rows');

  // The range: 30 days by default; 7 days from the selector, in the URL, kept on reload.
  const selector = page.getByTestId('range-selector');
  await expect(selector.locator('[aria-current="page"]')).toHaveAttribute('data-range', '30d');
  await selector.locator('[data-range="7d"]').click();
  await expect(page).toHaveURL(/\?range=7d$/);
  await expect(page.getByTestId('size-trend')).toHaveAttribute('data-range', '7d');
  await expect(selector.locator('[aria-current="page"]')).toHaveAttribute('data-range', '7d');
  await expect(cols).toHaveCount(3);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('size-trend')).toHaveAttribute('data-range', '7d');
  await selector.locator('[data-range="all"]').click();
  await expect(page).toHaveURL(/\?range=all$/);
  await expect(page.getByTestId('size-trend')).toHaveAttribute('data-range', 'all');
  await expect(page.getByTestId('size-summary')).toContainText('3 good backups in this range');

  // A phone's width: the chart fits the screen, its text stays readable.
  await page.setViewportSize({ width: 390, height: 800 });
  await expect(chart).toBeVisible();
  const box = (await chart.locator('svg').boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  const viewBox = await chart.locator('svg').getAttribute('viewBox');
  expect(Number(viewBox!.split(' ')[2])).toBeLessThan(390);
});
