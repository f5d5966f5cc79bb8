import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import mapLocal from "./map-local.ts";

// tmp/site is served; tmp/secret.txt sits next to it and must never be readable.
const tmp = mkdtempSync(join(tmpdir(), "interloper-map-local-"));
const site = join(tmp, "site");
mkdirSync(join(site, "js"), { recursive: true });
writeFileSync(join(site, "index.html"), "<h1>local index</h1>");
writeFileSync(join(site, "js", "app.js"), "console.log('local build');");
writeFileSync(join(site, "data.JSON"), '{"local":true}');
writeFileSync(join(site, "blob.bin"), Buffer.from([0, 1, 2, 255]));
writeFileSync(join(site, "two words.txt"), "spaced");
writeFileSync(join(tmp, "secret.txt"), "TOP SECRET");
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const options = { mapLocalPrefix: "https://example.com/static/", mapLocalDir: site };
const noServer = (): never => {
  throw new Error("the server must not be contacted for a mapped URL");
};

async function get(url: string, rawPath?: string) {
  const ctx = await testContext(mapLocal, options);
  const flow = testFlow({ url });
  // Real clients can send paths that `new URL` would normalise away (curl --path-as-is).
  if (rawPath !== undefined) flow.request.path = rawPath;
  return (await ctx.http(flow, noServer)).response!;
}

test("a file under the prefix is served with a content type by extension", async () => {
  const js = await get("https://example.com/static/js/app.js?v=3");
  assert.is(js.status, 200);
  assert.is(js.text(), "console.log('local build');");
  assert.is(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.is(js.headers.get("content-length"), String(js.body.length));

  const json = await get("https://example.com/static/data.JSON");
  assert.is(json.headers.get("content-type"), "application/json");
  assert.equal(json.json(), { local: true });

  const bin = await get("https://example.com/static/blob.bin");
  assert.is(bin.headers.get("content-type"), "application/octet-stream");
  assert.equal([...bin.body], [0, 1, 2, 255]);
});

test("the directory itself and percent-encoded names", async () => {
  const index = await get("https://example.com/static/");
  assert.is(index.text(), "<h1>local index</h1>");
  assert.match(index.headers.get("content-type") ?? "", /^text\/html/);
  assert.is((await get("https://example.com/static/two%20words.txt")).text(), "spaced");
});

test("a missing file is a 404", async () => {
  const r = await get("https://example.com/static/js/nope.js");
  assert.is(r.status, 404);
  assert.is((await get("https://example.com/static/index.html/x")).status, 404);
  assert.is((await get("https://example.com/static/js")).status, 404); // a directory is not a file
});

test("path traversal is refused, however it is spelled", async () => {
  for (const path of [
    "/static/../secret.txt",
    "/static/js/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E%2Fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/%zz",
  ]) {
    const r = await get("https://example.com/", path);
    assert.is(r.status, 403, path);
    assert.not.match(r.text(), /TOP SECRET/, path);
  }
});

test("requests outside the prefix go to the server", async () => {
  const ctx = await testContext(mapLocal, { ...options, mapLocalPrefix: "https://example.com/static" });
  for (const url of [
    "https://example.com/other/app.js",
    "https://example.com/static-old/app.js",
    "http://example.com/static/js/app.js",
  ]) {
    const flow = await ctx.http(testFlow({ url }), { status: 200, body: "from server" });
    assert.is(flow.response?.text(), "from server", url);
  }
  // The same prefix without its slash still maps what is below it.
  const flow = await ctx.http(testFlow({ url: "https://example.com/static/js/app.js" }), noServer);
  assert.is(flow.response?.status, 200);
});

test("without both options nothing is mapped", async () => {
  const ctx = await testContext(mapLocal, { mapLocalPrefix: "https://example.com/static/" });
  const flow = await ctx.http(testFlow({ url: "https://example.com/static/index.html" }), {
    status: 200,
    body: "from server",
  });
  assert.is(flow.response?.text(), "from server");
});

test.run();
