// The WebSocket relay with large and hostile frames (reverse mode to a `ws`
// echo origin): a 32 MiB message arrives intact both ways, and a client that
// goes on sending after a protocol error gets one error line and one close,
// not one per chunk.
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sha256, startInProcess, waitFor } from "../helpers/harness.ts";
import { WireClient } from "../helpers/clients.ts";
import { WsClient, startWsOrigin } from "../helpers/ws.ts";

const upgrade = (port: number) =>
  `GET /raw HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

test("a 32 MiB binary message (one frame) arrives intact at the origin and back (SHA-256)", async () => {
  const origin = await startWsOrigin();
  const p = await startInProcess([], { mode: [`reverse:http://127.0.0.1:${origin.port}`] });
  let c: WsClient | undefined;
  try {
    c = await WsClient.open(`ws://127.0.0.1:${p.port}/big`);
    const big = randomBytes(32 * 1024 * 1024);
    c.send(big, true);
    // Generous: the check is the bytes, the bound only keeps a broken relay from hanging the suite.
    const got = await c.waitMessages(1, 120_000);
    assert.is(origin.received[0]![0]!.data.length, big.length);
    assert.is(sha256(origin.received[0]![0]!.data), sha256(big));
    assert.is(got[0]!.data.length, big.length);
    assert.is(sha256(got[0]!.data), sha256(big));
  } finally {
    c?.terminate();
    await p.stop();
    await origin.close();
  }
});

test("a client that keeps sending after a protocol error: one error line, one close frame", async () => {
  const origin = await startWsOrigin();
  const p = await startInProcess([], { mode: [`reverse:http://127.0.0.1:${origin.port}`] });
  const c = await WireClient.connect(p.port);
  try {
    c.write(upgrade(p.port));
    assert.is((await c.readResponse()).status, 101);
    const unmasked = Buffer.from([0x81, 0x05, ...Buffer.from("hello")]);
    c.write(unmasked);
    await c.until(() => (c.buf.length >= 4 ? true : undefined), "the close frame");
    // The proxy reads on until it hangs up: each of these used to be parsed (and refused, and logged) again.
    for (let i = 0; i < 20 && !c.closed; i++) {
      c.write(unmasked);
      await new Promise((r) => setImmediate(r));
    }
    await c.waitClosed();
    await waitFor(() => p.lines.some((l) => l.startsWith("Error in WebSocket connection")), "the websocketEnd line");
    const errors = p.lines.filter((l) => l.includes("WebSocket protocol error"));
    assert.is(errors.length, 1, errors.join("\n"));
    const closes = [...c.buf.toString("latin1").matchAll(/\x88/g)].length;
    assert.is(closes, 1, `close frames received: ${c.buf.toString("hex")}`);
  } finally {
    c.destroy();
    await p.stop();
    await origin.close();
  }
});

test.run();
