// When the splice worker dies: the connections it was relaying are closed
// (never left hanging), the proxy says so once in its log, and later
// passthrough connections and streamed bodies go through JavaScript with
// exact bytes. (Its own file: the worker's state is per process.)
import { createHash, randomBytes } from "node:crypto";
import type * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { originCa, startInProcess, startOrigin } from "../helpers/harness.ts";
import { WireClient, openTunnel, tlsOver } from "../helpers/clients.ts";
import { endSpliceWorker, spliceStats, spliceUnavailable } from "../../core/platform/splice.ts";

const MB = 1024 * 1024;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A GET through an ignored tunnel (TLS with the origin itself); resolves with the body. */
async function passthroughGet(
  port: number,
  originPort: number,
  path: string,
): Promise<{ body: Buffer; socket: net.Socket }> {
  const tunnel = await openTunnel(port, `127.0.0.1:${originPort}`);
  assert.is(tunnel.status, 200, tunnel.head);
  const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: (await originCa()).ca.caCertPem });
  const c = new WireClient(t);
  c.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  const r = await c.readResponse();
  return { body: r.body, socket: tunnel.socket };
}

test("the worker dies mid-relay: that connection closes, one warning is logged, later relays and streams use JS", async () => {
  const small = randomBytes(2 * MB);
  let stall: (() => void) | undefined;
  const origin = await startOrigin(
    (req, res) => {
      if (req.url === "/stall") {
        // Half a body, then nothing until the test says so: the relay is mid-transfer.
        res.writeHead(200, { "Content-Length": String(4 * MB) });
        res.write(randomBytes(MB));
        stall = () => res.destroy();
        return;
      }
      res.end(small);
    },
    { tls: true },
  );
  const plain = await startOrigin((_req, res) => res.end(small));
  const p = await startInProcess([], { ignoreHosts: ["^127\\.0\\.0\\.1"], streamLargeBodies: "1m" });
  try {
    const first = await passthroughGet(p.port, origin.port, "/ok");
    assert.is(sha(first.body), sha(small));
    first.socket.destroy();
    assert.ok(spliceStats.spliced >= 1, "the first tunnel was spliced");

    // A tunnel in the middle of a body when the worker goes.
    const tunnel = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: (await originCa()).ca.caCertPem });
    const c = new WireClient(t);
    c.write("GET /stall HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await c.until(() => (c.buffered > 512 * 1024 ? true : undefined), "half a megabyte of the stalled body");
    await endSpliceWorker();
    await c.waitClosed();
    stall?.();
    assert.match(spliceUnavailable() ?? "", /splice worker exited/);

    // Later ones: JS relays, same bytes.
    const before = spliceStats.spliced;
    const again = await passthroughGet(p.port, origin.port, "/again");
    assert.is(sha(again.body), sha(small));
    again.socket.destroy();
    assert.is(spliceStats.spliced, before, "not spliced any more");

    const w = await WireClient.connect(p.port);
    try {
      w.write(`GET http://127.0.0.1:${plain.port}/s HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\n\r\n`);
      const r = await w.readResponse();
      assert.is(sha(r.body), sha(small), "a streamed body through JS");
    } finally {
      w.destroy();
    }

    const warnings = p.logs.filter((e) => /kernel relay unavailable/.test(e.message));
    assert.is(warnings.length, 1, JSON.stringify(warnings));
    assert.is(warnings[0]!.level, "warn");
    assert.match(warnings[0]!.message, /splice worker exited/);
  } finally {
    await p.stop();
    await origin.close();
    await plain.close();
  }
});

test.run();
