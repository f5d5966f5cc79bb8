// The web UI in a real browser (Debian's Chromium, headless, through playwright-core) against the
// real CLI with --web and a loopback origin: traffic appears in the list; filtering in the browser
// and by the server (bodies), a syntax error shown in place; a JSON body pretty-printed; an image
// shown; replay; export as curl and run it; save the flows to a flow file and open it again; a
// request without the token and one with a wrong Host header get 403. Screenshots go to
// test/browser/screenshots/.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { FlowWriter } from "@interloper/sdk";
import { testFlow, testResponse } from "@interloper/sdk/testing";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, startOrigin, tempDir, WAIT_MS, waitFor, type Origin } from "../helpers/harness.ts";
import {
  inListView,
  launchBrowser,
  openUi,
  pageProblems,
  rowsWithPath,
  screenshot,
  startWebProxy,
  type WebProxy,
} from "./browser.ts";
import { JSON_DOC, makePng } from "./fixtures.ts";

let origin: Origin;
let tlsOrigin: Origin;
let web: WebProxy;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const PNG = makePng();

function get(path: string, extra: string[] = []) {
  return curl(["-x", `http://127.0.0.1:${web.proxy.port}`, ...extra, `http://127.0.0.1:${origin.port}${path}`]);
}

test.before(async () => {
  origin = await startOrigin((req, res, body) => {
    if (req.url === "/api/data") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify(JSON_DOC));
    } else if (req.url === "/img.png") {
      res.setHeader("Content-Type", "image/png");
      res.end(PNG);
    } else if (req.url === "/page.html") {
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end("<!doctype html><html><head><title>Page</title></head><body><p>hello</p></body></html>");
    } else {
      res.setHeader("Content-Type", "text/plain");
      res.end(`${req.method} ${req.url} ${body.length}\n`);
    }
  });
  tlsOrigin = await startOrigin((_req, res) => res.end("secure\n"), { tls: true });
  web = await startWebProxy();
  browser = await launchBrowser();
  ({ context, page } = await openUi(browser, web));
});

test.after(async () => {
  await browser?.close();
  await web?.proxy.stop();
  await origin?.close();
  await tlsOrigin?.close();
});

test("traffic through the proxy appears in the list, live", async () => {
  for (const path of ["/api/data", "/img.png", "/page.html"]) assert.is((await get(path)).code, 0);
  assert.is((await get("/submit", ["-d", "a=1&b=two"])).code, 0);
  for (const path of ["/api/data", "/img.png", "/page.html", "/submit"])
    await rowsWithPath(page, path).first().waitFor();
  const row = rowsWithPath(page, "/api/data").first();
  assert.is((await row.locator(".col-method").textContent())?.trim(), "GET");
  await row.locator(".col-status", { hasText: "200" }).waitFor();
  assert.is((await rowsWithPath(page, "/submit").first().locator(".col-method").textContent())?.trim(), "POST");
  await screenshot(page, "flows-list");
});

test("filter: in the browser, by the server for bodies, a syntax error shown in place", async () => {
  const filter = page.locator("#filter-input");
  await filter.fill("~m POST");
  await filter.press("Enter");
  await waitFor(async () => (await page.locator(".flow-row").count()) === 1 || undefined, "only the POST listed");
  await rowsWithPath(page, "/submit").waitFor();
  // ~bs reads response bodies: the server evaluates it.
  await filter.fill('~bs "interloper"');
  await filter.press("Enter");
  await waitFor(
    async () => (await page.locator(".flow-row").count()) === 1 || undefined,
    "only the JSON response listed",
  );
  await rowsWithPath(page, "/api/data").waitFor();
  await filter.fill("~d (");
  await page.locator(".filter-error").waitFor();
  const message = await page.locator(".filter-error").textContent();
  assert.match(message ?? "", /column \d+:/);
  // The last good filter stays applied while the box holds an error.
  assert.is(await page.locator(".flow-row").count(), 1);
  await screenshot(page, "filter-error");
  await filter.fill("");
  await filter.press("Enter");
  await waitFor(async () => (await page.locator(".flow-row").count()) >= 4 || undefined, "every flow back");
});

test("highlight filter marks rows without hiding others", async () => {
  const box = page.locator("#highlight-input");
  await box.fill("~t png");
  await box.press("Enter");
  await rowsWithPath(page, "/img.png").and(page.locator(".highlighted")).waitFor();
  assert.is(await page.locator(".flow-row.highlighted").count(), 1);
  await box.fill("");
  await box.press("Enter");
});

test("a click on a column header sorts by it: ascending, descending, then arrival order", async () => {
  const paths = async () => (await page.locator(".flow-row .col-path").allTextContents()).map((t) => t.trim());
  const arrival = await paths();
  const header = page.locator('[data-column="path"]');
  await header.click();
  await waitFor(async () => (await header.getAttribute("aria-sort")) === "ascending" || undefined, "sorted ascending");
  assert.equal(await paths(), [...arrival].sort());
  await header.click();
  await waitFor(
    async () => (await header.getAttribute("aria-sort")) === "descending" || undefined,
    "sorted descending",
  );
  assert.equal(await paths(), [...arrival].sort().reverse());
  await header.click();
  await waitFor(async () => (await header.getAttribute("aria-sort")) === "none" || undefined, "arrival order");
  assert.equal(await paths(), arrival);
});

test("the divider between the list and the detail drags", async () => {
  await rowsWithPath(page, "/page.html").first().click();
  const detail = page.locator("section.detail");
  await detail.waitFor();
  const before = (await detail.boundingBox())!.width;
  const handle = (await page.locator(".divider").boundingBox())!;
  await page.mouse.move(handle.x + 2, handle.y + 100);
  await page.mouse.down();
  await page.mouse.move(handle.x - 198, handle.y + 100, { steps: 5 });
  await page.mouse.up();
  await waitFor(async () => (await detail.boundingBox())!.width > before + 150 || undefined, "a wider detail");
});

test("a JSON response body is pretty-printed", async () => {
  await rowsWithPath(page, "/api/data").first().click();
  await page.locator('[data-tab="response"]').click();
  const pre = page.locator('pre[data-view="json"]');
  await pre.waitFor();
  const text = (await pre.textContent()) ?? "";
  assert.ok(text.includes('"items": [\n    1,\n    2,\n    3\n  ]'), text);
  assert.ok(text.includes('"nested": {\n    "ok": true,'), text);
  await screenshot(page, "json-response");
});

test("an image response is shown as an image", async () => {
  await rowsWithPath(page, "/img.png").first().click();
  await page.locator('[data-tab="response"]').click();
  const img = page.locator('img[data-testid="response-image"]');
  await img.waitFor();
  // (Page code sees the DOM; these types say what it reads, as this file is checked without the DOM's.)
  const width = () => img.evaluate((el) => (el as unknown as { complete: boolean; naturalWidth: number }).naturalWidth);
  await waitFor(async () => (await width()) || undefined, "the image loaded");
  assert.is(await width(), 48);
  await screenshot(page, "image-response");
});

test("request tab: a form body shown as fields; keys j/k move the selection, ? lists the keys", async () => {
  await rowsWithPath(page, "/submit").first().click();
  await page.locator('[data-tab="request"]').click();
  const form = page.locator('[data-view="form"]');
  await form.waitFor();
  assert.match((await form.textContent()) ?? "", /btwo/);
  const selected = async () => page.locator(".flow-row.selected").getAttribute("data-id");
  const before = await selected();
  await page.locator(".flow-scroller").focus();
  await page.keyboard.press("k");
  await waitFor(async () => (await selected()) !== before || undefined, "k moved the selection");
  await page.keyboard.press("j");
  await waitFor(async () => (await selected()) === before || undefined, "j moved it back");
  await page.keyboard.press("?");
  await page.getByRole("dialog", { name: "keyboard keys" }).waitFor();
  await screenshot(page, "keys");
  await page.keyboard.press("Escape");
  await page.getByRole("dialog", { name: "keyboard keys" }).waitFor({ state: "detached" });
  assert.is(await selected(), before, "Escape closed the dialog, not the detail");
});

test("an HTTPS flow: the Connection tab shows TLS facts and the server's certificate chain; Timing its phases", async () => {
  const r = await curl([
    "-x",
    `http://127.0.0.1:${web.proxy.port}`,
    "--cacert",
    web.proxy.caFile,
    `https://localhost:${tlsOrigin.port}/secure`,
  ]);
  assert.is(r.stdout.toString(), "secure\n", r.stderr);
  await rowsWithPath(page, "/secure").first().click();
  await page.locator('[data-tab="connection"]').click();
  const chain = page.locator('[data-testid="cert-chain"]');
  await chain.waitFor();
  assert.match((await page.locator(".facts").textContent()) ?? "", /TLSv1\.[23]/);
  assert.match((await chain.textContent()) ?? "", /DNS:localhost/);
  await screenshot(page, "connection-tls");
  await page.locator('[data-tab="timing"]').click();
  await page.locator("table.timing").getByText("Server TLS").waitFor();
  await screenshot(page, "timing");
});

test("replay sends the request again and marks the flow", async () => {
  const before = origin.requests.filter((r) => r.url === "/api/data").length;
  await rowsWithPath(page, "/api/data").first().click();
  await page.locator('[data-action="replay"]').click();
  await waitFor(
    () => origin.requests.filter((r) => r.url === "/api/data").length > before || undefined,
    "the replayed request",
  );
  await rowsWithPath(page, "/api/data").locator(".m-replayed").first().waitFor();
});

test("export as curl: the command runs and sends the same request", async () => {
  await rowsWithPath(page, "/submit").first().click();
  await page.locator('[data-export="curl"]').click();
  const text = (await page.locator('[data-testid="export-text"]').textContent()) ?? "";
  assert.match(text, /^curl /);
  await screenshot(page, "export-curl");
  await page.keyboard.press("Escape");
  await page.locator(".modal-backdrop").waitFor({ state: "detached" });
  const before = origin.requests.length;
  const code = await new Promise<number>((resolve) =>
    execFile("sh", ["-c", `${text} --silent --max-time 20 -o /dev/null`], { timeout: WAIT_MS }, (err) =>
      resolve(err ? ((err.code as number | undefined) ?? 1) : 0),
    ),
  );
  assert.is(code, 0, text);
  const sent = origin.requests[before]!;
  assert.is(sent.method, "POST");
  assert.is(sent.url, "/submit");
  assert.is(sent.body.toString(), "a=1&b=two");
});

test("save every flow to a flow file, clear, and open the file again", async () => {
  const count = await page.locator(".flow-row").count();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.locator('[data-action="save-all"]').click(),
  ]);
  const file = join(tempDir(), "saved.flow");
  await download.saveAs(file);
  assert.ok(readFileSync(file).length > 100);
  await page.locator('[data-action="clear"]').click();
  await waitFor(async () => (await page.locator(".flow-row").count()) === 0 || undefined, "the list cleared");
  await page.locator('[data-testid="open-file"]').setInputFiles(file);
  await waitFor(
    async () => (await page.locator(".flow-row").count()) === count || undefined,
    `${count} flows back from the file`,
  );
  await rowsWithPath(page, "/img.png").first().waitFor();
  await screenshot(page, "reopened");
});

test("3,000 flows opened from a file: only the rows in view are in the page; End reaches the last", async () => {
  const file = join(tempDir(), "many.flow");
  const writer = await FlowWriter.open(file);
  for (let i = 0; i < 3000; i++) {
    const f = testFlow({ url: `http://many.example/item/${i}` });
    f.response = testResponse({ headers: { "Content-Type": "text/plain" }, body: `item ${i}` });
    await writer.add(f);
  }
  await writer.close();
  const before = await page.locator(".flow-row").count();
  await page.locator('[data-testid="open-file"]').setInputFiles(file);
  await page
    .getByTestId("flow-count")
    .getByText(`${before + 3000} flows`)
    .waitFor();
  const rendered = await page.locator(".flow-row").count();
  assert.ok(rendered < 120, `${rendered} rows in the page for ${before + 3000} flows`);
  await page.locator(".flow-scroller").focus();
  await page.keyboard.press("End");
  await rowsWithPath(page, "/item/2999").waitFor();
  assert.is(await rowsWithPath(page, "/item/0").count(), 0, "the first rows left the page");
  await page.locator("#filter-input").fill("~u /item/12.$");
  await page.locator("#filter-input").press("Enter");
  await waitFor(async () => (await page.locator(".flow-row").count()) === 10 || undefined, "the ten /item/12x rows");
  // Filtered from the end of the list: the ten rows are in view, not scrolled past.
  for (const path of ["/item/120", "/item/129"]) {
    const row = rowsWithPath(page, path).first();
    await waitFor(async () => (await inListView(page, row)) || undefined, `${path} in view`);
  }
  await screenshot(page, "many-filtered");
  await page.locator("#filter-input").fill("");
  await page.locator("#filter-input").press("Enter");
});

test("dark mode follows the system", async () => {
  const dark = await openUi(browser, web, { colorScheme: "dark" });
  await dark.page.locator(".flow-row").first().waitFor();
  await dark.page.locator(".flow-row").first().click();
  const bg = await dark.page
    .locator("body")
    .evaluate(
      (el) =>
        (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el)
          .backgroundColor,
    );
  assert.is(bg, "rgb(22, 25, 29)");
  await screenshot(dark.page, "dark");
  await dark.context.close();
});

function rawGet(path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(web.origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: Number(url.port), path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

test("without the token: 403; with it but a wrong Host header: 403", async () => {
  const host = new URL(web.origin).host;
  assert.is(await rawGet("/", { Host: host }), 403);
  assert.is(await rawGet("/api/flows", { Host: host }), 403);
  assert.is(await rawGet(`/api/flows?token=${web.token}`, { Host: host }), 200);
  assert.is(await rawGet(`/api/flows?token=${web.token}`, { Host: `evil.example:${new URL(web.origin).port}` }), 403);
  assert.is(await rawGet("/api/flows", { Host: "evil.example", Authorization: `Bearer ${web.token}` }), 403);
});

test("the page logged no error (no CSP violation, no exception)", () => {
  assert.equal(pageProblems(page), []);
  void context;
});

test.run();
