// Signing in: the first admin from the link pgshelf prints, sign out, the
// sign-in page with a wrong and a right password, and a viewer who sees no
// Users page and cannot add a server.
import { test, expect, hydrated, typedSecrets } from './support';

test.use({ anonymous: true });

test('first admin from the setup link, sign out, sign in again', async ({ page, pgshelf }) => {
  // Anonymous: the dashboard sends people to the setup page, which says where the link is.
  await page.goto('/');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByTestId('setup-needs-link')).toBeVisible();

  typedSecrets.push('a long passphrase', 'not the password', 'bobs long password');
  await page.goto(pgshelf.setupLink());
  await hydrated(page);
  await page.getByTestId('setup-username').fill('alice');
  await page.getByTestId('setup-password').fill('a long passphrase');
  await page.getByTestId('setup-submit').click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('whoami')).toHaveText('alice (admin)');
  await expect(page.getByTestId('nav-users')).toBeVisible();

  // The link works once.
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/servers/1');
  await expect(page).toHaveURL(/\/login\?next=%2Fservers%2F1/);

  await hydrated(page);
  await page.getByTestId('login-username').fill('alice');
  await page.getByTestId('login-password').fill('not the password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByRole('alert')).toContainText('wrong user name or password');

  await page.getByTestId('login-password').fill('a long passphrase');
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/servers\/1$/);
  await expect(page.getByTestId('whoami')).toHaveText('alice (admin)');

  // An admin adds a viewer on the Users page.
  await page.goto('/users');
  await hydrated(page);
  await page.getByTestId('user-username').fill('bob');
  await page.getByTestId('user-password').fill('bobs long password');
  await page.getByTestId('user-new-role').selectOption('viewer');
  await page.getByTestId('user-submit').click();
  await expect(page.locator('[data-testid="user-row"][data-username="bob"]')).toHaveAttribute('data-role', 'viewer');

  // The viewer signs in, sees no Users link, and cannot add a server.
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await page.getByTestId('login-username').fill('bob');
  await page.getByTestId('login-password').fill('bobs long password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('whoami')).toHaveText('bob (viewer)');
  await expect(page.getByTestId('nav-users')).toHaveCount(0);
  await hydrated(page);
  await page.getByTestId('server-name').fill('nope');
  await page.getByTestId('server-host').fill('127.0.0.1');
  await page.getByTestId('server-user').fill('postgres');
  await page.getByTestId('server-submit').click();
  await expect(page.getByRole('alert')).toContainText('needs the admin role');
});
