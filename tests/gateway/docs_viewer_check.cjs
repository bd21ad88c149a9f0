/**
 * The docs page in a real headless Chromium (Debian's, driven by playwright-core): the bundled viewer renders the
 * routes of /api/openapi.json with no console error and no page error (a Content-Security-Policy violation is one).
 * DOCS_URL: the page; ROUTE: a path it must list; SCREENSHOT: where the picture goes; PLAYWRIGHT_CORE: the package.
 */
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE);

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH, args: ["--no-sandbox"] });
  const problems = [];
  const outside = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()} (${message.location().url})`);
    });
    const origin = new URL(process.env.DOCS_URL).origin;
    page.on("request", (request) => {
      const url = request.url();
      if (!url.startsWith(origin) && !url.startsWith("data:")) outside.push(url);
    });
    await page.goto(process.env.DOCS_URL);
    const route = page.locator(`.opblock-summary-path[data-path="${process.env.ROUTE}"]`).first();
    await route.waitFor({ timeout: 30000 });
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false });
    const routes = await page.locator(".opblock-summary-path").count();
    console.log(JSON.stringify({ routes, problems, outside }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
