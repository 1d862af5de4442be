// Throwaway storage servers for a browser test, started by testkit's
// `storage-for-e2e` binary: an S3 server (rclone serve s3, SigV4 checked,
// one bucket) and a WebDAV server (wsgidav at a Nextcloud-style path). They
// live until the binary's stdin closes.
import type { Page } from '@playwright/test';
import { startFixture, typedSecrets } from './support';

export interface Storage {
  s3: { endpoint: string; region: string; bucket: string; access_key_id: string; secret_access_key: string; data_dir: string };
  webdav: { url: string; user: string; password: string; data_dir: string };
  stop(): Promise<void>;
}

export async function startStorage(): Promise<Storage> {
  return startFixture<Omit<Storage, 'stop'>>('storage-for-e2e');
}

/** Fills and submits "Add a destination" for the S3 server. */
export async function addS3Destination(page: Page, storage: Storage, name: string): Promise<void> {
  const form = page.getByTestId('dest-add').getByTestId('destination-form');
  await form.getByTestId('dest-kind').selectOption('s3');
  await form.getByTestId('dest-name').fill(name);
  await form.getByTestId('dest-s3-endpoint').fill(storage.s3.endpoint);
  await form.getByTestId('dest-s3-region').fill(storage.s3.region);
  await form.getByTestId('dest-s3-bucket').fill(storage.s3.bucket);
  await form.getByTestId('dest-s3-access-key-id').fill(storage.s3.access_key_id);
  await form.getByTestId('dest-s3-path-style').check();
  await form.getByTestId('dest-root').fill('pgshelf/e2e');
  typedSecrets.push(storage.s3.secret_access_key);
  await form.getByTestId('dest-secret').fill(storage.s3.secret_access_key);
  await form.getByTestId('dest-submit').click();
}

/** Fills and submits "Add a destination" for the WebDAV server. */
export async function addWebDavDestination(page: Page, storage: Storage, name: string): Promise<void> {
  const form = page.getByTestId('dest-add').getByTestId('destination-form');
  await form.getByTestId('dest-kind').selectOption('webdav');
  await form.getByTestId('dest-name').fill(name);
  // As a user pastes it from Nextcloud: with the trailing slash.
  await form.getByTestId('dest-dav-url').fill(`${storage.webdav.url}/`);
  await form.getByTestId('dest-dav-username').fill(storage.webdav.user);
  typedSecrets.push(storage.webdav.password);
  await form.getByTestId('dest-secret').fill(storage.webdav.password);
  await form.getByTestId('dest-submit').click();
}
