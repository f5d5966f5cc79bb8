// Helpers for the browser suites (test/browser/*.test.ts): the proxy started with --web, Debian's
// Chromium driven headless by playwright-core, and screenshots under test/browser/screenshots/
// (git-ignored) for a person to look at. Everything listens on and talks to 127.0.0.1.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { ROOT, startProxy, WAIT_MS, type ProxyProcess } from "../helpers/harness.ts";

/** Debian's chromium (the `chromium` package; .ci/run installs it). CHROMIUM overrides the path. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "test/browser/screenshots");

export interface WebProxy {
  proxy: ProxyProcess;
  /** The printed address with its token. */
  url: string;
  /** http://127.0.0.1:PORT, the UI's origin. */
  origin: string;
  token: string;
}

/** The proxy with the web UI on a free port; resolves once it printed the UI's address. */
export async function startWebProxy(
  args: string[] = [],
  opts: Parameters<typeof startProxy>[1] = {},
): Promise<WebProxy> {
  const proxy = await startProxy(["--web", "--set", "web_port=0", ...args], opts);
  const m = await proxy.waitForOutput(/Web UI at (http:\/\/[^\s/]+)\/\?token=([^\s]+)/);
  return { proxy, url: `${m[1]}/?token=${m[2]}`, origin: m[1]!, token: m[2]! };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM)`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"], timeout: WAIT_MS });
}

/** A fresh browser context (its own cookies) on the UI, logged in through the printed address. */
export async function openUi(
  browser: Browser,
  web: WebProxy,
  opts: { colorScheme?: "light" | "dark"; width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 },
    colorScheme: opts.colorScheme ?? "light",
    acceptDownloads: true,
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // A failed load is reported below with its address; the console's line lacks it.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    // What the page asked for must exist and not fail (a 400 or 409 is an answer the UI shows; a 404 for
    // /favicon.ico is the browser asking on its own).
    if ((r.status() === 404 || r.status() >= 500) && !r.url().endsWith("/favicon.ico"))
      problems.push(`${r.status()} for ${r.url()}`);
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(web.url);
  await page.locator(".topbar .conn-live").waitFor();
  return { context, page };
}

/** Errors the page logged or threw (a CSP violation shows up here as a console error). */
export function pageProblems(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** The flow rows whose path cell shows `path`. */
export function rowsWithPath(page: Page, path: string) {
  return page.locator(".flow-row", { has: page.locator(".col-path", { hasText: path }) });
}

/** Whether `row` lies inside the flow list's visible area (playwright's "visible" ignores scrolling). */
export async function inListView(page: Page, row: Locator): Promise<boolean> {
  const list = await page.locator(".flow-scroller").boundingBox();
  const box = await row.boundingBox();
  if (!list || !box) return false;
  return box.y >= list.y && box.y + box.height <= list.y + list.height + 0.5;
}
