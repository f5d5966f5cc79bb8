// Server replay's pure parts: which recorded request matches (mitmproxy's
// loose key and its options), the form fields behind ignore_payload_params,
// refreshing dates, and the order answers are used in.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HTTPFlow, Request, Response } from "@interloper/sdk";
import { DEFAULT_MATCH, requestKey, splitTarget, type MatchOptions } from "../../addons/server-replay/request-key.ts";
import { multipartFields } from "../../addons/server-replay/form-fields.ts";
import { refreshResponse, refreshSetCookie, shiftHttpDate } from "../../addons/server-replay/refresh.ts";
import { ReplayStore } from "../../addons/server-replay/replay-store.ts";

const req = (url: string, init: { method?: string; body?: string | Buffer; headers?: Array<[string, string]> } = {}) =>
  Request.fromUrl(url, { method: init.method ?? "GET", body: init.body, headers: init.headers ?? [] });
const key = (r: Request, o: Partial<MatchOptions> = {}) => requestKey(r, { ...DEFAULT_MATCH, ...o });
const same = (a: Request, b: Request, o: Partial<MatchOptions> = {}) => key(a, o) === key(b, o);

test("the same request has the same key; each part of it tells requests apart", () => {
  const base = "http://a.test/p?x=1";
  assert.ok(same(req(base), req(base)));
  assert.not.ok(same(req(base), req(base, { method: "POST" })), "method");
  assert.not.ok(same(req(base), req("https://a.test/p?x=1")), "scheme");
  assert.not.ok(same(req(base), req("http://a.test/q?x=1")), "path");
  assert.not.ok(same(req(base), req("http://b.test/p?x=1")), "host");
  assert.not.ok(same(req(base), req("http://a.test:81/p?x=1")), "port");
  assert.not.ok(same(req(base), req("http://a.test/p?x=2")), "query value");
  assert.not.ok(same(req(base), req("http://a.test/p?x=1&y=")), "a blank query field counts");
  assert.not.ok(same(req(base, { body: "a" }), req(base, { body: "b" })), "body");
  assert.not.ok(same(req("http://a.test/p?a=1&b=2"), req("http://a.test/p?b=2&a=1")), "query order counts");
});

test("the Host header names the host, not the address", () => {
  const a = req("http://10.0.0.1/p", { headers: [["Host", "site.test"]] });
  const b = req("http://10.0.0.2/p", { headers: [["Host", "site.test"]] });
  assert.ok(same(a, b));
});

test("ignore options leave their part out", () => {
  assert.ok(same(req("http://a.test/p"), req("http://b.test/p"), { ignoreHost: true }));
  assert.ok(same(req("http://a.test:1/p"), req("http://a.test:2/p"), { ignorePort: true }));
  assert.ok(same(req("http://a/p", { body: "1" }), req("http://a/p", { body: "2" }), { ignoreContent: true }));
  assert.ok(same(req("http://a/p?t=1&k=v"), req("http://a/p?t=2&k=v"), { ignoreParams: ["t"] }));
  assert.not.ok(same(req("http://a/p?t=1&k=v"), req("http://a/p?t=2&k=w"), { ignoreParams: ["t"] }));
});

test("use_headers: the named request headers must match too (absent is a value)", () => {
  const a = req("http://a/p", { headers: [["Accept", "json"]] });
  const b = req("http://a/p", { headers: [["Accept", "html"]] });
  const c = req("http://a/p");
  assert.ok(same(a, b), "not named: ignored");
  assert.not.ok(same(a, b, { useHeaders: ["accept"] }));
  assert.not.ok(same(a, c, { useHeaders: ["accept"] }));
  assert.ok(same(a, req("http://a/p", { headers: [["ACCEPT", "json"]] }), { useHeaders: ["Accept"] }));
});

test("ignore_payload_params: urlencoded form fields", () => {
  const form = (body: string) =>
    req("http://a/login", {
      method: "POST",
      body,
      headers: [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]],
    });
  assert.ok(same(form("user=u&nonce=1"), form("user=u&nonce=2"), { ignorePayloadParams: ["nonce"] }));
  assert.not.ok(same(form("user=u&nonce=1"), form("user=v&nonce=2"), { ignorePayloadParams: ["nonce"] }));
  assert.not.ok(same(form("user=u&nonce=1"), form("user=u&nonce=2")), "without the option the body counts");
});

test("ignore_payload_params: multipart form fields", () => {
  const part = (name: string, value: string) =>
    `--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const form = (nonce: string, file: string) =>
    req("http://a/up", {
      method: "POST",
      body: `${part("nonce", nonce)}${part("file", file)}--XyZ--\r\n`,
      headers: [["Content-Type", 'multipart/form-data; boundary="XyZ"']],
    });
  assert.ok(same(form("1", "data"), form("2", "data"), { ignorePayloadParams: ["nonce"] }));
  assert.not.ok(same(form("1", "data"), form("2", "other"), { ignorePayloadParams: ["nonce"] }));
});

test("multipart parsing: fields in order, binary values kept, broken bodies are no form", () => {
  const body = Buffer.concat([
    Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'),
    Buffer.from('--b\r\nContent-Disposition: form-data; name="bin"; filename="x"\r\nContent-Type: x/y\r\n\r\n'),
    Buffer.from([0, 255, 13, 10, 0]),
    Buffer.from("\r\n--b--\r\n"),
  ]);
  const fields = multipartFields(body, "b")!;
  assert.equal(
    fields.map(([n]) => n),
    ["a", "bin"],
  );
  assert.equal(fields[1]![1], Buffer.from([0, 255, 13, 10, 0]));
  assert.is(multipartFields(Buffer.from("no boundary here"), "b"), undefined);
  assert.is(
    multipartFields(Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated'), "b"),
    undefined,
  );
});

test("splitTarget: query and the last segment's ;params are not the path", () => {
  assert.equal(splitTarget("/a/b?x=1"), { path: "/a/b", query: "x=1" });
  assert.equal(splitTarget("/a;v=1/b;jsessionid=9?q"), { path: "/a;v=1/b", query: "q" });
  assert.equal(splitTarget("/"), { path: "/", query: "" });
  assert.equal(splitTarget("/p?x#frag"), { path: "/p", query: "x" });
});

test("refresh: dates move forward by the time since recording; what is no date stays", () => {
  assert.is(shiftHttpDate("Wed, 21 Oct 2015 07:28:00 GMT", 3600), "Wed, 21 Oct 2015 08:28:00 GMT");
  assert.is(shiftHttpDate("not a date", 5), undefined);
  assert.is(shiftHttpDate("0", 5), undefined);
  assert.is(shiftHttpDate("-1", 5), undefined);
  assert.is(shiftHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", 60), "Sun, 06 Nov 1994 08:50:37 GMT");
  assert.is(shiftHttpDate("Sun Nov  6 08:49:37 1994", 1), "Sun, 06 Nov 1994 08:49:38 GMT");
  assert.is(shiftHttpDate("Wed, 21 Foo 2015 07:28:00 GMT", 1), undefined);
  const r = new Response({
    headers: [
      ["Date", "Wed, 21 Oct 2015 07:28:00 GMT"],
      ["Expires", "0"],
      ["Last-Modified", "Tue, 20 Oct 2015 07:28:00 GMT"],
      ["Set-Cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2015 09:00:00 GMT; HttpOnly"],
      ["Set-Cookie", "b=2"],
    ],
  });
  refreshResponse(r, 86400);
  assert.is(r.headers.get("date"), "Thu, 22 Oct 2015 07:28:00 GMT");
  assert.is(r.headers.get("last-modified"), "Wed, 21 Oct 2015 07:28:00 GMT");
  assert.is(r.headers.get("expires"), "0");
  assert.equal(r.headers.getAll("set-cookie"), ["a=1; Path=/; Expires=Thu, 22 Oct 2015 09:00:00 GMT; HttpOnly", "b=2"]);
  assert.is(refreshSetCookie("c=3; expires=garbage", 10), "c=3; expires=garbage");
});

function recorded(url: string, status?: number): HTTPFlow {
  const request = req(url);
  const client = {
    id: "c",
    peername: { host: "h", port: 1 },
    sockname: { host: "h", port: 2 },
    mode: "regular",
    tlsEstablished: false,
    timestampStart: 0,
  };
  const f = new HTTPFlow(
    client,
    { id: "s", address: { host: request.host, port: request.port }, tls: false, tlsEstablished: false },
    request,
  );
  if (status !== undefined) f.response = new Response({ status });
  return f;
}

test("store: answers are used once, in recorded order; then none", () => {
  const store = new ReplayStore(DEFAULT_MATCH);
  store.add([recorded("http://a/p", 200), recorded("http://a/p", 201), recorded("http://a/q", 202)]);
  assert.is(store.size, 3);
  const live = recorded("http://a/p");
  assert.is(store.next(live, false)?.response?.status, 200);
  assert.is(store.next(live, false)?.response?.status, 201);
  assert.is(store.next(live, false), undefined);
  assert.is(store.size, 1);
});

test("store: reuse keeps answering with the first recorded response", () => {
  const store = new ReplayStore(DEFAULT_MATCH);
  store.add([recorded("http://a/p", 200), recorded("http://a/p", 201)]);
  const live = recorded("http://a/p");
  for (let i = 0; i < 3; i++) assert.is(store.next(live, true)?.response?.status, 200);
  assert.is(store.size, 2);
});

test("store: recorded flows without a response are passed over", () => {
  const store = new ReplayStore(DEFAULT_MATCH);
  store.add([recorded("http://a/p"), recorded("http://a/p", 204)]);
  const live = recorded("http://a/p");
  assert.is(store.next(live, true)?.response?.status, 204);
  assert.is(store.next(live, false)?.response?.status, 204);
  assert.is(store.next(live, false), undefined);
});

test("store: new match options file the flows again", () => {
  const store = new ReplayStore(DEFAULT_MATCH);
  store.add([recorded("http://a/p?t=1", 200)]);
  const live = recorded("http://a/p?t=2");
  assert.is(store.next(live, true), undefined);
  store.rematch({ ...DEFAULT_MATCH, ignoreParams: ["t"] });
  assert.is(store.next(live, true)?.response?.status, 200);
});

test.run();
