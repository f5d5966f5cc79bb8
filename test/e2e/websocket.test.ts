// WebSocket interception: a `ws` echo origin reached through reverse mode,
// through a clear-text CONNECT tunnel, and as wss through CONNECT with TLS.
// Messages relayed one by one (text, binary, 10 MB), changed, dropped and
// injected by addons; close codes, ping/pong, permessage-deflate negotiated
// off, the event log's WebSocket lines, websocketStart/websocketEnd, a client
// breaking the protocol, and an origin declining the upgrade.
import type * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WebSocketServer } from "ws";
import type { Addon, HTTPFlow } from "@interloper/sdk";
import { originCa, sha256, startInProcess, testConfdir, waitFor, type InProcessProxy } from "../helpers/harness.ts";
import { PEER, WireClient, openTunnel, proxyCaPem, tlsOver } from "../helpers/clients.ts";
import { UnexpectedResponse, WsClient, startWsOrigin, type WsOrigin } from "../helpers/ws.ts";

const caPem = () => proxyCaPem(testConfdir());

/** An addon that changes, drops and injects messages according to their text. */
function scripted(): { addon: Addon; injected: string[] } {
  const injected: string[] = [];
  const addon: Addon = {
    name: "ws-script",
    websocketMessage(flow: HTTPFlow) {
      const ws = flow.websocket!;
      const m = ws.messages[ws.messages.length - 1]!;
      if (m.injected) {
        injected.push(`${m.fromClient ? "->" : "<-"} ${m.text()}`);
        return;
      }
      if (m.type !== "text") return;
      const text = m.text();
      if (m.fromClient && text === "modify-me") m.setText("modified by addon");
      if (!m.fromClient && text === "modify-on-the-way-back") m.content = Buffer.from("changed on the way back");
      if (m.fromClient && text === "drop-me") m.drop();
      if (m.fromClient && text === "inject-please") {
        ws.inject("injected-to-client", { toClient: true });
        ws.inject("injected-to-server", { toClient: false });
      }
    },
  };
  return { addon, injected };
}

/** Records websocketStart / websocketEnd with what the flow said at that point. */
function wsHooks(): {
  addon: Addon;
  starts: string[];
  ends: Array<{ code?: number; reason?: string; byClient?: boolean; messages: number }>;
} {
  const starts: string[] = [];
  const ends: Array<{ code?: number; reason?: string; byClient?: boolean; messages: number }> = [];
  const addon: Addon = {
    name: "ws-hooks",
    websocketStart(flow: HTTPFlow) {
      starts.push(flow.request.path);
    },
    websocketEnd(flow: HTTPFlow) {
      const ws = flow.websocket!;
      ends.push({
        code: ws.closeCode,
        reason: ws.closeReason,
        byClient: ws.closedByClient,
        messages: ws.messages.length,
      });
    },
  };
  return { addon, starts, ends };
}

async function reverseProxy(origin: WsOrigin, addons: Addon[] = []): Promise<InProcessProxy> {
  return startInProcess(addons, { mode: [`reverse:http://127.0.0.1:${origin.port}`] });
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** The event log's line for one message: `127.0.0.1:X -> WebSocket text message -> host:port/path`. */
function messageLine(dir: "->" | "<-", type: "text" | "binary", server: string, suffix = ""): RegExp {
  return new RegExp(`^${PEER} ${dir} WebSocket ${type} message ${dir} ${esc(server)}${esc(suffix)}$`);
}

function countLines(lines: string[], re: RegExp): number {
  return lines.filter((l) => re.test(l)).length;
}

test("reverse mode: text and binary messages echo intact; one log line per message, `->` from the client and `<-` from the server", async () => {
  const origin = await startWsOrigin();
  const p = await reverseProxy(origin);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/chat?room=1`);
    const bin = Buffer.from([0, 1, 2, 250, 255]);
    c.send("hello text");
    c.send(bin, true);
    c.send("héllo ünïcode ✓");
    const got = await c.waitMessages(3);
    assert.equal(
      got.map((m) => m.isBinary),
      [false, true, false],
    );
    assert.is(got[0]!.data.toString(), "hello text");
    assert.ok(got[1]!.data.equals(bin));
    assert.is(got[2]!.data.toString(), "héllo ünïcode ✓");
    assert.equal(
      origin.received[0]!.map((m) => (m.isBinary ? m.data.toString("hex") : m.data.toString())),
      ["hello text", bin.toString("hex"), "héllo ünïcode ✓"],
    );
    const server = `127.0.0.1:${origin.port}/chat?room=1`;
    await waitFor(() => countLines(p.lines, / <- WebSocket /) === 3, "three server message lines");
    assert.is(countLines(p.lines, messageLine("->", "text", server)), 2, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("->", "binary", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("<-", "text", server)), 2, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("<-", "binary", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, /WebSocket .* message/), 6);
    assert.match(
      p.lines.join("\n"),
      new RegExp(
        `${PEER}: GET http://127\\.0\\.0\\.1:${origin.port}/chat\\?room=1\\n     << 101 Switching Protocols 0b`,
      ),
    );
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("reverse mode: the upgrade request reaches the origin with the target's Host, as every other request in reverse mode", async () => {
  const origin = await startWsOrigin();
  const p = await reverseProxy(origin);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/host`);
    assert.is(origin.handshakes.length, 1);
    assert.is(origin.handshakes[0]!.headers.host, `127.0.0.1:${origin.port}`);
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("explicit proxy, clear-text WebSocket inside a CONNECT tunnel: text and binary echo, log lines name 127.0.0.1:P/path", async () => {
  const origin = await startWsOrigin();
  const p = await startInProcess([]);
  const tunnel = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
  let c: WsClient | undefined;
  try {
    assert.is(tunnel.status, 200, tunnel.head);
    c = await WsClient.open(`ws://127.0.0.1:${origin.port}/tunnel`, { socket: tunnel.socket });
    c.send("through the tunnel");
    c.send(Buffer.from("binary bytes"), true);
    const got = await c.waitMessages(2);
    assert.is(got[0]!.data.toString(), "through the tunnel");
    assert.is(got[0]!.isBinary, false);
    assert.is(got[1]!.data.toString(), "binary bytes");
    assert.is(got[1]!.isBinary, true);
    const server = `127.0.0.1:${origin.port}/tunnel`;
    await waitFor(() => countLines(p.lines, / <- WebSocket /) === 2, "two server message lines");
    assert.is(countLines(p.lines, messageLine("->", "text", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("->", "binary", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("<-", "text", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("<-", "binary", server)), 1, p.lines.join("\n"));
  } finally {
    c?.terminate();
    tunnel.socket.destroy();
    await p.stop();
    await origin.close();
  }
});

test("wss through CONNECT with TLS (the client trusts the proxy's CA): echo intact, the request line is https, the log lines name localhost:P/path", async () => {
  const origin = await startWsOrigin({ tls: true });
  const p = await startInProcess([]);
  const tunnel = await openTunnel(p.port, `localhost:${origin.port}`);
  let c: WsClient | undefined;
  try {
    assert.is(tunnel.status, 200, tunnel.head);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: caPem() });
    assert.is(t.authorized, true);
    assert.is(t.getPeerCertificate().issuer.CN, "interloper");
    c = await WsClient.open(`wss://localhost:${origin.port}/secure`, { socket: t });
    c.send("secret text");
    c.send(Buffer.from([9, 8, 7]), true);
    const got = await c.waitMessages(2);
    assert.is(got[0]!.data.toString(), "secret text");
    assert.ok(got[1]!.data.equals(Buffer.from([9, 8, 7])));
    assert.is(got[1]!.isBinary, true);
    const server = `localhost:${origin.port}/secure`;
    await waitFor(() => countLines(p.lines, / <- WebSocket /) === 2, "two server message lines");
    assert.is(countLines(p.lines, messageLine("->", "text", server)), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("<-", "binary", server)), 1, p.lines.join("\n"));
    assert.match(
      p.lines.join("\n"),
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/secure\\n     << 101 Switching Protocols 0b`),
    );
  } finally {
    c?.terminate();
    tunnel.socket.destroy();
    await p.stop();
    await origin.close();
  }
});

test("wss through CONNECT to an origin that speaks h2 and HTTP/1.1 (and prefers h2): the HTTP/1.1 client's upgrade still works", async () => {
  const ca = await originCa();
  const server = http2.createSecureServer({
    key: ca.keyPem,
    cert: ca.certFor(["localhost", "127.0.0.1"]),
    allowHTTP1: true,
  });
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("session", (s: http2.ServerHttp2Session) => s.on("error", () => {}));
  // HTTP/1.1 upgrade requests on the allowHTTP1 fallback.
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on("error", () => {});
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => {});
      ws.on("message", (d: Buffer, isBinary: boolean) => ws.send(d, { binary: isBinary }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const p = await startInProcess([]);
  const tunnel = await openTunnel(p.port, `localhost:${port}`);
  let c: WsClient | undefined;
  try {
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: caPem() });
    assert.is(t.alpnProtocol, "http/1.1");
    try {
      c = await WsClient.open(`wss://localhost:${port}/both`, { socket: t });
    } catch (err) {
      const detail = err instanceof UnexpectedResponse ? `${err.status} ${err.body}` : String(err);
      throw new Error(`the upgrade failed: ${detail}\nlog:\n${p.lines.join("\n")}`, { cause: err });
    }
    c.send("over http/1.1");
    const got = await c.waitMessages(1);
    assert.is(got[0]!.data.toString(), "over http/1.1");
  } finally {
    c?.terminate();
    tunnel.socket.destroy();
    await p.stop();
    for (const s of sockets) s.destroy();
    wss.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("an addon changes messages: `m.setText(...)` on a client message (the origin gets the new text), `m.content = ...` on a server message (the client gets the new bytes)", async () => {
  const origin = await startWsOrigin();
  const s = scripted();
  const p = await reverseProxy(origin, [s.addon]);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/modify`);
    c.send("modify-me");
    const first = await c.waitMessages(1);
    assert.is(origin.received[0]![0]!.data.toString(), "modified by addon");
    assert.is(first[0]!.data.toString(), "modified by addon", "the echo of the changed message");
    c.send("modify-on-the-way-back");
    const got = await c.waitMessages(2);
    assert.is(origin.received[0]![1]!.data.toString(), "modify-on-the-way-back", "unchanged toward the origin");
    assert.is(got[1]!.data.toString(), "changed on the way back");
    assert.is(got[1]!.isBinary, false, "the type stays text");
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("a dropped message (`m.drop()`) never reaches the origin; the log marks it (dropped); later messages still flow in order", async () => {
  const origin = await startWsOrigin();
  const s = scripted();
  const p = await reverseProxy(origin, [s.addon]);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/drop`);
    c.send("before");
    c.send("drop-me");
    c.send("after");
    const got = await c.waitMessages(2);
    assert.equal(c.texts(), ["before", "after"]);
    // "after" was echoed, so "drop-me" (sent before it, on the same ordered connection) would have arrived already.
    assert.equal(
      origin.received[0]!.map((m) => m.data.toString()),
      ["before", "after"],
    );
    void got;
    const server = `127.0.0.1:${origin.port}/drop`;
    await waitFor(() => countLines(p.lines, / <- WebSocket /) === 2, "two server message lines");
    assert.is(countLines(p.lines, messageLine("->", "text", server, " (dropped)")), 1, p.lines.join("\n"));
    assert.is(countLines(p.lines, messageLine("->", "text", server)), 2, p.lines.join("\n"));
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("injected messages arrive: `inject(..., { toClient: true })` at the client, `{ toClient: false }` at the origin; they pass `websocketMessage` flagged injected", async () => {
  const origin = await startWsOrigin();
  const s = scripted();
  const p = await reverseProxy(origin, [s.addon]);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/inject`);
    c.send("inject-please");
    // The client gets: the injected message, the echo of its own, the echo of the one injected toward the origin.
    await c.waitMessages(3);
    assert.equal([...c.texts()].sort(), ["inject-please", "injected-to-client", "injected-to-server"]);
    await waitFor(() => origin.received[0]!.length === 2, "two messages at the origin");
    assert.equal(
      origin.received[0]!.map((m) => m.data.toString()),
      ["inject-please", "injected-to-server"],
    );
    assert.ok(origin.received[0]!.every((m) => !m.isBinary));
    assert.equal([...s.injected].sort(), ["-> injected-to-server", "<- injected-to-client"]);
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("close codes are kept both ways: the client's 4001 \"bye\" reaches the origin, the origin's 1001 reaches the client; websocketStart/websocketEnd fire once each with the code; the log says who closed", async () => {
  const origin = await startWsOrigin();
  const hooks = wsHooks();
  const p = await reverseProxy(origin, [hooks.addon]);
  let a: WsClient | undefined;
  let b: WsClient | undefined;
  try {
    a = await WsClient.open(`ws://127.0.0.1:${p.port}/client-closes`);
    a.send("one");
    await a.waitMessages(1);
    a.ws.close(4001, "bye");
    const aClosed = await a.waitClosed();
    await waitFor(() => origin.closes.length === 1, "the origin's close event");
    assert.equal(origin.closes[0], { code: 4001, reason: "bye" });
    assert.equal(aClosed, { code: 4001, reason: "bye" }, "the origin's echo of the close");
    await waitFor(() => hooks.ends.length === 1, "websocketEnd for the first connection");
    assert.equal(hooks.ends[0], { code: 4001, reason: "bye", byClient: true, messages: 2 });

    b = await WsClient.open(`ws://127.0.0.1:${p.port}/server-closes`);
    b.send("close-1001");
    const bClosed = await b.waitClosed();
    assert.equal(bClosed, { code: 1001, reason: "going away" });
    await waitFor(() => hooks.ends.length === 2, "websocketEnd for the second connection");
    assert.equal(hooks.ends[1], { code: 1001, reason: "going away", byClient: false, messages: 1 });
    assert.equal(hooks.starts, ["/client-closes", "/server-closes"]);
    await waitFor(() => origin.closes.length === 2, "the origin's second close event");
    assert.is(origin.closes[1]!.code, 1001);
    const log = p.lines.join("\n");
    assert.match(log, new RegExp(`Error in WebSocket connection to 127\\.0\\.0\\.1:${origin.port}: 4001 bye`));
    assert.match(log, /WebSocket connection closed by server: 1001 going away/);
    assert.is(hooks.starts.length, 2);
    assert.is(hooks.ends.length, 2);
  } finally {
    a?.terminate();
    b?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("ping/pong pass through: the client's ping gets the origin's pong (same payload), the origin's ping gets the client's pong", async () => {
  const origin = await startWsOrigin();
  const p = await reverseProxy(origin);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/ping`);
    c.ws.ping(Buffer.from("are you there"));
    await waitFor(() => c!.pongs.length === 1, "the pong");
    assert.is(c.pongs[0]!.toString(), "are you there");
    c.send("ping-me");
    await waitFor(() => origin.pongs.length === 1, "the client's pong at the origin");
    assert.is(origin.pongs[0]!.toString(), "srv");
    // Control frames are not messages: only "ping-me" was logged.
    assert.is(countLines(p.lines, /WebSocket .* message/), 1, p.lines.join("\n"));
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("a 10 MB binary message arrives intact both ways (SHA-256)", async () => {
  const origin = await startWsOrigin();
  const p = await reverseProxy(origin);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/big`);
    const big = randomBytes(10 * 1024 * 1024);
    c.send(big, true);
    const got = await c.waitMessages(1, 30_000);
    assert.is(origin.received[0]![0]!.data.length, big.length);
    assert.is(sha256(origin.received[0]![0]!.data), sha256(big));
    assert.is(got[0]!.isBinary, true);
    assert.is(got[0]!.data.length, big.length);
    assert.is(sha256(got[0]!.data), sha256(big));
    assert.is(countLines(p.lines, messageLine("->", "binary", `127.0.0.1:${origin.port}/big`)), 1);
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("permessage-deflate is negotiated off: the client offers it, the origin (which would accept it) sees no Sec-WebSocket-Extensions, nothing is negotiated", async () => {
  const origin = await startWsOrigin();
  let offered: string | null = null;
  const seen: Addon = {
    name: "seen",
    requestheaders(flow: HTTPFlow) {
      offered = flow.request.headers.get("sec-websocket-extensions");
    },
  };
  const p = await reverseProxy(origin, [seen]);
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/deflate`, { perMessageDeflate: true });
    assert.match(String(offered), /permessage-deflate/, "the client offered it");
    assert.is(origin.handshakes.length, 1);
    assert.is(origin.handshakes[0]!.headers["sec-websocket-extensions"], undefined);
    assert.is(c.ws.extensions, "");
    const text = "compressible ".repeat(1000);
    c.send(text);
    const got = await c.waitMessages(1);
    assert.is(got[0]!.data.toString(), text);
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("a client sending an unmasked frame: the proxy closes with 1002 (to the client and the origin) and logs why", async () => {
  const origin = await startWsOrigin();
  const p = await reverseProxy(origin);
  const c = await WireClient.connect(p.port);
  try {
    c.write(
      `GET /raw HTTP/1.1\r\nHost: 127.0.0.1:${p.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const res = await c.readResponse();
    assert.is(res.status, 101);
    assert.is(res.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // FIN + text, no MASK bit, 5 bytes.
    c.write(Buffer.from([0x81, 0x05, ...Buffer.from("hello")]));
    const frame = await c.until(
      () => (c.buf.length >= 4 && c.buf.length >= 2 + (c.buf[1]! & 0x7f) ? c.buf : undefined),
      "a close frame",
    );
    assert.is(frame[0], 0x88, `a close frame with FIN, got ${frame.subarray(0, 4).toString("hex")}`);
    assert.is(frame[1]! & 0x80, 0, "frames to the client are not masked");
    assert.is(frame.readUInt16BE(2), 1002);
    await c.waitClosed();
    await waitFor(() => origin.closes.length === 1, "the origin's close event");
    assert.is(origin.closes[0]!.code, 1002);
    assert.is(origin.received[0]!.length, 0, "the bad frame was not forwarded");
    const log = p.lines.join("\n");
    assert.match(
      log,
      new RegExp(
        `${PEER}: WebSocket protocol error from the client: unmasked frame from the client; closing with 1002`,
      ),
    );
    await waitFor(() => p.lines.some((l) => l.startsWith("Error in WebSocket connection")), "the websocketEnd line");
    assert.match(
      p.lines.join("\n"),
      new RegExp(
        `Error in WebSocket connection to 127\\.0\\.0\\.1:${origin.port}: 1002 unmasked frame from the client`,
      ),
    );
  } finally {
    c.destroy();
    await p.stop();
    await origin.close();
  }
});

test("an origin declining the upgrade (403 with a body): the client gets the 403 and the body; no WebSocket hooks", async () => {
  const origin = await startWsOrigin();
  const hooks = wsHooks();
  const p = await reverseProxy(origin, [hooks.addon]);
  try {
    let err: unknown;
    try {
      const c = await WsClient.open(`ws://127.0.0.1:${p.port}/decline`);
      c.terminate();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof UnexpectedResponse, `expected the 403, got ${String(err)}`);
    const r = err;
    assert.is(r.status, 403);
    assert.is(r.reason, "Forbidden");
    assert.is(r.body, "forbidden by origin\n");
    assert.is(origin.handshakes.length, 1);
    assert.equal(hooks.starts, []);
    assert.match(
      p.lines.join("\n"),
      new RegExp(`${PEER}: GET http://127\\.0\\.0\\.1:${origin.port}/decline\\n     << 403 Forbidden 20b`),
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
