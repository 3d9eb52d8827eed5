// A real browser for the Go tests: Debian's Chromium, headless, driven by
// playwright-core (which downloads no browser of its own). It opens
// BROWSER_URL in a fresh profile, waits until the page sets
// window.__result, and prints it:
//   READY {"result":{...},"console":[...]}
// or READY {"error":"...","console":[...]}; then it exits.
//
// Environment:
//   BROWSER_URL         the page to open
//   CHROMIUM            the browser (default /usr/bin/chromium)
//   BROWSER_TIMEOUT_MS  how long to wait for the result (default 60000)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

const env = process.env;
const consoleLines = [];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'popguard-chromium-'));
let context;
let out;
try {
  // A persistent context is how Playwright takes a --user-data-dir: a fresh
  // one per run, removed below.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await context.newPage();
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
  await page.goto(env.BROWSER_URL);
  await page.waitForFunction(() => window.__result !== undefined, null, {
    timeout: Number(env.BROWSER_TIMEOUT_MS ?? 60000),
  });
  out = { result: await page.evaluate(() => window.__result) };
} catch (err) {
  out = { error: `${err.name}: ${err.message}` };
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
out.console = consoleLines;
process.stdout.write(`READY ${JSON.stringify(out)}\n`);
process.exit(0);
