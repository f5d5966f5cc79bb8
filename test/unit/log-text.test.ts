// logText (sdk/src/log-text.ts): a client-controlled string made safe for a
// one-line log entry, and its uses: proxyauth's failed-user line, the hosts
// addon's decision lines, and the dumper's flow and header lines. The attack:
// a username (or URL, header, reason) with "\n127.0.0.1:1: GET http://forged/"
// in it must not print a line of its own.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOG_TEXT_MAX, logText, type Addon } from "@interloper/sdk";
import { testContext, testFlow, testNextLayer, testClient } from "@interloper/sdk/testing";
import { HTTPFlow, Request, Response, TCPFlow, WebSocketData } from "@interloper/sdk";
import { AddonHost } from "@interloper/sdk/host";
import { Dumper } from "../../addons/dumper.ts";
import { Hosts } from "../../addons/hosts.ts";
import { ProxyAuth } from "../../addons/proxyauth/index.ts";

const FORGE = "\n127.0.0.1:1: GET http://forged/";
/** Everything that must never reach a log line raw. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// ---------------------------------------------------------------- logText

test("logText: ordinary text (spaces, quotes, backslashes, non-ASCII, emoji) is unchanged", () => {
  for (const s of [
    "",
    "alice",
    "a b  c",
    'it\'s "quoted"',
    "C:\\Users\\x",
    "^(.+\\.)?apple\\.com:443$",
    "café ünïcødé",
    "日本語",
    "😀 and 👍🏽",
    "\u00a0nbsp",
    "\u00ff",
  ]) {
    assert.is(logText(s), s);
  }
});

test("logText: \\n, \\r and \\t become visible two-character escapes", () => {
  assert.is(logText("a\nb"), "a\\nb");
  assert.is(logText("a\r\nb"), "a\\r\\nb");
  assert.is(logText("\ta\t"), "\\ta\\t");
  assert.is(logText(`alice${FORGE}`), "alice\\n127.0.0.1:1: GET http://forged/");
});

test("logText: every other C0 control, DEL and every C1 control become \\xNN", () => {
  for (let code = 0; code <= 0x9f; code++) {
    if (code >= 0x20 && code < 0x7f) continue;
    const c = String.fromCharCode(code);
    const out = logText(`a${c}b`);
    const expected =
      c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\x${code.toString(16).padStart(2, "0")}`;
    assert.is(out, `a${expected}b`, `U+${code.toString(16)}`);
    assert.not.match(out, UNSAFE);
  }
  assert.is(logText("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07");
  assert.is(logText("\u0085next line"), "\\x85next line", "NEL, a line break to some viewers");
  assert.is(logText("\u009b31m"), "\\x9b31m", "8-bit CSI");
});

test("logText: Unicode line and paragraph separators and bidi overrides/isolates become \\uNNNN", () => {
  assert.is(logText("a\u2028b\u2029c"), "a\\u2028b\\u2029c");
  assert.is(logText("user\u202egnp.exe"), "user\\u202egnp.exe");
  for (const c of ["\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069"])
    assert.not.match(logText(c), UNSAFE);
});

test("logText: a string of nothing but hostile characters is escaped whole", () => {
  let all = "";
  for (let code = 0; code < 0x20; code++) all += String.fromCharCode(code);
  const out = logText(all, Infinity);
  assert.not.match(out, UNSAFE);
  assert.is(out.split("\\").length - 1, 32, "one escape per character");
});

test("logText: longer than the cap, it is cut with an ellipsis and the original length", () => {
  assert.is(LOG_TEXT_MAX, 256);
  const long = "a".repeat(5000);
  assert.is(logText(long), `${"a".repeat(256)}… (5000 chars)`);
  assert.is(logText("a".repeat(256)), "a".repeat(256), "exactly the cap is not cut");
  assert.is(logText("abcdef", 3), "abc… (6 chars)");
  assert.is(logText(long, Infinity), long, "Infinity: no cap");
});

test("logText: the cap counts the escaped output and never splits an escape or a surrogate pair", () => {
  assert.is(logText("\n\n\n\n", 5), "\\n\\n… (4 chars)");
  assert.is(logText("ab\x1bcd", 4), "ab… (5 chars)", "\\x1b (4 characters) does not fit after 'ab'");
  assert.is(logText("a😀b", 2), "a… (4 chars)", "the emoji (2 UTF-16 units) does not fit in one");
  assert.is(logText("😀😀😀", 4), "😀😀… (6 chars)");
  const hostile = `${FORGE}`.repeat(1000);
  const out = logText(hostile);
  assert.not.match(out, UNSAFE);
  assert.ok(out.length < 300, `${out.length}`);
  assert.match(out, /… \(32000 chars\)$/);
});

test("logText: values that are not strings are converted; a throwing toString does not throw", () => {
  assert.is(logText(undefined), "undefined");
  assert.is(logText(null), "null");
  assert.is(logText(42), "42");
  assert.is(logText({ toString: () => "a\nb" }), "a\\nb");
  assert.is(
    logText({
      toString: () => {
        throw new Error("no");
      },
    }),
    "[object Object]",
  );
  assert.is(logText(Object.create(null)), "[object Object]");
  assert.is(logText(Symbol("s\n")), "Symbol(s\\n)");
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  assert.is(logText(revoked.proxy), "[object]", "even Object.prototype.toString throws on a revoked Proxy");
});

// ---------------------------------------------------------------- proxyauth

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

test("proxyauth: a username with a line break and ESC gives one escaped warning line", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "alice:s3cret" });
  // Basic credentials end the username at the first colon: the forged line is cut there, but it is still a line.
  const f = testFlow({
    url: "http://example.com/x",
    headers: { Host: "example.com", "Proxy-Authorization": basic(`eve\x1b[2J${FORGE}`, "x") },
  });
  f.request.form = "absolute";
  await ctx.http(f, { status: 200 });
  assert.is(f.response?.status, 407);
  const warns = ctx.logLines("warn");
  assert.equal(warns, ["[proxyauth] proxy authentication failed for user 'eve\\x1b[2J\\n127.0.0.1'"]);
});

test("proxyauth: an absurdly long username is cut in the log line", async () => {
  const ctx = await testContext(new ProxyAuth(), { proxyauth: "alice:s3cret" });
  const f = testFlow({
    url: "http://example.com/x",
    headers: { Host: "example.com", "Proxy-Authorization": basic("u".repeat(10_000), "x") },
  });
  f.request.form = "absolute";
  await ctx.http(f, { status: 200 });
  const [line] = ctx.logLines("warn");
  assert.ok(line!.endsWith(`${"u".repeat(256)}… (10000 chars)'`), line);
});

// ---------------------------------------------------------------- hosts

test("hosts: a Host header with control characters is escaped in the decision line; the decision itself sees the raw value", async () => {
  const ctx = await testContext(new Hosts(), { ignoreHosts: ["forged"] });
  const d = await ctx.decide(
    testNextLayer({ destination: { host: "10.0.0.1", port: 80 }, hostHeader: `a.test${FORGE}\x1b`, final: true }),
  );
  assert.is(d.ignore, true, "the pattern is searched in the raw value");
  const lines = ctx.logLines("debug");
  assert.ok(
    lines.some((l) => l.includes("matched 'a.test\\n127.0.0.1:1: GET http://forged/\\x1b:80' (host-header)")),
    lines.join("\n"),
  );
  for (const l of lines) assert.not.match(l, UNSAFE);
});

// ---------------------------------------------------------------- dumper

async function dumper(detail = 1): Promise<{ d: Dumper; host: AddonHost; out: () => string }> {
  let text = "";
  const host = new AddonHost();
  const d = new Dumper({ write: (t) => void (text += t) });
  await host.add(d);
  await host.setOptions({ flowDetail: detail });
  text = "";
  return { d, host, out: () => text };
}

/** The output's lines; none may look like a flow line of its own or carry a control character. */
function assertNoForgedLine(out: string, expectedLines: number): string[] {
  const lines = out.replace(/\n$/, "").split("\n");
  assert.is(lines.length, expectedLines, JSON.stringify(out));
  for (const l of lines) {
    assert.not.match(l, /^127\.0\.0\.1:1: /, `forged line: ${JSON.stringify(l)}`);
    assert.not.match(l, UNSAFE);
  }
  return lines;
}

function flowWith(opts: {
  path?: string;
  method?: string;
  reqHeaders?: Array<[string, string]>;
  resHeaders?: Array<[string, string]>;
  reason?: string;
}): HTTPFlow {
  const req = new Request({
    host: "example.com",
    scheme: "http",
    path: opts.path ?? "/",
    method: opts.method ?? "GET",
    headers: [["Host", "example.com"], ...(opts.reqHeaders ?? [])],
  });
  const f = new HTTPFlow(
    testClient({ peername: { host: "127.0.0.1", port: 5555 } }),
    { id: "s", address: { host: "example.com", port: 80 }, tls: false, tlsEstablished: false },
    req,
  );
  f.response = new Response({
    status: 200,
    reason: opts.reason ?? "OK",
    headers: opts.resHeaders ?? [],
    body: Buffer.from("ok"),
  });
  return f;
}

test("dumper: a \\r, \\n or ESC in the URL does not start a line of its own", async () => {
  const { d, out } = await dumper();
  d.response(flowWith({ path: `/a${FORGE}\r\x1b[2J\u2028` }));
  const [first] = assertNoForgedLine(out(), 2);
  assert.is(first, "127.0.0.1:5555: GET http://example.com/a\\n127.0.0.1:1: GET http://forged/\\r\\x1b[2J\\u2028");
});

test("dumper: the method and the reason are escaped the same way", async () => {
  const { d, out } = await dumper();
  d.response(flowWith({ method: `GET${FORGE}`, reason: `OK${FORGE}` }));
  const lines = assertNoForgedLine(out(), 2);
  assert.is(lines[1], "     << 200 OK\\n127.0.0.1:1: GET http://forged/ 2b");
});

test("dumper: header names and values at flow_detail 2 stay on their own lines", async () => {
  const { d, out } = await dumper(2);
  const f = flowWith({ reqHeaders: [["X-Tab", "a\tb"]] });
  // Headers' setters refuse CR and LF; a parser's raw fields (Headers.fromRaw) are not checked.
  f.request.headers.fields.push(["X-Value", `v${FORGE}`], [`X-Name${FORGE}`, "v"]);
  f.response!.headers.fields.push(["Set-Cookie", `c\r${FORGE}\x1b]0;t\x07`]);
  d.response(f);
  const lines = assertNoForgedLine(out(), 2 + 4 + 1);
  assert.ok(lines.includes("        X-Value: v\\n127.0.0.1:1: GET http://forged/"), lines.join("\n"));
  assert.ok(lines.includes("        X-Name\\n127.0.0.1:1: GET http://forged/: v"), lines.join("\n"));
  assert.ok(lines.includes("        X-Tab: a\\tb"), "mitmdump escapes a tab in a header value too");
  assert.ok(
    lines.includes("        Set-Cookie: c\\r\\n127.0.0.1:1: GET http://forged/\\x1b]0;t\\x07"),
    lines.join("\n"),
  );
});

test("dumper: an error message, a WebSocket close reason and TCP error text are one line each", async () => {
  const { d, out } = await dumper();
  const f = flowWith({});
  f.response = undefined;
  f.error = { msg: `broken${FORGE}`, timestamp: 0 };
  d.error(f);
  assertNoForgedLine(out(), 2);
  const { d: d2, out: out2 } = await dumper();
  const w = flowWith({ path: `/ws${FORGE}` });
  w.websocket = new WebSocketData(() => {});
  w.websocket.closeCode = 1000;
  w.websocket.closedByClient = true;
  w.websocket.closeReason = `bye${FORGE}`;
  d2.websocketEnd(w);
  w.websocket.closeCode = 1002;
  d2.websocketEnd(w);
  assertNoForgedLine(out2(), 2);
  const t = new TCPFlow(testClient(), {
    id: "s",
    address: { host: "example.com", port: 25 },
    tls: false,
    tlsEstablished: false,
  });
  t.error = { msg: `reset${FORGE}`, timestamp: 0 };
  const { d: d3, out: out3 } = await dumper();
  d3.tcpError(t);
  assertNoForgedLine(out3(), 1);
});

test("dumper: log entries keep their line breaks (stacks) but no \\r, ESC or C1 control reaches the output", async () => {
  const { host, out } = await dumper();
  host.log("warn", "first\nsecond\r127.0.0.1:1: GET http://forged/\x1b[31m\u009b");
  assert.is(out(), "first\nsecond\\x0d127.0.0.1:1: GET http://forged/\\x1b[31m\\x9b\n");
});

test("dumper: an addon's log line with an escaped username prints as one line", async () => {
  const { host, out } = await dumper();
  const addon: Addon = { name: "auth", load: (l) => l.log.warn(`failed for user '${logText(`eve${FORGE}`)}'`) };
  await host.add(addon);
  assertNoForgedLine(out(), 1);
});

test.run();
