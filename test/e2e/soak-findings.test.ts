// Regressions for the soak harness's findings (issue 11, bench/SOAK.md): raw
// TCP relays and WebSockets that nobody talks on. Each test uses a short
// idle_timeout; every wait is tied to an event and bounded by WAIT_MS.
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, HTTPFlow } from "@interloper/sdk";
import { openTunnel, WireClient } from "../helpers/clients.ts";
import { startInProcess, waitFor } from "../helpers/harness.ts";
import { startWsOrigin, WsClient } from "../helpers/ws.ts";

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

test.run();
