#!/usr/bin/env node
// Opens ShopFlow's HTML dashboard in Debian's headless Chromium with no network and checks it.
//
//   node tests/browser/dashboard.mjs <report.html> <report.json> <screenshot-dir>
//
// (run `npm ci --prefix tests/browser` once first). Checks, one summary line each:
// - no request leaves the page except the file itself (every other request is aborted and
//   counted as a failure, WebSockets included);
// - no console error and no uncaught page error;
// - each chart `svg[data-chart=NAME]` holds as many `[data-mark]` elements as its list in
//   report.json has items, and a chart whose list is empty is absent;
// - at 390 px wide the page does not scroll horizontally;
// and saves dashboard-desktop.png (1280×900, full page) and dashboard-phone.png (390×844, full
// page) in the screenshot directory. Exit status 1 on any failure, 2 on a usage error.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Chart name → the report.json list it draws.
const CHARTS = {
  'revenue-trend': 'revenue_trend',
  'top-products': 'top_products',
  'sales-by-category': 'sales_by_category',
  heatmap: 'heatmap',
  funnel: 'funnel',
  'monthly-revenue': 'monthly_revenue',
};
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const TIMEOUT_MS = 120_000;

const [htmlArg, jsonArg, shotArg] = process.argv.slice(2);
if (!htmlArg || !jsonArg || !shotArg) {
  console.error('usage: node tests/browser/dashboard.mjs <report.html> <report.json> <screenshot-dir>');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error('install Chromium: apt-get install -y chromium');
  process.exit(1);
}

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('playwright-core is missing: npm ci --prefix tests/browser');
  process.exit(1);
}

const htmlPath = resolve(htmlArg);
const fileUrl = pathToFileURL(htmlPath).href;
const shotDir = resolve(shotArg);

let failed = 0;
function report(ok, what) {
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
}

let expected;
try {
  if (!existsSync(htmlPath)) throw new Error(`${htmlPath} does not exist`);
  const json = JSON.parse(readFileSync(resolve(jsonArg), 'utf8'));
  expected = Object.fromEntries(
    Object.entries(CHARTS).map(([chart, key]) => [
      chart,
      Array.isArray(json[key]) ? json[key].length : null,
    ]),
  );
} catch (e) {
  report(false, `inputs: ${e.message}`);
  process.exit(1);
}

const watchdog = setTimeout(() => {
  console.log(`FAIL timed out after ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS);
watchdog.unref();

const userDataDir = mkdtempSync(join(tmpdir(), 'shopflow-dashboard-'));
const blocked = new Set();
const consoleErrors = [];
const pageErrors = [];
let context;
try {
  mkdirSync(shotDir, { recursive: true });
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP,
    deviceScaleFactor: 1,
    serviceWorkers: 'block',
  });
  // Nothing but the file itself may be requested.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url === fileUrl) return route.continue();
    blocked.add(`${route.request().resourceType()} ${url}`);
    return route.abort('blockedbyclient');
  });
  context.on('request', (req) => {
    if (req.url() !== fileUrl) blocked.add(`${req.resourceType()} ${req.url()}`);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('websocket', (ws) => blocked.add(`websocket ${ws.url()}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => pageErrors.push(String(err)));

  await page.goto(fileUrl, { waitUntil: 'load' });
  report(true, `loaded ${fileUrl}`);

  // Charts: one mark per list item; absent when the list is empty.
  for (const [chart, want] of Object.entries(expected)) {
    const found = await page.$$eval(`svg[data-chart="${chart}"]`, (svgs) =>
      svgs.map((s) => s.querySelectorAll('[data-mark]').length),
    );
    const key = CHARTS[chart];
    if (want === null) {
      report(false, `chart ${chart}: report.json has no list "${key}"`);
    } else if (want === 0) {
      report(found.length === 0, `chart ${chart}: ${key} is empty, chart ${found.length ? 'present' : 'absent'}`);
    } else {
      report(
        found.length === 1 && found[0] === want,
        `chart ${chart}: ${found.length === 1 ? found[0] : `${found.length} charts`} marks, ${want} expected`,
      );
    }
  }

  await page.screenshot({ path: join(shotDir, 'dashboard-desktop.png'), fullPage: true });
  report(true, `screenshot ${join(shotDir, 'dashboard-desktop.png')} (${DESKTOP.width}×${DESKTOP.height}, full page)`);

  await page.setViewportSize(PHONE);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  report(
    scrollWidth <= innerWidth,
    `no horizontal overflow at ${PHONE.width} px: scrollWidth ${scrollWidth}, innerWidth ${innerWidth}`,
  );
  await page.screenshot({ path: join(shotDir, 'dashboard-phone.png'), fullPage: true });
  report(true, `screenshot ${join(shotDir, 'dashboard-phone.png')} (${PHONE.width}×${PHONE.height}, full page)`);

  report(blocked.size === 0, `no network requests${blocked.size ? `: ${[...blocked].join(', ')}` : ''}`);
  report(
    consoleErrors.length === 0,
    `no console errors${consoleErrors.length ? `: ${consoleErrors.join(' | ')}` : ''}`,
  );
  report(pageErrors.length === 0, `no page errors${pageErrors.length ? `: ${pageErrors.join(' | ')}` : ''}`);
} catch (e) {
  report(false, `browser: ${e.message.split('\n')[0]}`);
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
process.exit(failed ? 1 : 0);
