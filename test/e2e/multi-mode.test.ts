// Several `--mode` listeners in one proxy (SEMANTICS.md §2): one start-up line
// each, each speaking its own mode; and the one-line start-up errors for
// clashing or invalid specs.
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, removeDir, runCli, startOrigin, startProxy, tempDir, type Origin } from "../helpers/harness.ts";
import { connectRaw, ipv6Loopback, listeners, PEER, waitListeners } from "../helpers/modes.ts";

let origin: Origin;
let confdir: string;

test.before(async () => {
  origin = await startOrigin((req, res) => res.end(`${req.url} host=${req.headers.host}`));
  confdir = tempDir("interloper-conf-multi-");
});

test.after(async () => {
  await origin?.close();
  if (confdir) removeDir(confdir);
});

/** Runs the CLI on 127.0.0.1 with a throw-away confdir, expecting it to exit. */
function cli(args: string[]) {
  return runCli(["--listen-host", "127.0.0.1", "--set", `confdir=${confdir}`, ...args]);
}

function assertOneLineError(
  r: { code: number | null; stdout: string; stderr: string },
  re: RegExp,
  opts: { listened?: boolean } = {},
): void {
  assert.ok(r.code !== 0 && r.code !== null, `non-zero exit, got ${r.code}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, re);
  if (!opts.listened) assert.not.match(r.stdout, /listening at/, "nothing listened");
  assert.not.match(r.stderr, /\n\s+at /, "no stack trace");
}

test("regular@0 + socks5@0 + reverse:http@0: three listening lines, each listener speaks its own mode", async () => {
  const p = await startProxy([
    "--mode",
    "regular@0",
    "--mode",
    "socks5@0",
    "--mode",
    `reverse:http://localhost:${origin.port}@0`,
  ]);
  try {
    const ls = await waitListeners(p, 3);
    assert.is(ls.length, 3, p.stdout());
    assert.equal(
      ls.map((l) => [l.title, l.scheme, l.host]),
      [
        ["Proxy server", "http", "127.0.0.1"],
        ["SOCKS5 proxy", "socks5", "127.0.0.1"],
        [`Reverse proxy to http://localhost:${origin.port}`, "http", "127.0.0.1"],
      ],
    );
    const [regular, socks, reverse] = ls.map((l) => l.port) as [number, number, number];
    assert.is(regular, p.port, "startProxy's port is the first listener's");
    assert.is(new Set([regular, socks, reverse]).size, 3);

    const viaRegular = await curl(["-x", `http://127.0.0.1:${regular}`, `http://localhost:${origin.port}/regular`]);
    assert.is(viaRegular.code, 0, viaRegular.stderr);
    assert.is(viaRegular.stdout.toString(), `/regular host=localhost:${origin.port}`);

    const viaSocks = await curl(["--socks5-hostname", `127.0.0.1:${socks}`, `http://localhost:${origin.port}/socks`]);
    assert.is(viaSocks.code, 0, viaSocks.stderr);
    assert.is(viaSocks.stdout.toString(), `/socks host=localhost:${origin.port}`);

    const viaReverse = await curl([`http://127.0.0.1:${reverse}/reverse`]);
    assert.is(viaReverse.code, 0, viaReverse.stderr);
    assert.is(viaReverse.stdout.toString(), `/reverse host=localhost:${origin.port}`);

    for (const path of ["regular", "socks", "reverse"]) {
      await p.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${origin.port}/${path}\\n     << 200 OK`));
    }

    // The modes do not mix: an origin-form request is fine for the reverse listener,
    // not for the regular one; a SOCKS5 greeting means nothing to the regular listener.
    const plainToRegular = await curl([
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `http://127.0.0.1:${regular}/not-a-proxy-request`,
    ]);
    assert.is(plainToRegular.stdout.toString(), "400");
    const greeting = await connectRaw(regular);
    try {
      greeting.write(Buffer.from([5, 1, 0]));
      const rest = await greeting.closedByPeer("the regular listener to give up on a SOCKS5 greeting");
      assert.not.equal([...rest.subarray(0, 2)], [5, 0], "the regular listener does not answer SOCKS5");
    } finally {
      greeting.destroy();
    }
    const socksWithHttp = await curl(["-x", `http://127.0.0.1:${socks}`, `http://localhost:${origin.port}/wrong`]);
    assert.is.not(socksWithHttp.code, 0, "an HTTP proxy client on the SOCKS5 listener fails");
    assert.not.ok(origin.requests.some((q) => q.url === "/wrong" || q.url === "/not-a-proxy-request"));
  } finally {
    assert.is(await p.stop(), 0);
  }
});

test("a listener on ::1 next to one on 127.0.0.1: socks5@[::1]:0 + regular@0", async () => {
  if (!(await ipv6Loopback())) {
    console.log("  (skipped: no IPv6 loopback here)");
    return;
  }
  const p = await startProxy(["--mode", "regular@0", "--mode", "socks5@[::1]:0"]);
  try {
    const ls = await waitListeners(p, 2);
    assert.equal(
      ls.map((l) => [l.title, l.scheme, l.host]),
      [
        ["Proxy server", "http", "127.0.0.1"],
        ["SOCKS5 proxy", "socks5", "[::1]"],
      ],
    );
    const r = await curl(["--socks5-hostname", `[::1]:${ls[1]!.port}`, `http://localhost:${origin.port}/v6-listener`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), `/v6-listener host=localhost:${origin.port}`);
    await p.waitForOutput(new RegExp(`\\[?::1\\]?:\\d+: GET http://localhost:${origin.port}/v6-listener\\n`));
  } finally {
    await p.stop();
  }
});

test("listeners() reads IPv6 and wildcard listening lines too", () => {
  const out = [
    "Proxy server listening at http://*:8080",
    "SOCKS5 proxy listening at socks5://[::1]:1080",
    "Upstream proxy via http://127.0.0.1:3128 listening at http://127.0.0.1:9000",
    "127.0.0.1:5000: client connect",
  ].join("\n");
  assert.equal(listeners(out), [
    { title: "Proxy server", scheme: "http", host: "*", port: 8080 },
    { title: "SOCKS5 proxy", scheme: "socks5", host: "[::1]", port: 1080 },
    { title: "Upstream proxy via http://127.0.0.1:3128", scheme: "http", host: "127.0.0.1", port: 9000 },
  ]);
});

test("two modes on the same address: a one-line error naming the later mode, non-zero exit", async () => {
  const r = await cli(["--mode", "regular@8123", "--mode", "socks5@8123"]);
  assertOneLineError(
    r,
    /^interloper: invalid --mode 'socks5@8123': 127\.0\.0\.1:8123 is already used by another mode$/,
  );
  const r2 = await cli([
    "--mode",
    `reverse:http://localhost:${origin.port}@8124`,
    "--mode",
    "upstream:http://127.0.0.1:3128@8124",
  ]);
  assertOneLineError(
    r2,
    /^interloper: invalid --mode 'upstream:http:\/\/127\.0\.0\.1:3128@8124': 127\.0\.0\.1:8124 is already used by another mode$/,
  );
});

test("invalid specs: one-line errors naming the spec", async () => {
  const cases: Array<[string, RegExp]> = [
    ["reverse", /^interloper: invalid --mode 'reverse': reverse mode needs a URL/],
    ["reverse:ftp://x", /^interloper: invalid --mode 'reverse:ftp:\/\/x': scheme 'ftp' is not supported/],
    ["bogus", /^interloper: invalid --mode 'bogus': unknown mode 'bogus'/],
    [
      "upstream:socks5://127.0.0.1:1080",
      /^interloper: invalid --mode 'upstream:socks5:\/\/127\.0\.0\.1:1080': scheme 'socks5' is not supported/,
    ],
    ["socks5:x", /^interloper: invalid --mode 'socks5:x': socks5 mode takes no data/],
    ["regular@99999", /^interloper: invalid --mode 'regular@99999': /],
  ];
  const results = await Promise.all(cases.map(([spec]) => cli(["--mode", spec])));
  for (let i = 0; i < cases.length; i++) assertOneLineError(results[i]!, cases[i]![1]);
});

test("a listen address already taken at start: one line naming the address, non-zero exit", async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const r = await cli(["--mode", `socks5@${port}`]);
    assertOneLineError(r, new RegExp(`^interloper: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`));
    // The second of two listeners: the first had started; the process still exits with the one line.
    const r2 = await cli(["--mode", "regular@0", "--mode", `socks5@${port}`]);
    assertOneLineError(
      r2,
      new RegExp(`^interloper: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`),
      { listened: true },
    );
  } finally {
    await new Promise<void>((r) => holder.close(() => r()));
  }
});

test.run();
