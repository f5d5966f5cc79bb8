// The web UI's access rules (addons/web/server/access.ts) and byte ranges (range.ts): pure
// functions over header values, with hostile input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  COOKIE_NAME,
  cookieValue,
  credentialOf,
  hostAllowed,
  isLoopback,
  listeningNames,
  originAllowed,
  parseCookies,
  setCookieHeader,
  type AccessRules,
} from "../../addons/web/server/access.ts";
import { contentRange, parseRange } from "../../addons/web/server/range.ts";
import { browserCommand } from "../../addons/web/open-browser.ts";

const rules = (webHost: string, port = 8081, addresses: string[] = []): AccessRules => ({
  secret: "s3cret-token",
  hostNames: listeningNames(webHost, addresses),
  port,
});

test("loopback names", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"])
    assert.ok(isLoopback(h), h);
  for (const h of [
    "0.0.0.0",
    "::",
    "",
    "10.0.0.1",
    "192.168.1.1",
    "example.com",
    "localhost.evil.com",
    "128.0.0.1",
    "::2",
  ])
    assert.not.ok(isLoopback(h), h);
});

test("Host: the listening names with the port, nothing else (DNS rebinding)", () => {
  const r = rules("127.0.0.1");
  for (const h of ["127.0.0.1:8081", "localhost:8081", "LocalHost:8081", "[::1]:8081", " localhost:8081 "])
    assert.ok(hostAllowed(h, r), h);
  for (const h of [
    undefined,
    "",
    "127.0.0.1",
    "127.0.0.1:8080",
    "evil.com:8081",
    "localhost.evil.com:8081",
    "127.0.0.1.nip.io:8081",
    "10.0.0.5:8081",
    "localhost:8081:8081",
    "[::1]",
    "::1:8081",
    "localhost:08081x",
    "user@localhost:8081",
    "localhost:8081/",
  ])
    assert.not.ok(hostAllowed(h, r), String(h));
});

test("Host: port 80 may be left out; a named web_host and all interfaces", () => {
  assert.ok(hostAllowed("localhost", rules("127.0.0.1", 80)));
  assert.ok(hostAllowed("localhost:80", rules("127.0.0.1", 80)));
  const named = rules("devbox.lan", 9000);
  assert.ok(hostAllowed("devbox.lan:9000", named));
  assert.not.ok(hostAllowed("localhost:9000", named), "a named non-loopback host is only itself");
  const all = rules("0.0.0.0", 8081, ["127.0.0.1", "192.168.1.20", "fe80::1%eth0", "::1"]);
  for (const h of ["192.168.1.20:8081", "[fe80::1]:8081", "localhost:8081", "[::1]:8081"])
    assert.ok(hostAllowed(h, all), h);
  assert.not.ok(hostAllowed("192.168.1.21:8081", all));
  assert.not.ok(hostAllowed("evil.example:8081", all));
});

test("Origin: only the UI's own page", () => {
  assert.ok(originAllowed("http://127.0.0.1:8081", "127.0.0.1:8081"));
  assert.ok(originAllowed("http://LOCALHOST:8081", "localhost:8081"));
  for (const o of ["https://127.0.0.1:8081", "http://127.0.0.1:8082", "http://evil.com", "null", "", undefined])
    assert.not.ok(originAllowed(o, "127.0.0.1:8081"), String(o));
  assert.not.ok(originAllowed("http://127.0.0.1:8081", undefined));
});

test("credentials: the token in the query, the cookie made from it, a Bearer header", () => {
  const secret = "s3cret-token";
  const q = (s: string) => new URLSearchParams(s);
  assert.is(credentialOf(q("token=s3cret-token"), {}, secret), "query");
  assert.is(credentialOf(q(""), { cookie: `a=b; ${COOKIE_NAME}=${cookieValue(secret)}` }, secret), "cookie");
  assert.is(credentialOf(q(""), { authorization: "Bearer s3cret-token" }, secret), "bearer");
  assert.is(credentialOf(q(""), { authorization: "bearer   s3cret-token " }, secret), "bearer");
  for (const [query, headers] of [
    ["", {}],
    ["token=", {}],
    ["token=s3cret-toke", {}],
    ["token=S3CRET-TOKEN", {}],
    ["", { cookie: `${COOKIE_NAME}=s3cret-token` }],
    ["", { cookie: `${COOKIE_NAME}=` }],
    ["", { cookie: `x${COOKIE_NAME}=${cookieValue(secret)}` }],
    ["", { authorization: "Basic czNjcmV0LXRva2Vu" }],
    ["", { authorization: "Bearer" }],
    ["", { authorization: "Bearer s3cret-token extra" }],
  ] as [string, { cookie?: string; authorization?: string }][])
    assert.is(credentialOf(q(query), headers, secret), undefined, `${query} ${JSON.stringify(headers)}`);
});

test("the cookie is HttpOnly, SameSite=Strict, and never the secret itself", () => {
  const header = setCookieHeader("pw");
  assert.match(header, /; HttpOnly; SameSite=Strict; Path=\/$/);
  assert.not.match(header, /=pw;/);
  assert.is.not(cookieValue("pw"), cookieValue("pw2"));
  assert.equal(
    [...parseCookies(" a=1; b = 2 ;c; a=3; =x")],
    [
      ["a", "1"],
      ["b", "2"],
    ],
  );
});

test("ranges: one byte range of a body", () => {
  assert.equal(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.equal(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.equal(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.equal(parseRange("bytes=-1000", 100), { start: 0, end: 99 });
  assert.equal(parseRange("bytes=50-1000", 100), { start: 50, end: 99 });
  assert.equal(parseRange("BYTES = 1 - 2", 100), { start: 1, end: 2 });
  assert.is(parseRange("bytes=100-", 100), "unsatisfiable");
  assert.is(parseRange("bytes=100-200", 100), "unsatisfiable");
  assert.is(parseRange("bytes=-0", 100), "unsatisfiable");
  assert.is(parseRange("bytes=0-", 0), "unsatisfiable");
  assert.is(parseRange("bytes=-5", 0), "unsatisfiable");
  assert.is(parseRange("bytes=99999999999999999999-", 100), "unsatisfiable");
  for (const ignored of [
    undefined,
    "",
    "bytes=",
    "bytes=-",
    "bytes=5-3",
    "items=0-1",
    "bytes=0-1,5-6",
    "bytes=a-b",
    "0-1",
  ])
    assert.is(parseRange(ignored, 100), undefined, String(ignored));
  assert.is(contentRange({ start: 0, end: 9 }, 100), "bytes 0-9/100");
  assert.is(contentRange("unsatisfiable", 100), "bytes */100");
});

test("web_open_browser: the platform's opener, the address as one argument", () => {
  const url = "http://127.0.0.1:8081/?token=a&b";
  assert.equal(browserCommand(url, "linux"), ["xdg-open", [url]]);
  assert.equal(browserCommand(url, "darwin"), ["open", [url]]);
  assert.equal(browserCommand(url, "win32"), ["cmd", ["/c", "start", '""', "http://127.0.0.1:8081/?token=a^&b"]]);
});

test.run();
