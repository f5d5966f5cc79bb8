// Bad input ends at most its own connection: after a barrage of malformed
// bytes on every kind of listener, the proxy still serves a normal request.
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, startOrigin, startProxy } from "../helpers/harness.ts";

/** A small seeded PRNG, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends `bytes` (optionally after a CONNECT) and waits until the proxy closes or 2 s pass. */
function send(port: number, bytes: Buffer, connectTo?: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 2000);
    s.on("error", done);
    s.on("close", done);
    s.on("data", () => {});
    s.on("connect", () => {
      if (connectTo) s.write(`CONNECT 127.0.0.1:${connectTo} HTTP/1.1\r\n\r\n`);
      s.write(bytes);
      s.end();
    });
  });
}

const CASES = [
  Buffer.from("\x16\x03\x01\xff\xff garbage that claims to be a huge TLS record"),
  Buffer.from("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"),
  Buffer.from("GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
  Buffer.from("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
  Buffer.from("CONNECT [::1 HTTP/1.1\r\n\r\n"),
  Buffer.from("CONNECT host:99999 HTTP/1.1\r\n\r\n"),
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x08\x00\x00\x00\x00\x00garbage"),
  Buffer.from([5, 1, 0, 5, 9, 0, 3, 0]),
  Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]),
  Buffer.alloc(70_000, 0x41),
];

test("malformed bytes on regular, socks5 and inside tunnels never take the proxy down", async () => {
  const origin = await startOrigin((req, res) => res.end(`ok ${req.url}`));
  const proxy = await startProxy(["--mode", "regular@0", "--mode", "socks5@0", "--ignore-hosts", "^nothing\\.test:"]);
  try {
    await proxy.waitForOutput(/SOCKS5 proxy listening/);
    const ports = [...proxy.stdout().matchAll(/listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/g)].map((m) => Number(m[1]));
    const [http, socks] = ports as [number, number];
    const random = rng(0xc0ffee);
    const cases = [...CASES];
    for (let i = 0; i < 40; i++) {
      const len = 1 + Math.floor(random() * 600);
      cases.push(Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256))));
    }
    // Bounded: each case at most 2 s, a few at a time.
    for (let i = 0; i < cases.length; i += 5) {
      const batch = cases.slice(i, i + 5);
      await Promise.all(batch.flatMap((b) => [send(http, b), send(socks, b), send(http, b, origin.port)]));
    }
    assert.is(proxy.child.exitCode, null, "the proxy is still running");
    const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://localhost:${origin.port}/after`]);
    assert.is(r.stdout.toString(), "ok /after");
    const s = await curl(["--socks5-hostname", `127.0.0.1:${socks}`, `http://localhost:${origin.port}/after-socks`]);
    assert.is(s.stdout.toString(), "ok /after-socks");
    assert.not.match(proxy.stdout() + proxy.stderr(), /internal error/);
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test.run();
