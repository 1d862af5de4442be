// A throwaway PostgreSQL server for a browser test, started by testkit's
// `pg-for-e2e` binary (initdb + postgres on loopback, password auth over
// TCP, a seeded database `shop`). The server lives until its stdin closes.
import { execFileSync } from 'node:child_process';
import type { Page } from '@playwright/test';
import { startFixture, typedSecrets } from './support';

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  major: number;
  /** This server's psql, for a test to change data behind pgshelf's back. */
  psql: string;
  stop(): Promise<void>;
}

/** Runs `sql` in `database` with the server's own psql over TCP. */
export function runSql(pg: Postgres, database: string, sql: string): string {
  return execFileSync(
    pg.psql,
    ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', database, '-c', sql],
    { env: { ...process.env, PGPASSWORD: pg.password }, encoding: 'utf8' },
  ).trim();
}

export async function startPostgres(): Promise<Postgres> {
  return startFixture<Omit<Postgres, 'stop'>>('pg-for-e2e');
}

/** Fills and submits the add-server form for `pg` (a wrong password may be given). */
export async function addServer(page: Page, pg: Postgres, name: string, password = pg.password): Promise<void> {
  const form = page.getByTestId('server-form').first();
  await form.getByTestId('server-name').fill(name);
  await form.getByTestId('server-host').fill(pg.host);
  await form.getByTestId('server-port').fill(String(pg.port));
  await form.getByTestId('server-user').fill(pg.user);
  typedSecrets.push(password);
  await form.getByTestId('server-password').fill(password);
  await form.getByTestId('server-sslmode').selectOption('disable');
  await form.getByTestId('server-submit').click();
}
