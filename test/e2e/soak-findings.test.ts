// Regressions for the soak harness's findings (issue 11, bench/SOAK.md): raw
// TCP relays and WebSockets that nobody talks on, HTTP/2 sessions whose
// client left or stopped reading, sessions nghttp2 gave up on, and rapid
// reset. Each test uses a short idle_timeout; every wait is tied to an event
// and bounded by WAIT_MS.
import { once } from "node:events";
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HTTPFlow } from "@interloper/sdk";
import { openTunnel, WireClient } from "../helpers/clients.ts";
import { startInProcess, startOrigin, waitFor, type Origin } from "../helpers/harness.ts";
import { startWsOrigin, WsClient } from "../helpers/ws.ts";

// --- HTTP/2 frames by hand (a client that misbehaves on purpose) ---

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const ENHANCE_YOUR_CALM = 11;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal field without indexing (names and values shorter than 127 bytes). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

/** HEADERS for a GET (END_HEADERS and END_STREAM), or a POST whose body is still to come. */
function get(stream: number, authority: string, path: string, method = "GET"): Buffer {
  const block = Buffer.concat([
    literal(":method", method),
    literal(":scheme", "http"),
    literal(":authority", authority),
    literal(":path", path),
  ]);
  return frame(T.HEADERS, method === "GET" ? 0x5 : 0x4, stream, block);
}

function rst(stream: number): Buffer {
  return frame(T.RST_STREAM, 0, stream, Buffer.from([0, 0, 0, 8]));
}

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function parseFrames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let off = 0; off + 9 <= buf.length;) {
    const len = buf.readUIntBE(off, 3);
    if (off + 9 + len > buf.length) break;
    out.push({
      type: buf[off + 3]!,
      flags: buf[off + 4]!,
      stream: buf.readUInt32BE(off + 5) & 0x7fffffff,
      payload: buf.subarray(off + 9, off + 9 + len),
    });
    off += 9 + len;
  }
  return out;
}

/** h2c with prior knowledge in a CONNECT tunnel to `port`, settings exchanged; the client never opens its windows. */
async function h2c(proxyPort: number, port: number): Promise<WireClient> {
  const t = await openTunnel(proxyPort, `127.0.0.1:${port}`);
  assert.is(t.status, 200);
  const w = new WireClient(t.socket.resume());
  w.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
  await w.until(
    () => (parseFrames(w.buf).some((f) => f.type === T.SETTINGS && f.flags === 0) ? true : undefined),
    "the proxy's SETTINGS",
  );
  w.write(frame(T.SETTINGS, 1, 0));
  return w;
}

/** The response HEADERS on `stream`, once they arrived. */
function responseOn(w: WireClient, stream: number): Promise<Frame> {
  return w.until(
    () => parseFrames(w.buf).find((f) => f.type === T.HEADERS && f.stream === stream),
    `response HEADERS on stream ${stream}`,
  );
}

function paths(origin: Origin): string[] {
  return origin.requests.map((r) => r.url);
}

// --- raw TCP relays and WebSockets ---

/** A TCP server that reads and never says anything; `sockets` are the connections it holds. */
async function silentServer(): Promise<{ port: number; sockets: net.Socket[]; close(): void }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test("a raw TCP relay on which neither side says anything for idle_timeout is closed, both sides", async () => {
  const silent = await silentServer();
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const t = await openTunnel(p.port, `127.0.0.1:${silent.port}`);
    const w = new WireClient(t.socket.resume());
    // Neither TLS nor an HTTP request line: relayed as raw TCP (a fuzzed ClientHello, a broken request line).
    w.write(Buffer.from([0, 1, 2, 3, 0x68, 0x69]));
    await w.waitClosed();
    await waitFor(() => silent.sockets.length === 1 && silent.sockets[0]!.closed, "the server side closed too");
    assert.ok(
      p.logs.some((e) => /raw TCP connection: nothing sent either way for idle_timeout \(1 s\)/.test(e.message)),
    );
  } finally {
    await p.stop();
    silent.close();
  }
});

test("HTTP/1 in a tunnel whose first bytes are no request line (a blank line, then an unfinished head) is closed after idle_timeout", async () => {
  // Relayed as raw TCP (no request line the layer decision knows), to an origin that waits for the rest of a head.
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const t = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
    const w = new WireClient(t.socket.resume());
    w.write("\r\nHEAD /fz/e HTTP/1.1\r\n");
    await w.waitClosed();
    assert.is(w.buffered, 0);
    assert.is(origin.requests.length, 0);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a WebSocket nobody talks on is closed with 1001 after idle_timeout; websocketEnd fires", async () => {
  const origin = await startWsOrigin();
  const ends: HTTPFlow[] = [];
  const recorder: Addon = { name: "ends", websocketEnd: (f) => void ends.push(f) };
  const p = await startInProcess([recorder], { idleTimeout: 1 });
  try {
    const t = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
    const ws = await WsClient.open(`ws://127.0.0.1:${origin.port}/idle`, {
      socket: t.socket,
      perMessageDeflate: false,
    });
    ws.send("hello");
    await ws.waitMessages(1);
    const closed = await ws.waitClosed();
    assert.is(closed.code, 1001);
    await waitFor(() => ends.length === 1, "websocketEnd");
    assert.is(ends[0]!.websocket?.closeCode, 1001);
    await waitFor(() => origin.closes.length === 1, "the origin's side closed");
    assert.is(origin.closes[0]!.code, 1001);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a WebSocket on which only the server pings, more often than idle_timeout, stays open", async () => {
  const origin = await startWsOrigin();
  const p = await startInProcess([], { idleTimeout: 2 });
  try {
    const t = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
    const ws = await WsClient.open(`ws://127.0.0.1:${origin.port}/pings`, {
      socket: t.socket,
      perMessageDeflate: false,
    });
    await waitFor(() => origin.sockets.length === 1, "the origin's socket");
    const server = origin.sockets[0]!;
    // Pings (and the client's automatic pongs) for three times idle_timeout; no message from anyone.
    for (let i = 0; i < 60; i++) {
      server.ping(Buffer.from(`p${i}`));
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => origin.pongs.length === 60, "the client's 60 pongs");
    assert.is(ws.closed, undefined, "closed although pings kept it busy");
    // Then silence: closed.
    assert.is((await ws.waitClosed()).code, 1001);
  } finally {
    await p.stop();
    await origin.close();
  }
});

// --- HTTP/2 client sessions ---

test("after nghttp2's own GOAWAY (a protocol error) with a stream in flight, the connection is closed, whether the client waits or leaves", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1 });
  const authority = `127.0.0.1:${origin.port}`;
  // A GET, then a frame header claiming 16 MiB: nghttp2 answers GOAWAY(FRAME_SIZE_ERROR) and reads no more.
  const poison = Buffer.concat([get(1, authority, "/inflight"), Buffer.from([0xff, 0xff, 0xff, 0x44, 0, 0, 0, 0, 1])]);
  try {
    const waits = await h2c(p.port, origin.port);
    const leaves = await h2c(p.port, origin.port);
    waits.write(poison);
    leaves.write(poison);
    const goaway = (w: WireClient) =>
      w.until(() => parseFrames(w.buf).find((f) => f.type === T.GOAWAY), "the proxy's GOAWAY");
    await goaway(waits);
    await goaway(leaves);
    leaves.socket.end();
    await waits.waitClosed();
    await leaves.until(() => (leaves.closed ? true : undefined), "the proxy to close its end");
    await waitFor(
      () => p.logs.filter((e) => / client disconnect$/.test(e.message)).length === 2,
      "both client disconnects",
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("after nghttp2's own GOAWAY, a stream whose upload stalled (the proxy reset it, but the reset never goes out) does not hold the connection", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const w = await h2c(p.port, origin.port);
    const poison = Buffer.from([0xff, 0xff, 0xff, 0x44, 0, 0, 0, 0, 1]);
    w.write(Buffer.concat([get(1, `127.0.0.1:${origin.port}`, "/upload", "POST"), poison]));
    await w.waitClosed();
    assert.ok(p.logs.some((e) => /client sent no more of its request body/.test(e.message)));
    assert.is(origin.requests.length, 0);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an HTTP/2 client that never reads its response: the connection is closed after idle_timeout", async () => {
  const origin = await startOrigin((_req, res) => res.end(Buffer.alloc(4 * 1024 * 1024, 0x61)));
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const w = await h2c(p.port, origin.port);
    w.write(get(1, `127.0.0.1:${origin.port}`, "/big"));
    await responseOn(w, 1);
    await w.waitClosed();
    assert.ok(
      p.logs.some((e) =>
        /nothing sent or received for idle_timeout \(1 s\) while 1 stream\(s\) wait for the client/.test(e.message),
      ),
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an HTTP/2 client that does not read what it asked for gets no new request sent upstream until it reads", async () => {
  const origin = await startOrigin((req, res) =>
    res.end(req.url === "/big" ? Buffer.alloc(2 * 1024 * 1024, 0x61) : "small"),
  );
  const p = await startInProcess([], { idleTimeout: 60 });
  const authority = `127.0.0.1:${origin.port}`;
  try {
    const w = await h2c(p.port, origin.port);
    w.write(get(1, authority, "/big"));
    // The first 64 KiB (the client's initial window) came; the rest of the 2 MiB waits for the client.
    await w.until(
      () =>
        parseFrames(w.buf)
          .filter((f) => f.type === T.DATA)
          .reduce((n, f) => n + f.payload.length, 0) >= 65535
          ? true
          : undefined,
      "the first window of data",
    );
    w.write(get(3, authority, "/second"));
    // Another client's request through the same proxy, answered: the held one would have gone out by now.
    const other = await h2c(p.port, origin.port);
    other.write(get(1, authority, "/other"));
    await responseOn(other, 1);
    assert.equal(paths(origin), ["/big", "/other"]);
    // The client opens its windows and reads: the held request goes out and is answered.
    const big = Buffer.alloc(4);
    big.writeUInt32BE(64 * 1024 * 1024);
    w.write(Buffer.concat([frame(T.WINDOW_UPDATE, 0, 0, big), frame(T.WINDOW_UPDATE, 0, 1, big)]));
    await responseOn(w, 3);
    assert.equal(paths(origin), ["/big", "/other", "/second"]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an HTTP/2 client that asks for many responses at once and reads none: the proxy stops sending requests upstream for it", async () => {
  const origin = await startOrigin((_req, res) => res.end(Buffer.alloc(1536 * 1024, 0x62)));
  const p = await startInProcess([], { idleTimeout: 60 });
  const authority = `127.0.0.1:${origin.port}`;
  try {
    const w = await h2c(p.port, origin.port);
    const ids = [1, 3, 5, 7, 9, 11, 13, 15];
    w.write(Buffer.concat(ids.map((id) => get(id, authority, `/many/${id}`))));
    await responseOn(w, 1);
    // Another client's request answered meanwhile: the requests held for the first would have gone out by now.
    const other = await h2c(p.port, origin.port);
    other.write(get(1, authority, "/other"));
    await responseOn(other, 1);
    // The first response used up the client's window: nothing more was asked of the server for it (one more
    // may have gone out before the window's end was sent).
    const early = paths(origin).filter((p) => p.startsWith("/many/"));
    assert.ok(early.length <= 2, `sent upstream before the client read: ${early.join(", ")}`);
    const big = Buffer.alloc(4);
    big.writeUInt32BE(256 * 1024 * 1024);
    w.write(Buffer.concat([frame(T.WINDOW_UPDATE, 0, 0, big), ...ids.map((id) => frame(T.WINDOW_UPDATE, 0, id, big))]));
    await responseOn(w, 15);
    assert.is(paths(origin).length, ids.length + 1);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("HTTP/2 rapid reset: streams reset in the read that opened them never reach the server", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 30 });
  const authority = `127.0.0.1:${origin.port}`;
  try {
    const w = await h2c(p.port, origin.port);
    const pairs: Buffer[] = [];
    for (let i = 0; i < 100; i++) pairs.push(get(2 * i + 1, authority, `/reset/${i}`), rst(2 * i + 1));
    w.write(Buffer.concat([...pairs, get(201, authority, "/after")]));
    const head = await responseOn(w, 201);
    assert.ok(head);
    assert.equal(paths(origin), ["/after"]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("HTTP/2 rapid reset at a flood rate: the connection gets GOAWAY(ENHANCE_YOUR_CALM) and is closed", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 30 });
  const authority = `127.0.0.1:${origin.port}`;
  try {
    const w = await h2c(p.port, origin.port);
    // Batches of 100 pairs, as long as the proxy reads them (at most 100 batches): the client is still
    // writing when the proxy gives up, and the GOAWAY must reach it all the same.
    for (let batch = 0; batch < 100 && !w.closed; batch++) {
      const pairs: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const id = 2 * (batch * 100 + i) + 1;
        pairs.push(get(id, authority, `/flood/${id}`), rst(id));
      }
      if (!w.socket.write(Buffer.concat(pairs)))
        await Promise.race([once(w.socket, "drain"), w.until(() => (w.closed ? true : undefined), "the close")]);
    }
    await w.waitClosed();
    const goaway = parseFrames(w.buf).find((f) => f.type === T.GOAWAY);
    assert.ok(goaway, "no GOAWAY before the close");
    assert.is(goaway.payload.readUInt32BE(4), ENHANCE_YOUR_CALM);
    assert.ok(p.logs.some((e) => /rapid reset, CVE-2023-44487/.test(e.message)));
    assert.equal(paths(origin), []);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
