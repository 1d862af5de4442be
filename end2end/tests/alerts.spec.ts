// Alerts from the browser against the built binary: a generic webhook
// channel pointed at a real HTTP receiver on loopback (started here), its
// test message signed correctly (checked with node's own HMAC-SHA256 over
// the raw body) and shown as sent; a second channel at a closed port shows
// the failure with its cause. Every bad field of the form is named at once,
// the secret never reaches the page, and the page fits a 390 px phone.
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect, hydrated, typedSecrets, freePort } from './support';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

let receiver: http.Server;
let receiverPort: number;
const received: Received[] = [];

test.beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('thanks');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverPort = (receiver.address() as AddressInfo).port;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

const SECRET = 'e2e-webhook-signing-secret-0123456789';

test('a signed webhook receives its test message; a closed port shows the failure', async ({ page }) => {
  test.setTimeout(120_000);
  typedSecrets.push(SECRET);
  await page.goto('/');
  await hydrated(page);
  await page.getByTestId('nav-alerts').click();
  await expect(page).toHaveURL(/\/alerts$/);
  await hydrated(page);
  await expect(page.getByTestId('alert-channels-empty')).toBeVisible();

  const form = page.getByTestId('alert-add').getByTestId('channel-form');
  // Every bad field at once, each beside its field, before anything is sent.
  await form.getByTestId('alert-name').fill('two words');
  await form.getByTestId('alert-url').fill('hooks.example/pgshelf');
  await form.getByTestId('alert-secret').fill('short');
  await form.getByTestId('alert-submit').click();
  const errors = form.getByTestId('form-error');
  await expect(errors).toHaveCount(3);
  for (const field of ['name: ', 'url: ', 'secret: ']) {
    await expect(errors.filter({ hasText: field })).toHaveCount(1);
  }
  await expect(errors.first()).toContainText('Fix:');
  expect(received).toHaveLength(0);

  // The generic webhook, signed.
  await form.getByTestId('alert-kind').selectOption('webhook');
  await form.getByTestId('alert-name').fill('hook');
  await form.getByTestId('alert-url').fill(`http://127.0.0.1:${receiverPort}/pgshelf`);
  await form.getByTestId('alert-secret').fill(SECRET);
  await form.getByTestId('alert-submit').click();
  await expect(page.getByTestId('alert-added')).toContainText('hook');
  const hook = page.locator('[data-testid="alert-channel-row"][data-name="hook"]');
  await expect(hook).toBeVisible();
  await expect(hook.getByTestId('alert-describe')).toContainText(`127.0.0.1:${receiverPort}/pgshelf`);
  await expect(hook.getByTestId('alert-events')).toContainText('all events');
  await expect(hook.getByTestId('alert-last-delivery')).toHaveAttribute('data-status', '');

  await hook.getByTestId('alert-test').click();
  const result = page.locator('tbody.channel', { has: hook }).getByTestId('alert-test-result');
  await expect(result).toHaveAttribute('data-status', 'sent', { timeout: 30_000 });
  await expect(result).toContainText('HTTP 200');

  expect(received).toHaveLength(1);
  const got = received[0];
  expect(got.method).toBe('POST');
  expect(got.url).toBe('/pgshelf');
  expect(got.headers['content-type']).toBe('application/json');
  const want = 'sha256=' + createHmac('sha256', SECRET).update(got.body).digest('hex');
  expect(got.headers['x-pgshelf-signature']).toBe(want);
  const message = JSON.parse(got.body.toString('utf8'));
  expect(message.type).toBe('pgshelf.alert');
  expect(message.state).toBe('test');
  expect(message.event).toBeNull();
  expect(message.title).toContain('test message');
  expect(message.title).toContain('hook');
  expect(String(message.at)).toBe(got.headers['x-pgshelf-timestamp']);

  // The page shows the delivery as sent, in the table and on the row.
  const sent = page.locator('[data-testid="alert-delivery"][data-channel="hook"]');
  await expect(sent).toHaveCount(1);
  await expect(sent).toHaveAttribute('data-status', 'sent');
  await expect(sent.getByTestId('alert-delivery-answer')).toContainText('HTTP 200: thanks');
  await expect(hook.getByTestId('alert-last-delivery')).toHaveAttribute('data-status', 'sent');

  // A channel at a closed port: the failure and its cause, highlighted.
  const closed = await freePort();
  await form.getByTestId('alert-name').fill('down');
  await form.getByTestId('alert-url').fill(`http://127.0.0.1:${closed}/pgshelf`);
  await form.getByTestId('alert-secret').fill(SECRET);
  await form.getByTestId('alert-submit').click();
  const down = page.locator('[data-testid="alert-channel-row"][data-name="down"]');
  await expect(down).toBeVisible();
  await down.getByTestId('alert-test').click();
  const failure = page.locator('tbody.channel', { has: down }).getByTestId('alert-test-result');
  await expect(failure).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
  await expect(failure).toContainText(/connect/i);
  await expect(failure).toContainText('Fix:');
  const failed = page.locator('[data-testid="alert-delivery"][data-channel="down"]');
  await expect(failed).toHaveAttribute('data-status', 'failed');
  await expect(failed).toHaveClass(/delivery-failed/);
  await expect(failed.getByTestId('alert-delivery-answer')).toContainText(/connect/i);
  await expect(down.getByTestId('alert-last-delivery')).toHaveAttribute('data-status', 'failed');
  expect(received).toHaveLength(1);

  // After a reload: the same, and no secret anywhere in the page.
  await page.reload();
  await hydrated(page);
  await expect(page.locator('[data-testid="alert-delivery"]')).toHaveCount(2);
  expect(await page.content()).not.toContain(SECRET);

  // A phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId('alert-deliveries')).toBeVisible();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);

  // Remove, confirmed: the channel goes, its deliveries stay listed.
  await page.setViewportSize({ width: 1280, height: 900 });
  await down.getByTestId('alert-remove').click();
  await page.locator('tbody.channel', { has: down }).getByTestId('alert-remove-confirm').click();
  await expect(down).toHaveCount(0);
  await expect(page.locator('[data-testid="alert-delivery"][data-channel="down"]')).toHaveCount(1);
});
