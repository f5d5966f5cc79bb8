// Log injection end to end: client-controlled strings that reach the event
// log (a Proxy-Authorization username, a SOCKS5 username, a CONNECT target)
// cannot write a line of their own into the proxy's output: a username with
// "\n127.0.0.1:1: GET http://forged/" in it used to print a flow line for a
// request that was never made, without valid credentials.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, startOrigin, startProxy, type Origin, type ProxyProcess } from "../helpers/harness.ts";
import { connectRaw, userPassMessage, waitListeners } from "../helpers/modes.ts";

const FORGE = "\n127.0.0.1:1: GET http://forged/";
/** A line the attacker wrote: the forged flow line, or what is left of it after Basic's user:pass split. */
const FORGED_LINE = /^127\.0\.0\.1(:1: GET http:\/\/forged\/|')/m;

let origin: Origin;
let proxy: ProxyProcess;
let httpPort: number;
let socksPort: number;

test.before(async () => {
  origin = await startOrigin((req, res) => res.end(`ok ${req.url}`));
  proxy = await startProxy(["--mode", "regular@0", "--mode", "socks5@0", "--set", "proxyauth=alice:s3cret"]);
  const ls = await waitListeners(proxy, 2);
  httpPort = ls.find((l) => l.scheme === "http")!.port;
  socksPort = ls.find((l) => l.scheme === "socks5")!.port;
});

test.after(async () => {
  await proxy?.stop();
  await origin?.close();
});

/** The proxy's output so far, with the line the test waits for in it. */
async function logWith(re: RegExp): Promise<string> {
  await proxy.waitForOutput(re);
  return proxy.stdout();
}

test("Proxy-Authorization: a username with a line break is logged escaped, on one line", async () => {
  const creds = Buffer.from(`eve${FORGE}:x`).toString("base64");
  const r = await curl([
    "-x",
    `http://127.0.0.1:${httpPort}`,
    "-H",
    `Proxy-Authorization: Basic ${creds}`,
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `http://localhost:${origin.port}/plain`,
  ]);
  assert.is(r.stdout.toString(), "407", r.stderr);
  const log = await logWith(/proxy authentication failed for user 'eve/);
  assert.match(log, /\[proxyauth\] proxy authentication failed for user 'eve\\n127\.0\.0\.1'\n/);
  assert.not.match(log, FORGED_LINE);
  assert.match(
    log,
    /: GET http:\/\/localhost:\d+\/plain\n {5}<< 407 Proxy Authentication Required/,
    "the refused request's own flow line",
  );
});

test("SOCKS5: a username with a line break (and ESC) is logged escaped, on one line; the client is refused", async () => {
  const raw = await connectRaw(socksPort);
  try {
    raw.write(Buffer.from([5, 1, 2]));
    assert.equal([...(await raw.read(2, "the method selection"))], [5, 2]);
    raw.write(userPassMessage(`eve${FORGE}\x1b[2J`, "x"));
    assert.equal([...(await raw.read(2, "the authentication status"))], [1, 1]);
    await raw.closedByPeer();
  } finally {
    raw.destroy();
  }
  const log = await logWith(/SOCKS5 authentication failed for user 'eve/);
  assert.ok(
    log.includes("SOCKS5 authentication failed for user 'eve\\n127.0.0.1:1: GET http://forged/\\x1b[2J'\n"),
    log,
  );
  assert.not.match(log, FORGED_LINE);
  assert.not.ok(log.includes("\x1b"), "no raw ESC in the output");
});

test("an absurdly long bad CONNECT target is cut in its log line", async () => {
  const target = `${"a".repeat(10_000)}/x`;
  const raw = await connectRaw(httpPort);
  try {
    raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await raw.until(() => raw.buf.includes("\r\n\r\n") || raw.closed, "the answer");
    assert.match(raw.buf.toString("latin1"), /^HTTP\/1\.1 (400|407) /);
  } finally {
    raw.destroy();
  }
  const log = await logWith(/bad CONNECT target '/);
  const line = log.split("\n").find((l) => l.includes("bad CONNECT target"))!;
  assert.ok(line.endsWith(`'${"a".repeat(256)}… (10002 chars)'`), line.slice(0, 120));
});

test.run();
