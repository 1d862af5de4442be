// Starts the built pgshelf binary for one test: `pgshelf serve` on a free
// loopback port, in a fresh temporary working directory with a fresh data
// directory, and waits until GET /healthz answers 200.
//
// Use the extended `test` below: every test gets its own server as the
// `pgshelf` fixture, and `baseURL` points at it, so `page.goto('/')` works.
//
//   import { test, expect } from './support';
//   test('dashboard loads', async ({ page, pgshelf }) => { await page.goto('/'); ... });
//
// Environment:
//   PGSHELF_BIN       the binary (default <repo>/target/debug/pgshelf)
//   LEPTOS_SITE_ROOT  the site folder, relative to the repo root or absolute
//                     (default <repo>/target/site)
//   PGSHELF_E2E_KEEP  set to 1 to keep each test's working directory
//
// The server is told where to listen and where to keep its data in every way
// the binary may read it: LEPTOS_SITE_ADDR and PGSHELF_LISTEN (address),
// PGSHELF_DATA (data directory), and its working directory is the fresh
// temporary directory, so the default `./data` is fresh too and no
// pgshelf.toml is found. No other PGSHELF_* variable is passed on.
import { test as base, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export const pgshelfBin = process.env.PGSHELF_BIN
  ? path.resolve(repoRoot, process.env.PGSHELF_BIN)
  : path.join(repoRoot, 'target', 'debug', 'pgshelf');

export const siteRoot = path.resolve(repoRoot, process.env.LEPTOS_SITE_ROOT || path.join('target', 'site'));

export interface StartOptions {
  /** Extra environment for the server (wins over the defaults). */
  env?: Record<string, string>;
  /** Extra arguments after `serve`. */
  args?: string[];
  /** How long to wait for /healthz, in milliseconds (default 30 s). */
  readyTimeoutMs?: number;
}

export interface Pgshelf {
  /** `http://127.0.0.1:PORT` */
  baseURL: string;
  port: number;
  /** The server's working directory (temporary). */
  workDir: string;
  /** The server's data directory: `<workDir>/data`. */
  dataDir: string;
  /** Everything the server printed so far (stdout and stderr, last 1 MB). */
  logs(): string;
  /** SIGTERM, SIGKILL after 5 s, then removes workDir (unless PGSHELF_E2E_KEEP=1). */
  stop(): Promise<void>;
  /** The one-time first-admin link pgshelf printed to its log. */
  setupLink(): string;
}

/** Passwords a test typed into pgshelf (checked against its log at the end). */
export const typedSecrets: string[] = [];

/** The first admin every test signs in as (see `adminSession`). */
export const ADMIN = { username: 'admin', password: 'e2e admin password' };

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port from listen(0)'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts `pgshelf serve` and resolves once GET /healthz returns 200. */
export async function startPgshelf(options: StartOptions = {}): Promise<Pgshelf> {
  if (!existsSync(pgshelfBin)) {
    throw new Error(`${pgshelfBin} does not exist: build it first (cargo leptos build)`);
  }
  if (!existsSync(siteRoot)) {
    throw new Error(`site folder ${siteRoot} does not exist: build it first (cargo leptos build)`);
  }
  const workDir = mkdtempSync(path.join(tmpdir(), 'pgshelf-e2e-'));
  const dataDir = path.join(workDir, 'data');
  const logFile = path.join(workDir, 'pgshelf.log');
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const baseURL = `http://${addr}`;

  // A fresh configuration: no PGSHELF_* from the caller's environment (a
  // developer's PGSHELF_CONFIG, this helper's own PGSHELF_BIN, ...) reaches it.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PGSHELF_')));
  const child = spawn(pgshelfBin, ['serve', ...(options.args ?? [])], {
    cwd: workDir,
    env: {
      ...inherited,
      RUST_LOG: process.env.RUST_LOG ?? 'info',
      LEPTOS_SITE_ROOT: siteRoot,
      LEPTOS_SITE_ADDR: addr,
      PGSHELF_LISTEN: addr,
      PGSHELF_DATA: dataDir,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let output = '';
  const keep = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-1_000_000);
    try {
      appendFileSync(logFile, text);
    } catch {
      // workDir already removed: the server is being stopped.
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 5_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }
    if (process.env.PGSHELF_E2E_KEEP !== '1') {
      rmSync(workDir, { recursive: true, force: true });
    }
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let lastError = '';
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(`cannot start ${pgshelfBin}: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      await stop();
      throw new Error(`pgshelf serve exited before /healthz answered (${how}):\n${output}`);
    }
    try {
      const res = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
      lastError = `HTTP ${res.status}`;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pgshelf serve on ${addr} did not answer /healthz in time (last: ${lastError}):\n${output}`);
    }
    await sleep(100);
  }

  const setupLink = () => {
    const m = output.match(/(\/setup\?token=[0-9a-f]+)/);
    if (!m) throw new Error(`pgshelf printed no setup link:\n${output}`);
    return `${baseURL}${m[1]}`;
  };
  return { baseURL, port, workDir, dataDir, logs: () => output, stop, setupLink };
}

/**
 * Creates the first admin through the setup endpoint (as the setup page
 * posts it) and returns the session cookie's value.
 */
export async function adminSession(server: Pgshelf): Promise<string> {
  const token = new URL(server.setupLink()).searchParams.get('token') ?? '';
  const body = new URLSearchParams({ token, ...ADMIN });
  const res = await fetch(`${server.baseURL}/api/auth/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: server.baseURL },
    body,
    redirect: 'manual',
  });
  const cookie = (res.headers.getSetCookie?.() ?? [res.headers.get('set-cookie') ?? ''])
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('pgshelf_session='));
  if (!cookie) throw new Error(`setup gave no session (HTTP ${res.status}): ${await res.text()}`);
  return cookie.slice('pgshelf_session='.length);
}

/**
 * `test` with a fresh pgshelf server per test (`pgshelf`), `baseURL`
 * pointing at it, and the browser signed in as the first admin (tests of
 * signing in itself use `anonymous`).
 */
export const test = base.extend<{ pgshelf: Pgshelf; anonymous: boolean }>({
  anonymous: [false, { option: true }],
  context: async ({ context, pgshelf, anonymous }, use) => {
    if (!anonymous) {
      const value = await adminSession(pgshelf);
      await context.addCookies([{ name: 'pgshelf_session', value, url: pgshelf.baseURL }]);
    }
    await use(context);
  },
  pgshelf: async ({}, use, testInfo) => {
    const server = await startPgshelf();
    try {
      await use(server);
      // No secret a test typed may ever reach pgshelf's log.
      for (const secret of [...typedSecrets, ADMIN.password]) {
        expect(server.logs(), 'a password in pgshelf\'s log').not.toContain(secret);
      }
    } finally {
      typedSecrets.length = 0;
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('pgshelf.log', { body: server.logs(), contentType: 'text/plain' });
      }
      await server.stop();
    }
  },
  baseURL: async ({ pgshelf }, use) => {
    await use(pgshelf.baseURL);
  },
});

/** Waits until the page is hydrated (its buttons run in the browser). */
export async function hydrated(page: import('@playwright/test').Page): Promise<void> {
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached({ timeout: 60_000 });
}

/**
 * Starts one of testkit's fixture binaries (`target/debug/<name>`), which
 * prints one JSON line describing what it started and keeps it until its
 * standard input closes; returns that JSON with a `stop()` that closes
 * stdin and waits (SIGKILL after 10 s).
 */
export async function startFixture<T>(name: string, args: string[] = []): Promise<T & { stop(): Promise<void> }> {
  const bin = path.join(repoRoot, 'target', 'debug', name);
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it first (cargo build -p testkit --bins)`);
  }
  const child: ChildProcess = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed nothing in 60 s:\n${err}`)), 60_000);
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
      reject(new Error(`${name} exited (${code}):\n${err}`));
    });
  });
  const info = JSON.parse(line) as T;
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

export { expect };
