// The passthrough relay (core/passthrough.ts relay()) over real loopback
// sockets: on Linux two raw TCP sockets are relayed in the kernel with splice
// (core/splice.ts), everything else in JS (relayJs). Each behaviour is checked
// for both, and for the spliced one that the worker really carried the bytes.
import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relay, relayJs } from "../../core/layers/passthrough.ts";
import { spliceRelay, spliceStats, spliceUnavailable } from "../../core/platform/splice.ts";
import { sleep, waitFor } from "../helpers/harness.ts";
import { openTunnel, readToEnd, startRawOrigin } from "../helpers/tunnel.ts";
import { startInProcess } from "../helpers/harness.ts";

const linux = process.platform === "linux";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

type Relay = typeof relay;
const VARIANTS: Array<[string, Relay]> = [
  ["spliced", relay],
  ["js", relayJs],
];

interface Hop {
  /** The test's client socket (talks to the relay). */
  client: net.Socket;
  /** The origin's socket for this connection. */
  origin: net.Socket;
  /** The relay's sockets (the proxy side of each connection). */
  proxyClient: net.Socket;
  proxyServer: net.Socket;
  /** Resolves when relay()'s promise does. */
  relayed: Promise<void>;
}

interface Rig {
  /** `early` gets the client socket at once, before the relay started. */
  connect(early?: (client: net.Socket) => void): Promise<Hop>;
  close(): Promise<void>;
}

/**
 * An origin and a relay in front of it. `prepare` runs on the proxy side before
 * relay() and returns the bytes it "peeked" (read and kept) from each side.
 */
async function rig(
  fn: Relay,
  prepare: (c: net.Socket, s: net.Socket) => Promise<{ fromClient: Buffer; fromServer: Buffer }> = async () => ({
    fromClient: Buffer.alloc(0),
    fromServer: Buffer.alloc(0),
  }),
  onOrigin: (s: net.Socket) => void = () => {},
): Promise<Rig> {
  const origins: net.Socket[] = [];
  const live = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    live.add(s);
    s.once("close", () => live.delete(s));
  };
  const originWaiters: Array<(s: net.Socket) => void> = [];
  const origin = net.createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    s.on("error", () => {});
    onOrigin(s);
    const w = originWaiters.shift();
    if (w) w(s);
    else origins.push(s);
  });
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  const originPort = (origin.address() as net.AddressInfo).port;
  const hops: Array<(h: Omit<Hop, "client" | "origin">) => void> = [];
  const proxy = net.createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
    track(c);
    c.on("error", () => {});
    const s = net.connect({ host: "127.0.0.1", port: originPort, allowHalfOpen: true, noDelay: true });
    track(s);
    s.on("error", () => {});
    s.once("connect", () => {
      void prepare(c, s).then(({ fromClient, fromServer }) => {
        const relayed = fn(c, s, fromClient, fromServer);
        hops.shift()!({ proxyClient: c, proxyServer: s, relayed });
      });
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const proxyPort = (proxy.address() as net.AddressInfo).port;
  return {
    async connect(early) {
      const hop = new Promise<Omit<Hop, "client" | "origin">>((r) => hops.push(r));
      const originSock = new Promise<net.Socket>((r) => {
        const s = origins.shift();
        if (s) r(s);
        else originWaiters.push(r);
      });
      const client = net.connect({ host: "127.0.0.1", port: proxyPort, allowHalfOpen: true });
      client.on("error", () => {});
      track(client);
      early?.(client);
      const [h, o] = await Promise.all([hop, originSock]);
      return { client, origin: o, ...h };
    },
    async close() {
      for (const s of live) s.destroy();
      await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => origin.close(r))]);
    },
  };
}

/** Everything a socket receives until its peer's end (the socket stays half-open: no automatic end). */
function collect(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("close", () => resolve(Buffer.concat(chunks)));
    s.once("error", reject);
  });
}

function expectSpliced(name: string, before: number, count = 1): void {
  if (name === "spliced" && linux) {
    assert.is(spliceUnavailable(), undefined, "splice is available on Linux with koffi");
    assert.is(spliceStats.spliced - before, count, "the connection(s) went through the splice worker");
  }
}

for (const [name, fn] of VARIANTS) {
  test(`${name}: a multi-MB body each way arrives byte-exact (SHA-256), both directions at once`, async () => {
    const before = spliceStats.spliced;
    const movedBefore = spliceStats.movedClientToServer;
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      const up = randomBytes(6 * 1024 * 1024 + 17);
      const down = randomBytes(5 * 1024 * 1024 + 3);
      const atOrigin = collect(hop.origin);
      const atClient = collect(hop.client);
      hop.client.end(up);
      hop.origin.end(down);
      const [gotUp, gotDown] = await Promise.all([atOrigin, atClient]);
      assert.is(gotUp.length, up.length);
      assert.is(sha(gotUp), sha(up), "client -> origin");
      assert.is(gotDown.length, down.length);
      assert.is(sha(gotDown), sha(down), "origin -> client");
      hop.client.end();
      hop.origin.end();
      await hop.relayed;
      expectSpliced(name, before);
      if (name === "spliced" && linux)
        assert.ok(spliceStats.movedClientToServer - movedBefore > 0, "the worker moved the upload");
    } finally {
      await r.close();
    }
  });

  test(`${name}: bytes peeked before the relay (and still in Node's buffer) come first, in order, both ways`, async () => {
    const before = spliceStats.spliced;
    const up = randomBytes(300 * 1024);
    const banner = randomBytes(200 * 1024);
    // Peek like FirstBytes does: paused-mode reads. Keep the first few bytes as "peeked"; Node's
    // buffer holds more of what arrived meanwhile, which the relay must forward before the rest.
    const prepare = async (c: net.Socket, s: net.Socket) => {
      const firstOf = (sock: net.Socket, n: number) =>
        new Promise<Buffer>((resolve) => {
          const on = () => {
            const b = sock.read(n) as Buffer | null;
            if (b) {
              sock.off("readable", on);
              resolve(b);
            }
          };
          sock.on("readable", on);
        });
      const [fromClient, fromServer] = await Promise.all([firstOf(c, 7), firstOf(s, 5)]);
      await sleep(30); // more arrives into the sockets' buffers
      return { fromClient, fromServer };
    };
    const r = await rig(fn, prepare, (s) => s.write(banner));
    try {
      // The client writes at once: its first bytes are peeked, more wait in Node's buffer.
      const hop = await r.connect((client) => client.end(up));
      const atOrigin = collect(hop.origin);
      const atClient = collect(hop.client);
      const gotUp = await atOrigin;
      assert.is(sha(gotUp), sha(up), "the origin got the client's bytes whole and in order");
      hop.origin.end();
      const gotDown = await atClient;
      assert.is(sha(gotDown), sha(banner), "the client got the server's first bytes whole and in order");
      await hop.relayed;
      expectSpliced(name, before);
    } finally {
      await r.close();
    }
  });

  test(`${name}: half-close from the client: the origin sees the end, then answers, and the answer arrives`, async () => {
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      const request = randomBytes(100 * 1024);
      const answer = randomBytes(2 * 1024 * 1024);
      const atOrigin = collect(hop.origin);
      const atClient = collect(hop.client);
      hop.client.end(request);
      assert.is(sha(await atOrigin), sha(request), "the origin got the request and its end");
      assert.ok(!hop.client.destroyed, "the client's socket is still open for reading");
      hop.origin.end(answer);
      assert.is(sha(await atClient), sha(answer), "the answer after the client's end arrived whole");
      await hop.relayed;
    } finally {
      await r.close();
    }
  });

  test(`${name}: half-close from the origin: the client sees the end, then sends, and it arrives`, async () => {
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      const greeting = randomBytes(64 * 1024);
      const reply = randomBytes(3 * 1024 * 1024);
      const atOrigin = collect(hop.origin);
      const atClient = collect(hop.client);
      hop.origin.end(greeting);
      assert.is(sha(await atClient), sha(greeting), "the client got the greeting and its end");
      hop.client.end(reply);
      assert.is(sha(await atOrigin), sha(reply), "what the client sent after the origin's end arrived whole");
      await hop.relayed;
    } finally {
      await r.close();
    }
  });

  test(`${name}: a reset from the client ends the origin's side too, and the relay resolves`, async () => {
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      hop.origin.write(randomBytes(64 * 1024));
      hop.client.write("some bytes");
      await sleep(20);
      hop.client.resetAndDestroy();
      await Promise.all([collect(hop.origin).catch(() => {}), hop.relayed]);
      assert.ok(hop.proxyClient.destroyed && hop.proxyServer.destroyed, "both relay sockets are closed");
    } finally {
      await r.close();
    }
  });

  test(`${name}: a reset from the origin ends the client's side too, and the relay resolves`, async () => {
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      hop.client.write(randomBytes(64 * 1024));
      await sleep(20);
      hop.origin.resetAndDestroy();
      await Promise.all([collect(hop.client).catch(() => {}), hop.relayed]);
      assert.ok(hop.proxyClient.destroyed && hop.proxyServer.destroyed, "both relay sockets are closed");
    } finally {
      await r.close();
    }
  });

  test(`${name}: destroying a relayed socket from elsewhere (session end, shutdown) closes both and resolves`, async () => {
    const r = await rig(fn);
    try {
      const hop = await r.connect();
      const atClient = collect(hop.client);
      const atOrigin = collect(hop.origin);
      hop.origin.write("hello");
      await waitFor(() => (hop.client.bytesRead > 0 ? true : undefined), "the first bytes");
      hop.proxyClient.destroy();
      // Both peers see their connection end, and relay() resolves.
      await Promise.all([atClient, atOrigin, hop.relayed]);
    } finally {
      await r.close();
    }
  });

  test(`${name}: 40 concurrent connections, each byte-exact both ways`, async () => {
    const before = spliceStats.spliced;
    const r = await rig(fn);
    try {
      const hops = await Promise.all(Array.from({ length: 40 }, () => r.connect()));
      await Promise.all(
        hops.map(async (hop, i) => {
          const up = randomBytes(128 * 1024 + i * 997);
          const down = randomBytes(256 * 1024 + i * 131);
          const atOrigin = collect(hop.origin);
          const atClient = collect(hop.client);
          hop.client.end(up);
          hop.origin.end(down);
          const [gotUp, gotDown] = await Promise.all([atOrigin, atClient]);
          assert.is(sha(gotUp), sha(up), `connection ${i}: client -> origin`);
          assert.is(sha(gotDown), sha(down), `connection ${i}: origin -> client`);
          await hop.relayed;
        }),
      );
      expectSpliced(name, before, 40);
    } finally {
      await r.close();
    }
  });
}

test("TLS sockets are never spliced (their bytes are not the wire's): spliceRelay declines them", () => {
  const raw = new net.Socket();
  const t = new tls.TLSSocket(raw);
  assert.is(spliceRelay(t, new net.Socket(), Buffer.alloc(0), Buffer.alloc(0)), undefined);
  t.destroy();
  raw.destroy();
});

test("a client that already ended before the relay started: left to the JS relay, bytes and end still arrive", async () => {
  const before = spliceStats.spliced;
  const up = randomBytes(100 * 1024);
  const r = await rig(relay, async (c) => {
    // Read everything, end included, the way FirstBytes peeks (paused mode).
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      c.on("readable", () => {
        let b: Buffer | null;
        while ((b = c.read() as Buffer | null) !== null) chunks.push(b);
      });
      c.once("end", () => resolve());
    });
    c.removeAllListeners("readable");
    return { fromClient: Buffer.concat(chunks), fromServer: Buffer.alloc(0) };
  });
  try {
    const hop = await r.connect((client) => client.end(up));
    const atOrigin = collect(hop.origin);
    assert.is(sha(await atOrigin), sha(up), "the origin got the bytes and the end");
    hop.origin.end("bye");
    await hop.relayed;
    assert.is(spliceStats.spliced, before, "not spliced");
  } finally {
    await r.close();
  }
});

// ---------------------------------------------------------------- through the proxy

/** The log lines of one client connection (by its local port), without the proxy's own lines. */
function linesOf(lines: string[], lp: number): string[] {
  return lines.filter((l) => l.startsWith(`127.0.0.1:${lp}: `)).map((l) => l.replace(`127.0.0.1:${lp}: `, ""));
}

test("an ignored CONNECT tunnel through the proxy: spliced, byte-exact both ways, and the same event log as the JS relay", async () => {
  const origin = await startRawOrigin((socket) => {
    socket.on("end", () => socket.end(Buffer.alloc(3 * 1024 * 1024, 7)));
  });
  const p = await startInProcess([], { ignoreHosts: ["^127\\.0\\.0\\.1:"] });
  const logs: string[][] = [];
  try {
    for (const enabled of [true, false]) {
      spliceStats.enabled = enabled;
      const before = spliceStats.spliced;
      const t = await openTunnel(p.port, `127.0.0.1:${origin.port}`);
      assert.is(t.status, 200);
      const up = randomBytes(4 * 1024 * 1024);
      t.socket.end(up);
      const down = await readToEnd(t.socket);
      assert.is(sha(down), sha(Buffer.alloc(3 * 1024 * 1024, 7)), "the origin's answer after the client's end");
      const i = origin.connections() - 1;
      await waitFor(() => (origin.bytes(i).length === up.length ? true : undefined), "the upload at the origin");
      assert.is(sha(origin.bytes(i)), sha(up), "the origin got the upload byte-exact");
      await waitFor(
        () => (linesOf(p.lines, t.localPort).some((l) => l.startsWith("server disconnect")) ? true : undefined),
        "the disconnect lines",
      );
      await sleep(50);
      logs.push(linesOf(p.lines, t.localPort).map((l) => l.replace(/:\d+/g, ":PORT")));
      if (enabled && linux) assert.is(spliceStats.spliced - before, 1, "the ignored tunnel was spliced");
      if (!enabled) assert.is(spliceStats.spliced, before, "off: the JS relay");
    }
    assert.equal(logs[0], logs[1], "the spliced and JS relays print the same log");
    assert.equal(logs[0], [
      "client connect",
      "server connect 127.0.0.1:PORT",
      "client disconnect",
      "server disconnect 127.0.0.1:PORT",
    ]);
  } finally {
    spliceStats.enabled = true;
    await p.stop();
    await origin.close();
  }
});

test.run();
