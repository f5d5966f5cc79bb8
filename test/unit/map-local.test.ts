// map_local (addons/modify/map-local.ts, local-files.ts): which files a URL
// may be answered from (mitmproxy's candidates), traversal attempts (`..`,
// `%2e%2e`, absolute paths, symbolic links out of the folder) never served,
// content types, index.html and the 404 when nothing exists.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compilePythonRegex, OptionError } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { contentTypeOf } from "../../addons/modify/content-types.ts";
import { fileCandidates, percentDecode, safeParts, urlSuffix } from "../../addons/modify/local-files.ts";
import { MapLocal } from "../../addons/modify/map-local.ts";

const root = mkdtempSync(join(tmpdir(), "map-local-"));
const site = join(root, "site");
mkdirSync(join(site, "css/print"), { recursive: true });
mkdirSync(join(site, "docs"), { recursive: true });
writeFileSync(join(site, "index.html"), "<h1>home</h1>");
writeFileSync(join(site, "css/print/main.css"), "body{}");
writeFileSync(join(site, "docs/index.html"), "docs");
writeFileSync(join(site, "a b.txt"), "space");
writeFileSync(join(site, "app.js"), "js");
writeFileSync(join(root, "secret.txt"), "SECRET");
symlinkSync(join(root, "secret.txt"), join(site, "leak.txt"));
symlinkSync(root, join(site, "up"));
symlinkSync(join(site, "app.js"), join(site, "inside.js"));
const single = join(root, "single.json");
writeFileSync(single, "{}");

const rx = (p: string) => compilePythonRegex(p);

test("candidates: the rest of the URL, query removed; with a group, the first group", () => {
  const css = fileCandidates("https://example.com/css/print/main.css?t=1", rx("example.com/css"), "/d");
  assert.equal(css, ["/d/print/main.css", "/d/print/main.css/index.html"]);
  assert.equal(fileCandidates("https://example.com/static", rx("example.com/static"), "/d"), ["/d/index.html"]);
  assert.equal(fileCandidates("https://example.com/static/", rx("example.com/static"), "/d/"), ["/d/index.html"]);
  const page = fileCandidates(
    "https://example.com/index.php?page=about",
    rx("example.com/index.php\\?page=(.+)"),
    "/d",
  );
  assert.equal(page, ["/d/about", "/d/about/index.html"]);
  assert.equal(fileCandidates("https://x/a", rx("x/(b)?"), "/d"), ["/d/index.html"], "a group that took no part");
  assert.equal(urlSuffix("https://x//a//b//?q", rx("x")), "a//b");
});

test("candidates: percent-decoded, then with odd characters as _", () => {
  assert.equal(fileCandidates("http://h/s/a%20b.txt", rx("h/s"), "/d"), [
    "/d/a b.txt",
    "/d/a b.txt/index.html",
    "/d/a_b.txt",
    "/d/a_b.txt/index.html",
  ]);
  assert.is(percentDecode("caf%C3%A9%2F%zz%4"), "café/%zz%4");
  assert.is(percentDecode("%ff"), "\ufffd");
  assert.equal(fileCandidates("http://h/s/%F0%9F%99%82", rx("h/s"), "/d")!.slice(2), ["/d/_", "/d/_/index.html"]);
});

test("candidates: any way out of the folder gives none", () => {
  for (const url of [
    "http://h/s/../secret.txt",
    "http://h/s/%2e%2e/secret.txt",
    "http://h/s/%2E%2E%2fsecret.txt",
    "http://h/s/a/%2e%2e/%2e%2e/x",
    "http://h/s/..",
    "http://h/s/%00",
    "http://h/s/x%00.txt",
  ])
    assert.is(fileCandidates(url, rx("h/s"), "/d"), null, url);
  assert.is(fileCandidates("http://h/s//etc/passwd", rx("h/s(.*)"), "/d"), null, "an absolute group");
  assert.equal(safeParts("a/./b//c"), ["a", "b", "c"]);
  assert.equal(safeParts(".."), null);
  assert.equal(safeParts("a/.."), null);
  assert.equal(safeParts("..."), ["..."], "three dots is a name");
  assert.equal(safeParts("a\\..\\b"), ["a\\..\\b"], "a backslash is no separator on POSIX");
});

const request = async (ctx: Awaited<ReturnType<typeof testContext>>, url: string, init = {}) => {
  const flow = testFlow({ url, ...init });
  await ctx.trigger("request", flow);
  return flow;
};

test("serving: files, index.html, content types, a single file for every match", async () => {
  const ctx = await testContext(new MapLocal(), {
    mapLocal: [`|example.com/static|${site}`, `|~m GET|api.test/config|${single}`],
  });
  const css = await request(ctx, "https://example.com/static/css/print/main.css?x=1");
  assert.is(css.response!.status, 200);
  assert.is(css.response!.text(), "body{}");
  assert.is(css.response!.headers.get("content-type"), "text/css");
  assert.match(css.response!.headers.get("server")!, /^interloper /);
  assert.is((await request(ctx, "https://example.com/static")).response!.text(), "<h1>home</h1>");
  assert.is((await request(ctx, "https://example.com/static/docs")).response!.text(), "docs");
  assert.is((await request(ctx, "https://example.com/static/a%20b.txt")).response!.text(), "space");
  assert.is(
    (await request(ctx, "https://example.com/static/inside.js")).response!.text(),
    "js",
    "a link inside is fine",
  );
  const json = await request(ctx, "https://api.test/config/anything");
  assert.is(json.response!.text(), "{}");
  assert.is(json.response!.headers.get("content-type"), "application/json");
  const post = await request(ctx, "https://api.test/config", { method: "POST" });
  assert.is(post.response, undefined, "the filter did not match: the server answers");
  assert.is((await request(ctx, "https://other.test/static/x")).response, undefined);
});

test("serving: a missing file is mitmproxy's empty 404, with the candidates logged", async () => {
  const ctx = await testContext(new MapLocal(), { mapLocal: [`|example.com/static|${site}`] });
  const flow = await request(ctx, "https://example.com/static/nope.css");
  assert.is(flow.response!.status, 404);
  assert.is(flow.response!.reason, "Not Found");
  assert.is(flow.response!.body.length, 0);
  assert.ok(
    ctx
      .logLines("info")
      .some((l) =>
        l.includes(`None of the local file candidates exist: ${site}/nope.css, ${site}/nope.css/index.html`),
      ),
  );
});

test("serving: traversal and links out of the folder are never served", async () => {
  const ctx = await testContext(new MapLocal(), { mapLocal: [`|example.com/static|${site}`] });
  for (const path of ["%2e%2e/secret.txt", "..%2fsecret.txt", "%2E%2E/%2E%2E/etc/passwd"]) {
    const flow = await request(ctx, `https://example.com/static/${path}`);
    assert.is(flow.response, undefined, `${path}: not answered from a file (the server gets it, as in mitmproxy)`);
  }
  for (const path of ["leak.txt", "up/secret.txt"]) {
    const flow = await request(ctx, `https://example.com/static/${path}`);
    assert.is(flow.response!.status, 404, path);
    assert.not.ok(flow.response!.text().includes("SECRET"));
  }
  assert.ok(ctx.logLines("info").some((l) => /names a path outside/.test(l)));
  assert.ok(ctx.logLines("info").some((l) => /leak\.txt leads outside/.test(l)));
});

test("serving: the first rule with a file wins; answered flows are left alone", async () => {
  const ctx = await testContext(new MapLocal(), {
    mapLocal: [`|example.com/|${join(site, "docs")}`, `|example.com/|${site}`],
  });
  const flow = await request(ctx, "https://example.com/app.js");
  assert.is(flow.response!.text(), "js");
  assert.is(flow.response!.headers.get("content-type"), "text/javascript");
  const answered = testFlow({ url: "https://example.com/app.js", response: { status: 204 } });
  await ctx.trigger("request", answered);
  assert.is(answered.response!.status, 204);
});

test("bad values: a path that does not exist, an empty path, a bad regex", async () => {
  const ctx = await testContext(new MapLocal());
  for (const [value, re] of [
    [`|x|${join(root, "missing")}`, /invalid file path .*missing: ENOENT/],
    ["|x|", /empty path/],
    [`|(|${site}`, /invalid regex/],
    [`|~bad|x|${site}`, /invalid filter/],
  ] as const) {
    const err = await ctx.setOptions({ mapLocal: [value] }).catch((e: unknown) => e);
    assert.ok(err instanceof OptionError, value);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith("invalid value for map_local '"), err.message);
  }
});

test("content types follow the file name, as Python's mimetypes gives them", () => {
  assert.is(contentTypeOf("/a/b.HTML"), "text/html");
  assert.is(contentTypeOf("x.woff2"), "font/woff2");
  assert.is(contentTypeOf("x.svg"), "image/svg+xml");
  assert.is(contentTypeOf("/a/.bashrc"), undefined);
  assert.is(contentTypeOf("/a.d/file"), undefined);
  assert.is(contentTypeOf("x.constructor"), undefined);
  assert.is(contentTypeOf("x.__proto__"), undefined);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
