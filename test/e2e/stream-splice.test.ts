// Streamed HTTP/1 response bodies with a Content-Length between plain TCP
// sockets are moved fd to fd by the splice worker thread instead of through JS
// streams. What the client
// sees must not change: exact bytes, keep-alive framing after the body, the
// server connection reused, pipelining in order, the `response` hook after
// the body, a server that fails mid-body cutting only that exchange, and the
// JS path for everything else (chunked bodies, TLS, HTTP/2).
import { createHash, randomBytes } from "node:crypto";
import type * as http from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HTTPFlow } from "@interloper/sdk";
import { startInProcess, startOrigin, waitFor, within } from "../helpers/harness.ts";
import { WireClient, countConnections, requestViaProxy } from "../helpers/clients.ts";
import { spliceStats } from "../../core/platform/splice.ts";

const MB = 1024 * 1024;

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Writes `data` with a Content-Length in pieces, as a real server would. */
function serve(res: http.ServerResponse, data: Buffer): void {
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": data.length });
  let off = 0;
  const more = () => {
    while (off < data.length) {
      const piece = data.subarray(off, off + 256 * 1024);
      off += piece.length;
      if (!res.write(piece)) return void res.once("drain", more);
    }
    res.end();
  };
  more();
}

function get(host: string, path: string): string {
  return `GET http://${host}${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
}

test("a streamed 24 MiB body is moved by the worker: exact bytes, then the same client and server connections carry the next requests", async () => {
  const big = randomBytes(24 * MB);
  const origin = await startOrigin((req, res) => (req.url === "/big" ? serve(res, big) : res.end(`small ${req.url}`)));
  const conns = countConnections(origin);
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  const before = spliceStats.bytesMoved;
  try {
    const c = await WireClient.connect(p.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      for (const path of ["/big", "/one", "/big", "/two"]) {
        c.write(get(host, path));
        const r = await c.readResponse();
        assert.is(r.status, 200);
        if (path === "/big") {
          assert.is(r.body.length, big.length);
          assert.is(sha(r.body), sha(big));
          assert.is(r.header("content-length"), String(big.length));
        } else {
          assert.is(r.body.toString(), `small ${path}`);
        }
      }
      assert.is(c.buf.length, 0, "nothing after the last response");
      assert.is(c.closed, false);
    } finally {
      c.destroy();
    }
    assert.is(conns.count(), 1, "one server connection for all four requests");
    // Both big bodies went through the worker (all but what came in the same reads as their heads).
    assert.ok(
      spliceStats.bytesMoved - before >= 2 * (big.length - MB),
      `bytes moved by the worker: ${spliceStats.bytesMoved - before}`,
    );
    const log = p.lines.join("\n");
    assert.match(log, /GET http:\/\/127\.0\.0\.1:\d+\/big\n     << 200 OK/);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("pipelined requests for two streamed bodies and a small one: all three, in order, bytes exact", async () => {
  const a = randomBytes(6 * MB);
  const b = randomBytes(5 * MB + 123);
  const origin = await startOrigin((req, res) =>
    req.url === "/a" ? serve(res, a) : req.url === "/b" ? serve(res, b) : res.end("tail"),
  );
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  try {
    const c = await WireClient.connect(p.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(get(host, "/a") + get(host, "/b") + get(host, "/c"));
      const ra = await c.readResponse();
      const rb = await c.readResponse();
      const rc = await c.readResponse();
      assert.is(sha(ra.body), sha(a));
      assert.is(sha(rb.body), sha(b));
      assert.is(rc.body.toString(), "tail");
    } finally {
      c.destroy();
    }
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("the response hook runs after the worker-moved body; responseheaders saw the head", async () => {
  const big = randomBytes(3 * MB);
  const origin = await startOrigin((_req, res) => serve(res, big));
  const seen: string[] = [];
  let responded: () => void = () => {};
  const hookRan = new Promise<void>((r) => (responded = r));
  const rec: Addon = {
    name: "rec",
    responseheaders(flow: HTTPFlow) {
      seen.push(`headers ${flow.response!.headers.get("content-length")}`);
    },
    response(flow: HTTPFlow) {
      seen.push(`response ${flow.response!.body.length} ${flow.response!.timestampEnd !== undefined}`);
      responded();
    },
  };
  const p = await startInProcess([rec], { streamLargeBodies: "1m" });
  try {
    const c = await WireClient.connect(p.port);
    try {
      c.write(get(`127.0.0.1:${origin.port}`, "/x"));
      const r = await c.readResponse();
      assert.is(sha(r.body), sha(big));
    } finally {
      c.destroy();
    }
    // The client can have every byte before the main thread hears from the worker: the hook follows shortly.
    await within(hookRan, "the response hook");
    assert.equal(seen, [`headers ${big.length}`, "response 0 true"]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a server that dies mid-body: the client connection is cut (short of the Content-Length), the error is logged, the proxy goes on", async () => {
  const origin = await startOrigin((req, res) => {
    if (req.url !== "/die") return void res.end("alive");
    res.writeHead(200, { "Content-Length": String(8 * MB) });
    res.write(randomBytes(3 * MB), () => res.socket?.destroy());
  });
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  try {
    const host = `127.0.0.1:${origin.port}`;
    const c = await WireClient.connect(p.port);
    try {
      c.write(get(host, "/die"));
      await c.waitClosed();
      const head = c.buf.indexOf("\r\n\r\n");
      assert.ok(head > 0, "the head arrived");
      const got = c.buf.length - head - 4;
      assert.ok(got < 8 * MB, `the client got ${got} body bytes of 8 MiB and then the close`);
    } finally {
      c.destroy();
    }
    const d = await WireClient.connect(p.port);
    try {
      d.write(get(host, "/after"));
      const r = await d.readResponse();
      assert.is(r.body.toString(), "alive");
    } finally {
      d.destroy();
    }
    // The URL line, the response line, then why the stream ended (the same as the JS path prints).
    await waitFor(() => p.lines.some((l) => l.startsWith(" << stream interrupted")), "the stream interrupted line");
    assert.match(
      p.lines.join("\n"),
      /GET http:\/\/127\.0\.0\.1:\d+\/die\n     << 200 OK \(content missing\)\n << stream interrupted: server closed the connection before the body was complete/,
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a chunked streamed body (no Content-Length) goes through JS, re-framed as before: bytes exact", async () => {
  const big = randomBytes(4 * MB);
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/octet-stream" }); // chunked
    res.write(big.subarray(0, 2 * MB));
    res.end(big.subarray(2 * MB));
  });
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  try {
    const c = await WireClient.connect(p.port);
    try {
      c.write(get(`127.0.0.1:${origin.port}`, "/chunked"));
      const r = await c.readResponse();
      assert.is(sha(r.body), sha(big));
      assert.is(r.header("transfer-encoding"), "chunked");
    } finally {
      c.destroy();
    }
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a client that closes as soon as the whole body arrived: the response hook still runs, every time", async () => {
  // The worker may finish (and the client read everything and close) before the main thread hears
  // of it; the transfer is complete all the same.
  const body = randomBytes(500_000);
  const origin = await startOrigin((_req, res) => res.end(body));
  let hooks = 0;
  let hooked: () => void = () => {};
  const streamer: Addon = {
    name: "streamer",
    responseheaders(flow: HTTPFlow) {
      flow.response!.stream = true;
    },
    response() {
      hooks++;
      hooked();
    },
  };
  const p = await startInProcess([streamer]);
  try {
    for (let i = 0; i < 30; i++) {
      const r = await requestViaProxy(p.port, `http://127.0.0.1:${origin.port}/r${i}`);
      assert.is(r.body.length, body.length);
      if (hooks <= i) await within(new Promise<void>((res) => (hooked = res)), `the response hook of request ${i}`);
      assert.is(hooks, i + 1, `response hook of request ${i}`);
    }
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an addon that drops Content-Length in responseheaders: the streamed body reaches the client chunked, bytes exact, keep-alive intact", async () => {
  const big = randomBytes(3 * MB + 17);
  const origin = await startOrigin((req, res) => (req.url === "/big" ? serve(res, big) : res.end("next")));
  const dropper: Addon = {
    name: "dropper",
    responseheaders(flow: HTTPFlow) {
      if (flow.request.path !== "/big") return;
      flow.response!.headers.delete("content-length");
      flow.response!.stream = true;
    },
  };
  const p = await startInProcess([dropper]);
  try {
    const c = await WireClient.connect(p.port);
    const host = `127.0.0.1:${origin.port}`;
    try {
      c.write(get(host, "/big"));
      const r = await c.readResponse();
      assert.is(r.header("transfer-encoding"), "chunked");
      assert.is(r.header("content-length"), undefined);
      assert.is(sha(r.body), sha(big));
      c.write(get(host, "/next"));
      assert.is((await c.readResponse()).body.toString(), "next");
    } finally {
      c.destroy();
    }
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
