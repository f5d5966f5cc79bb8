// Plain HTTP through the explicit proxy: what the client and the origin see
// on the wire, keep-alive and pipelining, bodies (chunked, large, streamed),
// addons answering and rewriting, and the event log.
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response, type Addon, type HTTPFlow } from "@interloper/sdk";
import {
  curl,
  sha256,
  startInProcess,
  startOrigin,
  startProxy,
  tempFile,
  testConfdir,
  waitFor,
  within,
} from "../helpers/harness.ts";
import {
  PEER,
  WireClient,
  countConnections,
  escapeRe,
  freePort,
  hookRecorder,
  openTunnel,
  peakRss,
  requestViaProxy,
  spawnCli,
  waitForListening,
} from "../helpers/clients.ts";

const MB = 1024 * 1024;

/** Lines of a log text (stdout of the CLI). */
function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

test("curl -x: a plain HTTP request reaches the origin in origin-form; the log shows connect, request and response lines", async () => {
  const origin = await startOrigin((_req, res) => res.end("hello"));
  const proxy = await startProxy();
  try {
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${origin.port}/path?q=1`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "hello");
    assert.is(origin.requests.length, 1);
    assert.is(origin.requests[0]!.method, "GET");
    assert.is(origin.requests[0]!.url, "/path?q=1");
    await proxy.waitForOutput(/server disconnect/);
    const o = origin.port;
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: client connect\\n${PEER}: server connect 127\\.0\\.0\\.1:${o}\\n${PEER}: GET http://127\\.0\\.0\\.1:${o}/path\\?q=1\\n     << 200 OK 5b\\n`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("Node's http client, absolute-form with a host name: the origin gets the path and the Host header; the log names the host and its address", async () => {
  const origin = await startOrigin((req, res) => res.end(`host=${req.headers.host}`));
  const proxy = await startProxy();
  try {
    const url = `http://localhost:${origin.port}/abs/p?x=y`;
    const r = await requestViaProxy(proxy.port, url);
    assert.is(r.status, 200);
    assert.is(r.body.toString(), `host=localhost:${origin.port}`);
    assert.is(origin.requests[0]!.url, "/abs/p?x=y");
    await proxy.waitForOutput(/<< 200 OK/);
    const o = origin.port;
    assert.match(proxy.stdout(), new RegExp(`${PEER}: server connect localhost:${o} \\(127\\.0\\.0\\.1:${o}\\)\\n`));
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: GET http://localhost:${o}/abs/p\\?x=y\\n     << 200 OK ${`host=localhost:${o}`.length}b\\n`),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("keep-alive: two requests on one client connection use one server connection (one `server connect` line, the origin sees one socket)", async () => {
  const origin = await startOrigin((req, res) => res.end(`${req.url} via ${req.socket.remotePort}`));
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    try {
      const host = `127.0.0.1:${origin.port}`;
      c.write(`GET http://${host}/one HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const a = await c.readResponse();
      c.write(`GET http://${host}/two HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const b = await c.readResponse();
      assert.is(a.status, 200);
      assert.is(b.status, 200);
      const pa = /^\/one via (\d+)$/.exec(a.body.toString());
      const pb = /^\/two via (\d+)$/.exec(b.body.toString());
      assert.ok(pa && pb, `${a.body} / ${b.body}`);
      assert.is(pa[1], pb[1], "both requests arrived on the same server socket");
      assert.is(c.closed, false, "the client connection stays open");
    } finally {
      c.destroy();
    }
    await proxy.waitForOutput(/server disconnect/);
    assert.is(conns.count(), 1);
    const log = proxy.stdout();
    assert.is(log.match(/server connect /g)?.length, 1, log);
    assert.is(log.match(/client connect/g)?.length, 1, log);
    assert.is(log.match(/     << 200 OK/g)?.length, 2, log);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("curl with two URLs reuses the proxy connection and the server connection", async () => {
  const origin = await startOrigin((req, res) => res.end(req.url));
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const base = `http://127.0.0.1:${origin.port}`;
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `${base}/a`, `${base}/b`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "/a/b");
    await proxy.waitForOutput(/server disconnect/);
    assert.is(conns.count(), 1);
    assert.is(proxy.stdout().match(/client connect/g)?.length, 1);
    assert.is(proxy.stdout().match(/server connect /g)?.length, 1);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the origin closes an idle keep-alive connection: the next request on the same client connection opens a new server connection and is answered", async () => {
  const origin = await startOrigin((req, res) => {
    // Close the connection shortly after each response, as servers do with idle keep-alive connections.
    res.once("finish", () => setTimeout(() => req.socket.destroy(), 30));
    res.end(`${req.url} on ${req.socket.remotePort}`);
  });
  const conns = countConnections(origin);
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    try {
      const host = `127.0.0.1:${origin.port}`;
      c.write(`GET http://${host}/one HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const a = await c.readResponse();
      assert.match(a.body.toString(), /^\/one on \d+$/);
      await waitFor(() => conns.closed() === 1, "the origin to close its side");
      // The FIN reached the proxy before the next request: it says so.
      await proxy.waitForOutput(/server disconnect/);
      c.write(`GET http://${host}/two HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const b = await c.readResponse();
      assert.is(b.status, 200);
      assert.match(b.body.toString(), /^\/two on \d+$/);
    } finally {
      c.destroy();
    }
    assert.is(conns.count(), 2);
    const log = proxy.stdout();
    assert.match(
      log,
      new RegExp(
        `${PEER}: server connect [^\\n]+\\n${PEER}: GET [^\\n]+/one\\n     << 200 OK [^\\n]+\\n${PEER}: server disconnect [^\\n]+\\n${PEER}: server connect [^\\n]+\\n${PEER}: GET [^\\n]+/two\\n     << 200 OK`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("pipelining: two requests in one TCP write get both responses, in order", async () => {
  // The first response is the slow one: answering out of order would show.
  const origin = await startOrigin((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("first"), 150);
    else res.end("second!");
  });
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    try {
      const host = `127.0.0.1:${origin.port}`;
      c.write(
        `GET http://${host}/slow HTTP/1.1\r\nHost: ${host}\r\n\r\nGET http://${host}/fast HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      );
      const a = await c.readResponse();
      const b = await c.readResponse();
      assert.is(a.body.toString(), "first");
      assert.is(b.body.toString(), "second!");
      assert.is(a.header("content-length"), "5");
      assert.is(b.header("content-length"), "7");
      assert.is(c.buf.length, 0, "nothing after the two responses");
    } finally {
      c.destroy();
    }
    assert.equal(origin.requests.map((r) => r.url).sort(), ["/fast", "/slow"]);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("pipelining inside a clear-text CONNECT tunnel: both responses, in order, from the origin", async () => {
  const origin = await startOrigin((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("first"), 150);
    else res.end("second!");
  });
  const proxy = await startProxy();
  try {
    const host = `127.0.0.1:${origin.port}`;
    const tunnel = await openTunnel(proxy.port, host);
    assert.is(tunnel.status, 200, tunnel.head);
    const c = new WireClient(tunnel.socket);
    tunnel.socket.resume();
    try {
      c.write(`GET /slow HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /fast HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const a = await c.readResponse();
      const b = await c.readResponse();
      assert.is(`${a.status} ${a.body}`, "200 first");
      assert.is(`${b.status} ${b.body}`, "200 second!");
    } finally {
      c.destroy();
    }
    assert.equal(origin.requests.map((r) => r.url).sort(), ["/fast", "/slow"]);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("chunked request and response bodies arrive intact (bytes and framing)", async () => {
  const pieces = [randomBytes(1), randomBytes(70_000), randomBytes(3), randomBytes(200_000)];
  const whole = Buffer.concat(pieces);
  const origin = await startOrigin((req, res, body) => {
    // No Content-Length: Node sends the response chunked, in these pieces.
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      "X-Request-Sha": sha256(body),
      "X-Request-TE": String(req.headers["transfer-encoding"]),
    });
    for (const p of pieces) res.write(p);
    res.end();
  });
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    try {
      const host = `127.0.0.1:${origin.port}`;
      let chunked = "";
      for (const p of pieces) chunked += `${p.length.toString(16)}\r\n${p.toString("latin1")}\r\n`;
      chunked += "0\r\n\r\n";
      c.write(
        Buffer.concat([
          Buffer.from(`POST http://${host}/up HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n`),
          Buffer.from(chunked, "latin1"),
        ]),
      );
      const r = await c.readResponse();
      assert.is(r.status, 200);
      assert.is(r.header("transfer-encoding"), "chunked");
      assert.is(r.header("content-length"), undefined);
      assert.is(r.header("x-request-sha"), sha256(whole));
      assert.is(r.header("x-request-te"), "chunked");
      assert.is(sha256(r.body), sha256(whole));
      assert.is(r.body.length, whole.length);
    } finally {
      c.destroy();
    }
    assert.is(sha256(origin.requests[0]!.body), sha256(whole));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("POST bodies: curl --data-binary of 3 MB of random bytes, with Content-Length; the origin echoes what it got", async () => {
  const data = randomBytes(3 * MB);
  const file = tempFile("body.bin", data);
  const origin = await startOrigin((req, res, body) => {
    res.setHeader("X-Got-Length", String(req.headers["content-length"]));
    res.end(body);
  });
  const proxy = await startProxy();
  try {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${proxy.port}`,
      "-D",
      "-",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download}",
      "--data-binary",
      `@${file}`,
      "-H",
      "Content-Type: application/octet-stream",
      `http://127.0.0.1:${origin.port}/post`,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /X-Got-Length: 3145728\r\n/);
    assert.ok(r.stdout.toString().endsWith(`${3 * MB}`), r.stdout.toString().slice(-40));
    assert.is(origin.requests[0]!.method, "POST");
    assert.is(sha256(origin.requests[0]!.body), sha256(data));
    await proxy.waitForOutput(/<< 200 OK/);
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: POST http://127\\.0\\.0\\.1:${origin.port}/post\\n     << 200 OK 3\\.0m\\n`),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

/** Sends one request with these header lines on a raw socket; returns the origin's rawHeaders. */
async function sendHeaders(proxyPort: number, originHost: string, headerLines: string[]): Promise<void> {
  const c = await WireClient.connect(proxyPort);
  try {
    c.write(`GET http://${originHost}/h HTTP/1.1\r\n${headerLines.map((l) => `${l}\r\n`).join("")}\r\n`);
    const r = await c.readResponse();
    assert.is(r.status, 200);
  } finally {
    c.destroy();
  }
}

const HEADER_LINES = (host: string) => [
  "x-lower-first: 1",
  `Host: ${host}`,
  "X-MiXeD-CaSe: two",
  "Proxy-Connection: keep-alive",
  "accept: */*",
  "X-Dup: a",
  "USER-AGENT: Shouty/1.0",
  "X-Dup: b",
];
const FORWARDED = (host: string) => [
  "x-lower-first",
  "1",
  "Host",
  host,
  "X-MiXeD-CaSe",
  "two",
  "accept",
  "*/*",
  "X-Dup",
  "a",
  "USER-AGENT",
  "Shouty/1.0",
  "X-Dup",
  "b",
];

test("request header order and spelling reach the origin as the client wrote them (hop-by-hop Proxy-Connection removed)", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const proxy = await startProxy();
  try {
    const host = `127.0.0.1:${origin.port}`;
    await sendHeaders(proxy.port, host, HEADER_LINES(host));
    const raw = origin.requests[0]!.rawHeaders;
    // Fields the proxy may have added itself are judged by the next test.
    const pairs: string[] = [];
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i]!.toLowerCase() !== "connection") pairs.push(raw[i]!, raw[i + 1]!);
    assert.equal(pairs, FORWARDED(host));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("the proxy adds no header fields of its own to a forwarded request (exactly the client's fields arrive)", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const proxy = await startProxy();
  try {
    const host = `127.0.0.1:${origin.port}`;
    await sendHeaders(proxy.port, host, HEADER_LINES(host));
    assert.equal(origin.requests[0]!.rawHeaders, FORWARDED(host));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("response header order and spelling reach the client as the origin wrote them", async () => {
  const raw = await rawOrigin(
    "HTTP/1.1 200 OK\r\nx-CUSTOM-case: 1\r\nZ-First: z\r\nSet-Cookie: a=1\r\nA-Second: a\r\nSet-Cookie: b=2\r\ncontent-length: 2\r\n\r\nhi",
  );
  const proxy = await startProxy();
  try {
    const r = await oneRawRequest(proxy.port, raw.port);
    assert.equal(
      r.headers.filter(([k]) => !["connection", "keep-alive"].includes(k.toLowerCase())),
      [
        ["x-CUSTOM-case", "1"],
        ["Z-First", "z"],
        ["Set-Cookie", "a=1"],
        ["A-Second", "a"],
        ["Set-Cookie", "b=2"],
        ["content-length", "2"],
      ],
    );
    assert.is(r.body.toString(), "hi");
  } finally {
    assert.is(await proxy.stop(), 0);
    raw.close();
  }
});

test("the proxy adds no header fields of its own to a forwarded response (exactly the origin's fields arrive)", async () => {
  const raw = await rawOrigin("HTTP/1.1 200 OK\r\nx-CUSTOM-case: 1\r\ncontent-length: 2\r\n\r\nhi");
  const proxy = await startProxy();
  try {
    const r = await oneRawRequest(proxy.port, raw.port);
    assert.equal(r.headers, [
      ["x-CUSTOM-case", "1"],
      ["content-length", "2"],
    ]);
  } finally {
    assert.is(await proxy.stop(), 0);
    raw.close();
  }
});

/** An origin that answers every request head with exactly these bytes (and keeps the connection). */
async function rawOrigin(response: string): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    let buf = "";
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      while (buf.includes("\r\n\r\n")) {
        buf = buf.slice(buf.indexOf("\r\n\r\n") + 4);
        s.write(response);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function oneRawRequest(proxyPort: number, originPort: number) {
  const c = await WireClient.connect(proxyPort);
  try {
    const host = `127.0.0.1:${originPort}`;
    c.write(`GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    return await c.readResponse();
  } finally {
    c.destroy();
  }
}

/** A 50 MB body served with Content-Length and back-pressure. */
function serveBig(res: http.ServerResponse, data: Buffer): void {
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(data.length) });
  let off = 0;
  const step = 256 * 1024;
  const pump = () => {
    while (off < data.length) {
      const ok = res.write(data.subarray(off, off + step));
      off += step;
      if (!ok) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Downloads through the proxy, hashing as it goes (the test keeps no copy). */
function downloadHash(proxyPort: number, url: string): Promise<{ status: number; length: number; sha: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: proxyPort,
      path: url,
      headers: { Host: new URL(url).host },
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error("download timed out")), 60_000);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on("response", (res) => {
      const h = createHash("sha256");
      let length = 0;
      res.on("data", (c: Buffer) => {
        length += c.length;
        h.update(c);
      });
      res.on("error", reject);
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, length, sha: h.digest("hex") });
      });
    });
    req.end();
  });
}

/**
 * Memory bounds (not timing): streaming 50 MB grows the proxy's peak RSS by
 * some 35 MB (socket buffers awaiting GC); buffering the same body needs the
 * chunks plus their concatenation, over 100 MB.
 */
const STREAM_GROWTH_BOUND = 75 * MB;
const RSS_CEILING = 200 * MB;

test("a 50 MB response streams through with --set stream_large_bodies=1m: SHA-256 intact, the proxy's memory stays bounded", async () => {
  const data = randomBytes(50 * MB);
  const want = sha256(data);
  const origin = await startOrigin((req, res) => (req.url === "/warm" ? res.end("w") : serveBig(res, data)));
  const proxy = await startProxy(["--set", "stream_large_bodies=1m"]);
  try {
    const pid = proxy.child.pid!;
    // Run the code paths once (a small request), then take the baseline.
    await requestViaProxy(proxy.port, `http://127.0.0.1:${origin.port}/warm`);
    const before = peakRss(pid);
    const r = await downloadHash(proxy.port, `http://127.0.0.1:${origin.port}/big`);
    const after = peakRss(pid);
    assert.is(r.status, 200);
    assert.is(r.length, data.length);
    assert.is(r.sha, want);
    assert.ok(after < RSS_CEILING, `proxy peak RSS ${(after / MB).toFixed(1)} MB`);
    assert.ok(
      after - before < STREAM_GROWTH_BOUND,
      `proxy peak RSS grew by ${((after - before) / MB).toFixed(1)} MB (from ${(before / MB).toFixed(1)} MB)`,
    );
    await proxy.waitForOutput(/\/big\n     << 200 OK/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("a 50 MB request body streams through with --set stream_large_bodies=1m: SHA-256 intact at the origin, the proxy's memory stays bounded", async () => {
  const data = randomBytes(50 * MB);
  const want = sha256(data);
  const origin = await startOrigin((_req, res, body) => res.end(sha256(body)));
  const proxy = await startProxy(["--set", "stream_large_bodies=1m"]);
  try {
    const pid = proxy.child.pid!;
    await requestViaProxy(proxy.port, `http://127.0.0.1:${origin.port}/warm`);
    const before = peakRss(pid);
    const pieces: Buffer[] = [];
    for (let off = 0; off < data.length; off += 4 * MB) pieces.push(data.subarray(off, off + 4 * MB));
    const host = `127.0.0.1:${origin.port}`;
    const r = await requestViaProxy(proxy.port, `http://${host}/upload`, {
      method: "PUT",
      headers: { Host: host, "Content-Length": String(data.length), "Content-Type": "application/octet-stream" },
      body: pieces,
      timeoutMs: 60_000,
    });
    const after = peakRss(pid);
    assert.is(r.status, 200);
    assert.is(r.body.toString(), want);
    assert.is(origin.requests[1]!.body.length, data.length);
    assert.ok(after < RSS_CEILING, `proxy peak RSS ${(after / MB).toFixed(1)} MB`);
    assert.ok(
      after - before < STREAM_GROWTH_BOUND,
      `proxy peak RSS grew by ${((after - before) / MB).toFixed(1)} MB (from ${(before / MB).toFixed(1)} MB)`,
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("HEAD, 204 and 304 responses carry no body, and the connection goes on with the right framing", async () => {
  const origin = await startOrigin((req, res) => {
    if (req.url === "/head") {
      res.writeHead(200, { "Content-Length": "1234", "Content-Type": "text/plain" });
      res.end();
    } else if (req.url === "/204") {
      res.writeHead(204, { "X-Kind": "no-content" });
      res.end();
    } else if (req.url === "/304") {
      res.writeHead(304, { ETag: '"v1"' });
      res.end();
    } else res.end("after");
  });
  const proxy = await startProxy();
  try {
    const c = await WireClient.connect(proxy.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(`HEAD http://${host}/head HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const head = await c.readResponse({ method: "HEAD" });
      assert.is(head.status, 200);
      assert.is(head.header("content-length"), "1234");
      c.write(`GET http://${host}/204 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const nc = await c.readResponse();
      assert.is(nc.statusLine, "HTTP/1.1 204 No Content");
      assert.is(nc.header("x-kind"), "no-content");
      c.write(`GET http://${host}/304 HTTP/1.1\r\nHost: ${host}\r\nIf-None-Match: "v1"\r\n\r\n`);
      const nm = await c.readResponse();
      assert.is(nm.statusLine, "HTTP/1.1 304 Not Modified");
      assert.is(nm.header("etag"), '"v1"');
      // Had any of them carried body bytes, they would be read as this response's start.
      c.write(`GET http://${host}/after HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const after = await c.readResponse();
      assert.is(after.statusLine, "HTTP/1.1 200 OK");
      assert.is(after.body.toString(), "after");
      assert.is(c.buf.length, 0);
    } finally {
      c.destroy();
    }
    await proxy.waitForOutput(/\/after\n/);
    const log = proxy.stdout();
    assert.match(log, new RegExp(`${PEER}: HEAD http://${escapeRe(host)}/head\\n     << 200 OK 0b\\n`));
    assert.match(log, new RegExp(`${PEER}: GET http://${escapeRe(host)}/204\\n     << 204 No Content 0b\\n`));
    assert.match(log, new RegExp(`${PEER}: GET http://${escapeRe(host)}/304\\n     << 304 Not Modified 0b\\n`));
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an addon answering in `request` (flow.response = Response.make(...)): the origin gets nothing, the client gets the body, the log shows the flow", async () => {
  const origin = await startOrigin((_req, res) => res.end("from origin"));
  const conns = countConnections(origin);
  const answer: Addon = {
    name: "answer-locally",
    request(flow: HTTPFlow) {
      if (flow.request.path === "/local")
        flow.response = Response.make(200, "answered by addon", { "Content-Type": "text/plain", "X-Local": "yes" });
    },
  };
  const p = await startInProcess([answer]);
  try {
    const r = await curl(["-x", `http://127.0.0.1:${p.port}`, "-i", `http://127.0.0.1:${origin.port}/local`]);
    assert.is(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nX-Local: yes\r\n/i);
    assert.match(text, /\r\ncontent-length: 17\r\n/i);
    assert.ok(text.endsWith("\r\n\r\nanswered by addon"), text);
    await waitFor(() => p.lines.some((l) => l.includes("client disconnect")), "client disconnect");
    assert.is(origin.requests.length, 0);
    assert.is(conns.count(), 0);
    const log = p.lines.join("\n");
    assert.match(log, new RegExp(`${PEER}: GET http://127\\.0\\.0\\.1:${origin.port}/local\\n     << 200 OK 17b`));
    assert.not.match(log, /server connect/);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an addon changing the response body in `response`: the client gets the new bytes with a true Content-Length, keep-alive framing intact", async () => {
  const origin = await startOrigin((req, res) => {
    if (req.url === "/grow") res.end("hello");
    else if (req.url === "/shrink") res.end("a rather long original body");
    else {
      // chunked, no Content-Length
      res.write("chunk one, ");
      res.end("chunk two");
    }
  });
  const rewrite: Addon = {
    name: "rewrite",
    response(flow: HTTPFlow) {
      const r = flow.response!;
      if (flow.request.path === "/grow") r.setText(`${r.text()}, and a lot more text added by the addon`);
      else if (flow.request.path === "/shrink") r.setText("short");
      else r.setText(r.text().toUpperCase());
    },
  };
  const p = await startInProcess([rewrite]);
  try {
    const c = await WireClient.connect(p.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(`GET http://${host}/grow HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const a = await c.readResponse();
      const grown = "hello, and a lot more text added by the addon";
      assert.is(a.body.toString(), grown);
      assert.is(a.header("content-length"), String(grown.length));
      c.write(`GET http://${host}/shrink HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const b = await c.readResponse();
      assert.is(b.body.toString(), "short");
      assert.is(b.header("content-length"), "5");
      c.write(`GET http://${host}/chunked HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const d = await c.readResponse();
      assert.is(d.body.toString(), "CHUNK ONE, CHUNK TWO");
      assert.ok(d.header("content-length") === "20" || d.header("transfer-encoding") === "chunked", d.raw.toString());
      assert.is(c.buf.length, 0);
      assert.is(c.closed, false);
    } finally {
      c.destroy();
    }
    const log = p.lines.join("\n");
    assert.match(log, /\/grow\n     << 200 OK 45b/);
    assert.match(log, /\/shrink\n     << 200 OK 5b/);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an addon assigning `body` directly (Content-Length left stale) in `request` and `response`: both sides get a true Content-Length, framing intact", async () => {
  const origin = await startOrigin((req, res, body) =>
    res.end(`origin got ${body.length} bytes: ${body.toString()} (${req.headers["content-length"]})`),
  );
  const raw: Addon = {
    name: "raw-body",
    request(flow: HTTPFlow) {
      // Longer than the client's "Content-Length: 3": sent as is, the excess would reach the server as another request.
      flow.request.body = Buffer.from("abcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    },
    response(flow: HTTPFlow) {
      flow.response!.body = Buffer.from("replaced");
    },
  };
  const p = await startInProcess([raw]);
  try {
    const c = await WireClient.connect(p.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      for (let i = 0; i < 2; i++) {
        c.write(`POST http://${host}/p HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\n\r\nxyz`);
        const r = await c.readResponse();
        assert.is(r.body.toString(), "replaced");
        assert.is(r.header("content-length"), "8");
      }
      assert.is(c.buf.length, 0);
      assert.is(c.closed, false);
    } finally {
      c.destroy();
    }
    assert.is(origin.requests.length, 2, "no smuggled third request");
    assert.equal(
      origin.requests.map((r) => r.url),
      ["/p", "/p"],
    );
    assert.is(origin.requests[0]!.body.toString(), "abcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  } finally {
    await p.stop();
    await origin.close();
  }
});
test("stream flags set in `requestheaders` / `responseheaders`: bodies pass through unbuffered, `request` / `response` see empty bodies", async () => {
  const reqBody = randomBytes(300_000);
  const resBody = randomBytes(500_000);
  const origin = await startOrigin((_req, res, body) => {
    res.setHeader("X-Got-Sha", sha256(body));
    res.end(resBody);
  });
  const seen: Record<string, number> = {};
  const streamer: Addon = {
    name: "streamer",
    requestheaders(flow: HTTPFlow) {
      if (flow.request.path === "/stream") flow.request.stream = true;
    },
    request(flow: HTTPFlow) {
      seen[`request:${flow.request.path}`] = flow.request.body.length;
    },
    responseheaders(flow: HTTPFlow) {
      if (flow.request.path === "/stream") flow.response!.stream = true;
    },
    response(flow: HTTPFlow) {
      seen[`response:${flow.request.path}`] = flow.response!.body.length;
    },
  };
  const p = await startInProcess([streamer]);
  try {
    const host = `127.0.0.1:${origin.port}`;
    for (const path of ["/stream", "/buffer"]) {
      const r = await requestViaProxy(p.port, `http://${host}${path}`, {
        method: "POST",
        headers: { Host: host, "Content-Length": String(reqBody.length) },
        body: reqBody,
      });
      assert.is(r.status, 200);
      assert.is(r.headers["x-got-sha"], sha256(reqBody), `${path}: request body at the origin`);
      assert.is(sha256(r.body), sha256(resBody), `${path}: response body at the client`);
    }
    assert.equal(seen, {
      "request:/stream": 0,
      "response:/stream": 0,
      "request:/buffer": reqBody.length,
      "response:/buffer": resBody.length,
    });
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("hook order for one plain HTTP request", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const rec = hookRecorder();
  const p = await startInProcess([rec.addon]);
  try {
    const r = await curl(["-x", `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${origin.port}/`]);
    assert.is(r.code, 0, r.stderr);
    await waitFor(() => rec.calls.includes("clientDisconnect"), "clientDisconnect");
    assert.equal(rec.calls, [
      "clientConnect",
      "requestheaders",
      "request",
      "serverConnect",
      "serverConnected",
      "responseheaders",
      "response",
      "serverDisconnect",
      "clientDisconnect",
    ]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("-q prints no flow lines (and no connection lines)", async () => {
  const origin = await startOrigin((_req, res) => res.end("quiet"));
  const port = await freePort();
  const cli = spawnCli(["-q", "-p", String(port), "--listen-host", "127.0.0.1", "--set", `confdir=${testConfdir()}`]);
  try {
    await waitForListening(port);
    const r = await curl(["-x", `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/q`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.toString(), "quiet");
  } finally {
    // stop() returns once the CLI's output was read to its end: any flow line would be in it.
    const code = await cli.stop();
    await origin.close();
    assert.is(code, 0);
  }
  const out = cli.stdout();
  assert.not.match(out, /GET http/);
  assert.not.match(out, /<</);
  assert.not.match(out, /client connect|server connect/);
  assert.is(cli.stderr(), "");
});

test("the reader of the log goes away (a closed stdout pipe): the proxy stops instead of spinning", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const port = await freePort();
  const cli = spawnCli(["-p", String(port), "--listen-host", "127.0.0.1", "--set", `confdir=${testConfdir()}`]);
  const exited = new Promise<number | null>((r) => cli.child.once("exit", (code) => r(code)));
  try {
    await waitForListening(port);
    cli.child.stdout!.destroy();
    // The next flow's log lines meet the closed pipe.
    await curl(["-x", `http://127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/gone`]);
    assert.is(await within(exited, "the proxy's exit after its stdout closed"), 0);
  } finally {
    await cli.stop();
    await origin.close();
  }
});

test("--flow-detail 2 prints the request and response headers under their lines", async () => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader("X-Origin-Header", "xyz");
    res.end("d2");
  });
  const proxy = await startProxy(["--flow-detail", "2"]);
  try {
    const host = `127.0.0.1:${origin.port}`;
    const r = await requestViaProxy(proxy.port, `http://${host}/detail`, {
      headers: ["Host", host, "X-Test-Header", "abc"],
    });
    assert.is(r.status, 200);
    await proxy.waitForOutput(/X-Origin-Header: xyz\n/);
    const log = proxy.stdout();
    assert.match(
      log,
      new RegExp(
        `${PEER}: GET http://${escapeRe(host)}/detail\\n        Host: ${escapeRe(host)}\\n        X-Test-Header: abc\\n(        .*\\n)*     << 200 OK 2b\\n(        .*\\n)*        X-Origin-Header: xyz\\n`,
      ),
    );
    const all = lines(log);
    const reqLine = all.findIndex((l) => l.includes("GET http://"));
    const resLine = all.findIndex((l) => l.startsWith("     << 200 OK"));
    assert.ok(reqLine >= 0 && resLine > reqLine + 2, log);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test.run();
