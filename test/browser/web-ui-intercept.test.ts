// Intercepting in the web UI, in a real browser against the real CLI with --web: an intercept
// filter typed in the UI holds matching requests (the client waits); the user edits a header of
// one and resumes it, and the origin receives the edited request; "Resume all" lets the rest go. A
// finished flow edited and replayed; an intercepted response edited; mark, comment, duplicate,
// delete and kill; a WebSocket flow's messages.
import type { Browser, Page } from "playwright-core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openTunnel } from "../helpers/clients.ts";
import { curl, startOrigin, waitFor, within, type CurlResult, type Origin } from "../helpers/harness.ts";
import { startWsOrigin, WsClient } from "../helpers/ws.ts";
import {
  launchBrowser,
  openUi,
  pageProblems,
  rowsWithPath,
  screenshot,
  startWebProxy,
  type WebProxy,
} from "./browser.ts";

let origin: Origin;
let web: WebProxy;
let browser: Browser;
let page: Page;

function send(path: string, token: string): Promise<CurlResult> {
  return curl([
    "-x",
    `http://127.0.0.1:${web.proxy.port}`,
    "-H",
    `X-Token: ${token}`,
    `http://127.0.0.1:${origin.port}${path}`,
  ]);
}

function tokenOf(i: number): string | undefined {
  const raw = origin.requests[i]!.rawHeaders;
  const at = raw.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === "x-token");
  return at === -1 ? undefined : raw[at + 1];
}

test.before(async () => {
  origin = await startOrigin((req, res) => res.end(`seen ${req.url}\n`));
  web = await startWebProxy();
  browser = await launchBrowser();
  ({ page } = await openUi(browser, web));
});

test.after(async () => {
  await browser?.close();
  await web?.proxy.stop();
  await origin?.close();
});

test("an intercepted request waits; edited in the UI and resumed, the origin gets the edit", async () => {
  const box = page.locator("#intercept-input");
  await box.fill("~q & ~u /held");
  await box.press("Enter");
  await page.locator(".filter.intercept.active").waitFor();

  const pending = send("/held/one", "original");
  const row = rowsWithPath(page, "/held/one").first();
  await row.locator(".m-intercepted").waitFor();
  assert.is(origin.requests.length, 0, "the origin has not seen the held request");
  await screenshot(page, "intercepted");

  await row.click();
  await page.locator('[data-action="edit-request"]').click();
  const headers = page.locator('[data-testid="edit-form"] textarea[name="headers"]');
  const text = await headers.inputValue();
  assert.match(text, /X-Token: original/);
  await headers.fill(text.replace("X-Token: original", "X-Token: edited-in-the-ui"));
  await screenshot(page, "edit-request");
  await page.locator('[data-action="save-resume"]').click();

  const result = await within(pending, "the held client's answer");
  assert.is(result.code, 0);
  assert.is(result.stdout.toString(), "seen /held/one\n");
  assert.is(origin.requests.length, 1);
  assert.is(tokenOf(0), "edited-in-the-ui");
  await row.locator(".m-intercepted").waitFor({ state: "detached" });
});

test("requests that do not match go straight through; Resume all lets every held one go", async () => {
  const free = await send("/free", "x");
  assert.is(free.stdout.toString(), "seen /free\n");
  const a = send("/held/a", "a");
  const b = send("/held/b", "b");
  await rowsWithPath(page, "/held/a").locator(".m-intercepted").waitFor();
  await rowsWithPath(page, "/held/b").locator(".m-intercepted").waitFor();
  const resumeAll = page.locator('[data-action="resume-all"]');
  await waitFor(async () => (await resumeAll.textContent())?.includes("(2)") || undefined, "two held flows counted");
  await resumeAll.click();
  const [ra, rb] = await Promise.all([within(a, "a's answer"), within(b, "b's answer")]);
  assert.is(ra.stdout.toString(), "seen /held/a\n");
  assert.is(rb.stdout.toString(), "seen /held/b\n");
  assert.equal(pageProblems(page), []);
});

test("a finished flow edited and replayed: the origin gets the edited request", async () => {
  await page.locator("#intercept-input").fill("");
  await page.locator("#intercept-input").press("Enter");
  await page.locator(".filter.intercept.active").waitFor({ state: "detached" });
  assert.is((await send("/done", "first")).stdout.toString(), "seen /done\n");
  const seen = origin.requests.length;
  await rowsWithPath(page, "/done").first().click();
  await page.locator('[data-action="edit-request"]').click();
  const url = page.locator('[data-testid="edit-form"] input[name="url"]');
  await url.fill((await url.inputValue()).replace("/done", "/done-again"));
  const headers = page.locator('[data-testid="edit-form"] textarea[name="headers"]');
  await headers.fill((await headers.inputValue()).replace("X-Token: first", "X-Token: second"));
  await page.locator('[data-action="save-replay"]').click();
  await waitFor(() => origin.requests.length > seen || undefined, "the replayed request");
  assert.is(origin.requests[seen]!.url, "/done-again");
  assert.is(tokenOf(seen), "second");
  assert.equal(pageProblems(page), []);
});

test("mark (key m), comment, duplicate, delete (key d); kill a held request and its client gets no answer", async () => {
  await page.locator(".flow-scroller").focus();
  await page.keyboard.press("Escape");
  const row = rowsWithPath(page, "/free").first();
  await row.click();
  await page.keyboard.press("m");
  await row.locator(".m-marked").waitFor();
  await page.locator('[data-action="comment"]').click();
  await page.locator('[data-testid="comment-input"]').fill("checked by hand");
  await page.locator('[data-testid="comment-input"]').press("Enter");
  await row.locator(".m-comment").waitFor();
  const copies = rowsWithPath(page, "/free");
  assert.is(await copies.count(), 1);
  await page.locator('[data-action="duplicate"]').click();
  await waitFor(async () => (await copies.count()) === 2 || undefined, "the duplicate listed");
  // Its detail is asked for when it is selected: let that answer come before the flow is deleted
  // (a GET the server takes after the DELETE is a 404, which pageProblems would count).
  const duplicate = await copies.nth(1).getAttribute("data-id");
  const detailLoaded = page.waitForResponse(
    (r) => r.request().method() === "GET" && new URL(r.url()).pathname === `/api/flows/${duplicate}`,
  );
  await copies.nth(1).click();
  await detailLoaded;
  await page.locator(".flow-scroller").focus();
  await page.keyboard.press("d");
  await waitFor(async () => (await copies.count()) === 1 || undefined, "the duplicate deleted");

  await page.locator("#intercept-input").fill("~u /doomed");
  await page.locator("#intercept-input").press("Enter");
  await page.locator(".filter.intercept.active").waitFor();
  const doomed = send("/doomed", "x");
  const held = rowsWithPath(page, "/doomed").first();
  await held.locator(".m-intercepted").waitFor();
  await held.click();
  await page.locator('[data-action="kill"]').click();
  const answer = await within(doomed, "the killed request's client");
  assert.not.ok(answer.stdout.toString().includes("seen /doomed"), "the origin never answered it");
  assert.not.ok(origin.requests.some((r) => r.url === "/doomed"));
  await held.locator(".m-error").waitFor();
  await page.locator("#intercept-input").fill("");
  await page.locator("#intercept-input").press("Enter");
  await page.locator(".filter.intercept.active").waitFor({ state: "detached" });
  assert.equal(pageProblems(page), []);
});

/** The intercept filter set as another tab would: a PUT from the UI's own origin, with its cookie. */
async function setInterceptElsewhere(filter: string): Promise<void> {
  const status = await page.evaluate(async (f) => {
    const init = {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filter: f }),
    };
    return (await fetch("/api/intercept", init)).status;
  }, filter);
  assert.is(status, 200);
}

test("a change from elsewhere shows in an untouched intercept box and never overwrites what is being typed", async () => {
  const box = page.locator("#intercept-input");
  await setInterceptElsewhere("~u /elsewhere");
  await page.locator(".filter.intercept.active").waitFor();
  await waitFor(async () => (await box.inputValue()) === "~u /elsewhere" || undefined, "the outside change shown");

  await box.fill("~u /typed-here");
  await setInterceptElsewhere("");
  await page.locator(".filter.intercept.active").waitFor({ state: "detached" });
  assert.is(await box.inputValue(), "~u /typed-here", "the user's unsaved text is kept");
  await box.press("Enter");
  await page.locator(".filter.intercept.active").waitFor();
  await box.fill("");
  await box.press("Enter");
  await page.locator(".filter.intercept.active").waitFor({ state: "detached" });
});

test("an intercepted response: status and body edited in the UI reach the client", async () => {
  await page.locator("#intercept-input").fill("~s & ~u /answer");
  await page.locator("#intercept-input").press("Enter");
  await page.locator(".filter.intercept.active").waitFor();
  const pending = curl([
    "-s",
    "-i",
    "-x",
    `http://127.0.0.1:${web.proxy.port}`,
    `http://127.0.0.1:${origin.port}/answer`,
  ]);
  const row = rowsWithPath(page, "/answer").first();
  await row.locator(".m-intercepted").waitFor();
  await row.click();
  await page.locator('[data-action="edit-response"]').click();
  const form = page.locator('[data-testid="edit-form"]');
  await form.locator('input[name="status"]').fill("418");
  await form.locator('input[name="reason"]').fill("I'm a teapot");
  const body = form.locator('textarea[name="body"]');
  await waitFor(
    async () => (await body.inputValue()) === "seen /answer\n" || undefined,
    "the body loaded into the form",
  );
  await body.fill("short and stout\n");
  await page.locator('[data-action="save-resume"]').click();
  const answer = (await within(pending, "the client's answer")).stdout.toString();
  assert.match(answer, /^HTTP\/1\.1 418 I'm a teapot\r\n/);
  assert.ok(answer.endsWith("\r\n\r\nshort and stout\n"), answer);
  await page.locator("#intercept-input").fill("");
  await page.locator("#intercept-input").press("Enter");
  await page.locator(".filter.intercept.active").waitFor({ state: "detached" });
});

test("a WebSocket flow: its messages both ways in the Messages tab, binary ones as hex", async () => {
  const wsOrigin = await startWsOrigin();
  try {
    const tunnel = await openTunnel(web.proxy.port, `127.0.0.1:${wsOrigin.port}`);
    const client = await WsClient.open(`ws://127.0.0.1:${wsOrigin.port}/chat`, {
      socket: tunnel.socket,
      perMessageDeflate: false,
    });
    client.send("hello over ws");
    client.send(Buffer.from([0, 1, 2, 255]), true);
    await client.waitMessages(2);
    const row = rowsWithPath(page, "/chat").first();
    // The detail pane closed, the list is wide enough for every column.
    await page.locator(".flow-scroller").focus();
    await page.keyboard.press("Escape");
    await row.locator(".col-protocol", { hasText: "ws" }).waitFor();
    await row.click();
    await page.locator('[data-tab="messages"]').click();
    const messages = page.locator('[data-testid="messages"]');
    await messages.locator(".msg.from-server").nth(1).waitFor();
    assert.is(await messages.locator(".msg.from-client").count(), 2);
    const text = (await messages.textContent()) ?? "";
    assert.ok(text.includes("hello over ws"), text);
    assert.ok(text.includes("00 01 02 ff"), text);
    await screenshot(page, "websocket-messages");
    client.ws.close(1000, "bye");
    await client.waitClosed();
  } finally {
    await wsOrigin.close();
  }
});

test.run();
