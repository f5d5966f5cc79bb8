// The pure pieces of the HTTP exchange: the request a head stands for, the
// fields that go on to the server, and the framing of the head to the client.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Headers, Response } from "@interloper/sdk";
import { buildRequest, parseAbsolute, type RequestHead } from "../../core/http/exchange/request-target.ts";
import { forwardHeaders } from "../../core/http/exchange/forward-headers.ts";
import { bodyLength, chunkedFraming, withTrueLength } from "../../core/http/exchange/response-head.ts";

const head = (url: string, raw: string[] = [], method = "GET", major = 1): RequestHead => ({
  method,
  url,
  httpVersion: major === 2 ? "2.0" : "1.1",
  httpVersionMajor: major,
  rawHeaders: raw,
});
/** The refusal text (the test fails when a request was built instead). */
function refused(r: ReturnType<typeof buildRequest>): string {
  if (typeof r !== "string") throw new Error(`expected a refusal, got a request for ${r.url}`);
  return r;
}
const tunnel = { address: { host: "10.0.0.1", port: 8443 }, scheme: "https" as const };

test("explicit proxy: absolute form gives scheme, host, port and the path as written", () => {
  const r = buildRequest(head("http://Example.com:8080/a//b/../c?x=1#frag"), undefined);
  assert.ok(typeof r !== "string");
  assert.is(r.scheme, "http");
  assert.is(r.host, "example.com");
  assert.is(r.port, 8080);
  assert.is(r.path, "/a//b/../c?x=1");
  assert.is(r.form, "absolute");
});

test("explicit proxy: origin form and * are refused with the reason", () => {
  assert.match(refused(buildRequest(head("/x"), undefined)), /expected authority or absolute, got origin: '\/x'/);
  assert.match(refused(buildRequest(head("*", [], "OPTIONS"), undefined)), /got origin: '\*'/);
});

test("bad targets are refused, long ones cut in the message", () => {
  assert.is(buildRequest(head("ftp://x/"), undefined), "invalid request target 'ftp://x/'");
  // An empty authority (RFC 9110 §4.2.1), not a request to a host named after the path.
  assert.is(buildRequest(head("http:///nohost"), undefined), "invalid request target 'http:///nohost'");
  assert.is(buildRequest(head("http://?x"), undefined), "invalid request target 'http://?x'");
  const long = `gopher://${"a".repeat(200)}`;
  const msg = refused(buildRequest(head(long), undefined));
  assert.ok(msg.length < 120 && msg.endsWith("...'"), msg);
});

test("in a tunnel: origin form goes to the tunnel's server with its scheme", () => {
  const r = buildRequest(head("/p?q", [["Host", "a.test"]].flat()), tunnel);
  assert.ok(typeof r !== "string");
  assert.equal([r.scheme, r.host, r.port, r.path, r.form], ["https", "10.0.0.1", 8443, "/p?q", "origin"]);
  assert.is(r.headers.get("host"), "a.test");
});

test("in a tunnel: absolute form keeps the tunnel's server (not the URL's) and the URL's path", () => {
  const r = buildRequest(head("http://elsewhere.test/z"), tunnel);
  assert.ok(typeof r !== "string");
  assert.equal([r.scheme, r.host, r.port, r.path, r.form], ["https", "10.0.0.1", 8443, "/z", "absolute"]);
});

test("HTTP/2: pseudo-headers are not fields; :authority stands in as the first field, Host", () => {
  const r = buildRequest(
    head("/h2", [":method", "GET", ":authority", "b.test", ":path", "/h2", "accept", "*/*"], "GET", 2),
    tunnel,
  );
  assert.ok(typeof r !== "string");
  assert.equal(r.headers.fields, [
    ["host", "b.test"],
    ["accept", "*/*"],
  ]);
  assert.is(r.httpVersion, "HTTP/2.0");
});

test("HTTP/2: a Host field of its own wins over :authority", () => {
  const r = buildRequest(head("/", [":authority", "a", "host", "b"], "GET", 2), tunnel);
  assert.ok(typeof r !== "string");
  assert.equal(r.headers.fields, [["host", "b"]]);
});

test("parseAbsolute: IPv6, default ports, empty path, case of the scheme", () => {
  assert.equal(parseAbsolute("HTTPS://[::1]/"), { scheme: "https", host: "::1", port: 443, path: "/" });
  assert.equal(parseAbsolute("http://h"), { scheme: "http", host: "h", port: 80, path: "/" });
  assert.equal(parseAbsolute("http://h?x"), { scheme: "http", host: "h", port: 80, path: "/?x" });
  assert.is(parseAbsolute("http://[::1/"), undefined);
  assert.is(parseAbsolute("mailto:x"), undefined);
});

test("forwardHeaders: hop-by-hop fields and those named in Connection go; order and spelling stay", () => {
  const h = new Headers([
    ["Host", "x"],
    ["Connection", "Keep-Alive, X-Hop"],
    ["keep-alive", "timeout=5"],
    ["X-Hop", "1"],
    ["TE", "trailers"],
    ["Upgrade", "h2c"],
    ["Proxy-Connection", "keep-alive"],
    ["Proxy-Authorization", "Basic x"],
    ["X-Keep", "2"],
  ]);
  assert.equal(forwardHeaders(h).fields, [
    ["Host", "x"],
    ["Connection", "Keep-Alive, X-Hop"],
    ["X-Keep", "2"],
  ]);
});

test("forwardHeaders: nothing to drop gives the same object (no copy per request)", () => {
  const h = new Headers([
    ["Host", "x"],
    ["Connection", "close"],
  ]);
  assert.is(forwardHeaders(h), h);
});

test("forwardHeaders: Connection naming close or keep-alive drops nothing else", () => {
  const h = new Headers([
    ["Connection", "close, keep-alive"],
    ["Close", "odd but a field"],
  ]);
  assert.equal(forwardHeaders(h).fields.length, 2);
});

test("bodyLength: none for HEAD, 1xx, 204 and 304", () => {
  const r = (status: number) => new Response({ status, body: "abc" });
  assert.is(bodyLength(r(200), "GET"), 3);
  assert.is(bodyLength(r(200), "HEAD"), undefined);
  for (const s of [100, 101, 204, 304]) assert.is(bodyLength(r(s), "GET"), undefined, String(s));
  assert.is(bodyLength(r(404), "POST"), 3);
});

test("withTrueLength: a true single Content-Length is kept as the same array", () => {
  const f: Array<[string, string]> = [["Content-Length", "3"]];
  assert.is(withTrueLength(f, 3), f);
  assert.is(withTrueLength(f, undefined), f);
});

test("withTrueLength: a wrong or repeated Content-Length becomes one true field where the first was", () => {
  assert.equal(
    withTrueLength(
      [
        ["A", "1"],
        ["content-length", "9"],
        ["B", "2"],
        ["Content-Length", "9"],
      ],
      4,
    ),
    [
      ["A", "1"],
      ["content-length", "4"],
      ["B", "2"],
    ],
  );
  assert.equal(
    withTrueLength(
      [
        ["Content-Length", "4"],
        ["Content-Length", "4"],
      ],
      4,
    ),
    [["Content-Length", "4"]],
  );
});

test("withTrueLength: with Transfer-Encoding the fields are left to chunkedFraming", () => {
  const f: Array<[string, string]> = [
    ["Transfer-Encoding", "chunked"],
    ["Content-Length", "9"],
  ];
  assert.is(withTrueLength(f, 4), f);
});

test("chunkedFraming: no Transfer-Encoding, same fields", () => {
  const f: Array<[string, string]> = [["Content-Length", "1"]];
  assert.is(chunkedFraming(f), f);
});

test("chunkedFraming: Content-Length beside Transfer-Encoding goes (RFC 9112 §6.3)", () => {
  assert.equal(
    chunkedFraming([
      ["Content-Length", "5"],
      ["Transfer-Encoding", "chunked"],
    ]),
    [["Transfer-Encoding", "chunked"]],
  );
});

test("chunkedFraming: a last coding other than chunked gets chunked added; several fields join where the first was", () => {
  assert.equal(chunkedFraming([["Transfer-Encoding", "gzip"]]), [["Transfer-Encoding", "gzip, chunked"]]);
  assert.equal(
    chunkedFraming([
      ["X", "1"],
      ["Transfer-Encoding", "gzip"],
      ["Y", "2"],
      ["transfer-encoding", "chunked"],
    ]),
    [
      ["X", "1"],
      ["Transfer-Encoding", "gzip,chunked"],
      ["Y", "2"],
    ],
  );
  assert.equal(chunkedFraming([["Transfer-Encoding", "chunked, gzip"]]), [
    ["Transfer-Encoding", "chunked, gzip, chunked"],
  ]);
  assert.equal(chunkedFraming([["Transfer-Encoding", " , "]]), [["Transfer-Encoding", " , , chunked"]]);
});

test.run();
