// Live progress pushed from the server (GET /api/events) in Chromium against
// the built binary and a throwaway PostgreSQL server: a backup's progress
// bar moves and the row turns verified without a reload; a backup held up
// by a lock is cancelled from its row, recorded as cancelled by the signed-in
// user, and leaves no file in the local destination.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { test, expect, hydrated } from './support';
import { addServer, runSql, startPostgres, type Postgres } from './postgres';

let pg: Postgres;

test.beforeAll(async () => {
  test.setTimeout(300_000);
  pg = await startPostgres();
  // `big`: a few hundred MB of poorly compressible rows, so its dump takes
  // several seconds. `slow`: a small table that a lock will hold up.
  runSql(pg, 'postgres', 'CREATE DATABASE big');
  runSql(
    pg,
    'big',
    `CREATE TABLE filler AS
       SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) AS a,
              md5((g * 17)::text) || md5((g * 19)::text) || md5((g * 23)::text) AS b
         FROM generate_series(1, 1500000) AS g`,
  );
  runSql(pg, 'postgres', 'CREATE DATABASE slow');
  runSql(pg, 'slow', 'CREATE TABLE big AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 10000) AS g');
});

test.afterAll(async () => {
  await pg?.stop();
});

/** Adds the server and opens the backups page of `database`. */
async function openDatabase(page: Page, database: string): Promise<void> {
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, 'local');
  const row = page.locator('[data-testid="server-row"][data-name="local"]');
  await expect(row).toBeVisible();
  await row.getByTestId('server-link').click();
  await hydrated(page);
  const db = page.locator(`[data-testid="database-row"][data-name="${database}"]`);
  await expect(db).toBeVisible();
  await db.getByTestId('database-backups').click();
  await expect(page).toHaveURL(new RegExp(`/databases/${database}$`));
  await hydrated(page);
  // Mark this document: a reload would lose the mark.
  await page.evaluate(() => ((window as unknown as { __pgshelfMark: number }).__pgshelfMark = 42));
}

async function notReloaded(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __pgshelfMark?: number }).__pgshelfMark)).toBe(42);
}

/** Every file under `dir` (none when it does not exist). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((p) => path.join(dir, p))
    .filter((p) => statSync(p).isFile());
}

test('a backup\'s progress bar moves, then the row turns verified without a reload', async ({ page }) => {
  test.setTimeout(300_000);
  await openDatabase(page, 'big');
  await page.getByTestId('backup-now').first().click();

  const run = page.locator('tbody.backup').first();
  const row = run.getByTestId('backup-row');
  await expect(row).toBeVisible();
  const bar = run.getByTestId('progress');
  await expect(bar).toBeVisible({ timeout: 30_000 });
  const meter = bar.getByRole('progressbar');
  await expect(meter).toHaveAttribute('aria-valuemin', '0');
  await expect(meter).toHaveAttribute('aria-valuemax', '100');
  await expect(meter).toHaveAttribute('aria-label', /Backup #\d+ progress/);

  // Bytes read, as the bar shows them, until the run ends.
  const seen: number[] = [];
  const deadline = Date.now() + 240_000;
  let figures = '';
  while (Date.now() < deadline) {
    const status = await row.getAttribute('data-status');
    if (status !== 'running' && status !== 'queued') break;
    const raw = await bar.getAttribute('data-raw', { timeout: 1_000 }).catch(() => null);
    if (raw !== null && Number(raw) > 0 && Number(raw) !== seen[seen.length - 1]) {
      seen.push(Number(raw));
      figures = await bar.getByTestId('progress-figures').innerText().catch(() => figures);
    }
    await page.waitForTimeout(150);
  }
  expect(seen.length, `bytes read as the bar showed them: ${seen.join(', ')}`).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
  expect(figures).toMatch(/read · .* stored · .*\/s · .* elapsed · time left unknown/);

  // The end arrives as a notice: verified, bar gone, no reload.
  await expect(row).toHaveAttribute('data-status', 'verified', { timeout: 120_000 });
  await expect(bar).toHaveCount(0);
  await expect(page.getByTestId('live-down')).toHaveCount(0);
  await notReloaded(page);
});

test('a backup held up by a lock is cancelled and leaves no artifact', async ({ page, pgshelf }) => {
  test.setTimeout(180_000);
  // A separate session holds the table: pgshelf's lock (and so pg_dump) waits.
  const holder: ChildProcess = spawn(
    pg.psql,
    ['-X', '-q', '-At', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', 'slow'],
    { env: { ...process.env, PGPASSWORD: pg.password }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  try {
    const locked = new Promise<void>((resolve, reject) => {
      let out = '';
      holder.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('locked')) resolve();
      });
      holder.on('exit', (code) => reject(new Error(`psql exited (${code})`)));
    });
    holder.stdin?.write("BEGIN;\nLOCK TABLE big IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n");
    await locked;

    await openDatabase(page, 'slow');
    await page.getByTestId('backup-now').first().click();
    const run = page.locator('tbody.backup').first();
    const row = run.getByTestId('backup-row');
    // Started (a notice, no reload) and waiting for the lock.
    await expect(row).toHaveAttribute('data-status', 'running', { timeout: 30_000 });
    await expect
      .poll(() => Number(runSql(pg, 'slow', 'SELECT count(*) FROM pg_locks WHERE NOT granted')), { timeout: 30_000 })
      .toBeGreaterThan(0);
    const bar = run.getByTestId('progress');
    await expect(bar).toHaveAttribute('data-phase', 'starting');
    await expect(bar.getByRole('progressbar')).toHaveAttribute('aria-valuetext', /Starting/);

    await run.getByTestId('backup-cancel').click();
    await expect(row).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
    await expect(run.getByTestId('backup-cause')).toContainText('cancelled by admin');
    await expect(bar).toHaveCount(0);
    await notReloaded(page);

    // Nothing of it in the local destination.
    const backups = path.join(pgshelf.dataDir, 'backups');
    expect(filesUnder(backups)).toEqual([]);
    // And the lock waiter is gone from the server.
    await expect
      .poll(() => Number(runSql(pg, 'slow', 'SELECT count(*) FROM pg_locks WHERE NOT granted')), { timeout: 30_000 })
      .toBe(0);
  } finally {
    holder.stdin?.end('ROLLBACK;\n');
    await new Promise<void>((r) => {
      if (holder.exitCode !== null) return r();
      const t = setTimeout(() => {
        holder.kill('SIGKILL');
        r();
      }, 5_000);
      holder.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
});
