// SOCKS5 mode end to end (SEMANTICS.md §1-§2): curl through --socks5 and
// --socks5-hostname, the hosts rules on every connection (clear-text HTTP
// included), IPv6 targets, and the protocol's refusals on raw sockets.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  curl,
  originCa,
  sleep,
  startInProcess,
  startOrigin,
  startProxy,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import {
  connectRaw,
  ipv6Loopback,
  PEER,
  socks5Connect,
  socks5Request,
  startEcho,
  userPassMessage,
  waitListeners,
  type EchoServer,
} from "../helpers/modes.ts";

let http: Origin;
let https: Origin;
let v6: Origin | undefined;
let echo: EchoServer;
/** --mode socks5@0, nothing ignored. */
let plain: ProxyProcess;
/** --mode socks5@0 with --ignore-hosts for `ignoredHttp` and `ignoredHttps`. */
let ignoring: ProxyProcess;
let ignoredHttp: Origin;
let ignoredHttps: Origin;
let rawIgnored: EchoServer;
/** An HTTPS origin whose certificate also names sni.test; ignored by SNI only. */
let sniOrigin: Origin;

const hello = (req: { url?: string; headers: Record<string, unknown> }) => `hello ${req.url} host=${req.headers.host}`;

test.before(async () => {
  http = await startOrigin((req, res) => res.end(hello(req)));
  https = await startOrigin((req, res) => res.end(hello(req)), { tls: true });
  if (await ipv6Loopback()) v6 = await startOrigin((req, res) => res.end(hello(req)), { host: "::1" });
  echo = await startEcho();
  ignoredHttp = await startOrigin((req, res) => res.end(hello(req)));
  ignoredHttps = await startOrigin((req, res) => res.end(hello(req)), { tls: true });
  rawIgnored = await startEcho();
  sniOrigin = await startOrigin((req, res) => res.end(hello(req)), { tls: true, names: ["sni.test"] });
  plain = await startProxy(["--mode", "socks5@0"]);
  ignoring = await startProxy([
    "--mode",
    "socks5@0",
    "--ignore-hosts",
    `^localhost:${ignoredHttp.port}$`,
    "--ignore-hosts",
    `^localhost:${ignoredHttps.port}$`,
    "--ignore-hosts",
    `^127\\.0\\.0\\.1:${rawIgnored.port}$`,
    "--ignore-hosts",
    `^sni\\.test:${sniOrigin.port}$`,
  ]);
});

test.after(async () => {
  await plain?.stop();
  await ignoring?.stop();
  for (const s of [http, https, v6, echo, ignoredHttp, ignoredHttps, rawIgnored, sniOrigin]) await s?.close();
});

test("the start-up line names the SOCKS5 listener with a socks5:// URL", async () => {
  const [l] = await waitListeners(plain, 1);
  assert.equal(l, { title: "SOCKS5 proxy", scheme: "socks5", host: "127.0.0.1", port: plain.port });
});

test("curl --socks5-hostname: clear-text HTTP to a name is intercepted; the log names the target as sent", async () => {
  const r = await curl(["--socks5-hostname", `127.0.0.1:${plain.port}`, `http://localhost:${http.port}/via-name`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /via-name host=localhost:${http.port}`);
  await plain.waitForOutput(new RegExp(`${PEER}: GET http://localhost:${http.port}/via-name\\n     << 200 OK`));
  assert.match(
    plain.stdout(),
    new RegExp(`${PEER}: server connect localhost:${http.port} \\(127\\.0\\.0\\.1:${http.port}\\)`),
  );
});

test("curl --socks5 (IPv4 address) with HTTPS and the proxy CA: intercepted with the proxy's certificate", async () => {
  // --socks5 resolves locally: the SOCKS5 request carries 127.0.0.1; --resolve keeps SNI and the URL at localhost.
  const r = await curl([
    "-v",
    "--socks5",
    `127.0.0.1:${plain.port}`,
    "--resolve",
    `localhost:${https.port}:127.0.0.1`,
    "--cacert",
    plain.caFile,
    `https://localhost:${https.port}/tls`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /tls host=localhost:${https.port}`);
  assert.match(r.stderr, /issuer: .*CN=interloper/);
  await plain.waitForOutput(new RegExp(`${PEER}: GET https://[^\\s]+:${https.port}/tls\\n     << 200 OK`));
  assert.match(plain.stdout(), new RegExp(`server connect 127\\.0\\.0\\.1:${https.port}\\n`));
  // Only the proxy's CA works: with the origin's CA alone curl refuses the certificate.
  const o = await curl([
    "--socks5",
    `127.0.0.1:${plain.port}`,
    "--resolve",
    `localhost:${https.port}:127.0.0.1`,
    "--cacert",
    (await originCa()).caFile,
    `https://localhost:${https.port}/tls`,
  ]);
  assert.is(o.code, 60, `curl should reject the proxy's certificate without the proxy CA: ${o.stderr}`);
});

test("curl --socks5-hostname with HTTPS: the name goes to the proxy, interception works", async () => {
  const r = await curl([
    "--socks5-hostname",
    `127.0.0.1:${plain.port}`,
    "--cacert",
    plain.caFile,
    `https://localhost:${https.port}/named`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /named host=localhost:${https.port}`);
  await plain.waitForOutput(new RegExp(`${PEER}: GET https://localhost:${https.port}/named\\n`));
});

test("an IPv6 target [::1] (address type 4), through curl and through a raw SOCKS5 request", async () => {
  if (!v6) {
    console.log("  (skipped: no IPv6 loopback here)");
    return;
  }
  const r = await curl(["--socks5", `127.0.0.1:${plain.port}`, `http://[::1]:${v6.port}/six`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /six host=[::1]:${v6.port}`);
  await plain.waitForOutput(new RegExp(`${PEER}: server connect \\[::1\\]:${v6.port}\\n`));
  await plain.waitForOutput(new RegExp(`${PEER}: GET http://\\[::1\\]:${v6.port}/six\\n`));

  const { raw, reply } = await socks5Connect(plain.port, { host: "::1", port: v6.port, type: "ipv6" });
  try {
    assert.is(reply[1], 0, `reply ${reply.toString("hex")}`);
    raw.write(`GET /raw6 HTTP/1.1\r\nHost: [::1]:${v6.port}\r\nConnection: close\r\n\r\n`);
    await raw.closedByPeer("the response and the close");
    assert.match(raw.buf.toString("latin1"), /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello \/raw6/);
  } finally {
    raw.destroy();
  }
});

test("a raw SOCKS5 tunnel to a non-HTTP server relays the bytes (TCP flow lines in the log)", async () => {
  const { raw, reply } = await socks5Connect(plain.port, { host: "127.0.0.1", port: echo.port });
  try {
    assert.equal([...reply], [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const payload = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x0d, 0x0a, 0x42]);
    raw.write(payload);
    assert.equal(await raw.read(payload.length, "the echo"), payload);
  } finally {
    raw.destroy();
  }
  await plain.waitForOutput(new RegExp(`${PEER} -> tcp -> 127\\.0\\.0\\.1:${echo.port}\\n`));
});

test("the client may send the greeting, credentials-free method and request in one packet", async () => {
  const raw = await connectRaw(plain.port);
  try {
    raw.write(
      Buffer.concat([
        Buffer.from([5, 1, 0]),
        socks5Request({ host: "localhost", port: http.port }),
        Buffer.from(`GET /piped HTTP/1.1\r\nHost: localhost:${http.port}\r\nConnection: close\r\n\r\n`),
      ]),
    );
    assert.equal([...(await raw.read(2, "method selection"))], [5, 0]);
    assert.equal([...(await raw.read(10, "reply"))], [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    await raw.closedByPeer("the response");
    assert.match(raw.buf.toString("latin1"), /hello \/piped/);
  } finally {
    raw.destroy();
  }
});

// ---------------------------------------------------------------- hosts rules

test("--ignore-hosts applies to clear-text HTTP in SOCKS5 mode: no request line, bytes intact both ways", async () => {
  const r = await curl([
    "--socks5-hostname",
    `127.0.0.1:${ignoring.port}`,
    `http://localhost:${ignoredHttp.port}/ignored`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /ignored host=localhost:${ignoredHttp.port}`);
  await ignoring.waitForOutput(new RegExp(`server disconnect localhost:${ignoredHttp.port}`));
  assert.not.match(ignoring.stdout(), /GET http/, "no request line for an ignored connection");
  assert.match(
    ignoring.stdout(),
    new RegExp(`${PEER}: server connect localhost:${ignoredHttp.port} \\(127\\.0\\.0\\.1:${ignoredHttp.port}\\)`),
  );

  // Byte for byte: odd header spelling and spacing that an HTTP re-serialisation would not keep.
  const { raw, reply } = await socks5Connect(ignoring.port, { host: "localhost", port: ignoredHttp.port });
  try {
    assert.is(reply[1], 0);
    const req = `GET /exact HTTP/1.1\r\nhOsT: localhost:${ignoredHttp.port}\r\nX-Odd:    spaced   \r\nconnection: close\r\n\r\n`;
    raw.write(req);
    await raw.closedByPeer("the response");
    assert.match(raw.buf.toString("latin1"), /hello \/exact/);
  } finally {
    raw.destroy();
  }
  const seen = ignoredHttp.requests.find((q) => q.url === "/exact");
  assert.ok(seen, "the origin got the request");
  assert.equal(seen.rawHeaders, ["hOsT", `localhost:${ignoredHttp.port}`, "X-Odd", "spaced", "connection", "close"]);
});

test("--ignore-hosts with raw bytes: relayed unchanged, no TCP flow lines", async () => {
  const { raw, reply } = await socks5Connect(ignoring.port, { host: "127.0.0.1", port: rawIgnored.port });
  const payload = Buffer.from("\x00\xffnot http, not tls\r\n\r\n", "latin1");
  try {
    assert.is(reply[1], 0);
    raw.write(payload);
    assert.equal(await raw.read(payload.length, "the echo"), payload);
  } finally {
    raw.destroy();
  }
  assert.equal(rawIgnored.received.at(-1), payload, "the server got exactly the client's bytes");
  await ignoring.waitForOutput(new RegExp(`server disconnect 127\\.0\\.0\\.1:${rawIgnored.port}`));
  assert.not.match(ignoring.stdout(), new RegExp(`-> tcp -> 127\\.0\\.0\\.1:${rawIgnored.port}`));
});

test("--ignore-hosts matches the resolved address of a name target (candidate 1): localhost → 127.0.0.1:PORT", async () => {
  const { raw, reply } = await socks5Connect(ignoring.port, { host: "localhost", port: rawIgnored.port });
  const payload = Buffer.from("GET / HTTP/1.1\r\nHost: by-name\r\n\r\n");
  try {
    assert.is(reply[1], 0);
    raw.write(payload);
    assert.equal(await raw.read(payload.length, "the echo"), payload);
  } finally {
    raw.destroy();
  }
  await ignoring.waitForOutput(
    new RegExp(`server disconnect localhost:${rawIgnored.port} \\(127\\.0\\.0\\.1:${rawIgnored.port}\\)`),
  );
  assert.not.match(ignoring.stdout(), /GET http:\/\/by-name/);
  assert.not.match(ignoring.stdout(), new RegExp(`-> tcp -> localhost:${rawIgnored.port}`));
});

test("--ignore-hosts with HTTPS: the client sees the origin's own certificate, no request line", async () => {
  const ca = await originCa();
  const r = await curl([
    "-v",
    "--socks5-hostname",
    `127.0.0.1:${ignoring.port}`,
    "--cacert",
    ca.caFile,
    `https://localhost:${ignoredHttps.port}/pinned`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /pinned host=localhost:${ignoredHttps.port}`);
  await ignoring.waitForOutput(new RegExp(`server disconnect localhost:${ignoredHttps.port}`));
  assert.not.match(ignoring.stdout(), /GET https/);
  // A connection that matches no pattern is still intercepted by this proxy.
  const i = await curl([
    "--socks5-hostname",
    `127.0.0.1:${ignoring.port}`,
    "--cacert",
    ignoring.caFile,
    `https://localhost:${https.port}/kept`,
  ]);
  assert.is(i.code, 0, i.stderr);
  await ignoring.waitForOutput(new RegExp(`GET https://localhost:${https.port}/kept`));
});

test("--ignore-hosts waits for a clear-text HTTP head that arrives in pieces, then relays it intact", async () => {
  const { raw, reply } = await socks5Connect(ignoring.port, { host: "localhost", port: ignoredHttp.port });
  try {
    assert.is(reply[1], 0);
    raw.write("GET /pieces HTTP/1.1\r\nHo");
    await sleep(50);
    raw.write(`st: localhost:${ignoredHttp.port}\r\nX-Piece: 1\r\n`);
    await sleep(50);
    raw.write("Connection: close\r\n\r\n");
    await raw.closedByPeer("the response");
    assert.match(raw.buf.toString("latin1"), /hello \/pieces/);
  } finally {
    raw.destroy();
  }
  const seen = ignoredHttp.requests.find((q) => q.url === "/pieces");
  assert.equal(seen?.rawHeaders, ["Host", `localhost:${ignoredHttp.port}`, "X-Piece", "1", "Connection", "close"]);
  assert.not.match(ignoring.stdout(), /GET http:\/\/[^\s]*\/pieces/);
});

test("--ignore-hosts matches the ClientHello SNI in SOCKS5 mode (the request carries only an IP address)", async () => {
  const ca = await originCa();
  // --socks5 resolves locally: the proxy learns 127.0.0.1; the name sni.test is only in the SNI.
  const r = await curl([
    "--socks5",
    `127.0.0.1:${ignoring.port}`,
    "--resolve",
    `sni.test:${sniOrigin.port}:127.0.0.1`,
    "--cacert",
    ca.caFile,
    `https://sni.test:${sniOrigin.port}/by-sni`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), `hello /by-sni host=sni.test:${sniOrigin.port}`);
  await ignoring.waitForOutput(new RegExp(`server disconnect 127\\.0\\.0\\.1:${sniOrigin.port}`));
  assert.not.match(ignoring.stdout(), /by-sni/);
  // The same origin by another name is intercepted.
  const i = await curl([
    "--socks5-hostname",
    `127.0.0.1:${ignoring.port}`,
    "--cacert",
    ignoring.caFile,
    `https://localhost:${sniOrigin.port}/by-name`,
  ]);
  assert.is(i.code, 0, i.stderr);
  await ignoring.waitForOutput(new RegExp(`GET https://localhost:${sniOrigin.port}/by-name`));
});

// ---------------------------------------------------------------- protocol refusals

test("BIND and UDP ASSOCIATE get reply 0x07 (command not supported), then the connection closes", async () => {
  for (const [command, name] of [
    [2, "BIND"],
    [3, "UDP ASSOCIATE"],
  ] as const) {
    const raw = await connectRaw(plain.port);
    try {
      raw.write(Buffer.from([5, 1, 0]));
      assert.equal([...(await raw.read(2, "method selection"))], [5, 0]);
      raw.write(socks5Request({ host: "127.0.0.1", port: http.port }, command));
      const reply = await raw.read(10, `the ${name} reply`);
      assert.is(reply[0], 5);
      assert.is(reply[1], 0x07, `${name}: ${reply.toString("hex")}`);
      const rest = await raw.closedByPeer(`the close after ${name}`);
      assert.is(rest.length, 0, "nothing after the reply");
    } finally {
      raw.destroy();
    }
    await plain.waitForOutput(new RegExp(`${PEER}: SOCKS5 error: unsupported SOCKS5 command ${name}\\n`));
  }
});

test("unknown address type → 0x08; zero-length name → 0x01; port 0 → 0x01; each then closed", async () => {
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ["atyp 5", Buffer.from([5, 1, 0, 5, 1, 2, 3, 4]), 0x08, /unknown SOCKS5 address type 0x5/],
    ["empty name", Buffer.from([5, 1, 0, 3, 0, 0, 80]), 0x01, /empty SOCKS5 domain name/],
    ["port 0", socks5Request({ host: "127.0.0.1", port: 0 }), 0x01, /SOCKS5 target port 0/],
  ];
  for (const [name, request, code, log] of cases) {
    const raw = await connectRaw(plain.port);
    try {
      raw.write(Buffer.from([5, 1, 0]));
      await raw.read(2, "method selection");
      raw.write(request);
      const reply = await raw.read(10, `the reply to ${name}`);
      assert.is(reply[1], code, `${name}: ${reply.toString("hex")}`);
      await raw.closedByPeer(`the close after ${name}`);
    } finally {
      raw.destroy();
    }
    await plain.waitForOutput(log);
  }
});

test("a SOCKS4 greeting is refused: closed without a reply, with a log line", async () => {
  const raw = await connectRaw(plain.port);
  try {
    raw.write(Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]));
    const got = await raw.closedByPeer("the close of a SOCKS4 client");
    assert.is(got.length, 0, `no SOCKS5 answer to SOCKS4: ${got.toString("hex")}`);
  } finally {
    raw.destroy();
  }
  await plain.waitForOutput(new RegExp(`${PEER}: SOCKS5 error: not a SOCKS5 greeting \\(version byte 0x04\\)\\n`));
});

test("a greeting without an acceptable method gets 05 FF, then the connection closes", async () => {
  for (const methods of [[2], [1, 2, 0x80]]) {
    const raw = await connectRaw(plain.port);
    try {
      raw.write(Buffer.from([5, methods.length, ...methods]));
      assert.equal([...(await raw.read(2, "method selection"))], [5, 0xff]);
      await raw.closedByPeer("the close after 05 FF");
    } finally {
      raw.destroy();
    }
  }
  await plain.waitForOutput(/SOCKS5 client offers no acceptable authentication method \(no-auth required\)/);
});

test("a greeting offering no method at all is refused", async () => {
  const raw = await connectRaw(plain.port);
  try {
    raw.write(Buffer.from([5, 0]));
    await raw.closedByPeer("the close");
  } finally {
    raw.destroy();
  }
  await plain.waitForOutput(/SOCKS5 error: SOCKS5 greeting offers no authentication method/);
});

test("a refused target port gets reply 0x05 (connection refused), then the connection closes", async () => {
  // A port that was just free: bound, then released.
  const gone = await startEcho();
  const port = gone.port;
  await gone.close();
  const { raw, reply } = await socks5Connect(plain.port, { host: "127.0.0.1", port });
  try {
    assert.equal([...reply], [5, 0x05, 0, 1, 0, 0, 0, 0, 0, 0]);
    await raw.closedByPeer("the close after 0x05");
  } finally {
    raw.destroy();
  }
  await plain.waitForOutput(new RegExp(`${PEER}: error establishing server connection: .*`));
  // curl reports the refusal too.
  const r = await curl(["--socks5-hostname", `127.0.0.1:${plain.port}`, `http://localhost:${port}/`]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /refused|Can't complete SOCKS5 connection/i);
});

test("a client that closes mid-greeting or mid-request leaves the proxy working", async () => {
  for (const partial of [Buffer.from([5]), Buffer.from([5, 2, 0]), Buffer.from([5, 1, 0, 5, 1, 0, 3, 9, 0x6c])]) {
    const raw = await connectRaw(plain.port);
    raw.write(partial);
    raw.socket.end();
    await raw.closedByPeer("the close of a truncated client");
    raw.destroy();
  }
  const r = await curl(["--socks5-hostname", `127.0.0.1:${plain.port}`, `http://localhost:${http.port}/still`]);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(plain.stdout() + plain.stderr(), /internal error/);
});

// ---------------------------------------------------------------- authentication

test("with a socks5Auth addon, username/password is required: valid works, wrong gets 01 01, no-auth-only gets 05 FF", async () => {
  const attempts: string[] = [];
  const p = await startInProcess(
    [
      {
        name: "auth",
        socks5Auth(data) {
          attempts.push(`${data.username}:${data.password}`);
          data.valid = data.username === "alice" && data.password === "s3cret";
        },
      },
    ],
    { mode: ["socks5@0"] },
  );
  try {
    // curl with the right credentials.
    const ok = await curl([
      "--socks5-hostname",
      `127.0.0.1:${p.port}`,
      "--proxy-user",
      "alice:s3cret",
      `http://localhost:${http.port}/authed`,
    ]);
    assert.is(ok.code, 0, ok.stderr);
    assert.is(ok.stdout.toString(), `hello /authed host=localhost:${http.port}`);
    assert.ok(attempts.includes("alice:s3cret"));

    // A raw client with the right credentials: 05 02, then 01 00, then the tunnel.
    const { raw, reply } = await socks5Connect(
      p.port,
      { host: "127.0.0.1", port: echo.port },
      { user: "alice", pass: "s3cret" },
    );
    try {
      assert.is(reply[1], 0);
      raw.write("ping");
      assert.is((await raw.read(4, "the echo")).toString(), "ping");
    } finally {
      raw.destroy();
    }

    // A wrong password: 01 01, then closed.
    const wrong = await connectRaw(p.port);
    try {
      wrong.write(Buffer.from([5, 1, 2]));
      assert.equal([...(await wrong.read(2, "method selection"))], [5, 2]);
      wrong.write(userPassMessage("alice", "nope"));
      assert.equal([...(await wrong.read(2, "auth status"))], [1, 1]);
      const rest = await wrong.closedByPeer("the close after a failed login");
      assert.is(rest.length, 0);
    } finally {
      wrong.destroy();
    }
    assert.ok(
      p.lines.some((l) => /SOCKS5 authentication failed for user 'alice'/.test(l)),
      p.lines.join("\n"),
    );

    // A client that offers only no-auth: 05 FF.
    const noAuth = await connectRaw(p.port);
    try {
      noAuth.write(Buffer.from([5, 1, 0]));
      assert.equal([...(await noAuth.read(2, "method selection"))], [5, 0xff]);
      await noAuth.closedByPeer("the close after 05 FF");
    } finally {
      noAuth.destroy();
    }
    assert.ok(
      p.lines.some((l) => /no acceptable authentication method \(username\/password required\)/.test(l)),
      p.lines.join("\n"),
    );

    // curl with a wrong password fails, and without credentials too.
    const bad = await curl([
      "--socks5-hostname",
      `127.0.0.1:${p.port}`,
      "--proxy-user",
      "alice:wrong",
      `http://localhost:${http.port}/x`,
    ]);
    assert.is.not(bad.code, 0);
    const none = await curl(["--socks5-hostname", `127.0.0.1:${p.port}`, `http://localhost:${http.port}/x`]);
    assert.is.not(none.code, 0);
    assert.not.ok(
      http.requests.some((q) => q.url === "/x"),
      "no request reached the origin without valid credentials",
    );
  } finally {
    await p.stop();
  }
});

test.run();
