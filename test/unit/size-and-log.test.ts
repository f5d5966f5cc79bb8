// Size formatting (sdk/src/size.ts) and the event log the dumper prints
// (addons/dumper.ts), as SEMANTICS.md §4 pins them.
import * as zlib from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Dumper } from "../../addons/dumper.ts";
import type { Addon } from "../../sdk/src/addon.ts";
import {
  HTTPFlow,
  Request,
  Response,
  TCPFlow,
  type ClientConnection,
  type ServerConnection,
} from "../../sdk/src/flow.ts";
import { AddonHost } from "../../sdk/src/host.ts";
import { OptionError } from "../../sdk/src/options.ts";
import { formatSize, parseSize } from "../../sdk/src/size.ts";

// ================================================================ formatSize

test("formatSize: below 1024 in bytes", () => {
  assert.is(formatSize(0), "0b");
  assert.is(formatSize(1), "1b");
  assert.is(formatSize(512), "512b");
  assert.is(formatSize(1023), "1023b");
});

test("formatSize: one decimal below 100 of a unit", () => {
  assert.is(formatSize(1024), "1.0k");
  assert.is(formatSize(4096), "4.0k");
  assert.is(formatSize(1229), "1.2k"); // 1.2002k
  assert.is(formatSize(1256), "1.2k"); // 1.2266k
  assert.is(formatSize(1280 + 52), "1.3k"); // 1.3008k
  assert.is(formatSize(Math.round(99.9 * 1024)), "99.9k");
  assert.is(formatSize(1024 * 1024), "1.0m");
  assert.is(formatSize(1.5 * 1024 * 1024), "1.5m");
  assert.is(formatSize(1024 ** 3), "1.0g");
  assert.is(formatSize(2.25 * 1024 ** 3 + 1024 ** 2), "2.3g");
});

test("formatSize: whole numbers from 100 of a unit on", () => {
  assert.is(formatSize(100 * 1024), "100k");
  assert.is(formatSize(123 * 1024), "123k");
  assert.is(formatSize(999 * 1024), "999k");
  assert.is(formatSize(100 * 1024 ** 2), "100m");
  assert.is(formatSize(512 * 1024 ** 3), "512g");
  // Just under 100 that would round to "100.0" (six characters) is shown whole.
  assert.is(formatSize(Math.round(99.97 * 1024)), "100k");
});

test("formatSize: the top of a unit — 1023k stays k, what would round to 1024 moves to the next unit", () => {
  assert.is(formatSize(1023 * 1024), "1023k");
  assert.is(formatSize(1024 * 1024 - 1), "1.0m");
  assert.is(formatSize(1023 * 1024 ** 2), "1023m");
  assert.is(formatSize(1024 ** 3 - 1), "1.0g");
});

test("formatSize: never longer than five characters", () => {
  for (let exp = 0; exp < 44; exp += 0.25) {
    const n = Math.floor(2 ** exp);
    const s = formatSize(n);
    assert.ok(s.length <= 5, `${n} → ${s}`);
    assert.match(s, /^\d+(\.\d)?[bkmgt]$/);
  }
});

test("parseSize: units in powers of 1024, optional 'b', case and spaces tolerated", () => {
  assert.is(parseSize("512"), 512);
  assert.is(parseSize("512b"), 512);
  assert.is(parseSize("1k"), 1024);
  assert.is(parseSize("5K"), 5 * 1024);
  assert.is(parseSize("1kb"), 1024);
  assert.is(parseSize("1m"), 1024 ** 2);
  assert.is(parseSize("1MB"), 1024 ** 2);
  assert.is(parseSize("1.5g"), 1.5 * 1024 ** 3);
  assert.is(parseSize("2t"), 2 * 1024 ** 4);
  assert.is(parseSize(" 3 m "), 3 * 1024 ** 2);
  assert.is(parseSize("0"), 0);
  assert.is(parseSize("1.5k"), 1536);
});

test("parseSize: null for what is not a size", () => {
  for (const bad of ["", "abc", "-1k", "1x", "k", "1.k", "1e3", "1 kk", "1,5m"]) {
    assert.is(parseSize(bad), null, JSON.stringify(bad));
  }
});

test("parseSize and formatSize agree on round sizes", () => {
  for (const s of ["1.0k", "4.0k", "123k", "1.0m", "512m", "1.0g"]) assert.is(formatSize(parseSize(s)!), s);
});

// ================================================================ the dumper

const client = (host = "127.0.0.1", port = 57089): ClientConnection => ({
  id: "c",
  peername: { host, port },
  sockname: { host: "127.0.0.1", port: 8080 },
  mode: "regular",
  tlsEstablished: true,
  timestampStart: 0,
});
const server = (): ServerConnection => ({
  id: "s",
  address: { host: "example.com", port: 443 },
  peername: { host: "93.184.216.34", port: 443 },
  tls: true,
  tlsEstablished: true,
});

function exampleFlow(
  opts: { version?: string; client?: ClientConnection; bodySize?: number; response?: boolean } = {},
): HTTPFlow {
  const version = opts.version ?? "HTTP/1.1";
  const req = new Request({
    host: "example.com",
    scheme: "https",
    path: "/",
    httpVersion: version,
    headers: version === "HTTP/2.0" ? [] : [["Host", "example.com"]],
  });
  const f = new HTTPFlow(opts.client ?? client(), server(), req);
  if (opts.response !== false) {
    f.response = new Response({ status: 200, httpVersion: version, body: Buffer.alloc(opts.bodySize ?? 1256, 0x61) });
  }
  return f;
}

/** A dumper driven by an AddonHost, its output collected. */
async function dumper(
  extra: Addon[] = [],
): Promise<{ host: AddonHost; d: Dumper; out: () => string; clear: () => void }> {
  let text = "";
  const host = new AddonHost();
  const d = new Dumper({ write: (t) => void (text += t) });
  await host.add(d);
  for (const a of extra) await host.add(a);
  text = "";
  return { host, d, out: () => text, clear: () => void (text = "") };
}

test("dumper: the request and response lines of SEMANTICS §4 (HTTP/1.1)", async () => {
  const { d, out } = await dumper();
  d.response(exampleFlow());
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/\n     << 200 OK 1.2k\n");
});

test("dumper: HTTP/2.0 shows its version on both lines", async () => {
  const { d, out } = await dumper();
  d.response(exampleFlow({ version: "HTTP/2.0" }));
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/ HTTP/2.0\n     << HTTP/2.0 200 OK 1.2k\n");
});

test("dumper: HTTP/1.x versions are shown only where request and response differ", async () => {
  const { d, out, clear } = await dumper();
  const f = exampleFlow();
  f.request.httpVersion = "HTTP/1.0";
  d.response(f);
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/ HTTP/1.0\n     << HTTP/1.1 200 OK 1.2k\n");
  clear();
  const same10 = exampleFlow();
  same10.request.httpVersion = "HTTP/1.0";
  same10.response!.httpVersion = "HTTP/1.0";
  d.response(same10);
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/\n     << 200 OK 1.2k\n");
});

test("dumper: sizes of the response body, other methods, status and reason", async () => {
  const { d, out } = await dumper();
  const f = exampleFlow({ bodySize: 0 });
  f.request.method = "POST";
  f.request.path = "/api?x=1";
  f.response!.status = 404;
  f.response!.reason = "Not Found";
  d.response(f);
  const g = exampleFlow({ bodySize: 123 * 1024 });
  d.response(g);
  assert.is(
    out(),
    "127.0.0.1:57089: POST https://example.com/api?x=1\n     << 404 Not Found 0b\n" +
      "127.0.0.1:57089: GET https://example.com/\n     << 200 OK 123k\n",
  );
});

test("dumper: the URL shows the address the request goes to (as mitmdump); showhost the Host header's name", async () => {
  const { host, d, out, clear } = await dumper();
  // A transparent-mode flow: sent to an address, the name only in the Host header.
  const f = exampleFlow();
  f.request.host = "93.184.216.34";
  f.request.headers.set("Host", "example.com");
  d.response(f);
  assert.is(out().split("\n")[0], "127.0.0.1:57089: GET https://93.184.216.34/");
  clear();
  await host.setOptions({ showhost: true });
  d.response(f);
  assert.is(out().split("\n")[0], "127.0.0.1:57089: GET https://example.com/");
});

test("dumper: a streamed response prints (content missing) for its size", async () => {
  const { d, out } = await dumper();
  const f = exampleFlow();
  f.response!.stream = true;
  f.response!.body = Buffer.alloc(0);
  d.response(f);
  assert.is(out().split("\n")[1], "     << 200 OK (content missing)");
});

test("dumper: an error without a response prints the request line and ' << msg'", async () => {
  const { host, out } = await dumper();
  const f = exampleFlow({ response: false });
  f.error = { msg: "TLS handshake failed: certificate has expired", timestamp: 0 };
  await host.trigger("error", f);
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/\n << TLS handshake failed: certificate has expired\n");
});

test("dumper: an error after the response was printed prints only ' << msg'", async () => {
  const { host, out } = await dumper();
  const f = exampleFlow();
  await host.trigger("response", f);
  f.error = { msg: "connection reset while streaming", timestamp: 0 };
  await host.trigger("error", f);
  assert.is(
    out(),
    "127.0.0.1:57089: GET https://example.com/\n     << 200 OK 1.2k\n << connection reset while streaming\n",
  );
});

test("dumper: a streamed response that broke before its end (no `response` hook) prints the request line, the response line and ' << msg'", async () => {
  const { host, out } = await dumper();
  const f = exampleFlow();
  f.response!.stream = true;
  f.response!.body = Buffer.alloc(0);
  f.error = { msg: "stream interrupted: server closed the connection before the body was complete", timestamp: 0 };
  await host.trigger("error", f);
  assert.is(
    out(),
    "127.0.0.1:57089: GET https://example.com/\n     << 200 OK (content missing)\n << stream interrupted: server closed the connection before the body was complete\n",
  );
});

test("dumper: IPv6 clients are shown in brackets; IPv4-mapped addresses as IPv4", async () => {
  const { d, out, clear } = await dumper();
  d.response(exampleFlow({ client: client("::1", 5000) }));
  assert.is(out().split("\n")[0], "[::1]:5000: GET https://example.com/");
  clear();
  d.response(exampleFlow({ client: client("::ffff:127.0.0.1", 5001) }));
  assert.is(out().split("\n")[0], "127.0.0.1:5001: GET https://example.com/");
});

test("dumper: flow_detail 0 prints no flow lines", async () => {
  const { host, d, out } = await dumper();
  await host.setOptions({ flowDetail: 0 });
  d.response(exampleFlow());
  const f = exampleFlow({ response: false });
  f.error = { msg: "boom", timestamp: 0 };
  await host.trigger("error", f);
  assert.is(out(), "");
});

test("dumper: flow_detail 2 adds the headers, in wire order and spelling", async () => {
  const { host, d, out } = await dumper();
  await host.setFromStrings(["flow_detail=2"]);
  const f = exampleFlow();
  f.request.headers.append("User-Agent", "curl/8.5.0");
  f.response!.headers.append("Content-Type", "text/html");
  f.response!.headers.append("set-cookie", "a=1");
  d.response(f);
  assert.is(
    out(),
    [
      "127.0.0.1:57089: GET https://example.com/",
      "        Host: example.com",
      "        User-Agent: curl/8.5.0",
      "     << 200 OK 1.2k",
      "        Content-Type: text/html",
      "        set-cookie: a=1",
      "",
    ].join("\n"),
  );
});

test("dumper: flow_detail 3 adds bodies (decoded), cut off after a preview", async () => {
  const { host, d, out } = await dumper();
  await host.setOptions({ flowDetail: 3 });
  const f = exampleFlow();
  f.request.method = "POST";
  f.request.setText("name=value");
  f.response = new Response({ status: 200, headers: { "Content-Encoding": "gzip" } });
  f.response.setText("x".repeat(5000));
  d.response(f);
  const lines = out().split("\n");
  assert.is(lines[0], "127.0.0.1:57089: POST https://example.com/");
  assert.ok(lines.includes("        name=value"), "request body");
  const bodyLine = lines.find((l) => l.startsWith("        xxx"));
  assert.ok(bodyLine, "the gzip body is shown decoded");
  assert.ok(bodyLine.length < 5000, "and cut off");
  assert.is(bodyLine, `        ${"x".repeat(2048)}`);
  assert.ok(lines.includes("        (cut off: 2.9k more)"), out());
});

test("dumper: flow_detail 3 shows binary bodies as a hex dump", async () => {
  const { host, d, out } = await dumper();
  await host.setOptions({ flowDetail: 3 });
  const f = exampleFlow();
  f.response!.body = Buffer.from([0x00, 0x01, 0x02, 0x41, 0xff]);
  d.response(f);
  assert.ok(out().includes("        00000000  00 01 02 41 ff"), out());
  assert.ok(out().includes("...A."), out());
});

test("dumper: an invalid flow_detail is refused and the old value stays", async () => {
  const { host, d, out } = await dumper();
  let err: unknown;
  try {
    await host.setOptions({ flowDetail: 7 });
  } catch (e) {
    err = e;
  }
  assert.instance(err, OptionError);
  assert.match((err as Error).message, "flow_detail");
  assert.is(host.options.get("flowDetail"), 1);
  d.response(exampleFlow());
  assert.is(out(), "127.0.0.1:57089: GET https://example.com/\n     << 200 OK 1.2k\n");
});

test("dumper: log entries are filtered by termlog_verbosity", async () => {
  const { host, out, clear } = await dumper();
  const all = () => {
    host.log("error", "an error");
    host.log("warn", "a warning");
    host.log("info", "some info");
    host.log("debug", "debugging");
  };
  all();
  assert.is(out(), "an error\na warning\nsome info\n", "default: info");
  clear();
  await host.setFromStrings(["termlog_verbosity=debug"]);
  all();
  assert.is(out(), "an error\na warning\nsome info\ndebugging\n");
  clear();
  await host.setOptions({ termlogVerbosity: "warn" });
  all();
  assert.is(out(), "an error\na warning\n");
  clear();
  await host.setOptions({ termlogVerbosity: "error" });
  all();
  assert.is(out(), "an error\n");
  // Not a level: refused.
  let err: unknown;
  try {
    await host.setOptions({ termlogVerbosity: "loud" });
  } catch (e) {
    err = e;
  }
  assert.instance(err, OptionError);
  assert.match((err as Error).message, "termlog_verbosity");
});

test("dumper: an addon's log entries are prefixed with [name]", async () => {
  const { host, out } = await dumper();
  await host.add({ name: "my-addon", load: (l) => l.log.info("hello from the addon") });
  host.logger("other").warn("careful");
  assert.is(out(), "[my-addon] hello from the addon\n[other] careful\n");
});

test("dumper: a failing addon's error is printed at the default verbosity, its stack only with debug", async () => {
  const { host, out } = await dumper([
    {
      name: "fails",
      request() {
        throw new Error("nope");
      },
    },
  ]);
  await host.trigger("request", exampleFlow());
  const lines = out().trimEnd().split("\n");
  assert.is(lines.length, 1, out());
  assert.match(lines[0]!, /^addon fails failed in request: nope/);
});

test("dumper: control characters are escaped (error text, header values, bodies)", async () => {
  const { host, d, out, clear } = await dumper();
  const f = exampleFlow({ response: false });
  f.error = { msg: "bad\x1b[31m red \x07 bell\x00", timestamp: 0 };
  await host.trigger("error", f);
  assert.is(out().split("\n")[1], " << bad\\x1b[31m red \\x07 bell\\x00");
  clear();
  await host.setOptions({ flowDetail: 3 });
  const g = exampleFlow();
  g.response!.headers.append("X-Evil", "a\x1b]0;title\x07b");
  g.response!.body = Buffer.from("text with \x1b[2J escape");
  d.response(g);
  assert.ok(out().includes("        X-Evil: a\\x1b]0;title\\x07b\n"), out());
  assert.ok(out().includes("        text with \\x1b[2J escape\n"), out());
  assert.not.ok(out().includes("\x1b"), "no raw ESC reaches the terminal");
});

test("dumper: control characters in the request line and reason are escaped", async () => {
  const { d, out } = await dumper();
  const f = exampleFlow();
  f.request.path = "/a\x1b[2Jb";
  f.response!.reason = "OK\x1b[31m";
  d.response(f);
  assert.not.ok(out().includes("\x1b"), JSON.stringify(out()));
  assert.ok(out().includes("https://example.com/a\\x1b[2Jb"), out());
});

test("dumper: TCP messages print direction lines", async () => {
  const { host, out } = await dumper();
  const f = new TCPFlow(client(), server());
  f.messages.push({ fromClient: true, content: Buffer.from("hi"), timestamp: 0 });
  await host.trigger("tcpMessage", f);
  f.messages.push({ fromClient: false, content: Buffer.from("ho"), timestamp: 0 });
  await host.trigger("tcpMessage", f);
  assert.is(out(), "127.0.0.1:57089 -> tcp -> example.com:443\n127.0.0.1:57089 <- tcp <- example.com:443\n");
});

test("dumper: removed (done) it prints no more log lines", async () => {
  const { host, d, out } = await dumper();
  await host.remove(d);
  host.log("error", "after removal");
  assert.is(out(), "");
});

test("dumper: a user addon named 'dumper' stands in its place — the built-in prints nothing more", async () => {
  const { host, out } = await dumper();
  const mine: string[] = [];
  await host.add({ name: "dumper", load: (l) => void l.events.on("log", (e) => mine.push(e.message)) });
  host.log("info", "one line");
  assert.equal(mine, ["one line"]);
  assert.is(out(), "", "the replaced built-in dumper still prints log entries");
});

test("dumper: gzip body decoded for display even when the header is spelled oddly", async () => {
  const { host, d, out } = await dumper();
  await host.setOptions({ flowDetail: 3 });
  const f = exampleFlow();
  f.response = new Response({ headers: [["CONTENT-ENCODING", "gzip"]], body: zlib.gzipSync("squeezed") });
  d.response(f);
  assert.ok(out().includes("        squeezed\n"), out());
});

test.run();
