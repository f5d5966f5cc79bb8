import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import rewriteJson from "./rewrite-json.ts";

const JSON_HEADERS = { "Content-Type": "application/json; charset=utf-8" };

test("a JSON object gets the field; Content-Length follows the new body", async () => {
  const ctx = await testContext(rewriteJson);
  const body = JSON.stringify({ id: 1, name: "ada" });
  const flow = await ctx.http(testFlow({ url: "https://example.com/api/user/1" }), {
    status: 200,
    headers: JSON_HEADERS,
    body,
  });
  const res = flow.response!;
  assert.equal(JSON.parse(res.body.toString()), { id: 1, name: "ada", intercepted: true });
  assert.is(res.headers.get("content-length"), String(res.body.length));
  assert.ok(res.body.length > body.length);
});

test("each object of a top-level array gets it; other values stay", async () => {
  const ctx = await testContext(rewriteJson);
  const body = JSON.stringify([{ id: 1 }, 2, "x", null, { id: 3, tags: [{ deep: true }] }]);
  const flow = await ctx.http(testFlow({ url: "https://example.com/api/list" }), {
    status: 200,
    headers: { "content-type": "application/vnd.api+json" },
    body,
  });
  assert.equal(flow.response!.json(), [
    { id: 1, intercepted: true },
    2,
    "x",
    null,
    { id: 3, tags: [{ deep: true }], intercepted: true },
  ]);
});

test("a gzip-encoded response stays gzip-encoded, with the right Content-Length", async () => {
  const ctx = await testContext(rewriteJson);
  const body = gzipSync(JSON.stringify({ big: "x".repeat(1000) }));
  const flow = await ctx.http(testFlow({ url: "https://example.com/api/big" }), {
    status: 200,
    headers: { ...JSON_HEADERS, "Content-Encoding": "gzip" },
    body,
  });
  const res = flow.response!;
  assert.is(res.headers.get("content-encoding"), "gzip");
  assert.is(res.headers.get("content-length"), String(res.body.length));
  assert.equal(JSON.parse(gunzipSync(res.body).toString()), { big: "x".repeat(1000), intercepted: true });
});

test("brotli too; a chunked response gets no Content-Length", async () => {
  const ctx = await testContext(rewriteJson);
  const flow = await ctx.http(testFlow({ url: "https://example.com/api/br" }), {
    status: 200,
    headers: { ...JSON_HEADERS, "Content-Encoding": "br", "Transfer-Encoding": "chunked" },
    body: brotliCompressSync('{"a":1}'),
  });
  const res = flow.response!;
  assert.equal(JSON.parse(brotliDecompressSync(res.body).toString()), { a: 1, intercepted: true });
  assert.is(res.headers.get("content-length"), null);
});

test("untouched: other paths, other types, broken JSON, bad gzip, non-objects, empty bodies", async () => {
  const ctx = await testContext(rewriteJson);
  const cases: Array<[string, Record<string, string>, string]> = [
    ["https://example.com/static/x.json", JSON_HEADERS, '{"a":1}'],
    ["https://example.com/api/page", { "Content-Type": "text/html" }, '{"a":1}'],
    ["https://example.com/api/broken", JSON_HEADERS, '{"a":'],
    ["https://example.com/api/bad-gzip", { ...JSON_HEADERS, "Content-Encoding": "gzip" }, "not gzip at all"],
    ["https://example.com/api/number", JSON_HEADERS, "42"],
    ["https://example.com/api/empty", JSON_HEADERS, ""],
  ];
  for (const [url, headers, body] of cases) {
    const flow = await ctx.http(testFlow({ url }), { status: 200, headers, body });
    assert.equal(flow.response!.body, Buffer.from(body), url);
    assert.is(flow.response!.headers.get("content-length"), String(Buffer.byteLength(body)), url);
  }
  // Broken JSON and the bad gzip body are worth a warning; the rest is silently not ours.
  const warnings = ctx.logLines("warn");
  assert.is(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0]!, /^\[rewrite-json\] not rewriting https:\/\/example\.com\/api\/broken: /);
  assert.match(warnings[1]!, /api\/bad-gzip: cannot decode gzip body/);
});

test("a streamed response (its body already went to the client) is left alone", async () => {
  const ctx = await testContext(rewriteJson);
  const streamed = new Response({ status: 200, headers: { ...JSON_HEADERS, "Content-Length": "5000" } });
  streamed.stream = true;
  const flow = await ctx.http(testFlow({ url: "https://example.com/api/huge" }), streamed);
  assert.is(flow.response!.body.length, 0);
  assert.is(flow.response!.headers.get("content-length"), "5000");
  assert.equal(ctx.logLines("warn"), []);
});

test("the path option is live", async () => {
  const ctx = await testContext(rewriteJson, { rewriteJsonPath: "/v2/" });
  const v1 = await ctx.http(testFlow({ url: "https://example.com/api/a" }), {
    status: 200,
    headers: JSON_HEADERS,
    body: "{}",
  });
  const v2 = await ctx.http(testFlow({ url: "https://example.com/v2/a" }), {
    status: 200,
    headers: JSON_HEADERS,
    body: "{}",
  });
  assert.equal(v1.response!.json(), {});
  assert.equal(v2.response!.json(), { intercepted: true });
});

test.run();
