// The web UI's exports (addons/web/export): curl and HTTPie commands, raw HTTP, HAR. The commands
// are run for real: curl against a loopback origin that records what arrived, HTTPie's words and
// standard input through a shell function standing in for `http`, in both dash (sh) and bash,
// with hostile bytes in bodies, fields and paths.
import { execFile } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HTTPFlow } from "@interloper/sdk";
import { Headers, Request, Response } from "@interloper/sdk";
import { testFlow } from "@interloper/sdk/testing";
import {
  curlCommand,
  exportFlow,
  ExportError,
  httpieCommand,
  rawExchange,
  rawRequest,
} from "../../addons/web/export/index.ts";
import { printfBytes, shellQuote } from "../../addons/web/export/shell.ts";
import { WAIT_MS } from "../helpers/harness.ts";

interface Arrived {
  method: string;
  url: string;
  headers: string[];
  body: Buffer;
}

let origin: Server;
let port = 0;
const arrivals: Arrived[] = [];

test.before(async () => {
  origin = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      arrivals.push({ method: req.method!, url: req.url!, headers: req.rawHeaders, body: Buffer.concat(chunks) });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  port = (origin.address() as AddressInfo).port;
});

test.after(() => {
  origin.close();
});

function run(shell: string, command: string): Promise<{ stdout: Buffer; code: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(shell, ["-c", command], { encoding: "buffer", timeout: WAIT_MS }, (err, stdout) => {
      if (err && typeof err.code !== "number") reject(new Error(err.message));
      else resolve({ stdout, code: typeof err?.code === "number" ? err.code : 0 });
    });
    // An empty standard input, as a terminal's user pressing nothing would give a command reading it.
    child.stdin?.end();
  });
}

/** Runs a curl command in `shell` and returns what the origin received. */
async function viaCurl(req: Request, shell = "sh"): Promise<Arrived> {
  const before = arrivals.length;
  const { code } = await run(shell, `${curlCommand(req)} --silent --show-error --max-time 20 -o /dev/null`);
  assert.is(code, 0, curlCommand(req));
  assert.is(arrivals.length, before + 1);
  return arrivals[before]!;
}

function request(init: Partial<ConstructorParameters<typeof Request>[0]> = {}): Request {
  return new Request({ host: "127.0.0.1", port, path: "/", ...init });
}

function field(a: Arrived, name: string): string | undefined {
  const i = a.headers.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === name.toLowerCase());
  return i === -1 ? undefined : a.headers[i + 1];
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test("shellQuote leaves safe words bare and quotes the rest, quotes included", () => {
  assert.is(shellQuote("curl"), "curl");
  assert.is(shellQuote("http://a.b:80/x?y=1"), "'http://a.b:80/x?y=1'");
  assert.is(shellQuote(""), "''");
  assert.is(shellQuote("it's"), `'it'\\''s'`);
  assert.is(shellQuote("$(rm -rf /)"), "'$(rm -rf /)'");
});

test("printf writes every byte value back exactly, in dash and bash", async () => {
  for (const shell of ["sh", "bash"]) {
    const { stdout } = await run(shell, printfBytes(ALL_BYTES));
    assert.equal([...stdout], [...ALL_BYTES], shell);
  }
});

test("curl: a GET with fields in wire order, the origin gets exactly them", async () => {
  const req = request({
    path: "/a/b?q=1&r=two",
    headers: [
      ["Host", `127.0.0.1:${port}`],
      ["X-First", "1"],
      ["Accept", "text/plain"],
      ["X-Last", "z"],
    ],
  });
  const got = await viaCurl(req);
  assert.is(got.method, "GET");
  assert.is(got.url, "/a/b?q=1&r=two");
  assert.is(field(got, "x-first"), "1");
  assert.is(field(got, "accept"), "text/plain");
  const names = got.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  assert.ok(names.indexOf("x-first") < names.indexOf("x-last"));
  assert.not.match(curlCommand(req), /-X|Host:/);
});

test("curl: a text body with quotes, newlines and shell syntax arrives byte for byte", async () => {
  const body = `{"a": "it's $(whoami) \`id\` \\n"}\nline two\ttab`;
  const req = request({ method: "POST", path: "/post", headers: [["Content-Type", "application/json"]], body });
  const got = await viaCurl(req);
  assert.is(got.method, "POST");
  assert.is(got.body.toString("utf8"), body);
  assert.is(field(got, "content-type"), "application/json");
  assert.match(curlCommand(req), /--data-binary '/);
});

test("curl: binary bodies (every byte value, NUL, a lone CR, bad UTF-8) are piped in by printf", async () => {
  for (const body of [ALL_BYTES, Buffer.from([0]), Buffer.from("a\rb"), Buffer.from([0xff, 0xfe, 0x41])]) {
    for (const shell of ["sh", "bash"]) {
      const req = request({
        method: "PUT",
        path: "/bin",
        headers: [["Content-Type", "application/octet-stream"]],
        body,
      });
      const cmd = curlCommand(req);
      assert.match(cmd, /^printf '%b' '.*' \| curl .*--data-binary @-/s);
      const got = await viaCurl(req, shell);
      assert.is(got.method, "PUT");
      assert.equal([...got.body], [...body], `${shell}: ${cmd}`);
    }
  }
});

test("curl: unicode text bodies and field values go out as their UTF-8 bytes", async () => {
  const body = "grüße, 東京, 🦊";
  const value = Buffer.from("café", "utf8").toString("latin1"); // the sdk keeps field bytes one per character
  const req = request({ method: "POST", headers: [["X-Name", value]], body });
  const got = await viaCurl(req);
  assert.is(got.body.toString("utf8"), body);
  assert.is(Buffer.from(field(got, "x-name")!, "latin1").toString("utf8"), "café");
});

test("curl: hostile field values stay data, an empty value is sent empty", async () => {
  const req = request({
    headers: [
      ["X-Evil", `'; touch /tmp/pwned-by-export; echo '`],
      ["X-Sub", "$(id) `id` ${HOME}"],
      ["X-Empty", ""],
    ],
  });
  const got = await viaCurl(req);
  assert.is(field(got, "x-evil"), `'; touch /tmp/pwned-by-export; echo '`);
  assert.is(field(got, "x-sub"), "$(id) `id` ${HOME}");
  assert.is(field(got, "x-empty"), "");
});

test("curl: methods — PUT/DELETE without a body, POST implied by a body, GET with a body, HEAD", async () => {
  for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const got = await viaCurl(request({ method }));
    assert.is(got.method, method);
  }
  const post = request({ method: "POST", body: "x=1" });
  assert.not.match(curlCommand(post), /-X/);
  assert.is((await viaCurl(post)).method, "POST");
  const getWithBody = request({ method: "GET", body: "odd" });
  const got = await viaCurl(getWithBody);
  assert.is(got.method, "GET");
  assert.is(got.body.toString(), "odd");
  assert.match(curlCommand(request({ method: "HEAD" })), /--head/);
  assert.is((await viaCurl(request({ method: "HEAD" }))).method, "HEAD");
});

test("curl: paths with brackets, braces and dot segments arrive as written", async () => {
  for (const path of ["/a[1]/{x}", "/a/../b/./c", "/q?json={%22a%22:[1]}", "/%2e%2e/x"]) {
    const req = request({ path });
    assert.is((await viaCurl(req)).url, path, curlCommand(req));
  }
});

test("curl: content-length and pseudo-fields are left to curl; a virtual Host is kept", async () => {
  const req = request({
    method: "POST",
    // HTTP/2's pseudo-fields, as the proxy records them (the sdk's own checks would refuse the name).
    headers: Headers.fromRaw([":authority", "x", "Host", "virtual.example", "Content-Length", "999"]),
    body: "abc",
  });
  const cmd = curlCommand(req);
  assert.not.match(cmd, /Content-Length|:authority/);
  const got = await viaCurl(req);
  assert.is(field(got, "host"), "virtual.example");
  assert.is(field(got, "content-length"), "3");
});

test("curl: HTTP versions choose curl's flags; Accept-Encoding gzip adds --compressed", () => {
  assert.match(curlCommand(request({ scheme: "https", port: 443, httpVersion: "HTTP/2.0" })), /^curl --http2 /);
  assert.match(curlCommand(request({ httpVersion: "HTTP/2.0" })), /--http2-prior-knowledge/);
  assert.match(curlCommand(request({ httpVersion: "HTTP/1.0" })), /--http1\.0/);
  assert.not.match(curlCommand(request()), /--http/);
  assert.match(curlCommand(request({ headers: [["Accept-Encoding", "gzip, deflate"]] })), /--compressed/);
  assert.not.match(curlCommand(request({ headers: [["Accept-Encoding", "br, zstd"]] })), /--compressed/);
  assert.match(curlCommand(request({ scheme: "https", host: "::1", port: 8443 })), /'https:\/\/\[::1\]:8443\/'/);
});

test("curl: a CONNECT request cannot be exported", () => {
  assert.throws(
    () => curlCommand(request({ method: "CONNECT", form: "authority", path: "" })),
    (e: unknown) => e instanceof ExportError && /CONNECT/.test(e.message),
  );
});

/** Runs an HTTPie command with `http` replaced by a shell function printing its words, then its stdin. */
async function httpieWords(req: Request, shell = "sh"): Promise<{ words: string[]; stdin: Buffer }> {
  const fn = `http() { for w in "$@"; do printf '%s\\n' "$w"; done; printf '%s\\n' '--stdin--'; cat; }`;
  const { stdout, code } = await run(shell, `${fn}\n${httpieCommand(req)}`);
  assert.is(code, 0);
  const marker = stdout.indexOf("--stdin--\n");
  return {
    words: stdout.subarray(0, marker).toString("utf8").split("\n").slice(0, -1),
    stdin: stdout.subarray(marker + "--stdin--\n".length),
  };
}

test("httpie: method, URL and fields as words; a body on standard input", async () => {
  const req = request({
    method: "POST",
    path: "/p?x=1",
    headers: [
      ["Content-Type", "text/plain"],
      ["X-Q", "it's $(x)"],
      ["X-Empty", ""],
    ],
    body: "hello 'world'\n",
  });
  for (const shell of ["sh", "bash"]) {
    const { words, stdin } = await httpieWords(req, shell);
    assert.equal(words, [
      "POST",
      `http://127.0.0.1:${port}/p?x=1`,
      "Content-Type:text/plain",
      "X-Q:it's $(x)",
      "X-Empty;",
    ]);
    assert.is(stdin.toString(), "hello 'world'\n");
  }
});

test("httpie: binary bodies through printf, no body means --ignore-stdin", async () => {
  const { stdin } = await httpieWords(request({ method: "PUT", body: ALL_BYTES }));
  assert.equal([...stdin], [...ALL_BYTES]);
  const { words } = await httpieWords(request());
  assert.equal(words.slice(0, 2), ["--ignore-stdin", "GET"]);
});

test("raw: request line, fields, blank line, body; a Host is added from the authority when missing", () => {
  const req = request({ method: "POST", path: "/x", headers: [["A", "1"]], body: Buffer.from([0, 1, 2]) });
  assert.equal(
    [...rawRequest(req)],
    [
      ...Buffer.concat([
        Buffer.from(`POST /x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nA: 1\r\n\r\n`),
        Buffer.from([0, 1, 2]),
      ]),
    ],
  );
  const h2 = request({ httpVersion: "HTTP/2.0", headers: Headers.fromRaw([":method", "GET", "Host", "h"]) });
  assert.is(Buffer.from(rawRequest(h2)).toString(), "GET / HTTP/2.0\r\nHost: h\r\n\r\n");
});

test("raw: the exchange is the request, a blank line and the response", () => {
  const req = request({ headers: [["Host", "h"]] });
  const res = new Response({ status: 404, reason: "Not Found", headers: [["X", "y"]], body: "gone" });
  assert.is(
    Buffer.from(rawExchange(req, res)).toString(),
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\nHTTP/1.1 404 Not Found\r\nX: y\r\n\r\ngone",
  );
});

test("exportFlow: each format from an sdk flow; raw keeps binary bytes as latin1; bad format refused", () => {
  const flow: HTTPFlow = testFlow({ url: "http://example.com/path", method: "POST", body: "a=1" });
  flow.response = new Response({ status: 200, reason: "OK", body: Buffer.from([0xff, 0x00]) });
  assert.is(exportFlow(flow, "curl"), "curl --data-binary a=1 http://example.com/path");
  assert.is(exportFlow(flow, "httpie"), "printf '%s' a=1 | http POST http://example.com/path");
  const raw = exportFlow(flow, "raw");
  assert.ok(raw.endsWith("\r\n\r\n\xff\x00"));
  const har = JSON.parse(exportFlow(flow, "har")) as {
    log: { entries: Array<{ request: { method: string; url: string } }> };
  };
  assert.is(har.log.entries.length, 1);
  assert.is(har.log.entries[0]!.request.method, "POST");
  assert.is(har.log.entries[0]!.request.url, "http://example.com/path");
  assert.throws(() => exportFlow(flow, "wget"), /unknown export format 'wget'/);
});

test.run();
