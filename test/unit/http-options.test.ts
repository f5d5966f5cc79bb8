// The option addons of addons/http-options (block_list, anticache, anticomp, stickyauth) through
// the sdk's test harness, and the sdk's Request.anticache()/anticomp() they call.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Request } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { AntiCache } from "../../addons/http-options/anticache.ts";
import { AntiComp } from "../../addons/http-options/anticomp.ts";
import { BlockList } from "../../addons/http-options/block-list.ts";
import { StickyAuth } from "../../addons/http-options/stickyauth.ts";

const conditional = () =>
  Request.fromUrl("http://example.com/", {
    headers: [
      ["Host", "example.com"],
      ["If-None-Match", '"v1"'],
      ["if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT"],
      ["If-None-Match", '"v2"'],
      ["If-Match", '"keep"'],
      ["Accept-Encoding", "gzip, br"],
      ["accept-encoding", "zstd"],
    ],
  });

test("Request.anticache() removes every If-None-Match and If-Modified-Since field, nothing else", () => {
  const r = conditional();
  r.anticache();
  assert.equal(r.headers.fields, [
    ["Host", "example.com"],
    ["If-Match", '"keep"'],
    ["Accept-Encoding", "gzip, br"],
    ["accept-encoding", "zstd"],
  ]);
  const empty = Request.fromUrl("http://example.com/");
  empty.anticache();
  assert.is(empty.headers.size, 0);
});

test("Request.anticomp() leaves one Accept-Encoding: identity (added when there was none)", () => {
  const r = conditional();
  r.anticomp();
  assert.equal(r.headers.getAll("accept-encoding"), ["identity"]);
  assert.is(r.headers.fields[5]![0], "Accept-Encoding", "the first field keeps its place and spelling");
  const none = Request.fromUrl("http://example.com/");
  none.anticomp();
  assert.equal(none.headers.fields, [["Accept-Encoding", "identity"]]);
});

test("anticache and anticomp act only while their option is on", async () => {
  const ctx = await testContext([new AntiCache(), new AntiComp()]);
  const off = await ctx.http(testFlow({ url: "http://example.com/", headers: conditional().headers }), {});
  assert.is(off.request.headers.get("if-none-match"), '"v1", "v2"');
  assert.is(off.request.headers.get("accept-encoding"), "gzip, br, zstd");
  await ctx.setOptions({ anticache: true });
  const cache = await ctx.http(testFlow({ url: "http://example.com/", headers: conditional().headers }), {});
  assert.not.ok(cache.request.headers.has("if-none-match"));
  assert.not.ok(cache.request.headers.has("if-modified-since"));
  assert.is(cache.request.headers.get("accept-encoding"), "gzip, br, zstd");
  await ctx.setOptions({ anticache: false, anticomp: true });
  const comp = await ctx.http(testFlow({ url: "http://example.com/", headers: conditional().headers }), {});
  assert.ok(comp.request.headers.has("if-none-match"));
  assert.is(comp.request.headers.get("accept-encoding"), "identity");
});

test("block_list: the first matching spec answers or kills; unmatched and answered flows pass", async () => {
  const ctx = await testContext(new BlockList(), {
    blockList: ["|~u /ads/|404", "|~d tracker\\.test|444", "!~m POST!403"],
  });
  const ad = await ctx.http(testFlow({ url: "http://example.com/ads/banner" }), { status: 200, body: "real" });
  assert.is(ad.response?.status, 404);
  assert.is(ad.response?.body.length, 0);
  assert.is(ad.response?.headers.get("server"), "interloper");
  assert.is(ad.response?.headers.get("content-length"), "0");
  assert.is(ad.metadata.blocklisted, true);

  const killed = await ctx.http(testFlow({ url: "https://tracker.test/p" }), { status: 200 });
  assert.ok(killed.killed, "444 kills the flow: no response at all");
  assert.is(killed.response, undefined);

  const post = await ctx.http(testFlow({ url: "http://example.com/form", method: "POST" }), {});
  assert.is(post.response?.status, 403);

  const fine = await ctx.http(testFlow({ url: "http://example.com/news" }), { status: 200, body: "news" });
  assert.is(fine.response?.text(), "news");
  assert.is(fine.metadata.blocklisted, undefined);
});

test("block_list: a bad spec refuses the whole change and the old list stays", async () => {
  const ctx = await testContext(new BlockList(), { blockList: ["|~u /first|404"] });
  try {
    await ctx.setOptions({ blockList: ["|~u /second|410", "|~u /third|nope"] });
    assert.unreachable("accepted a bad spec");
  } catch (err) {
    assert.is(
      (err as Error).message,
      "invalid value for block_list: '|~u /third|nope' ('nope' is not an HTTP status code)",
    );
  }
  assert.equal(ctx.host.options.get("blockList"), ["|~u /first|404"]);
  const a = await ctx.http(testFlow({ url: "http://example.com/first" }), { status: 200 });
  assert.is(a.response?.status, 404);
  const b = await ctx.http(testFlow({ url: "http://example.com/second" }), { status: 200 });
  assert.is(b.response?.status, 200);
});

test("stickyauth: Authorization remembered per host, added to matching requests that lack it", async () => {
  const ctx = await testContext(new StickyAuth(), { stickyauth: "~u /api" });
  await ctx.http(testFlow({ url: "http://svc.test/login", headers: { Authorization: "Basic YTpi" } }), {});
  const api = await ctx.http(testFlow({ url: "http://svc.test/api/x" }), {});
  assert.is(api.request.headers.get("authorization"), "Basic YTpi");
  const unmatched = await ctx.http(testFlow({ url: "http://svc.test/page" }), {});
  assert.not.ok(unmatched.request.headers.has("authorization"), "the filter does not match");
  const other = await ctx.http(testFlow({ url: "http://other.test/api" }), {});
  assert.not.ok(other.request.headers.has("authorization"), "another host");
  const own = await ctx.http(testFlow({ url: "http://svc.test/api", headers: { Authorization: "Bearer t" } }), {});
  assert.is(own.request.headers.get("authorization"), "Bearer t", "a request's own Authorization stays");
  const latest = await ctx.http(testFlow({ url: "http://svc.test/api" }), {});
  assert.is(latest.request.headers.get("authorization"), "Bearer t", "the last one seen is used");
});

test("stickyauth: off by default and when emptied; a bad filter is refused with one line", async () => {
  const ctx = await testContext(new StickyAuth());
  await ctx.http(testFlow({ url: "http://svc.test/", headers: { Authorization: "Basic YTpi" } }), {});
  await ctx.setOptions({ stickyauth: "." });
  const f = await ctx.http(testFlow({ url: "http://svc.test/" }), {});
  assert.not.ok(f.request.headers.has("authorization"), "nothing was remembered while unset");
  try {
    await ctx.setOptions({ stickyauth: "~u (" });
    assert.unreachable("accepted a bad filter");
  } catch (err) {
    assert.match((err as Error).message, /^invalid value for stickyauth: invalid filter at column \d+: /);
  }
  assert.is(ctx.host.options.get("stickyauth"), ".");
  await ctx.setOptions({ stickyauth: "" });
  await ctx.http(testFlow({ url: "http://svc.test/", headers: { Authorization: "Basic YTpi" } }), {});
  await ctx.setOptions({ stickyauth: "." });
  const g = await ctx.http(testFlow({ url: "http://svc.test/" }), {});
  assert.not.ok(g.request.headers.has("authorization"));
});

test.run();
