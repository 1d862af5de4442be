// A throwaway PostgreSQL server for a browser test, started by testkit's
// `pg-for-e2e` binary (initdb + postgres on loopback, password auth over
// TCP, a seeded database `shop`). The server lives until its stdin closes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { repoRoot, typedSecrets } from './support';

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

const bin = path.join(repoRoot, 'target', 'debug', 'pg-for-e2e');

export async function startPostgres(): Promise<Postgres> {
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it first (cargo build -p testkit --bins)`);
  }
  const child: ChildProcess = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pg-for-e2e gave no address in 60 s:\n${err}`)), 60_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pg-for-e2e exited (${code}):\n${err}`));
    });
  });
  const info = JSON.parse(line);
  return {
    ...info,
    stop: async () => {
      child.stdin?.end();
      await new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
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
