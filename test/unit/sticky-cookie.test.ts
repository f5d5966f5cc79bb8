// stickycookie's pieces: Set-Cookie parsing, cookie dates, domain and path matching, the jar, and the addon.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import { CookieJar, domainMatch, pathMatch } from "../../addons/http-options/cookie-jar.ts";
import { expiryOf, parseCookieDate, parseSetCookie } from "../../addons/http-options/set-cookie.ts";
import { StickyCookie } from "../../addons/http-options/stickycookie.ts";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

test("parseSetCookie: name, value as sent, attributes by lower-case name", () => {
  const [c] = parseSetCookie('sid="a b"; Path=/app; Domain=.Example.com; Secure; HttpOnly; max-age=60');
  assert.is(c!.name, "sid");
  assert.is(c!.value, '"a b"');
  assert.is(c!.attributes.get("path"), "/app");
  assert.is(c!.attributes.get("domain"), ".Example.com");
  assert.is(c!.attributes.get("secure"), "");
  assert.is(c!.attributes.get("max-age"), "60");
  assert.equal(
    parseSetCookie("a=1;path=/x;PATH=/y").map((x) => x.attributes.get("path")),
    ["/y"],
    "the last of a repeated attribute wins",
  );
  assert.equal(
    parseSetCookie(" token = abc== ; Path=/").map((x) => [x.name, x.value]),
    [["token", "abc=="]],
  );
  assert.equal(
    parseSetCookie("empty=").map((x) => [x.name, x.value]),
    [["empty", ""]],
  );
});

test("parseSetCookie: several cookies in one field, commas in Expires dates kept", () => {
  const cookies = parseSetCookie(
    "SSID=mooo; domain=.google.com, FOO=bar; Domain=.google.com; Path=/; Expires=Wed, 13-Jan-2021 22:23:01 GMT; Secure, third=3",
  );
  assert.equal(
    cookies.map((c) => [c.name, c.value]),
    [
      ["SSID", "mooo"],
      ["FOO", "bar"],
      ["third", "3"],
    ],
  );
  assert.is(cookies[1]!.attributes.get("expires"), "Wed, 13-Jan-2021 22:23:01 GMT");
  assert.is(
    parseSetCookie("x=1; expires=Wednesday, 13-Jan-21 22:23:01 GMT")[0]!.attributes.get("expires"),
    "Wednesday, 13-Jan-21 22:23:01 GMT",
  );
  assert.equal(
    parseSetCookie('q="a,b;c"; Path=/').map((c) => c.value),
    ['"a,b;c"'],
    "a quoted value is read to its closing quote",
  );
});

test("parseSetCookie: hostile and malformed fields give no cookie or the valid ones only", () => {
  const none = ["", ";", ",,,", "novalue", "=value", " =v; Path=/", '"unterminated'];
  for (const field of none) assert.equal(parseSetCookie(field), [], JSON.stringify(field));
  assert.equal(
    parseSetCookie('a=1, , b, =c, d=4, q="open').map((c) => c.name),
    ["a", "d", "q"],
  );
  // Linear time on a long field of separators and quotes.
  const big = `${"a=1; ".repeat(20000)}${",".repeat(20000)}${'"'.repeat(20000)}`;
  assert.is(parseSetCookie(big).length, 1);
});

test("parseCookieDate: RFC 6265's algorithm", () => {
  const expect = Date.UTC(2015, 9, 21, 7, 28, 0);
  for (const text of [
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Wednesday, 21-Oct-15 07:28:00 GMT",
    "Wed Oct 21 07:28:00 2015",
    "21 October 2015 07:28:00",
    "Wed, 21-Oct-2015 07:28:00 GMT",
  ]) {
    assert.is(parseCookieDate(text), expect, text);
  }
  assert.is(parseCookieDate("Thu, 01-Jan-1970 00:00:00 GMT"), 0);
  assert.is(parseCookieDate("Sat, 01 Jan 69 00:00:00 GMT"), Date.UTC(2069, 0, 1));
  for (const bad of [
    "",
    "tomorrow",
    "Wed, 31 Feb 2015 07:28:00 GMT",
    "Wed, 21 Oct 2015",
    "21 Oct 2015 25:00:00",
    "0 Oct 2015 01:00:00",
    "21 Oct 1600 01:00:00",
  ]) {
    assert.is(parseCookieDate(bad), undefined, bad);
  }
});

test("expiryOf: Max-Age wins over Expires; 0 or less is already expired; none is a session cookie", () => {
  const c = (field: string) => parseSetCookie(field)[0]!;
  assert.is(expiryOf(c("a=1; Max-Age=60"), NOW), NOW + 60_000);
  assert.is(expiryOf(c("a=1; Max-Age=0"), NOW), -Infinity);
  assert.is(expiryOf(c("a=1; Max-Age=-5; Expires=Wed, 21 Oct 2099 07:28:00 GMT"), NOW), -Infinity);
  assert.is(expiryOf(c("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"), NOW), Date.UTC(2015, 9, 21, 7, 28));
  assert.is(expiryOf(c("a=1; Max-Age=soon; Expires=Wed, 21 Oct 2015 07:28:00 GMT"), NOW), Date.UTC(2015, 9, 21, 7, 28));
  assert.is(expiryOf(c("a=1; Expires=never"), NOW), undefined);
  assert.is(expiryOf(c("a=1"), NOW), undefined);
  assert.ok(Number.isFinite(expiryOf(c("a=1; Max-Age=99999999999999999999"), NOW)!));
});

test("domainMatch: mitmproxy's rules, with the suffix checked", () => {
  const yes: Array<[string, string]> = [
    ["www.google.com", ".google.com"],
    ["google.com", ".google.com"],
    ["a.b.google.com", ".google.com"],
    ["Example.COM", "example.com"],
    ["example.com", "example.com."],
    ["127.0.0.1", "127.0.0.1"],
    ["localhost", "localhost"],
  ];
  const no: Array<[string, string]> = [
    ["www.google.com", "google.com"],
    ["evilgoogle.com", ".google.com"],
    ["www.google.com.evil.net", ".google.com"],
    ["google.com", ".www.google.com"],
    ["1.2.3.4", ".2.3.4"],
    ["example.com", ""],
    ["example.com", ".com."],
    ["a.com", "."],
  ];
  for (const [host, domain] of yes) assert.ok(domainMatch(host, domain), `${host} ~ ${domain}`);
  for (const [host, domain] of no) assert.not.ok(domainMatch(host, domain), `${host} !~ ${domain}`);
});

test("pathMatch: RFC 6265 §5.1.4", () => {
  assert.ok(pathMatch("/", "/"));
  assert.ok(pathMatch("/docs", "/docs"));
  assert.ok(pathMatch("/docs/", "/docs"));
  assert.ok(pathMatch("/docs/a/b", "/docs"));
  assert.ok(pathMatch("/docs/a", "/docs/"));
  assert.ok(pathMatch("/anything", "/"));
  assert.not.ok(pathMatch("/docsearch", "/docs"));
  assert.not.ok(pathMatch("/doc", "/docs"));
  assert.not.ok(pathMatch("/", "/docs"));
});

test("CookieJar: kept per (domain, port, path); other sites' cookies refused; expiry and deletion", () => {
  const jar = new CookieJar();
  const set = (host: string, port: number, field: string, now = NOW) =>
    jar.store(host, port, parseSetCookie(field), now);
  set("www.example.com", 443, "sid=1");
  set("www.example.com", 443, "pref=2; Path=/settings");
  set("www.example.com", 443, "wide=3; Domain=.example.com");
  set("www.example.com", 443, "other=4; Domain=.other.com");
  set("www.example.com", 443, "parent=5; Domain=example.com");
  assert.equal(jar.cookiesFor("www.example.com", 443, "/x?q=1", NOW), [
    ["sid", "1"],
    ["wide", "3"],
  ]);
  assert.equal(
    jar.cookiesFor("www.example.com", 443, "/settings/a", NOW).map(([n]) => n),
    ["sid", "pref", "wide"],
  );
  assert.equal(jar.cookiesFor("api.example.com", 443, "/", NOW), [["wide", "3"]]);
  assert.equal(jar.cookiesFor("example.com", 443, "/", NOW), [["wide", "3"]]);
  assert.equal(jar.cookiesFor("www.example.com", 8443, "/", NOW), [], "another port");
  assert.equal(jar.cookiesFor("www.other.com", 443, "/", NOW), []);
  assert.is(jar.size, 3);

  set("www.example.com", 443, "sid=new");
  assert.equal(jar.cookiesFor("www.example.com", 443, "/", NOW)[0], ["sid", "new"], "a cookie set again replaces");
  set("www.example.com", 443, "sid=; Max-Age=0");
  set("www.example.com", 443, "wide=; Domain=.example.com; Expires=Thu, 01-Jan-1970 00:00:00 GMT");
  assert.equal(jar.cookiesFor("www.example.com", 443, "/", NOW), [], "Max-Age=0 and a past Expires delete");
  assert.is(jar.size, 1);

  set("h", 80, "short=1; Max-Age=10");
  assert.equal(jar.cookiesFor("h", 80, "/", NOW + 5_000), [["short", "1"]]);
  assert.equal(jar.cookiesFor("h", 80, "/", NOW + 10_000), [], "gone once expired");
  assert.is(jar.size, 1, "the expired cookie left the jar");
  set("h", 80, "dead=1; Expires=Thu, 01-Jan-1970 00:00:00 GMT");
  assert.is(jar.size, 1, "an already expired cookie is not stored");
});

test("CookieJar: bounded; the oldest cookies go first; oversized cookies are not kept", () => {
  const jar = new CookieJar(3);
  for (let i = 0; i < 5; i++) jar.store("h", 80, parseSetCookie(`c${i}=${i}`), NOW);
  assert.is(jar.size, 3);
  assert.equal(
    jar.cookiesFor("h", 80, "/", NOW).map(([n]) => n),
    ["c2", "c3", "c4"],
  );
  jar.store("h", 80, parseSetCookie(`big=${"x".repeat(5000)}`), NOW);
  assert.not.ok(jar.cookiesFor("h", 80, "/", NOW).some(([n]) => n === "big"));
});

test("the addon: cookies from responses go to later matching requests that lack them", async () => {
  const ctx = await testContext(new StickyCookie(), { stickycookie: "~u /app" });
  await ctx.http(testFlow({ url: "http://shop.test/login" }), {
    status: 200,
    headers: [
      ["Set-Cookie", "sid=abc; Path=/"],
      ["Set-Cookie", "lang=en"],
    ],
  });
  const plain = await ctx.http(testFlow({ url: "http://shop.test/app/cart" }), { status: 200 });
  assert.is(plain.request.headers.get("cookie"), "sid=abc; lang=en");
  assert.is(plain.metadata.stickycookie, true);

  const own = await ctx.http(testFlow({ url: "http://shop.test/app/", headers: { Cookie: "sid=mine;" } }), {});
  assert.is(own.request.headers.get("cookie"), "sid=mine; lang=en", "the request's own cookie wins");

  const unmatched = await ctx.http(testFlow({ url: "http://shop.test/other" }), {});
  assert.not.ok(unmatched.request.headers.has("cookie"), "the filter does not match");
  const elsewhere = await ctx.http(testFlow({ url: "http://other.test/app" }), {});
  assert.not.ok(elsewhere.request.headers.has("cookie"), "another host");

  await ctx.http(testFlow({ url: "http://shop.test/logout" }), { headers: { "Set-Cookie": "sid=; Max-Age=0" } });
  const after = await ctx.http(testFlow({ url: "http://shop.test/app/" }), {});
  assert.is(after.request.headers.get("cookie"), "lang=en");
});

test("the addon: nothing is kept or added while unset; a bad filter is refused and the old one stays", async () => {
  const ctx = await testContext(new StickyCookie());
  await ctx.http(testFlow({ url: "http://shop.test/" }), { headers: { "Set-Cookie": "sid=1" } });
  await ctx.setOptions({ stickycookie: "." });
  const f = await ctx.http(testFlow({ url: "http://shop.test/" }), {});
  assert.not.ok(f.request.headers.has("cookie"), "cookies seen while unset were not kept");
  try {
    await ctx.setOptions({ stickycookie: "~zz" });
    assert.unreachable("accepted a bad filter");
  } catch (err) {
    assert.match((err as Error).message, /^invalid value for stickycookie: invalid filter at column 1/);
  }
  assert.is(ctx.host.options.get("stickycookie"), ".");
});

test.run();
