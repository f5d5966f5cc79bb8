// map_remote, map_local, modify_headers and modify_body end to end: the CLI
// with each option given by its flag (-M, --map-local, -H, -B) and by --set,
// curl through it against local origins (plain and HTTPS through CONNECT),
// what the origin received and what curl got back. Filters that do not match,
// @file values, map_local's traversal attempts, and bad values refused at
// start-up with one line naming the option and the value (exit 2).
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, removeDir, runCli, startOrigin, startProxy, tempDir, type Origin } from "../helpers/harness.ts";

const work = tempDir("interloper-modify-");
const site = join(work, "site");
mkdirSync(join(site, "docs"), { recursive: true });
writeFileSync(join(site, "index.html"), "<p>local home</p>");
writeFileSync(join(site, "app.js"), "local js");
writeFileSync(join(site, "docs", "index.html"), "local docs");
writeFileSync(join(work, "secret.txt"), "SECRET");
symlinkSync(join(work, "secret.txt"), join(site, "leak.txt"));
const bodyFile = join(work, "body.txt");
// A template, as mitmproxy 8.1.1 reads a replacement file: \g<0> is what the regex matched.
writeFileSync(bodyFile, "from a file \\g<0>");
const headerFile = join(work, "agent.txt");
writeFileSync(headerFile, "agent-from-file\n");

/** An origin that echoes what it received: method, path, the headers named in `x-echo`, the body. */
function echoOrigin(opts: { tls?: boolean } = {}): Promise<Origin> {
  return startOrigin((req, res, body) => {
    const names = String(req.headers["x-echo"] ?? "")
      .split(",")
      .filter(Boolean);
    const shown = names.map((n) => `${n}=${req.headers[n.toLowerCase()] ?? "-"}`).join(" ");
    res.setHeader("Server", "origin-server");
    res.setHeader("X-Origin", "1");
    res.end(`origin ${req.method} ${req.url} [${shown}] body=${body.toString()} secret`);
  }, opts);
}

/** The values of the fields called `name` (lower case) in Node's raw header list. */
const headersOf = (raw: string[], name: string) =>
  raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]!] : []));

test("the flags: -H and -B on requests and responses, filters, @file, plain and HTTPS", async () => {
  const origin = await echoOrigin();
  const secure = await echoOrigin({ tls: true });
  const proxy = await startProxy([
    "-H",
    "|~q|X-Added|yes",
    "-H",
    "|~q|User-Agent|@" + headerFile,
    "-H",
    "|~s|Server|",
    "-H",
    "|~s|X-Resp|added",
    "-H",
    "|~d nomatch\\.test|X-Never|1",
    "-H",
    ":~q & ~m POST:X-Post:posted",
    "-H",
    "/~q & ~m POST/Host/example.org",
    "-B",
    "/~s/secret/public",
    "-B",
    ":~q:foo:@" + bodyFile,
    "-B",
    "|~q & ~d nomatch\\.test|bar|never",
    "-B",
    "|~s|origin (\\w+)|\\\\1 at origin",
  ]);
  try {
    const plain = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "-D",
      "-",
      "-d",
      "foo bar",
      `http://127.0.0.1:${origin.port}/p`,
    ]);
    const text = plain.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.not.match(text, /^Server:/im, "-H |~s|Server| removed the origin's Server field");
    assert.match(text, /^X-Resp: added\r$/m);
    assert.match(text, /^X-Origin: 1\r$/m);
    assert.match(text, /\r\n\r\nPOST at origin \/p /, "the group reference of -B");
    assert.match(text, / public$/, "secret replaced in the response");
    const got = origin.requests[0]!;
    assert.equal(headersOf(got.rawHeaders, "x-added"), ["yes"]);
    assert.equal(headersOf(got.rawHeaders, "user-agent"), ["agent-from-file"]);
    assert.equal(headersOf(got.rawHeaders, "x-post"), ["posted"]);
    assert.equal(headersOf(got.rawHeaders, "host"), ["example.org"], "mitmproxy's docs example; no reroute by Host");
    assert.equal(headersOf(got.rawHeaders, "x-never"), [], "a filter that does not match changes nothing");
    assert.is(
      got.body.toString(),
      "from a file foo bar",
      "the @file body is a template (\\g<0>: the match); the unmatched rule did nothing",
    );

    const tls = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "--cacert",
      proxy.caFile,
      "-D",
      "-",
      `https://localhost:${secure.port}/s`,
    ]);
    const tlsText = tls.stdout.toString();
    assert.match(tlsText, /^HTTP\/[12](?:\.1)? 200/);
    assert.match(tlsText, /^x-resp: added\r$/im);
    assert.not.match(tlsText, /^server:/im);
    assert.match(tlsText, /GET at origin \/s .* public$/);
    assert.equal(headersOf(secure.requests[0]!.rawHeaders, "x-added"), ["yes"]);
    assert.equal(headersOf(secure.requests[0]!.rawHeaders, "x-post"), [], "~m POST did not match a GET");
  } finally {
    await proxy.stop();
    await origin.close();
    await secure.close();
  }
});

test("--map-local: files, index.html, content types, 404, and no way out of the folder", async () => {
  const origin = await echoOrigin();
  const base = `http://127.0.0.1:${origin.port}`;
  const proxy = await startProxy(["--map-local", `|127.0.0.1:${origin.port}/static|${site}`]);
  const get = (path: string, extra: string[] = []) =>
    curl(["-x", `http://127.0.0.1:${proxy.port}`, "-D", "-", ...extra, `${base}${path}`]);
  try {
    const js = (await get("/static/app.js?v=2")).stdout.toString();
    assert.match(js, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(js, /^Content-Type: text\/javascript\r$/m);
    assert.match(js, /\r\n\r\nlocal js$/);
    assert.match((await get("/static")).stdout.toString(), /\r\n\r\n<p>local home<\/p>$/);
    assert.match((await get("/static/docs/")).stdout.toString(), /\r\n\r\nlocal docs$/);
    const missing = (await get("/static/nope.css")).stdout.toString();
    assert.match(missing, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(missing, /^Content-Length: 0\r$/m);
    await proxy.waitForOutput(/None of the local file candidates exist: .*nope\.css/);

    for (const [path, extra] of [
      ["/static/../secret.txt", ["--path-as-is"]],
      ["/static/%2e%2e/secret.txt", []],
      ["/static/..%2Fsecret.txt", []],
      ["/static/leak.txt", []],
    ] as const) {
      const r = (await get(path, [...extra])).stdout.toString();
      assert.not.match(r, /SECRET/, path);
    }
    assert.is(
      origin.requests.filter((r) => r.url.startsWith("/static/app")).length,
      0,
      "served files never reach the origin",
    );
    await proxy.waitForOutput(/names a path outside/);
    await proxy.waitForOutput(/leak\.txt leads outside/);
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("--map-local answers HTTPS for a server that does not exist (connection_strategy=lazy: no server is asked)", async () => {
  const proxy = await startProxy(["--set", "connection_strategy=lazy", "--map-local", `|//api\\.invalid/|${site}`]);
  try {
    const via = ["-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile, "-D", "-"];
    const js = (await curl([...via, "https://api.invalid/app.js"])).stdout.toString();
    assert.match(js, /^HTTP\/[12](?:\.1)? 200/m);
    assert.match(js, /^content-type: text\/javascript\r$/im);
    assert.match(js, /\r\n\r\nlocal js$/);
    const missing = (await curl([...via, "https://api.invalid/missing.js"])).stdout.toString();
    assert.match(missing, /^HTTP\/[12](?:\.1)? 404/m);
    assert.not.match(proxy.stdout(), /server connect/, "no server was asked");
  } finally {
    await proxy.stop();
  }
});

test("--set: the four options by name, a value holding '='", async () => {
  const origin = await echoOrigin();
  const proxy = await startProxy([
    "--set",
    "modify_headers=|~q|X-Set|a=b",
    "--set",
    "modify_headers=|~q|X-Echo|X-Set,X-Second",
    "--set",
    "modify_headers=|~q|X-Second|2",
    "--set",
    "modify_body=|~s|origin|ORIGIN",
    "--set",
    `map_local=|/local-file|${join(site, "app.js")}`,
    "--set",
    `map_remote=|/old/|/new/`,
  ]);
  try {
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${origin.port}/old/x`]);
    assert.match(r.stdout.toString(), /^ORIGIN GET \/new\/x \[X-Set=a=b X-Second=2\] body= secret$/);
    const local = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      `http://127.0.0.1:${origin.port}/local-file/any`,
    ]);
    assert.is(local.stdout.toString(), "local js");
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("-M: requests go to the other origin (plain, and HTTPS through CONNECT); a filter that does not match leaves them", async () => {
  const tag = (name: string) => (req: { url?: string }, res: { end(s: string): void }) => res.end(`${name} ${req.url}`);
  const a = await startOrigin(tag("A"));
  const b = await startOrigin(tag("B"));
  const sa = await startOrigin(tag("secure A"), { tls: true });
  const sb = await startOrigin(tag("secure B"), { tls: true });
  const proxy = await startProxy([
    "-M",
    `|~m GET|//127.0.0.1:${a.port}/|//127.0.0.1:${b.port}/`,
    "-M",
    `#//localhost:${sa.port}/(\\w+)#//localhost:${sb.port}/mapped-\\1`,
  ]);
  const via = ["-x", `http://127.0.0.1:${proxy.port}`, "--cacert", proxy.caFile];
  try {
    assert.is((await curl([...via, `http://127.0.0.1:${a.port}/x?q=1`])).stdout.toString(), "B /x?q=1");
    assert.equal(headersOf(b.requests[0]!.rawHeaders, "host"), [`127.0.0.1:${b.port}`], "the Host header follows");
    assert.is((await curl([...via, "-d", "p", `http://127.0.0.1:${a.port}/post`])).stdout.toString(), "A /post");
    assert.is((await curl([...via, `https://localhost:${sa.port}/page`])).stdout.toString(), "secure B /mapped-page");
    assert.is(sa.requests.length, 0, "the tunnel's own origin got nothing");
    await proxy.waitForOutput(new RegExp(`server connect 127\\.0\\.0\\.1:${b.port}`));
  } finally {
    await proxy.stop();
    for (const o of [a, b, sa, sb]) await o.close();
  }
});

test("streamed bodies: -H still changes their heads (it acts in the *headers hooks), -B leaves them, with a warning", async () => {
  const big = "streamed secret ".repeat(4096);
  const origin = await startOrigin((_req, res) => res.end(big));
  const proxy = await startProxy([
    "--set",
    "stream_large_bodies=1k",
    "-H",
    "|~s|X-Streamed|yes",
    "-B",
    "|~s|secret|public",
  ]);
  try {
    await proxy.waitForOutput(/modify_body and stream_large_bodies are both set: streamed bodies are not modified/);
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, "-D", "-", `http://127.0.0.1:${origin.port}/big`]);
    const text = r.stdout.toString();
    assert.match(text, /^X-Streamed: yes\r$/m);
    assert.ok(text.endsWith(big), "the streamed body went through unchanged");
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("bad values are refused at start-up: one line naming the option and the value, exit 2", async () => {
  const conf = join(work, "conf");
  const cases: [string[], RegExp][] = [
    [["-H", ""], /^interloper: invalid value for modify_headers '': empty/],
    [["-H", "|X-Alone"], /^interloper: invalid value for modify_headers '\|X-Alone': expected 2 or 3 parts/],
    [["-B", "|(|x"], /^interloper: invalid value for modify_body '\|\(\|x': invalid regex: missing \)/],
    [
      ["-B", `|a|@${join(work, "missing.txt")}`],
      /^interloper: invalid value for modify_body '.*missing\.txt': cannot read file/,
    ],
    [["-M", "|~nonsense|a|b"], /^interloper: invalid value for map_remote '\|~nonsense\|a\|b': invalid filter/],
    [
      ["--map-local", `|x|${join(work, "nowhere")}`],
      /^interloper: invalid value for map_local '.*nowhere': invalid file path/,
    ],
    [
      ["--set", "modify_headers=|~q|Bad Name|v"],
      /^interloper: invalid value for modify_headers '\|~q\|Bad Name\|v': invalid header name/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await runCli([...args, "--set", `confdir=${conf}`]);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.is(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
  }
});

test.after(() => removeDir(work));
test.run();
