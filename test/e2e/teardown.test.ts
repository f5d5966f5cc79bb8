// A response torn down half-read must cost that exchange only: the proxy
// process stays up and goes on serving. (A found bug: the server body stream
// emitted 'error' with nobody listening, and Node ended the process.) Also:
// a response that carries no body to the client (HEAD, 204, 304, whatever an
// addon made of it) never gets the server's body bytes, on any path.
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HTTPFlow } from "@interloper/sdk";
import * as http2 from "node:http2";
import * as tls from "node:tls";
import { WAIT_MS, originCa, startInProcess, testConfdir, waitFor, type InProcessProxy } from "../helpers/harness.ts";
import { WireClient, proxyCaPem } from "../helpers/clients.ts";
import { closeSession, h2ViaProxy } from "../helpers/h2.ts";
import { spliceStats } from "../../core/platform/splice.ts";

/** A raw origin: `answer` gets each request head and the socket. */
async function rawOrigin(answer: (head: string, s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      for (let i = buf.indexOf("\r\n\r\n"); i !== -1; i = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        answer(head, s);
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

const ok = (s: net.Socket) => s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nalive");

/** The proxy still answers a plain request: the process survived whatever came before. */
async function stillServes(p: InProcessProxy, port: number): Promise<void> {
  const c = await WireClient.connect(p.port);
  try {
    c.write(`GET http://127.0.0.1:${port}/alive HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const r = await c.readResponse();
    assert.is(r.body.toString(), "alive");
  } finally {
    c.destroy();
  }
}

test("body_size_limit passed by a body that arrives in several reads: 502 to the client, the proxy goes on", async () => {
  const origin = await rawOrigin((head, s) => {
    if (head.includes("/alive")) return void ok(s);
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n");
    setTimeout(() => s.write(Buffer.alloc(300_000, "x")), 50);
  });
  const p = await startInProcess([], { bodySizeLimit: "100k" });
  try {
    const c = await WireClient.connect(p.port);
    try {
      c.write(`GET http://127.0.0.1:${origin.port}/big HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
      const r = await c.readResponse();
      assert.is(r.status, 502);
      assert.match(r.body.toString(), /body_size_limit/);
    } finally {
      c.destroy();
    }
    await stillServes(p, origin.port);
  } finally {
    await p.stop();
    origin.close();
  }
});

test("an addon killing the flow in responseheaders while the body still arrives: that connection ends, the proxy goes on", async () => {
  const origin = await rawOrigin((head, s) => {
    if (head.includes("/alive")) return void ok(s);
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
    setTimeout(() => s.end("x".repeat(100_000 - 7)), 100);
  });
  const killer: Addon = {
    name: "killer",
    responseheaders(flow: HTTPFlow) {
      if (flow.request.path === "/kill") flow.kill();
    },
  };
  const p = await startInProcess([killer]);
  try {
    const c = await WireClient.connect(p.port);
    c.write(`GET http://127.0.0.1:${origin.port}/kill HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
    await c.waitClosed();
    await new Promise((r) => setTimeout(r, 250)); // the rest of the body arrives meanwhile
    await stillServes(p, origin.port);
  } finally {
    await p.stop();
    origin.close();
  }
});

test("a client that leaves in the middle of a streamed chunked body: the proxy goes on", async () => {
  const origin = await rawOrigin((head, s) => {
    if (head.includes("/alive")) return void ok(s);
    s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const t = setInterval(() => {
      if (!s.destroyed) s.write(`4000\r\n${"x".repeat(0x4000)}\r\n`);
    }, 5);
    s.on("close", () => clearInterval(t));
  });
  const p = await startInProcess([], { streamLargeBodies: "1k" });
  try {
    const c = await WireClient.connect(p.port);
    c.write(`GET http://127.0.0.1:${origin.port}/endless HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
    await c.until(() => (c.buffered > 100_000 ? true : undefined), "100 kB of the stream");
    c.destroy();
    await new Promise((r) => setTimeout(r, 200));
    await stillServes(p, origin.port);
  } finally {
    await p.stop();
    origin.close();
  }
});

test("the server drops the connection mid-body while an async responseheaders hook runs: 502 or a cut response, the proxy goes on", async () => {
  const origin = await rawOrigin((head, s) => {
    if (head.includes("/alive")) return void ok(s);
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial", () => setTimeout(() => s.destroy(), 20));
  });
  const slow: Addon = {
    name: "slow",
    async responseheaders() {
      await new Promise((r) => setTimeout(r, 100));
    },
  };
  const p = await startInProcess([slow]);
  try {
    const c = await WireClient.connect(p.port);
    try {
      c.write(`GET http://127.0.0.1:${origin.port}/drop HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
      const r = await c.readResponse();
      assert.is(r.status, 502);
    } finally {
      c.destroy();
    }
    await stillServes(p, origin.port);
  } finally {
    await p.stop();
    origin.close();
  }
});

for (const kernel of [true, false]) {
  test(`no body reaches the client for a status an addon made 304, nor for a HEAD sent upstream as GET (${kernel ? "fd-to-fd path allowed" : "JS path"}): the next response is framed right`, async () => {
    const body = "y".repeat(200_000);
    const origin = await rawOrigin((head, s) => {
      if (head.includes("/alive")) return void ok(s);
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      if (!head.startsWith("HEAD")) setTimeout(() => s.write(body), 20);
    });
    const rewriter: Addon = {
      name: "rewriter",
      request(flow: HTTPFlow) {
        if (flow.request.method === "HEAD") flow.request.method = "GET";
      },
      responseheaders(flow: HTTPFlow) {
        if (flow.request.path === "/not-modified") flow.response!.status = 304;
      },
    };
    const was = spliceStats.enabled;
    spliceStats.enabled = kernel;
    const p = await startInProcess([rewriter], { streamLargeBodies: "1k" });
    try {
      const c = await WireClient.connect(p.port);
      const host = `127.0.0.1:${origin.port}`;
      try {
        c.write(`GET http://${host}/not-modified HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        const a = await c.readResponse();
        assert.is(a.status, 304);
        assert.is(a.body.length, 0);
        c.write(`HEAD http://${host}/head HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        const b = await c.readResponse({ method: "HEAD" });
        assert.is(b.status, 200);
        c.write(`GET http://${host}/alive HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        const d = await c.readResponse();
        assert.is(d.body.toString(), "alive", "the third response starts where it should");
        await new Promise((r) => setTimeout(r, 100));
        assert.is(c.buf.length, 0, "no stray body bytes");
      } finally {
        c.destroy();
      }
    } finally {
      spliceStats.enabled = was;
      await p.stop();
      origin.close();
    }
  });
}

test("a server that answers a streamed upload early (413) and stops reading: the client gets the 413 at once, then both connections end; the proxy goes on", async () => {
  const origin = await rawOrigin((head, s) => {
    if (head.includes("/alive")) return void ok(s);
    // Refuse the upload from its head and read no more of it (the connection stays open).
    s.pause();
    s.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large");
  });
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  try {
    const c = await WireClient.connect(p.port);
    try {
      const host = `127.0.0.1:${origin.port}`;
      const size = 64 * 1024 * 1024;
      c.write(`POST http://${host}/upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\n\r\n`);
      // Far more than every buffer on the way holds; the writes back up without the answer.
      const chunk = Buffer.alloc(1024 * 1024, "u");
      for (let i = 0; i < 64 && !c.closed; i++) c.socket.write(chunk);
      const r = await c.readResponse();
      assert.is(r.status, 413);
      assert.is(r.body.toString(), "too large");
      await c.waitClosed();
    } finally {
      c.destroy();
    }
    await stillServes(p, origin.port);
    const log = p.lines.join("\n");
    assert.match(log, /POST http:\/\/127\.0\.0\.1:\d+\/upload\n     << 413 Payload Too Large 9b/);
  } finally {
    await p.stop();
    origin.close();
  }
});

test("the same early answer to an HTTP/2 client's streamed upload: the client gets the 413, its stream ends, the session and the proxy go on", async () => {
  // An HTTP/1.1 server over TLS that refuses the upload from its head and reads no more.
  const oca = await originCa();
  // No ALPN: the proxy speaks HTTP/1.1 to it and HTTP/2 to the client.
  const server = tls.createServer({ key: oca.keyPem, cert: oca.certFor(["localhost"]) }, (s) => {
    s.on("error", () => {});
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      const i = buf.indexOf("\r\n\r\n");
      if (i === -1) return;
      const head = buf.slice(0, i);
      buf = buf.slice(i + 4);
      if (head.startsWith("GET")) return void s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nalive");
      s.off("data", onData);
      s.pause();
      s.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large");
    };
    s.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  const { session } = await h2ViaProxy(p.port, `localhost:${port}`, proxyCaPem(testConfdir()));
  try {
    const size = 64 * 1024 * 1024;
    const stream = session.request(
      { ":method": "POST", ":path": "/upload", "content-length": String(size) },
      { endStream: false },
    );
    stream.on("error", () => {});
    const chunk = Buffer.alloc(1024 * 1024, "u");
    for (let i = 0; i < 64; i++) stream.write(chunk);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to the upload within ${WAIT_MS} ms`)), WAIT_MS);
      let status = 0;
      let body = "";
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (d: Buffer) => (body += d.toString()));
      stream.on("end", () => {
        clearTimeout(timer);
        resolve({ status, body });
      });
    });
    assert.is(answer.status, 413, answer.body);
    assert.is(answer.body, "too large");
    // RFC 9113 §8.1: after the complete response, RST_STREAM(NO_ERROR) asks the client to stop sending.
    // (Node's client keeps the stream until its own pending writes are gone; curl and browsers stop.)
    await waitFor(() => stream.rstCode !== undefined, "the stream's RST_STREAM");
    assert.is(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    stream.destroy();
    // The session itself goes on: another request on it is answered (by a new server connection).
    const again = session.request({ ":method": "GET", ":path": "/alive" });
    let got = "";
    again.on("data", (d: Buffer) => (got += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer on the same session")), WAIT_MS);
      again.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    assert.is(got, "alive");
  } finally {
    await closeSession(session);
    await p.stop();
    server.close();
  }
});

test.run();
