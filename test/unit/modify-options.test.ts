// The four rewrite addons (addons/modify/) through the sdk's harness: which
// hook each acts in, filters, mitmproxy's rules for each (modify_headers'
// remove-then-add, modify_body on decoded bytes, map_remote on the pretty
// URL), @file values read at each use, and refused values keeping the old ones.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OptionError } from "@interloper/sdk";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { MapRemote, ModifyBody, ModifyHeaders } from "../../addons/modify/index.ts";
import { mapUrl, parseRemoteRule } from "../../addons/modify/map-remote.ts";
import { bodyOperators, fileHeaderValue, parseHeaderRule } from "../../addons/modify/modify-headers.ts";
import { parseBodyRule } from "../../addons/modify/modify-body.ts";
import { SpecError } from "../../addons/modify/spec.ts";

const dir = mkdtempSync(join(tmpdir(), "modify-options-"));
const file = (name: string, body: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
};
const specError = (re: RegExp) => (e: unknown) => e instanceof SpecError && re.test(e.message);

test("modify_headers: remove every field of the name, then add; an empty value only removes", async () => {
  const ctx = await testContext(new ModifyHeaders(), {
    modifyHeaders: ["|~q|X-A|1", "|~q|x-a|2", "|~q|Accept|", "|~s|Server|interloper"],
  });
  const flow = testFlow({ headers: { "X-A": "old", Accept: "*/*", "X-Keep": "k" } });
  await ctx.http(flow, { headers: { Server: "nginx", "X-A": "resp" } });
  assert.equal(flow.request.headers.getAll("x-a"), ["1", "2"]);
  assert.not.ok(flow.request.headers.has("accept"));
  assert.is(flow.request.headers.get("x-keep"), "k");
  assert.is(flow.response!.headers.get("server"), "interloper");
  assert.is(flow.response!.headers.get("x-a"), "resp", "~q rules leave the response alone");
});

test("modify_headers: filters are asked before any change; acts in the *headers hooks", async () => {
  const ctx = await testContext(new ModifyHeaders(), {
    modifyHeaders: ["/~q & !~h Host:/Host/example.org", "/~h X-Flag/X-Seen/yes", "/~q/X-Flag/"],
  });
  const flow = testFlow({ headers: { "X-Flag": "1" } });
  await ctx.trigger("requestheaders", flow);
  assert.is(flow.request.headers.get("host"), "example.com", "Host existed: the first rule did not match");
  assert.is(flow.request.headers.get("x-seen"), "yes", "the filter saw X-Flag before the third rule removed it");
  assert.not.ok(flow.request.headers.has("x-flag"));
  const answered = testFlow({ response: { status: 200 } });
  await ctx.trigger("requestheaders", answered);
  assert.not.ok(answered.request.headers.has("x-seen"), "a request already answered is left alone");
});

test("modify_headers: a filter on bodies (~b, ~bq, ~bs) is warned about at configure time, naming the spec", async () => {
  const ctx = await testContext(new ModifyHeaders(), {
    modifyHeaders: ["/~q & ~b secret/X-A/1", "#!(~bs x | ~d y)#X-B#2", "/~q/X-C/3", "/~h b/X-D/4", '|~u "~b"|X-E|5'],
  });
  const warnings = ctx.logLines("warn");
  assert.is(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0]!, /modify_headers '\/~q & ~b secret\/X-A\/1': ~b never matches here: .*requestheaders/);
  assert.match(warnings[1]!, /modify_headers '#!\(~bs x \| ~d y\)#X-B#2': ~bs never matches here/);
  assert.equal(bodyOperators("~bq a | ~b b & ~bs c"), ["~bq", "~b", "~bs"]);
  assert.equal(bodyOperators('~h "~b"'), [], "an argument is not an operator");
  assert.equal(bodyOperators(undefined), []);
  await ctx.setOptions({ modifyHeaders: ["/~q/X-C/3"] });
  assert.is(ctx.logLines("warn").length, 2, "no warning for a rule without body operators");
});

test("modify_headers: @file values are read at each use, the trailing line break dropped", async () => {
  const path = file("ua.txt", "agent/1\n");
  const ctx = await testContext(new ModifyHeaders(), { modifyHeaders: [`|~q|User-Agent|@${path}`] });
  const first = testFlow();
  await ctx.trigger("requestheaders", first);
  assert.is(first.request.headers.get("user-agent"), "agent/1");
  writeFileSync(path, "agent/2\r\n");
  const second = testFlow();
  await ctx.trigger("requestheaders", second);
  assert.is(second.request.headers.get("user-agent"), "agent/2");
  writeFileSync(path, "a\nb");
  const third = testFlow({ headers: { "User-Agent": "curl" } });
  await ctx.trigger("requestheaders", third);
  assert.not.ok(third.request.headers.has("user-agent"), "removed; a value with a line break inside is not added");
  assert.ok(ctx.logLines("warn").some((l) => /could not read the value of User-Agent/.test(l)));
  assert.throws(() => fileHeaderValue(Buffer.from("a\0b")), /NUL/);
  assert.is(fileHeaderValue(Buffer.from("caf\xe9", "latin1")), "caf\xe9");
});

test("modify_headers: bad values are refused, and at run time the old rules stay", async () => {
  for (const [text, re] of [
    ["|~q||v", /empty header name/],
    ["|~q|Bad Name|v", /invalid header name/],
    ["|~q|X|a\\nb", /CR, LF or NUL/],
    ["|~q|X|\\x4", /bad escape in the replacement/],
    [`|~q|X|@${join(dir, "missing")}`, /cannot read file/],
    ["|X", /found 1/],
  ] as const)
    await parseHeaderRule(text).then(
      () => assert.unreachable(text),
      (e: unknown) => assert.ok(specError(re)(e), `${text}: ${String(e)}`),
    );
  const ctx = await testContext(new ModifyHeaders(), { modifyHeaders: ["|~q|X-A|1"] });
  const err = await ctx.setOptions({ modifyHeaders: ["|~zz|X|1"] }).catch((e: unknown) => e);
  assert.ok(err instanceof OptionError);
  assert.match(err.message, /^invalid value for modify_headers '\|~zz\|X\|1': invalid filter/);
  const flow = testFlow();
  await ctx.trigger("requestheaders", flow);
  assert.is(flow.request.headers.get("x-a"), "1");
});

test("modify_body: regex on decoded bytes of requests and responses, encoding kept", async () => {
  const ctx = await testContext(new ModifyBody(), { modifyBody: ["/~q/foo/bar", "/~s/(?P<w>sec)ret/\\g<w>***"] });
  const flow = testFlow({ method: "POST", body: "foo food" });
  await ctx.http(flow, {
    headers: { "Content-Encoding": "gzip" },
    body: gzipSync("a secret\nsecret"),
  });
  assert.is(flow.request.text(), "bar bard");
  assert.is(flow.request.headers.get("content-length"), "8");
  assert.is(gunzipSync(flow.response!.body).toString(), "a sec***\nsec***");
  assert.is(flow.response!.headers.get("content-length"), String(flow.response!.body.length));
});

test("modify_body: dotall, escapes decoded as in mitmproxy, binary bodies", async () => {
  const ctx = await testContext(new ModifyBody(), {
    modifyBody: ["|~s|<b>.*</b>|<i>x</i>", "|~s|\\x00\\xff|\\n", "|~s|(a)(b)|\\\\2\\\\1"],
  });
  const flow = testFlow();
  await ctx.http(flow, {
    body: Buffer.concat([Buffer.from("<b>1\n2</b> "), Buffer.from([0, 0xff]), Buffer.from(" ab")]),
  });
  assert.is(flow.response!.body.toString("latin1"), "<i>x</i> \n ba");
});

test("modify_body: an @file replacement is a template as in mitmproxy 8.1.1, read at each use", async () => {
  const path = file("repl.js", "x = '\\1\\n\\\\';");
  const ctx = await testContext(new ModifyBody(), { modifyBody: [`:~s:(PLACEHOLDER):@${path}`] });
  const first = testFlow();
  await ctx.http(first, { body: "<script>PLACEHOLDER</script>" });
  assert.is(first.response!.text(), "<script>x = 'PLACEHOLDER\n\\';</script>", "group, escape, backslash");
  writeFileSync(path, "two");
  const second = testFlow();
  await ctx.http(second, { body: "PLACEHOLDER" });
  assert.is(second.response!.text(), "two");
  writeFileSync(path, "\\g<9>");
  const third = testFlow();
  await ctx.http(third, { body: "PLACEHOLDER" });
  assert.is(third.response!.text(), "PLACEHOLDER", "a bad template leaves the body");
  const warning = ctx.logLines("warn").at(-1) ?? "";
  assert.ok(warning.includes(`${path} is not a valid replacement template`), warning);
  const refused: unknown = await parseBodyRule(`:~s:(P):@${path}`).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(specError(/invalid replacement in .*repl\.js/)(refused), String(refused));
});

test("modify_body: streamed messages and flows answered or failed are left alone", async () => {
  const ctx = await testContext(new ModifyBody(), { modifyBody: ["|a|b"] });
  const streamed = testFlow({ method: "POST", body: "" });
  streamed.request.stream = true;
  await ctx.trigger("request", streamed);
  assert.is(ctx.logLines("warn").length, 0, "no complaint about a streamed body");
  const answered = testFlow({ method: "POST", body: "aaa", response: { body: "a" } });
  await ctx.trigger("request", answered);
  assert.is(answered.request.text(), "aaa");
  const failed = testFlow({ response: { body: "a" } });
  failed.error = { msg: "x", timestamp: 0 };
  await ctx.trigger("response", failed);
  assert.is(failed.response!.text(), "a");
  const broken = testFlow();
  await ctx.http(broken, { headers: { "Content-Encoding": "gzip" }, body: "not gzip" });
  assert.is(broken.response!.body.toString(), "not gzip", "an undecodable body is left as it was");
  assert.ok(ctx.logLines("warn").some((l) => /modify_body: \|a\|b: /.test(l)));
});

test("modify_body: bad regexes and templates are refused", async () => {
  for (const [text, re] of [
    ["|(|x", /invalid regex: missing \), unterminated subpattern at position 0/],
    ["|a**|x", /invalid regex: multiple repeat/],
    ["|||x", /empty filter/],
    ["|~q||x", /empty regex/],
    ["|(a)|\\\\2", /invalid replacement: invalid group reference 2/],
    ["|a|\\\\q", /invalid replacement: bad escape \\q/],
    ["|a\\x|b", /bad escape in the regex/],
    [`|a|@${join(dir, "nope")}`, /cannot read file/],
  ] as const)
    await parseBodyRule(text).then(
      () => assert.unreachable(text),
      (e: unknown) => assert.ok(specError(re)(e), `${text}: ${String(e)}`),
    );
});

test("map_remote: the pretty URL rewritten as re.sub does; the Host header follows", () => {
  const rule = (t: string) => parseRemoteRule(t);
  assert.is(mapUrl(rule("|//example.org/|//mitmproxy.org/"), "https://example.org/a"), "https://mitmproxy.org/a");
  assert.is(
    mapUrl(rule("|.*\\.jpg$|https://placedog.net/640/480?random"), "http://h/x.jpg"),
    "https://placedog.net/640/480?random",
  );
  assert.is(mapUrl(rule("|^http://([^/]+)/(.*)|https://\\2.test/\\1"), "http://a.b/c"), "https://c.test/a.b");
  assert.is(mapUrl(rule("|(?P<h>h)|\\g<h>\\g<h>"), "http://h/"), "hhttp://hh/");
  assert.throws(() => rule("|(a)|\\2"), specError(/invalid replacement: invalid group reference 2/));
  assert.throws(() => rule("|[|x"), specError(/invalid regex/));
  assert.throws(() => rule("|~q||x"), specError(/empty regex/));
});

test("map_remote: in request, only matching flows, URL and Host changed", async () => {
  const ctx = await testContext(new MapRemote(), {
    mapRemote: ["|~m GET|//example\\.org/|//127.0.0.1:9/", "|~m POST|//example\\.org/|//post.test/"],
  });
  const get = testFlow({ url: "https://example.org/a?b=1" });
  await ctx.trigger("requestheaders", get);
  assert.is(get.request.url, "https://example.org/a?b=1", "nothing in requestheaders");
  await ctx.trigger("request", get);
  assert.is(get.request.url, "https://127.0.0.1:9/a?b=1");
  assert.is(get.request.headers.get("host"), "127.0.0.1:9");
  const other = testFlow({ url: "https://example.com/" });
  await ctx.trigger("request", other);
  assert.is(other.request.url, "https://example.com/");
  assert.is(other.request.headers.get("host"), "example.com");
  const post = testFlow({ url: "http://example.org/", method: "POST" });
  await ctx.trigger("request", post);
  assert.is(post.request.url, "http://post.test/");
});

test("map_remote: the URL seen is the pretty one (Host header's name); a broken result is logged", async () => {
  const ctx = await testContext(new MapRemote(), { mapRemote: ["|//named\\.test/|//other.test/", "|^https://x/|::"] });
  const flow = testFlow({ url: "https://10.0.0.1/p", headers: { Host: "named.test" } });
  await ctx.trigger("request", flow);
  assert.is(flow.request.url, "https://other.test/p");
  const broken = testFlow({ url: "https://x/" });
  await ctx.trigger("request", broken);
  assert.is(broken.request.url, "https://x/");
  assert.ok(ctx.logLines("warn").some((l) => /map_remote: .* made '::/.test(l)));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
