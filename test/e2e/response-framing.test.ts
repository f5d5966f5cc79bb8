// Unsafe response framing from origins (RFC 9112 §6.1–6.3) never reaches a
// client as such: a raw TCP origin sends exactly the bytes of each bad case,
// a client sends two requests on one kept-alive connection through the
// proxy, and reads back byte-exactly: the first response is well framed (or
// a 502), the second is intact and never inside the first one's body, no
// response carries both Content-Length and Transfer-Encoding.
import * as net from "node:net";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseResponse, WireClient, type WireResponse } from "../helpers/clients.ts";
import { startProxy, type ProxyProcess } from "../helpers/harness.ts";

const GZIPPED = gzipSync(Buffer.from("a body that is gzip transfer-coded, not chunked"));
const SECOND = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nsecond-ok";

interface Case {
  /** The request path that gets these bytes. */
  path: string;
  /** The first request's method. */
  method?: string;
  /** Exactly what the origin answers. */
  bytes: Buffer | string;
  /** The origin closes the connection after the bytes (a body delimited by the close). */
  close?: boolean;
  /** Checks the first response the client got. */
  check(r: WireResponse): void;
  /** The origin must see the second request on a connection of its own (the first one was not reused). */
  freshServerConnection?: boolean;
}

/** A 502 whose body names the problem (`re`). */
function badGateway(re: RegExp): (r: WireResponse) => void {
  return (r) => {
    assert.is(r.status, 502, r.raw.toString("latin1"));
    assert.match(r.body.toString(), re);
  };
}

/** The field's values, wherever it appears (names compared case-insensitively). */
function all(r: WireResponse, name: string): string[] {
  return r.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
}

const CASES: Case[] = [
  {
    path: "/te-gzip",
    bytes: Buffer.concat([
      Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: gzip\r\n\r\n"),
      GZIPPED,
    ]),
    close: true,
    check(r) {
      assert.is(r.status, 200);
      // The coding is kept for the client; the proxy frames the body (it cannot be delimited by a close
      // on a connection that goes on).
      assert.equal(all(r, "transfer-encoding"), ["gzip, chunked"]);
      assert.equal(r.body, GZIPPED);
    },
  },
  {
    path: "/te-identity",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nuntil the close",
    close: true,
    check(r) {
      assert.equal(all(r, "transfer-encoding"), ["identity, chunked"]);
      assert.is(r.body.toString(), "until the close");
    },
  },
  {
    path: "/te-unknown",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: x-custom\r\n\r\nopaque bytes",
    close: true,
    check(r) {
      assert.equal(all(r, "transfer-encoding"), ["x-custom, chunked"]);
      assert.is(r.body.toString(), "opaque bytes");
    },
  },
  {
    path: "/te-gzip-with-length",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\nmore than three bytes",
    close: true,
    check(r) {
      assert.equal(all(r, "content-length"), []);
      assert.equal(all(r, "transfer-encoding"), ["gzip, chunked"]);
      assert.is(r.body.toString(), "more than three bytes");
    },
  },
  {
    path: "/cl-and-chunked",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    freshServerConnection: true,
    check(r) {
      assert.is(r.status, 200);
      assert.equal(all(r, "content-length"), [], "Transfer-Encoding wins: Content-Length is removed");
      assert.equal(all(r, "transfer-encoding"), ["chunked"]);
      assert.is(r.body.toString(), "hello");
    },
  },
  {
    path: "/te-chunked-twice",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n9\r\n4\r\nabcd\r\n\r\n0\r\n\r\n",
    check: badGateway(/chunked.*more than once/),
  },
  {
    path: "/te-chunked-not-last",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nbytes",
    close: true,
    check: badGateway(/chunked.*final/),
  },
  {
    path: "/te-empty",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello",
    check: badGateway(/invalid Transfer-Encoding/),
  },
  {
    path: "/cl-conflict",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    check: badGateway(/conflicting Content-Length/),
  },
  {
    path: "/cl-list-equal",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 005\r\n\r\nhello",
    check(r) {
      assert.is(r.status, 200);
      assert.equal(all(r, "content-length"), ["5"], "one Content-Length, one value");
      assert.is(r.body.toString(), "hello");
    },
  },
  {
    path: "/cl-negative",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    check: badGateway(/invalid Content-Length/),
  },
  {
    path: "/cl-non-numeric",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
    check: badGateway(/invalid Content-Length/),
  },
  {
    path: "/cl-huge",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
    check: badGateway(/invalid Content-Length/),
  },
  {
    path: "/chunk-size-overflow",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
    check: badGateway(/invalid chunk size/),
  },
  {
    path: "/chunk-bad-crlf",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    check: badGateway(/missing CRLF after chunk data/),
  },
  {
    path: "/no-content-with-body",
    bytes: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
    freshServerConnection: true,
    check(r) {
      assert.is(r.status, 204);
      // RFC 9110 §8.6 / RFC 9112 §6.1: no Content-Length or Transfer-Encoding in a 204.
      assert.equal(all(r, "content-length"), []);
      assert.equal(all(r, "transfer-encoding"), []);
    },
  },
  {
    path: "/head-with-length",
    method: "HEAD",
    bytes: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
    check(r) {
      assert.is(r.status, 200);
      assert.equal(all(r, "content-length"), ["100"], "a HEAD response's Content-Length is the GET's size: kept");
      assert.is(r.body.length, 0);
    },
  },
  {
    path: "/not-modified-chunked",
    bytes: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    check(r) {
      assert.is(r.status, 304);
      assert.is(r.body.length, 0);
    },
  },
  {
    path: "/continue-with-body",
    bytes: "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    check: badGateway(/invalid status line/),
  },
];

interface Origin {
  port: number;
  /** Per accepted connection, the paths requested on it. */
  connections: string[][];
  close(): Promise<void>;
}

/** A raw TCP origin on 127.0.0.1: each request head gets its case's bytes; `/ok` gets SECOND. */
async function startRawOrigin(): Promise<Origin> {
  const connections: string[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const paths: string[] = [];
    connections.push(paths);
    let buf = "";
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end !== -1; end = buf.indexOf("\r\n\r\n")) {
        const path = buf.slice(0, end).split(" ")[1] ?? "";
        buf = buf.slice(end + 4);
        paths.push(path);
        const c = CASES.find((x) => x.path === path);
        if (!c) {
          s.write(SECOND);
          continue;
        }
        s.write(c.bytes);
        if (c.close) s.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function requestBytes(method: string, origin: number, path: string): string {
  return `${method} http://127.0.0.1:${origin}${path} HTTP/1.1\r\nHost: 127.0.0.1:${origin}\r\n\r\n`;
}

function assertWellFramed(r: WireResponse, what: string): void {
  const framing = r.headers
    .filter(([k]) => /^(content-length|transfer-encoding)$/i.test(k))
    .map(([k]) => k.toLowerCase());
  assert.ok(
    !(framing.includes("content-length") && framing.includes("transfer-encoding")),
    `${what}: both Content-Length and Transfer-Encoding: ${r.raw.toString("latin1").slice(0, 300)}`,
  );
}

/**
 * The second request goes out on the same connection as soon as the first
 * response's head is in (the proxy has read the whole first response from
 * the origin by then: it buffers bodies); once the second response's body
 * (or the close) is there, the bytes are parsed strictly in order.
 */
async function runCase(proxy: ProxyProcess, origin: Origin, c: Case): Promise<void> {
  const method = c.method ?? "GET";
  const client = await WireClient.connect(proxy.port);
  const gone = () => client.ended || client.closed;
  try {
    client.write(requestBytes(method, origin.port, c.path));
    await client.until(
      () => (client.buf.includes("\r\n\r\n") || gone() ? true : undefined),
      `${c.path}: the first response's head`,
    );
    if (!gone()) client.write(requestBytes("GET", origin.port, "/ok"));
    await client.until(
      () => (client.buf.includes("second-ok") || gone() ? true : undefined),
      `${c.path}: the second response or the close`,
    );
    const first = parseResponse(client.buf, { method, closed: gone() });
    assert.ok(
      first,
      `${c.path}: the first response is complete without relying on a close; received ${JSON.stringify(client.buf.toString("latin1").slice(0, 400))}`,
    );
    if (!first) return;
    assertWellFramed(first.res, c.path);
    c.check(first.res);
    const rest = client.buf.subarray(first.used);
    let second: WireResponse;
    if (/close/i.test(first.res.header("connection") ?? "")) {
      // The proxy said it closes: nothing follows, and the second request goes on a new connection.
      await client.waitClosed();
      assert.is(client.buf.length, first.used, `${c.path}: nothing after a response that said Connection: close`);
      second = await fetchAgain(proxy, origin);
    } else {
      const p = parseResponse(rest, { closed: gone() });
      assert.ok(
        p,
        `${c.path}: the second response follows intact; after the first: ${JSON.stringify(rest.toString("latin1").slice(0, 300))}`,
      );
      second = p.res;
      assert.is(p.used, rest.length, `${c.path}: nothing after the second response`);
    }
    assertWellFramed(second, `${c.path} (second)`);
    assert.is(second.status, 200, `${c.path}: second response ${second.raw.toString("latin1")}`);
    assert.is(second.body.toString(), "second-ok", c.path);
  } finally {
    client.destroy();
  }
}

async function fetchAgain(proxy: ProxyProcess, origin: Origin): Promise<WireResponse> {
  const client = await WireClient.connect(proxy.port);
  try {
    client.write(requestBytes("GET", origin.port, "/ok"));
    return await client.readResponse();
  } finally {
    client.destroy();
  }
}

let proxy: ProxyProcess;
let origin: Origin;

test.before(async () => {
  origin = await startRawOrigin();
  proxy = await startProxy();
});

test.after(async () => {
  await proxy.stop();
  await origin.close();
});

for (const c of CASES) {
  test(`${c.method ?? "GET"} ${c.path}: well framed for the client, the next response intact`, async () => {
    const before = origin.connections.length;
    await runCase(proxy, origin, c);
    if (c.freshServerConnection) {
      const mine = origin.connections.slice(before);
      const first = mine.find((p) => p.includes(c.path));
      assert.ok(first, `${c.path}: the origin got the request`);
      assert.not.ok(first.includes("/ok"), `${c.path}: that server connection was not reused: ${JSON.stringify(mine)}`);
    }
  });
}

test("a response that cannot be framed safely is logged with the URL and the problem", async () => {
  // The flow's request line names the server, the line under it the problem.
  await proxy.waitForOutput(
    new RegExp(
      `GET http://127\\.0\\.0\\.1:${origin.port}/cl-conflict\\n << server sent an invalid response: conflicting Content-Length values "5" and "6"\\n`,
    ),
  );
  await proxy.waitForOutput(
    new RegExp(
      `GET http://127\\.0\\.0\\.1:${origin.port}/te-chunked-twice\\n << server sent an invalid response: Transfer-Encoding "chunked, chunked" applies chunked more than once`,
    ),
  );
});

test.run();
