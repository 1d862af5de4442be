// Playwright drives Debian's Chromium (no browser download: `npx playwright
// install` cannot work on these machines). @playwright/test is pinned to
// 1.64.1, the release built against Chromium 156, the version Debian ships here.
//
// Each test starts its own `pgshelf serve` (see tests/support.ts), so there
// is no webServer and no global baseURL here.
import { defineConfig } from '@playwright/test';

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.PGSHELF_CHROMIUM || '/usr/bin/chromium',
      args: chromiumArgs,
    },
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
