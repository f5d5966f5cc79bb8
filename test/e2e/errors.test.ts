// What goes wrong, and what the user sees then: unreachable servers,
// malformed requests, connections that break mid-response, shutdown, and the
// start-up errors of the CLI (one line, an exit code).
import { lookup } from "node:dns/promises";
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ROOT,
  curl,
  removeDir,
  runCli,
  startOrigin,
  startProxy,
  tempDir,
  testConfdir,
  waitFor,
} from "../helpers/harness.ts";
import { PEER, WireClient, connectRefused, escapeRe, freePort, openTunnel } from "../helpers/clients.ts";

/** A CLI invocation's stderr must be exactly one line. */
function oneLine(stderr: string): string {
  const ls = stderr.split("\n").filter((l) => l !== "");
  assert.is(ls.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return ls[0]!;
}

// ---------------------------------------------------------------- servers that cannot be reached

test("a refused port: 502 with `error establishing server connection: Connection refused`, and the log lines", async () => {
  const port = await freePort();
  const proxy = await startProxy();
  try {
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, "-i", `http://127.0.0.1:${port}/x`]);
    assert.is(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.ok(
      text.endsWith("\r\n\r\nerror establishing server connection: Connection refused\n"),
      JSON.stringify(text),
    );
    await proxy.waitForOutput(/ << error establishing/);
    const log = proxy.stdout();
    assert.match(log, new RegExp(`${PEER}: error establishing server connection: Connection refused\\n`));
    assert.match(
      log,
      new RegExp(
        `${PEER}: GET http://127\\.0\\.0\\.1:${port}/x\\n << error establishing server connection: Connection refused\\n`,
      ),
    );
    assert.not.match(log, /server connect /);
  } finally {
    assert.is(await proxy.stop(), 0);
  }
});

test("CONNECT to a refused port: the CONNECT itself is answered 502 with the reason", async () => {
  const port = await freePort();
  const proxy = await startProxy();
  try {
    const t = await openTunnel(proxy.port, `127.0.0.1:${port}`).catch((e: Error) => e);
    if (t instanceof Error) return assert.unreachable(String(t));
    try {
      assert.match(t.head, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
      assert.match(t.rest.toString(), /^error establishing server connection: Connection refused\n/);
    } finally {
      t.socket.destroy();
    }
    await proxy.waitForOutput(/error establishing server connection/);
    assert.match(proxy.stdout(), new RegExp(`${PEER}: error establishing server connection: Connection refused\\n`));
  } finally {
    assert.is(await proxy.stop(), 0);
  }
});

test("an unresolvable host (*.invalid): 502 naming the name", async () => {
  const name = "interloper-e2e-test.invalid";
  // RFC 6761: .invalid never resolves. A resolver that answers anyway (or hangs) makes this test moot.
  const resolved = await Promise.race([
    lookup(name).then(
      () => "resolves" as const,
      () => "fails" as const,
    ),
    new Promise<"hangs">((r) => setTimeout(() => r("hangs"), 5000).unref()),
  ]);
  if (resolved !== "fails") {
    console.log(`  (skipped: the resolver ${resolved === "resolves" ? "resolves" : "does not answer for"} ${name})`);
    return;
  }
  const proxy = await startProxy();
  try {
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, "-i", `http://${name}/`]);
    assert.is(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(
      text,
      new RegExp(`\\r\\n\\r\\nerror establishing server connection: [^\\n]*${escapeRe(name)}[^\\n]*\\n$`),
    );
    await proxy.waitForOutput(/ << error establishing/);
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: GET http://${escapeRe(name)}/\\n << error establishing server connection: `),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
  }
});

// ---------------------------------------------------------------- malformed requests

test("malformed requests (garbage, a bad header line, a head over 64 KiB) get 400/400/431 and a close; another client's keep-alive connection is undisturbed", async () => {
  const origin = await startOrigin((req, res) => res.end(`fine ${req.url}`));
  const proxy = await startProxy();
  const host = `127.0.0.1:${origin.port}`;
  const good = await WireClient.connect(proxy.port);
  try {
    good.write(`GET http://${host}/before HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.is((await good.readResponse()).body.toString(), "fine /before");

    const cases: Array<{ send: string; status: number; code: string }> = [
      { send: "HELLO THIS IS NOT HTTP\r\n\r\n", status: 400, code: "HPE_INVALID_METHOD" },
      {
        send: `GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\nBad Header Without Colon\r\n\r\n`,
        status: 400,
        code: "HPE_INVALID_HEADER_TOKEN",
      },
      {
        send: `GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\nX-Huge: ${"h".repeat(70 * 1024)}\r\n\r\n`,
        status: 431,
        code: "HPE_HEADER_OVERFLOW",
      },
    ];
    for (const c of cases) {
      const bad = await WireClient.connect(proxy.port);
      try {
        bad.write(c.send);
        const r = await bad.readResponse();
        assert.is(r.status, c.status, r.statusLine);
        assert.is(r.header("connection"), "close");
        assert.match(r.body.toString(), new RegExp(`^${c.status} [^\\n]*${c.code}`));
        await bad.waitClosed();
      } finally {
        bad.destroy();
      }
      // The other client's connection goes on.
      good.write(`GET http://${host}/after-${c.status} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.is((await good.readResponse()).body.toString(), `fine /after-${c.status}`);
    }
    assert.is(good.closed, false);
    // The log comes through a pipe of its own: the last line may follow the responses by a moment.
    await proxy.waitForOutput(/HPE_HEADER_OVERFLOW[^\n]*431/);
    const log = proxy.stdout();
    assert.match(
      log,
      new RegExp(`${PEER}: malformed HTTP request \\(HPE_INVALID_METHOD: [^)]*\\): 400 Bad Request\\n`),
    );
    assert.match(
      log,
      new RegExp(`${PEER}: malformed HTTP request \\(HPE_INVALID_HEADER_TOKEN: [^)]*\\): 400 Bad Request\\n`),
    );
    assert.match(
      log,
      new RegExp(
        `${PEER}: malformed HTTP request \\(HPE_HEADER_OVERFLOW: [^)]*\\): 431 Request Header Fields Too Large\\n`,
      ),
    );
    // None of the bad requests reached the origin.
    assert.equal(
      origin.requests.map((r) => r.url),
      ["/before", "/after-400", "/after-400", "/after-431"],
    );
  } finally {
    good.destroy();
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an origin-form request (`GET / HTTP/1.1`) to the explicit proxy: 400 naming the problem, then close", async () => {
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    try {
      c.write("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");
      const r = await c.readResponse();
      assert.is(r.statusLine, "HTTP/1.1 400 Bad Request");
      assert.is(
        r.body.toString(),
        "invalid HTTP request form (expected authority or absolute, got origin: '/'); is this a proxy client?\n",
      );
      await c.waitClosed();
    } finally {
      c.destroy();
    }
    await proxy.waitForOutput(/bad request: /);
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: bad request: invalid HTTP request form \\(expected authority or absolute, got origin: '/'\\); is this a proxy client\\?\\n`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
  }
});

test("bad CONNECT targets (no port, port out of range, empty host): 400 naming the target, then close", async () => {
  const proxy = await startProxy();
  try {
    for (const target of ["nonsense", "example.test:99999", ":443"]) {
      const c = await WireClient.connect(proxy.port);
      try {
        c.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
        const r = await c.readResponse();
        assert.is(r.statusLine, "HTTP/1.1 400 Bad Request", target);
        assert.is(r.body.toString(), `invalid CONNECT target '${target}': expected host:port\n`);
        await c.waitClosed();
      } finally {
        c.destroy();
      }
      await proxy.waitForOutput(new RegExp(`bad CONNECT target '${escapeRe(target)}'`));
    }
    assert.not.match(proxy.stdout(), /server connect /);
  } finally {
    assert.is(await proxy.stop(), 0);
  }
});

// ---------------------------------------------------------------- connections that break

/** An origin that sends the head and 1000 of 100000 promised bytes, then resets the connection. */
async function resettingOrigin() {
  return startOrigin((req, res) => {
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": "100000" });
    res.write(Buffer.alloc(1000, 0x61), () => {
      // Give the bytes a moment on the wire, then RST.
      setTimeout(() => req.socket.resetAndDestroy(), 50);
    });
  });
}

test("an upstream that resets mid-response (buffered): the client gets 502 and its connection is closed; the log shows the error", async () => {
  const origin = await resettingOrigin();
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(`GET http://${host}/reset HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const r = await c.readResponse();
      assert.is(r.status, 502);
      assert.match(r.body.toString(), /^server connection failed while reading the response: /);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
    await proxy.waitForOutput(/ << server connection failed/);
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: GET http://${escapeRe(host)}/reset\\n << server connection failed while reading the response: [^\\n]+\\n`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an upstream that resets mid-response (streamed): the client gets the head and the partial body, then its connection is closed; the log shows the error", async () => {
  const origin = await resettingOrigin();
  const proxy = await startProxy(["--set", "stream_large_bodies=10k"]);
  try {
    const c = await WireClient.connect(proxy.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(`GET http://${host}/reset HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      await c.waitClosed();
      const text = c.buf.toString("latin1");
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nContent-Length: 100000\r\n/i);
      const body = text.slice(text.indexOf("\r\n\r\n") + 4);
      assert.ok(body.length < 100000, `got ${body.length} body bytes`);
      assert.is(body, "a".repeat(body.length));
    } finally {
      c.destroy();
    }
    await proxy.waitForOutput(/ << stream interrupted/);
    assert.match(proxy.stdout(), new RegExp(`\\n << stream interrupted: [^\\n]+\\n`));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

/**
 * An origin that answers slowly and for long (bounded: 2400 chunks, a minute), noting when its client
 * goes away. Longer than the tests' waits: a proxy that never closed the upstream connection would
 * fail them, not pass once the origin ended by itself.
 */
async function tricklingOrigin() {
  const state = { started: 0, closed: 0 };
  const origin = await startOrigin((req, res) => {
    state.started++;
    req.socket.once("close", () => state.closed++);
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.write("x".repeat(8192));
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed || ++n > 2400) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write("more\n");
    }, 25);
    res.once("close", () => clearInterval(timer));
  });
  return { origin, state };
}

test("a client that disconnects mid-response (streamed): the proxy closes the upstream connection", async () => {
  const { origin, state } = await tricklingOrigin();
  const proxy = await startProxy(["--set", "stream_large_bodies=1k"]);
  try {
    const c = await WireClient.connect(proxy.port);
    const host = `127.0.0.1:${origin.port}`;
    c.write(`GET http://${host}/slow HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await c.until(() => (c.buf.includes("xxxxxxxx") ? true : undefined), "the first body bytes");
    c.destroy();
    await waitFor(() => state.closed === 1, "the origin to see its connection close");
    await proxy.waitForOutput(/server disconnect/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("a client that disconnects while the proxy buffers the response: the proxy closes the upstream connection", async () => {
  const { origin, state } = await tricklingOrigin();
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    const host = `127.0.0.1:${origin.port}`;
    c.write(`GET http://${host}/slow HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await waitFor(() => state.started === 1, "the origin to get the request");
    c.destroy();
    await waitFor(() => state.closed === 1, "the origin to see its connection close");
    await proxy.waitForOutput(/server disconnect/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

// ---------------------------------------------------------------- shutdown

test("SIGTERM: exit code 0, the process ends and the port is released, even with a client connected", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const proxy = await startProxy();
  const idle = await WireClient.connect(proxy.port);
  try {
    const host = `127.0.0.1:${origin.port}`;
    idle.write(`GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.is((await idle.readResponse()).status, 200);
    const code = await proxy.stop();
    assert.is(code, 0);
    assert.is(proxy.child.signalCode, null, "ended by itself, not by the signal");
    assert.throws(() => process.kill(proxy.child.pid!, 0), /ESRCH/);
    assert.ok(await connectRefused(proxy.port), "nothing listens on the port any more");
    await idle.waitClosed();
  } finally {
    idle.destroy();
    await proxy.stop();
    await origin.close();
  }
});

// ---------------------------------------------------------------- start-up errors (CLI)

test("port in use: one line on stderr naming the address, non-zero exit", async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const r = await runCli(["-p", String(port), "--listen-host", "127.0.0.1", "--set", `confdir=${testConfdir()}`]);
    assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
    const line = oneLine(r.stderr);
    assert.is(line, `interloper: cannot listen on 127.0.0.1:${port}: address already in use`);
  } finally {
    await new Promise<void>((r) => holder.close(() => r()));
  }
});

test("an unknown flag: one line naming it, exit 2", async () => {
  const r = await runCli(["--bogus-flag", "--set", `confdir=${testConfdir()}`]);
  assert.is(r.code, 2);
  const line = oneLine(r.stderr);
  assert.match(line, /^interloper: .*bogus-flag/);
  assert.is(r.stdout, "");
});

test("--no-such-flag: one line, exit 2", async () => {
  const r = await runCli(["--no-such-flag", "--set", `confdir=${testConfdir()}`]);
  assert.is(r.code, 2);
  const line = oneLine(r.stderr);
  assert.match(line, /^interloper: /);
  assert.is(r.stdout, "");
});

test("--no-such-flag: the line names the flag as the user typed it", async () => {
  const r = await runCli(["--no-such-flag", "--set", `confdir=${testConfdir()}`]);
  assert.is(r.code, 2);
  assert.match(oneLine(r.stderr), /no-such-flag/);
});

test("--set flow_detail=9: one line naming flow_detail, non-zero exit", async () => {
  const r = await runCli([
    "--set",
    "flow_detail=9",
    "-p",
    "0",
    "--listen-host",
    "127.0.0.1",
    "--set",
    `confdir=${testConfdir()}`,
  ]);
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
  const line = oneLine(r.stderr);
  assert.match(line, /^interloper: .*flow_detail.*9/);
  assert.not.match(r.stdout, /listening/);
});

test("--set no_such_option=1: one line saying `unknown option`, non-zero exit", async () => {
  const r = await runCli([
    "--set",
    "no_such_option=1",
    "-p",
    "0",
    "--listen-host",
    "127.0.0.1",
    "--set",
    `confdir=${testConfdir()}`,
  ]);
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
  const line = oneLine(r.stderr);
  // The name as typed, or its camelCase spelling.
  assert.match(line, /^interloper: unknown option: (no_such_option|noSuchOption)$/);
  assert.not.match(r.stdout, /listening/);
});

test("--mode bogus: one line naming the mode, non-zero exit", async () => {
  const r = await runCli([
    "--mode",
    "bogus",
    "-p",
    "0",
    "--listen-host",
    "127.0.0.1",
    "--set",
    `confdir=${testConfdir()}`,
  ]);
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
  const line = oneLine(r.stderr);
  assert.match(line, /^interloper: .*'bogus'/);
  assert.not.match(r.stdout, /listening/);
});

test("a corrupt CA file in the confdir: one line naming the file, non-zero exit, the file left as it was", async () => {
  const dir = tempDir("interloper-corrupt-ca-");
  try {
    const file = join(dir, "interloper-ca.pem");
    writeFileSync(file, "this is not a PEM file\n", { mode: 0o600 });
    const r = await runCli(["-p", "0", "--listen-host", "127.0.0.1", "--set", `confdir=${dir}`]);
    assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
    const line = oneLine(r.stderr);
    assert.ok(line.startsWith("interloper: ") && line.includes(file), line);
    assert.is(readFileSync(file, "utf8"), "this is not a PEM file\n");
    assert.not.match(r.stdout, /listening/);
  } finally {
    removeDir(dir);
  }
});

test("--help lists the option groups, exit 0", async () => {
  const r = await runCli(["--help"]);
  assert.is(r.code, 0, r.stderr);
  for (const group of ["Proxy:", "Host ignoring:", "TLS:", "Output:"])
    assert.ok(r.stdout.includes(`\n${group}\n`), `${group} in:\n${r.stdout}`);
  for (const flag of [
    "--mode",
    "--listen-port",
    "--set",
    "--ignore-hosts",
    "--allow-hosts",
    "--ssl-insecure",
    "--quiet",
    "--flow-detail",
  ]) {
    assert.ok(r.stdout.includes(flag), `${flag} in --help`);
  }
  assert.is(r.stderr, "");
});

test("--version prints the version from package.json, exit 0", async () => {
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  const r = await runCli(["--version"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), version);
  assert.is(r.stderr, "");
});

test.run();
