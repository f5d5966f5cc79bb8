// The flow model addons see: Headers (sdk/src/headers.ts), Request/Response/
// HTTPFlow (sdk/src/flow.ts) and the content codings (sdk/src/encoding.ts).
import * as zlib from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeContent, encodeContent } from "../../sdk/src/encoding.ts";
import {
  HTTPFlow,
  Request,
  Response,
  StreamedBodyError,
  type ClientConnection,
  type ServerConnection,
} from "../../sdk/src/flow.ts";
import { Headers } from "../../sdk/src/headers.ts";

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.unreachable("expected an exception");
  throw new Error("unreachable");
}

// ================================================================ Headers

test("Headers: get/has are case-insensitive; get joins repeated fields with ', '; absent is null", () => {
  const h = new Headers([
    ["Content-Type", "text/html"],
    ["Accept", "a"],
    ["ACCEPT", "b"],
  ]);
  assert.is(h.get("content-type"), "text/html");
  assert.is(h.get("CONTENT-TYPE"), "text/html");
  assert.is(h.get("accept"), "a, b");
  assert.ok(h.has("Accept"));
  assert.ok(h.has("content-TYPE"));
  assert.is(h.get("x-missing"), null);
  assert.not.ok(h.has("x-missing"));
});

test("Headers: wire order and casing are kept by iteration, keys, values, entries, forEach and fields", () => {
  const h = new Headers([
    ["Host", "example.com"],
    ["x-lower", "1"],
    ["X-UPPER", "2"],
    ["Set-Cookie", "a=1"],
    ["set-cookie", "b=2"],
  ]);
  const expected: Array<[string, string]> = [
    ["Host", "example.com"],
    ["x-lower", "1"],
    ["X-UPPER", "2"],
    ["Set-Cookie", "a=1"],
    ["set-cookie", "b=2"],
  ];
  assert.equal([...h], expected);
  assert.equal([...h.entries()], expected);
  assert.equal(
    [...h.keys()],
    expected.map(([k]) => k),
  );
  assert.equal(
    [...h.values()],
    expected.map(([, v]) => v),
  );
  const seen: string[] = [];
  h.forEach((v, k, self) => {
    assert.is(self, h);
    seen.push(`${k}=${v}`);
  });
  assert.equal(
    seen,
    expected.map(([k, v]) => `${k}=${v}`),
  );
  assert.equal(h.fields, expected);
  assert.is(h.size, 5);
});

test("Headers: set keeps the first field's place and spelling, removes later duplicates", () => {
  const h = new Headers([
    ["A", "1"],
    ["X-Thing", "first"],
    ["B", "2"],
    ["x-thing", "second"],
    ["C", "3"],
    ["X-THING", "third"],
  ]);
  h.set("x-THING", "new");
  assert.equal(h.fields, [
    ["A", "1"],
    ["X-Thing", "new"],
    ["B", "2"],
    ["C", "3"],
  ]);
  // A name not present is appended with the spelling given.
  h.set("New-Header", "v");
  assert.equal(h.fields[h.fields.length - 1], ["New-Header", "v"]);
});

test("Headers: append adds a field at the end even when the name exists; delete removes every field of a name", () => {
  const h = new Headers({ Accept: "a" });
  h.append("accept", "b");
  h.append("Other", "x");
  h.append("ACCEPT", "c");
  assert.equal(h.getAll("Accept"), ["a", "b", "c"]);
  assert.equal(h.toRaw(), ["Accept", "a", "accept", "b", "Other", "x", "ACCEPT", "c"]);
  h.delete("aCcEpT");
  assert.equal(h.fields, [["Other", "x"]]);
  h.delete("not-there"); // no-op
  assert.is(h.size, 1);
});

test("Headers: getAll keeps each value on its own; getSetCookie is getAll('set-cookie')", () => {
  const h = new Headers();
  h.append("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
  h.append("X", "y");
  h.append("set-cookie", "b=2");
  assert.equal(h.getSetCookie(), ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"]);
  assert.equal(h.getAll("SET-COOKIE"), h.getSetCookie());
  assert.equal(h.getAll("missing"), []);
  assert.equal(new Headers().getSetCookie(), []);
});

test("Headers: fromRaw/toRaw round-trip Node's rawHeaders, duplicates and casing included", () => {
  const raw = ["Host", "example.com", "X-Dup", "1", "x-dup", "2", "Content-Length", "0"];
  const h = Headers.fromRaw(raw);
  assert.equal(h.toRaw(), raw);
  assert.is(h.get("X-DUP"), "1, 2");
  assert.equal(Headers.fromRaw([]).toRaw(), []);
});

test("Headers: constructor forms — object (lists and numbers), pairs, flat list, copy", () => {
  const fromObj = new Headers({ "Content-Length": 12, Vary: ["Accept", "Origin"], Skip: undefined });
  assert.equal(fromObj.fields, [
    ["Content-Length", "12"],
    ["Vary", "Accept"],
    ["Vary", "Origin"],
  ]);
  const flat = new Headers(["A", "1", "b", "2"]);
  assert.equal(flat.fields, [
    ["A", "1"],
    ["b", "2"],
  ]);
  assert.throws(() => new Headers(["A", "1", "b"]), /even number/);
  const copy = new Headers(flat);
  copy.set("a", "changed");
  assert.is(flat.get("a"), "1", "a copy is independent");
  assert.is(new Headers([]).size, 0);
});

test("Headers: toJSON lowercases names and joins repeated fields", () => {
  const h = new Headers([
    ["Accept", "a"],
    ["accept", "b"],
    ["Host", "h"],
  ]);
  assert.equal(h.toJSON(), { accept: "a, b", host: "h" });
  assert.is(JSON.stringify(h), '{"accept":"a, b","host":"h"}');
});

test("Headers: invalid names and values are refused by set, append and the constructor", () => {
  const h = new Headers();
  for (const bad of ["", "with space", "colon:", "new\nline", "tab\t", "ümlaut", "(paren)", "a/b"]) {
    const err = thrown(() => h.set(bad, "v"));
    assert.instance(err, TypeError, JSON.stringify(bad));
    assert.match(err.message, "invalid header name");
    assert.throws(() => h.append(bad, "v"), /invalid header name/);
  }
  for (const bad of ["a\r\nInjected: 1", "a\nb", "a\rb", "nul\0"]) {
    const err = thrown(() => h.append("X-Ok", bad));
    assert.instance(err, TypeError, JSON.stringify(bad));
    assert.match(err.message, "X-Ok");
    assert.throws(() => h.set("X-Ok", bad), /CR, LF or NUL/);
  }
  assert.throws(() => new Headers({ "X-Ok": "a\r\nb" }), /CR, LF or NUL/);
  assert.throws(() => new Headers([["bad name", "v"]]), /invalid header name/);
  assert.is(h.size, 0, "nothing was added by the refused calls");
  // Token characters that are allowed.
  h.set("X-Custom_Header.v1!#$%&'*+^`|~", "ok\tvalue with tab");
  assert.is(h.get("x-custom_header.v1!#$%&'*+^`|~"), "ok\tvalue with tab");
});

// ================================================================ Request

const client: ClientConnection = {
  id: "c",
  peername: { host: "127.0.0.1", port: 57089 },
  sockname: { host: "127.0.0.1", port: 8080 },
  mode: "regular",
  tlsEstablished: false,
  timestampStart: 0,
};
const server = (): ServerConnection => ({
  id: "s",
  address: { host: "example.com", port: 443 },
  tls: true,
  tlsEstablished: false,
});

test("Request: defaults (GET, http, port by scheme, path '/', origin form, HTTP/1.1, empty body)", () => {
  const r = new Request({ host: "example.com" });
  assert.is(r.method, "GET");
  assert.is(r.scheme, "http");
  assert.is(r.port, 80);
  assert.is(r.path, "/");
  assert.is(r.form, "origin");
  assert.is(r.httpVersion, "HTTP/1.1");
  assert.is(r.body.length, 0);
  assert.is(new Request({ host: "example.com", scheme: "https" }).port, 443);
});

test("Request.url: get builds scheme://authority/path, default ports left out", () => {
  assert.is(
    new Request({ host: "example.com", scheme: "https", port: 443, path: "/a?b=1" }).url,
    "https://example.com/a?b=1",
  );
  assert.is(new Request({ host: "example.com", scheme: "http", port: 80 }).url, "http://example.com/");
  assert.is(new Request({ host: "example.com", scheme: "https", port: 80 }).url, "https://example.com:80/");
  assert.is(new Request({ host: "example.com", scheme: "http", port: 443 }).url, "http://example.com:443/");
  assert.is(
    new Request({ host: "example.com", scheme: "https", port: 8443, path: "/x" }).url,
    "https://example.com:8443/x",
  );
});

test("Request.authority: brackets around IPv6, default port left out", () => {
  assert.is(new Request({ host: "example.com", scheme: "https" }).authority, "example.com");
  assert.is(new Request({ host: "example.com", port: 8080 }).authority, "example.com:8080");
  assert.is(new Request({ host: "::1", port: 8080 }).authority, "[::1]:8080");
  assert.is(new Request({ host: "2001:db8::1", scheme: "https" }).authority, "[2001:db8::1]");
  assert.is(new Request({ host: "10.0.0.1", port: 80 }).authority, "10.0.0.1");
});

test("Request.url: set parses scheme, host, port, path and query (fragment dropped)", () => {
  const r = new Request({ host: "old.example", method: "POST" });
  r.url = "https://new.example:8443/p/q?x=1&y=2#frag";
  assert.is(r.scheme, "https");
  assert.is(r.host, "new.example");
  assert.is(r.port, 8443);
  assert.is(r.path, "/p/q?x=1&y=2");
  assert.is(r.method, "POST", "the method is untouched");
  assert.is(r.url, "https://new.example:8443/p/q?x=1&y=2");
  r.url = "http://plain.example";
  assert.is(r.port, 80);
  assert.is(r.path, "/");
  r.url = "https://example.com:443/";
  assert.is(r.port, 443);
  assert.is(r.url, "https://example.com/");
});

test("Request.url: set with IPv6 literals stores the host without brackets", () => {
  const r = new Request({ host: "x" });
  r.url = "http://[::1]:8080/p?q=1";
  assert.is(r.host, "::1");
  assert.is(r.port, 8080);
  assert.is(r.path, "/p?q=1");
  assert.is(r.url, "http://[::1]:8080/p?q=1");
  r.url = "https://[2001:db8::1]/";
  assert.is(r.host, "2001:db8::1");
  assert.is(r.port, 443);
  assert.is(r.url, "https://[2001:db8::1]/");
});

test("Request.url: set refuses what is not an http(s) URL", () => {
  const r = new Request({ host: "x" });
  assert.throws(() => (r.url = "ftp://example.com/"), /not an http\(s\) URL/);
  assert.throws(() => (r.url = "not a url"));
  assert.is(r.host, "x", "a refused URL changes nothing");
});

test("Request.fromUrl builds a GET request", () => {
  const r = Request.fromUrl("https://example.com:8443/a?b=c");
  assert.is(r.method, "GET");
  assert.is(r.host, "example.com");
  assert.is(r.port, 8443);
  assert.is(r.path, "/a?b=c");
  assert.is(Request.fromUrl("http://h/", { method: "DELETE" }).method, "DELETE");
});

test("Request.url: setting it updates an existing Host header (mitmproxy semantics)", () => {
  const r = new Request({ host: "93.184.216.34", scheme: "https", headers: [["Host", "old.example"]] });
  r.url = "https://new.example:8443/x";
  assert.is(r.headers.get("host"), "new.example:8443", "the origin would get the old Host header");
  assert.is(r.prettyUrl, "https://new.example:8443/x", "the log would print the old host");
});

test("Request: CONNECT in authority form — url is host:port, IPv6 in brackets", () => {
  const c = new Request({ method: "CONNECT", host: "example.com", port: 443, form: "authority", path: "" });
  assert.is(c.url, "example.com:443");
  assert.is(c.prettyUrl, "example.com:443");
  const v6 = new Request({ method: "CONNECT", host: "::1", port: 443, form: "authority", path: "" });
  assert.is(v6.url, "[::1]:443", "'::1:443' cannot be told apart from the address ::1:443");
});

test("Request.prettyUrl uses the Host header's name (what the log prints)", () => {
  const r = new Request({
    host: "93.184.216.34",
    scheme: "https",
    path: "/index.html",
    headers: { Host: "example.com" },
  });
  assert.is(r.url, "https://93.184.216.34/index.html");
  assert.is(r.prettyHost, "example.com");
  assert.is(r.prettyUrl, "https://example.com/index.html");
  // A port in the Host header is not part of the name; the request's port is shown.
  const p = new Request({ host: "10.0.0.1", port: 8080, headers: { host: "app.test:8080" } });
  assert.is(p.prettyHost, "app.test");
  assert.is(p.prettyUrl, "http://app.test:8080/");
  // IPv6 in the Host header.
  const v6 = new Request({ host: "::1", port: 8080, headers: { host: "[::1]:8080" } });
  assert.is(v6.prettyHost, "::1");
  assert.is(v6.prettyUrl, "http://[::1]:8080/");
  // No Host header (HTTP/2 :authority, or none sent): the request's host.
  const none = new Request({ host: "example.org", scheme: "https" });
  assert.is(none.prettyUrl, "https://example.org/");
});

test("Request.query: get parses the query string; set replaces it (or removes it)", () => {
  const r = new Request({ host: "h", path: "/search?q=a+b&x=1&x=2" });
  const q = r.query;
  assert.is(q.get("q"), "a b");
  assert.equal(q.getAll("x"), ["1", "2"]);
  // The getter returns a copy: changing it does not change the request.
  q.set("q", "changed");
  assert.is(r.path, "/search?q=a+b&x=1&x=2");
  q.delete("x");
  r.query = q;
  assert.is(r.path, "/search?q=changed");
  r.query = { page: "2", s: "a&b" };
  assert.is(r.path, "/search?page=2&s=a%26b");
  assert.is(r.query.get("s"), "a&b");
  r.query = {};
  assert.is(r.path, "/search");
  const noQuery = new Request({ host: "h", path: "/p" });
  assert.is([...noQuery.query].length, 0);
  noQuery.query = new URLSearchParams([["k", "v"]]);
  assert.is(noQuery.path, "/p?k=v");
});

// ================================================================ bodies

test("Message: text/json/setText/setJson on an unencoded body keep Content-Length right", () => {
  const r = new Response({ headers: { "Content-Type": "application/json", "Content-Length": "2" }, body: "{}" });
  assert.equal(r.json(), {});
  r.setJson({ greeting: "grüß dich" });
  assert.equal(r.json(), { greeting: "grüß dich" });
  assert.is(r.headers.get("content-length"), String(r.body.length));
  r.setText("€");
  assert.is(r.body.length, 3, "UTF-8 bytes");
  assert.is(r.headers.get("content-length"), "3", "bytes, not characters");
  assert.equal(r.headers.getAll("content-length"), ["3"]);
  assert.is(r.text(), "€");
});

test("Message: setBody adds Content-Length when there is no Transfer-Encoding, leaves chunked bodies alone", () => {
  const plain = new Request({ host: "h", method: "POST" });
  plain.setBody("abc");
  assert.is(plain.headers.get("content-length"), "3");
  const chunked = new Request({ host: "h", method: "POST", headers: { "Transfer-Encoding": "chunked" } });
  chunked.setBody("abcdef");
  assert.not.ok(chunked.headers.has("content-length"));
  assert.is(chunked.body.toString(), "abcdef");
  // The field keeps its place and spelling.
  const spelled = new Request({
    host: "h",
    headers: [
      ["CONTENT-LENGTH", "0"],
      ["X", "y"],
    ],
  });
  spelled.setText("hello");
  assert.equal(spelled.headers.fields, [
    ["CONTENT-LENGTH", "5"],
    ["X", "y"],
  ]);
});

test("Message: text honours a charset the Content-Type names", () => {
  const r = new Response({
    headers: { "content-type": "text/plain; charset=ISO-8859-1" },
    body: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
  });
  assert.is(r.text(), "café");
  const u = new Response({ headers: { "content-type": "text/plain" }, body: Buffer.from("café", "utf8") });
  assert.is(u.text(), "café");
});

for (const coding of ["gzip", "deflate", "br", "x-gzip", "gzip, br"]) {
  test(`Message: '${coding}' bodies round-trip through content / setText, Content-Length follows the encoded size`, () => {
    const original = "hello ".repeat(200);
    const r = new Response({ headers: { "Content-Encoding": coding, "Content-Type": "text/plain" } });
    r.setText(original);
    assert.ok(r.body.length < Buffer.byteLength(original), "the body on the wire is compressed");
    assert.is(r.headers.get("content-length"), String(r.body.length));
    assert.is(r.content.toString(), original);
    assert.is(r.text(), original);
    // The stored body really is in that coding.
    assert.is(decodeContent(r.body, coding).toString(), original);
    r.content = "short";
    assert.is(r.text(), "short");
    assert.is(r.headers.get("content-length"), String(r.body.length));
    r.setJson({ a: [1, 2] });
    assert.equal(r.json(), { a: [1, 2] });
  });
}

test("Message: a gzip body from the wire is decoded by content/text/json", () => {
  const wire = zlib.gzipSync(Buffer.from('{"ok":true}'));
  const r = new Response({ headers: { "content-encoding": "GZIP" }, body: wire });
  assert.equal(r.json(), { ok: true });
  assert.is(r.body, wire, "reading does not change the raw body");
});

// ================================================================ Response

test("Response: defaults and reasons", () => {
  const r = new Response();
  assert.is(r.status, 200);
  assert.is(r.reason, "OK");
  assert.is(new Response({ status: 404 }).reason, "Not Found");
  assert.is(new Response({ status: 418 }).reason, "I'm a teapot");
  assert.is(new Response({ status: 502 }).reason, "Bad Gateway");
  assert.is(new Response({ status: 299 }).reason, "");
  assert.is(new Response({ status: 200, reason: "Fine" }).reason, "Fine");
});

test("Response.make: status, body bytes, Content-Length, headers kept", () => {
  const r = Response.make(403, "blocked", { "Content-Type": "text/plain" });
  assert.is(r.status, 403);
  assert.is(r.reason, "Forbidden");
  assert.is(r.text(), "blocked");
  assert.equal(r.headers.fields, [
    ["Content-Type", "text/plain"],
    ["Content-Length", "7"],
  ]);
  const empty = Response.make();
  assert.is(empty.status, 200);
  assert.is(empty.headers.get("content-length"), "0");
  const bytes = Response.make(200, new Uint8Array([1, 2, 3]));
  assert.equal([...bytes.body], [1, 2, 3]);
  assert.is(bytes.headers.get("content-length"), "3");
  // A Content-Length given (wrong) is corrected, not duplicated.
  const fixed = Response.make(200, "abcd", { "Content-Length": "99" });
  assert.equal(fixed.headers.getAll("content-length"), ["4"]);
});

test("Response.make: an object body is sent as JSON with a Content-Type", () => {
  const r = Response.make(201, { id: 7 });
  assert.is(r.status, 201);
  assert.equal(r.json(), { id: 7 });
  assert.is(r.headers.get("content-type"), "application/json");
  assert.is(r.headers.get("content-length"), String(Buffer.byteLength('{"id":7}')));
  const own = Response.make(200, { a: 1 }, { "content-type": "application/vnd.api+json" });
  assert.equal(own.headers.getAll("content-type"), ["application/vnd.api+json"]);
});

test("Response.json: JSON body, status, Content-Type unless given", () => {
  const r = Response.json({ list: [1, "two"], ünï: true }, 422);
  assert.is(r.status, 422);
  assert.equal(r.json(), { list: [1, "two"], ünï: true });
  assert.is(r.headers.get("content-type"), "application/json");
  assert.is(r.headers.get("content-length"), String(r.body.length));
  const own = Response.json([1], 200, { "Content-Type": "application/problem+json" });
  assert.equal(own.headers.getAll("content-type"), ["application/problem+json"]);
  assert.equal(Response.json(null).json(), null);
});

// ================================================================ HTTPFlow

test("HTTPFlow.kill calls the killer once, marks the flow killed and sets an error", () => {
  let kills = 0;
  const f = new HTTPFlow(client, server(), new Request({ host: "example.com" }), () => kills++);
  assert.is(f.type, "http");
  assert.not.ok(f.killed);
  assert.is(f.error, undefined);
  assert.ok(f.live);
  f.kill();
  assert.ok(f.killed);
  assert.is(kills, 1);
  assert.is(f.error?.msg, "Connection killed.");
  assert.type(f.error?.timestamp, "number");
  f.kill();
  assert.is(kills, 1, "killing twice closes once");
});

test("HTTPFlow.kill keeps an error already set and works without a killer", () => {
  const f = new HTTPFlow(client, server(), new Request({ host: "example.com" }));
  f.error = { msg: "upstream went away", timestamp: 1 };
  f.kill();
  assert.ok(f.killed);
  assert.is(f.error.msg, "upstream went away");
});

test("flows get distinct ids and their own metadata", () => {
  const a = new HTTPFlow(client, server(), new Request({ host: "a" }));
  const b = new HTTPFlow(client, server(), new Request({ host: "b" }));
  assert.is.not(a.id, b.id);
  a.metadata.x = 1;
  assert.equal(b.metadata, {});
});

// ================================================================ encoding

test("encoding: an unknown coding names itself in the error", () => {
  const err = thrown(() => decodeContent(Buffer.from("x"), "zstd"));
  assert.is(err.message, "cannot decode zstd body: unsupported content encoding");
  const chained = thrown(() => decodeContent(Buffer.from("x"), "gzip, compress"));
  assert.match(chained.message, "cannot decode compress body");
  const enc = thrown(() => encodeContent(Buffer.from("x"), "zstd"));
  assert.is(enc.message, "cannot encode body: unsupported content encoding zstd");
});

test("encoding: bytes that are not valid for the coding give an error naming it", () => {
  assert.throws(() => decodeContent(Buffer.from("not gzip at all"), "gzip"), /^cannot decode gzip body: /);
  assert.throws(() => decodeContent(Buffer.from("not brotli"), "br"), /cannot decode br body/);
  const r = new Response({ headers: { "Content-Encoding": "deflate" }, body: Buffer.from([0xff, 0xff, 0xff]) });
  assert.throws(() => r.text(), /cannot decode deflate body/);
});

test("encoding: deflate accepts both zlib-wrapped and raw deflate", () => {
  const text = Buffer.from("deflated ".repeat(50));
  assert.is(decodeContent(zlib.deflateSync(text), "deflate").toString(), text.toString());
  assert.is(decodeContent(zlib.deflateRawSync(text), "deflate").toString(), text.toString());
  // Encoding produces the zlib-wrapped form (what RFC 9110 means by deflate).
  assert.is(zlib.inflateSync(encodeContent(text, "deflate")).toString(), text.toString());
});

test("encoding: identity / none / empty leave bytes alone; codings are case-insensitive; chains decode last first", () => {
  const b = Buffer.from("plain");
  assert.is(decodeContent(b, null).toString(), "plain");
  assert.is(decodeContent(b, "").toString(), "plain");
  assert.is(decodeContent(b, "identity").toString(), "plain");
  assert.is(encodeContent(b, "Identity").toString(), "plain");
  assert.is(decodeContent(zlib.gzipSync(b), "GZip").toString(), "plain");
  const chained = zlib.brotliCompressSync(zlib.gzipSync(b)); // gzip applied first, then br
  assert.is(decodeContent(chained, "gzip, br").toString(), "plain");
  assert.is(decodeContent(encodeContent(b, "deflate,gzip"), "deflate,gzip").toString(), "plain");
  // A Uint8Array view into a larger buffer is read at its own offset.
  const big = Buffer.concat([Buffer.from("XXXX"), zlib.gzipSync(b)]);
  assert.is(decodeContent(new Uint8Array(big.buffer, big.byteOffset + 4, big.length - 4), "gzip").toString(), "plain");
});

test("a streamed message's content, text() and json() throw StreamedBodyError; body stays empty; a body set later is content again", () => {
  const r = new Response({ headers: [["Content-Type", "application/json"]] });
  r.stream = true;
  assert.throws(
    () => r.content,
    (e: Error) => e instanceof StreamedBodyError && /streamed, not buffered/.test(e.message),
  );
  assert.throws(
    () => r.text(),
    (e: Error) => e instanceof StreamedBodyError,
  );
  assert.throws(
    () => r.json(),
    (e: Error) => e instanceof StreamedBodyError,
  );
  assert.is(r.body.length, 0);
  r.setText("{}");
  assert.equal(r.json(), {});
});

test("request.host = … renames a Host header the request has, as mitmproxy's setter; port and scheme leave it", () => {
  const r = Request.fromUrl("http://shop.example:8080/a", { headers: { Host: "shop.example:8080", Accept: "*/*" } });
  r.host = "10.0.0.9";
  assert.is(r.host, "10.0.0.9");
  // mitmproxy writes the value as given: no port.
  assert.equal(r.headers.fields, [
    ["Host", "10.0.0.9"],
    ["Accept", "*/*"],
  ]);
  r.port = 9090;
  r.scheme = "https";
  assert.is(r.headers.get("host"), "10.0.0.9");
  r.host = "::1";
  assert.is(r.headers.get("host"), "[::1]");
  assert.is(r.url, "https://[::1]:9090/a");
  // No Host header (an HTTP/2 request carries :authority): none is added.
  const bare = new Request({ host: "a.test", path: "/" });
  bare.host = "b.test";
  assert.is(bare.headers.has("host"), false);
  // The copy keeps the host, and setting the copy's leaves the original alone.
  const copy = r.copy();
  copy.host = "c.test";
  assert.is(r.host, "::1");
  assert.is(copy.headers.get("host"), "c.test");
});

test.run();
