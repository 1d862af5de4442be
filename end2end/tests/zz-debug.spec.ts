import { test, expect, hydrated } from './support';
import { addServer, startPostgres, type Postgres } from './postgres';
let pg: Postgres;
test.beforeAll(async () => { pg = await startPostgres(); });
test.afterAll(async () => { await pg?.stop(); });
test('widths', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await addServer(page, pg, 'w');
  await page.setViewportSize({ width: 390, height: 800 });
  for (const url of ['/', '/servers', '/servers/1', '/alerts', '/destinations', '/servers/1/databases/postgres', '/servers/1/databases/postgres/policy', '/scratch', '/users']) {
    await page.goto(url);
    await hydrated(page);
    await page.waitForTimeout(1500);
    const r = await page.evaluate(() => {
      const out: string[] = [];
      const W = window.innerWidth;
      for (const el of Array.from(document.querySelectorAll('body *'))) {
        const b = (el as HTMLElement).getBoundingClientRect();
        if (b.right > W + 1) {
          const p = el.parentElement ? (el.parentElement.getBoundingClientRect().right > W + 1) : false;
          if (!p) out.push(`${el.tagName}.${(el as HTMLElement).className} right=${Math.round(b.right)} w=${Math.round(b.width)} testid=${el.getAttribute('data-testid')}`);
        }
      }
      return [document.documentElement.scrollWidth - W, out.slice(0, 8)];
    });
    console.log(url, JSON.stringify(r));
    await page.screenshot({ path: `/tmp/dbg/${url.replace(/\//g, '_')}.png`, fullPage: false });
  }
});
