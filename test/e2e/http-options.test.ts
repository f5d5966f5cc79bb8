// mitmproxy's no-code request options end to end, with curl through the CLI against local origins:
// block_list, anticache, anticomp, stickycookie and stickyauth, each by its flag and by --set, and
// bad values refused at start-up with one line and exit code 2.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  curl,
  runCli,
  startOrigin,
  startProxy,
  testConfdir,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";

/** What the origin received, as it echoes it. */
interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

/** An origin that echoes each request, sets cookies on /login and deletes `sid` on /logout. */
function echoOrigin(opts: { tls?: boolean } = {}): Promise<Origin> {
  return startOrigin((req, res) => {
    if (req.url!.startsWith("/login"))
      res.setHeader("Set-Cookie", ["sid=abc; Path=/", "theme=dark; Path=/app; Max-Age=3600"]);
    if (req.url!.startsWith("/logout")) res.setHeader("Set-Cookie", "sid=; Path=/; Max-Age=0");
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  }, opts);
}

let origin: Origin;
let otherPort: Origin;
let tlsOrigin: Origin;
/** The options given by their flags, the same given with --set, and none (what passes unchanged). */
let byFlag: ProxyProcess;
let bySet: ProxyProcess;
let plain: ProxyProcess;

const BLOCKS = ["/~u blocked/404", "|~u /closed/|444", ":~m POST & ~u /form:403"];

/** Origins and proxies, started by the first test that needs them (a failure fails that test). */
let started: Promise<void> | undefined;
function setUp(): Promise<void> {
  started ??= (async () => {
    origin = await echoOrigin();
    otherPort = await echoOrigin();
    tlsOrigin = await echoOrigin({ tls: true });
    const blocks = BLOCKS.flatMap((b) => ["--set", `block_list=${b}`]);
    // One after another, so that each started proxy is assigned and stopped by test.after.
    byFlag = await startProxy([
      ...blocks,
      "--anticache",
      "--anticomp",
      "--stickycookie",
      "~u /app",
      "--stickyauth",
      "~u /api",
    ]);
    bySet = await startProxy([
      ...blocks,
      ...["--set", "anticache=true", "--set", "anticomp=true"],
      ...["--set", "stickycookie=~u /app", "--set", "stickyauth=~u /api"],
    ]);
    plain = await startProxy([]);
  })();
  return started;
}

test.after(async () => {
  await Promise.all([byFlag, bySet, plain].map((p) => p?.stop()));
  await Promise.all([origin, otherPort, tlsOrigin].map((o) => o?.close()));
});

/** A GET (or what `args` make it) through `proxy`; the origin's echo. */
async function via(proxy: ProxyProcess, path: string, args: string[] = [], to: Origin = origin): Promise<Echo> {
  const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, ...args, `http://127.0.0.1:${to.port}${path}`]);
  assert.is(r.code, 0, `curl ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as Echo;
}

test("block_list: matching requests get the status from the proxy, 444 closes the connection, the rest pass", async () => {
  await setUp();
  for (const proxy of [byFlag, bySet]) {
    const x = ["-x", `http://127.0.0.1:${proxy.port}`];
    const url = `http://127.0.0.1:${origin.port}`;
    const blocked = await curl([...x, "-D", "-", `${url}/blocked/ad.js`]);
    const text = blocked.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(text, /\r\nServer: interloper\r\n/i);
    assert.ok(text.endsWith("\r\n\r\n"), "an empty body");

    const closed = await curl([...x, "-D", "-", `${url}/closed/x`]);
    // curl's "Empty reply from server" (the close), or "Recv failure" should the close come as a reset.
    assert.ok(closed.code === 52 || closed.code === 56, `curl ${closed.code}: ${closed.stderr}`);
    assert.is(closed.stdout.length, 0);

    const post = await curl([...x, "-D", "-", "-d", "a=1", `${url}/form`]);
    assert.match(post.stdout.toString(), /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.is((await via(proxy, "/form")).url, "/form", "a GET of /form does not match '~m POST & ~u /form'");
    assert.is((await via(proxy, "/news")).url, "/news", "no spec matches");

    const tls = await curl([
      ...x,
      "--cacert",
      proxy.caFile,
      "-D",
      "-",
      `https://localhost:${tlsOrigin.port}/blocked/x`,
    ]);
    // After the proxy's own "200 Connection established" head.
    assert.match(tls.stdout.toString(), /^HTTP\/[12](?:\.1)? 404/m, "in a CONNECT tunnel too");
    const tlsClosed = await curl([...x, "--cacert", proxy.caFile, `https://localhost:${tlsOrigin.port}/closed/y`]);
    assert.is.not(tlsClosed.code, 0, "444 in a tunnel: no response");
    assert.is(tlsClosed.stdout.length, 0);
  }
  const seen = [...origin.requests, ...tlsOrigin.requests].map((r) => `${r.method} ${r.url}`);
  for (const never of ["GET /blocked/ad.js", "GET /closed/x", "POST /form", "GET /blocked/x", "GET /closed/y"]) {
    assert.not.ok(seen.includes(never), `${never} never reached the origin`);
  }
  assert.is((await via(plain, "/blocked/ad.js")).url, "/blocked/ad.js", "without block_list it passes");
});

test("anticache: If-None-Match and If-Modified-Since are stripped, other fields kept", async () => {
  await setUp();
  const conditional = [
    "-H",
    'If-None-Match: "v1"',
    "-H",
    "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT",
    "-H",
    "X-Keep: yes",
  ];
  for (const proxy of [byFlag, bySet]) {
    const { headers } = await via(proxy, "/cached", conditional);
    assert.is(headers["if-none-match"], undefined);
    assert.is(headers["if-modified-since"], undefined);
    assert.is(headers["x-keep"], "yes");
  }
  const { headers } = await via(plain, "/cached", conditional);
  assert.is(headers["if-none-match"], '"v1"', "without anticache they pass");
  assert.is(headers["if-modified-since"], "Wed, 21 Oct 2015 07:28:00 GMT");
});

test("anticomp: the server is asked for identity, whatever the client accepts", async () => {
  await setUp();
  for (const proxy of [byFlag, bySet]) {
    assert.is((await via(proxy, "/c", ["-H", "Accept-Encoding: gzip, br"])).headers["accept-encoding"], "identity");
    assert.is((await via(proxy, "/c")).headers["accept-encoding"], "identity", "added when the client sent none");
  }
  assert.is((await via(plain, "/c", ["-H", "Accept-Encoding: gzip, br"])).headers["accept-encoding"], "gzip, br");
});

test("stickycookie: cookies a server set go to later matching requests that lack them", async () => {
  await setUp();
  for (const proxy of [byFlag, bySet]) {
    assert.is((await via(proxy, "/login")).headers.cookie, undefined);
    assert.is((await via(proxy, "/app/page")).headers.cookie, "sid=abc; theme=dark");
    assert.is((await via(proxy, "/other")).headers.cookie, undefined, "the filter '~u /app' does not match");
    assert.is((await via(proxy, "/app/x", ["-b", "sid=mine"])).headers.cookie, "sid=mine; theme=dark");
    assert.is((await via(proxy, "/app/x", [], otherPort)).headers.cookie, undefined, "another port");
    await via(proxy, "/logout");
    assert.is((await via(proxy, "/app/page")).headers.cookie, "theme=dark", "Max-Age=0 deleted sid");
  }
  await via(plain, "/login");
  assert.is((await via(plain, "/app/page")).headers.cookie, undefined, "without stickycookie nothing is added");
});

test("stickyauth: the host's last Authorization goes to later matching requests that lack one", async () => {
  await setUp();
  const basic = `Basic ${Buffer.from("alice:pw").toString("base64")}`;
  for (const proxy of [byFlag, bySet]) {
    assert.is((await via(proxy, "/signin", ["-u", "alice:pw"])).headers.authorization, basic);
    assert.is((await via(proxy, "/api/items")).headers.authorization, basic);
    assert.is((await via(proxy, "/page")).headers.authorization, undefined, "the filter '~u /api' does not match");
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://localhost:${origin.port}/api/items`]);
    const echo = JSON.parse(r.stdout.toString()) as Echo;
    assert.is(echo.headers.authorization, undefined, "another host (localhost, not 127.0.0.1)");
  }
  await via(plain, "/signin", ["-u", "alice:pw"]);
  assert.is((await via(plain, "/api/items")).headers.authorization, undefined);
});

test("bad values are refused at start-up: one line naming the option and the value, exit code 2", async () => {
  const cases: Array<[args: string[], line: RegExp]> = [
    [
      ["--set", "block_list=/~u x/40x"],
      /^interloper: invalid value for block_list: '\/~u x\/40x' \('40x' is not an HTTP status code\)$/,
    ],
    [
      ["--set", "block_list=/~u x/404/"],
      /^interloper: invalid value for block_list: '\/~u x\/404\/' \(expected 2 parts/,
    ],
    [
      ["--set", "block_list=!~nope!404"],
      /^interloper: invalid value for block_list: '!~nope!404' \(invalid filter at column 1: /,
    ],
    [["--stickycookie", "~u ("], /^interloper: invalid value for stickycookie: invalid filter at column \d+: /],
    [["--set", "stickyauth=~h x &"], /^interloper: invalid value for stickyauth: invalid filter at column \d+: /],
    [["--set", "anticomp=maybe"], /anticomp/],
  ];
  for (const [args, line] of cases) {
    const r = await runCli(["-p", "0", "--set", `confdir=${testConfdir()}`, ...args]);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0]!, line);
  }
});

test.run();
