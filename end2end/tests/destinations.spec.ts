// Destinations from the browser, against the built binary, a throwaway
// PostgreSQL server and real S3 and WebDAV servers on loopback: add an S3
// bucket and a WebDAV folder, test both (every step ok), make the database's
// policy write to both, encrypted to an age key, back up now, see two
// complete copies on the backup page, and restore a table from it with the
// identity pasted. No secret typed reaches the page or pgshelf's log.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test, expect, hydrated, typedSecrets } from './support';
import { addServer, startPostgres, type Postgres } from './postgres';
import { addS3Destination, addWebDavDestination, startStorage, type Storage } from './storage';

let pg: Postgres;
let storage: Storage;

test.beforeAll(async () => {
  pg = await startPostgres();
  storage = await startStorage();
});

test.afterAll(async () => {
  await storage?.stop();
  await pg?.stop();
});

test('an S3 bucket and a WebDAV folder: tested, named by a policy, two complete copies', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/servers');
  await hydrated(page);
  await addServer(page, pg, 'db');
  const serverRow = page.locator('[data-testid="server-row"][data-name="db"]');
  await expect(serverRow).toBeVisible();

  // Destinations: the built-in local one is listed first.
  await page.getByTestId('nav-destinations').click();
  await expect(page).toHaveURL(/\/destinations$/);
  await hydrated(page);
  await expect(page.getByTestId('dest-row').first()).toHaveAttribute('data-name', 'local');

  await addS3Destination(page, storage, 'offsite-s3');
  const s3 = page.locator('[data-testid="dest-row"][data-name="offsite-s3"]');
  await expect(s3).toBeVisible();
  await expect(s3.getByTestId('dest-describe')).toContainText(`s3://${storage.s3.bucket}/pgshelf/e2e`);

  await addWebDavDestination(page, storage, 'nextcloud');
  const dav = page.locator('[data-testid="dest-row"][data-name="nextcloud"]');
  await expect(dav).toBeVisible();
  await expect(dav.getByTestId('dest-describe')).toContainText('/remote.php/dav/files/alice');

  // A bad field is named beside it, before anything is sent.
  const form = page.getByTestId('dest-add').getByTestId('destination-form');
  await form.getByTestId('dest-kind').selectOption('webdav');
  await form.getByTestId('dest-name').fill('broken');
  await form.getByTestId('dest-dav-url').fill('cloud.example.com/remote.php');
  await form.getByTestId('dest-submit').click();
  await expect(form.getByTestId('form-error').first()).toContainText('url: ');
  await expect(form.getByTestId('form-error').first()).toContainText('Fix:');

  // Test both: write, read back, list, delete, each ok with its time.
  for (const row of [s3, dav]) {
    await row.getByTestId('dest-test').click();
    const tbody = row.locator('xpath=..');
    const result = tbody.getByTestId('probe-result');
    await expect(result).toHaveAttribute('data-ok', 'true', { timeout: 30_000 });
    const steps = result.getByTestId('probe-step');
    await expect(steps).toHaveCount(4);
    for (let i = 0; i < 4; i++) {
      await expect(steps.nth(i)).toHaveAttribute('data-ok', 'true');
      await expect(steps.nth(i)).toContainText(' ms');
    }
  }
  // Stored secrets never reach the browser.
  for (const secret of [storage.s3.secret_access_key, storage.webdav.password]) {
    expect(await page.content()).not.toContain(secret);
  }
  await page.reload();
  await hydrated(page);
  await expect(s3.getByTestId('dest-last-test')).toHaveAttribute('data-ok', 'true');
  await expect(dav.getByTestId('dest-last-test')).toHaveAttribute('data-ok', 'true');

  // The database's policy writes to both.
  await page.goto('/servers');
  await hydrated(page);
  await serverRow.getByTestId('server-link').click();
  await expect(page).toHaveURL(/\/servers\/\d+$/);
  const serverUrl = page.url();
  await page.goto(`${serverUrl}/databases/shop/policy`);
  await hydrated(page);
  const checks = page.getByTestId('policy-destinations');
  await checks.locator('[data-testid="destination-check"][data-name="offsite-s3"] input').check();
  await checks.locator('[data-testid="destination-check"][data-name="nextcloud"] input').check();
  const summary = page.getByTestId('policy-storage-summary');
  await expect(summary).toHaveAttribute('data-copies', '2');
  await expect(summary).toContainText('offsite-s3');
  await expect(summary).toContainText('nextcloud');
  await expect(summary).toHaveAttribute('data-encrypted', 'false');

  // A recipient that is not an age public key is named before saving.
  await page.getByTestId('policy-recipients').fill('age1notakey');
  await page.getByTestId('policy-save').click();
  await expect(page.getByTestId('form-error').first()).toContainText('encryption.recipients: line 1');
  // A real key pair (Debian's age-keygen): backups are encrypted to its
  // public key; the identity is pasted only at restore time.
  const keyDir = mkdtempSync(path.join(tmpdir(), 'pgshelf-e2e-age-'));
  execFileSync('age-keygen', ['-o', path.join(keyDir, 'key.txt')], { stdio: 'ignore' });
  const identity = readFileSync(path.join(keyDir, 'key.txt'), 'utf8');
  rmSync(keyDir, { recursive: true, force: true });
  const recipient = identity.match(/public key: (age1[a-z0-9]+)/)![1];
  typedSecrets.push(identity.match(/AGE-SECRET-KEY-1[A-Z0-9]+/)![0]);
  await page.getByTestId('policy-recipients').fill(recipient);
  await expect(summary).toHaveAttribute('data-encrypted', 'true');

  await page.getByTestId('policy-save').click();
  await expect(page.getByTestId('policy-saved')).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(
    page.locator('[data-testid="destination-check"][data-name="nextcloud"] input'),
    'a saved policy keeps its destinations',
  ).toBeChecked();

  // Back up now: one copy on each destination, both complete.
  await page.goto(`${serverUrl}/databases/shop`);
  await hydrated(page);
  await page.getByTestId('backup-now').first().click();
  const backup = page.getByTestId('backup-row').first();
  await expect(backup).toHaveAttribute('data-status', /^(verified|succeeded)$/, { timeout: 120_000 });
  await backup.getByTestId('backup-link').click();
  await expect(page).toHaveURL(/\/backups\/\d+$/);
  await hydrated(page);
  const copies = page.getByTestId('copy-row');
  await expect(copies).toHaveCount(2);
  for (const name of ['offsite-s3', 'nextcloud']) {
    const copy = page.locator(`[data-testid="copy-row"][data-destination="${name}"]`);
    await expect(copy).toHaveAttribute('data-status', 'complete');
    expect(parseFloat(await copy.getByTestId('copy-size').innerText())).toBeGreaterThan(0);
  }

  // The encrypted backup restores one table into scratch, read from the
  // first copy (the S3 bucket), with the identity pasted for this restore.
  await page.getByTestId('table-search').fill('order lines');
  await page.locator('[data-testid="toc-table"][data-table="\\"Sales Dept\\".\\"Order Lines\\""] input[type="checkbox"]').check();
  await page.getByTestId('restore-identity').fill(identity);
  await page.getByTestId('restore-tables').click();
  await expect(page.getByTestId('restore-result')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('restored-table').getByTestId('rows-restored')).toHaveText('42');
});
