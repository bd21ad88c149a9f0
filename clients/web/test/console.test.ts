/**
 * The console in a real headless Chromium against a running stack (CONSOLE_URL): a search renders the report with its
 * images and charts, a missing creator shows its error, a second user sees none of the first user's unlocks, and no
 * page logs an error. Screenshots go to SCREENSHOT_DIR for people to look at.
 */

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";

const consoleUrl = process.env["CONSOLE_URL"] ?? "";
const shots = process.env["SCREENSHOT_DIR"] ?? "screenshots";
const MISSING = "no.such.creator.here";
const WAIT_MS = 60_000;

let browser: Browser;
const problems: string[] = [];

function watch(page: Page): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() !== "error") return;
    // The browser itself logs a failed resource; the missing creator's 404 and the refused discover filter's 400 are
    // the answers we provoke.
    const url = message.location().url;
    const expected =
      (message.text().includes("status of 404") && url.includes(MISSING)) ||
      (message.text().includes("status of 400") && url.includes("/api/v1/discover"));
    if (!expected) problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
}

async function signedIn(user: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(page);
  await page.goto(consoleUrl);
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.fill("#dev-user", user);
  await page.click("#signin button");
  await page.getByTestId("who").filter({ hasText: `Signed in as ${user}` }).waitFor({ timeout: WAIT_MS });
  return page;
}

async function search(page: Page, name: string): Promise<void> {
  // Records whether the spinner showed, however short the search.
  await page.evaluate(() => {
    const spinner = document.getElementById("spinner") as HTMLElement;
    const seen = window as unknown as { spinnerShown: boolean };
    seen.spinnerShown = false;
    new MutationObserver(() => {
      if (!spinner.hidden) seen.spinnerShown = true;
    }).observe(spinner, { attributes: true });
  });
  await page.fill("#username", name);
  await page.click("#search button");
  await page.waitForFunction(() => (document.getElementById("spinner") as HTMLElement).hidden, null, {
    timeout: WAIT_MS,
  });
  assert.ok(await page.evaluate(() => (window as unknown as { spinnerShown: boolean }).spinnerShown), "spinner shown");
}

before(async () => {
  assert.ok(consoleUrl, "CONSOLE_URL is not set: run through tests/e2e/test_web_console.py");
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
});

after(async () => {
  await browser?.close();
});

test("a search renders the report with images, charts, figures and AI labels", async () => {
  const page = await signedIn("web-alice");
  await search(page, "fit.bayann");
  const report = page.getByTestId("report");
  await report.waitFor({ state: "visible", timeout: WAIT_MS });
  assert.match((await page.getByTestId("profile").innerText()) ?? "", /@fit\.bayann/);
  assert.match(await page.getByTestId("figures").innerText(), /Mean engagement\s+\d+\.\d+ %/);
  assert.ok((await page.getByTestId("post").count()) > 0);
  assert.ok((await page.getByTestId("ai-labels").count()) > 0, "posts carry AI labels");
  await page.locator("[data-testid=engagement-chart] canvas").waitFor({ timeout: WAIT_MS });
  await page.locator("[data-testid=followers-chart] canvas").waitFor({ timeout: WAIT_MS });
  assert.match(await page.getByTestId("authenticity").innerText(), /Authenticity: (\d+\/100|—)/);
  await page.getByTestId("growth").waitFor({ timeout: WAIT_MS });
  assert.match(await page.getByTestId("growth").innerText(), /Growth 7 d/);
  // Every image of the report (avatar and post images) has loaded with real pixels.
  await page.waitForFunction(
    () => {
      const images = Array.from(document.querySelectorAll<HTMLImageElement>("#report img"));
      return images.length > 1 && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    null,
    { timeout: WAIT_MS },
  );
  await page.getByTestId("unlocked").filter({ hasText: "@fit.bayann" }).waitFor({ timeout: WAIT_MS });
  assert.equal(await page.getByTestId("error").isVisible(), false);
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });

  await search(page, MISSING);
  const error = page.getByTestId("error");
  await error.waitFor({ state: "visible", timeout: WAIT_MS });
  assert.match(await error.innerText(), /No Instagram creator has that name|Not found/);
  assert.equal(await report.isVisible(), false);
  await page.screenshot({ path: join(shots, "missing-creator.png"), fullPage: true });
  await page.close();
});

test("another user sees none of the first user's unlocks", async () => {
  const page = await signedIn("web-bob");
  const unlocked = page.getByTestId("unlocked");
  await unlocked.filter({ hasText: "None yet" }).waitFor({ timeout: WAIT_MS });
  assert.doesNotMatch(await unlocked.innerText(), /fit\.bayann/);
  await page.screenshot({ path: join(shots, "other-user.png"), fullPage: true });
  await page.close();
});

test("the discover box lists creators best first and shows a refused filter's reason", async () => {
  const page = await signedIn("web-carol");
  await page.fill("#query", "fitness and home workouts");
  await page.click("#discover button");
  const list = page.getByTestId("discovered-list");
  await list.waitFor({ state: "visible", timeout: WAIT_MS });
  const scores = (await page.getByTestId("score").allInnerTexts()).map(Number);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a), "best first");
  if (scores.length === 0) assert.match(await list.innerText(), /No stored creator matches/);
  await page.screenshot({ path: join(shots, "discover.png"), fullPage: true });

  await page.fill("#discover input[name=min_followers]", "10");
  await page.fill("#discover input[name=max_followers]", "5");
  await page.click("#discover button");
  const error = page.getByTestId("error");
  await error.waitFor({ state: "visible", timeout: WAIT_MS });
  assert.match(await error.innerText(), /min_followers/);
  assert.equal(await page.getByTestId("reason").innerText(), "INVALID_ARGUMENT");
  await page.close();
});

test("no page logged an error", () => {
  assert.deepEqual(problems, []);
});
