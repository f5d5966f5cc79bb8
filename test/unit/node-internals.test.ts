// core/platform/node-internals.ts: every Node internal the core relies on,
// behind small functions that answer undefined / false when the shape is not
// what they expect, and the start-up self-check. On real loopback sockets
// (127.0.0.1 only). A broken assumption is simulated per object (a socket
// whose _handle is a fake, a server without its 'listening' listener) or by
// injecting a failing check into the guard: nothing of Node is patched
// globally. The guard's test disables splice for this process: it runs last.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relay } from "../../core/layers/passthrough.ts";
import {
  checkNodeInternals,
  finishServerTlsHandshake,
  holdDestroy,
  httpServerProblems,
  pauseReading,
  rawStreamHandle,
  readEnded,
  socketFd,
  socketProblems,
  startHeadersTimeoutCheck,
  stopReading,
  tlsProblems,
  touchIdleTimer,
} from "../../core/platform/node-internals.ts";
import {
  guardNodeInternals,
  onSpliceUnavailable,
  spliceBytes,
  spliceRelay,
  spliceStats,
  spliceUnavailable,
} from "../../core/platform/splice.ts";
import { originCa } from "../helpers/harness.ts";

const linux = process.platform === "linux";
/** A hang guard for every wait, not a measurement. */
const LIMIT_MS = 20_000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), LIMIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

const open = new Set<net.Socket>();

/** Two connected loopback sockets: [the connecting one, the accepted one]. */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const c = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, allowHalfOpen: true });
  await new Promise<void>((r, j) => c.once("connect", r).once("error", j));
  const a = await accepted;
  server.close();
  for (const s of [c, a]) {
    open.add(s);
    s.on("error", () => {});
    s.once("close", () => open.delete(s));
  }
  return [c, a];
}

const nextData = (s: net.Socket) => within(new Promise<Buffer>((r) => s.once("data", r)), "data");
const turn = () => new Promise((r) => setImmediate(r));

/** Replaces the socket's `_handle` by `fake` on this instance only; returns the undo. */
function fakeHandle(socket: net.Socket, fake: unknown): () => void {
  const s = socket as unknown as { _handle: unknown };
  const real = s._handle;
  s._handle = fake;
  return () => {
    s._handle = real;
  };
}

test.after.each(() => {
  for (const s of open) s.destroy();
});

test("the self-check finds every assumption true on this Node", async () => {
  assert.equal(await checkNodeInternals(), []);
});

test("rawStreamHandle and socketFd: the fd of a plain TCP socket, none for TLS or a closed socket", async () => {
  const [a, b] = await tcpPair();
  const ha = rawStreamHandle(a);
  const hb = rawStreamHandle(b);
  assert.ok(ha && hb);
  assert.ok(ha.fd >= 0 && hb.fd >= 0 && ha.fd !== hb.fd);
  assert.is(socketFd(a), ha.fd);
  assert.is(ha.reading, true, "a fresh socket reads");
  const t = new tls.TLSSocket(a, { isServer: true, secureContext: tls.createSecureContext() });
  t.on("error", () => {});
  assert.is(rawStreamHandle(t), undefined, "a TLS socket's bytes are not the wire's");
  t.destroy();
  b.destroy();
  await within(new Promise((r) => b.once("close", r)), "close");
  assert.is(rawStreamHandle(b), undefined);
  assert.is(socketFd(b), undefined);
});

test("readEnded: false while open, true once the peer's end was read", async () => {
  const [a, b] = await tcpPair();
  assert.is(readEnded(b), false);
  b.resume();
  a.end();
  await within(new Promise((r) => b.once("end", r)), "end");
  assert.is(readEnded(b), true);
});

test("stopReading: the handle stops and stays stopped through resume() and read()", async () => {
  const [, b] = await tcpPair();
  const h = rawStreamHandle(b)!;
  stopReading(b, h);
  assert.is(h.reading, false);
  b.resume();
  b.read();
  await turn();
  assert.is(h.reading, false, "nothing restarted the handle");
});

test("pauseReading: the undo makes the socket read again; bytes written while paused arrive once", async () => {
  const [a, b] = await tcpPair();
  const h = rawStreamHandle(b)!;
  const undo = pauseReading(b, h);
  assert.is(h.reading, false);
  a.write("while paused");
  await turn();
  assert.is(h.reading, false, "still paused before the undo");
  undo();
  assert.not.ok(Object.hasOwn(b, "_read"), "the socket's own _read is back");
  const got = nextData(b);
  b.resume();
  assert.is((await got).toString(), "while paused");
  assert.is(h.reading, true);
  const more = nextData(b);
  a.write("after");
  assert.is((await more).toString(), "after");
});

test("holdDestroy: destroy() waits for proceed; the undo puts the socket's own _destroy back", async () => {
  const [a, b] = await tcpPair();
  let proceed: (() => void) | undefined;
  let seen: Error | null | undefined;
  const undo = holdDestroy(b, (err, go) => {
    seen = err;
    proceed = go;
  });
  assert.ok(undo);
  const boom = new Error("boom");
  b.destroy(boom);
  assert.is(seen, boom);
  assert.is(b.closed, false, "held: not closed");
  assert.ok(rawStreamHandle(b), "the fd is still open");
  const closed = within(new Promise((r) => b.once("close", r)), "close");
  proceed!();
  await closed;

  const undo2 = holdDestroy(a, () => {});
  undo2!();
  assert.not.ok(Object.hasOwn(a, "_destroy"));
  a.destroy();
  await within(new Promise((r) => a.once("close", r)), "close after the undo");
});

/** The Timeout object of socket.setTimeout (Node keeps it under a symbol described 'timeout'). */
function idleTimer(socket: net.Socket): { _idleStart: number } {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === "timeout")!;
  const timer = (socket as unknown as Record<symbol, { _idleStart: number } | undefined>)[key];
  if (!timer) throw new Error("the socket has no idle timer");
  return timer;
}

test("touchIdleTimer pushes back the socket's idle timeout", async () => {
  const [a] = await tcpPair();
  a.setTimeout(60_000);
  const before = idleTimer(a)._idleStart;
  // Until the event loop's clock moved on (a wait, not a measurement).
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(touchIdleTimer(a));
  assert.ok(idleTimer(a)._idleStart > before, "the timer was restarted from now");
  assert.is(touchIdleTimer({} as net.Socket), false, "no _unrefTimer: false, nothing thrown");
});

test("finishServerTlsHandshake: an HTTP/2 session on a hand-made server-side TLSSocket answers", async () => {
  const ca = (await originCa()).ca;
  const [c, s] = await tcpPair();
  const server = new tls.TLSSocket(s, {
    isServer: true,
    secureContext: ca.secureContext(["localhost"]),
    ALPNProtocols: ["h2"],
  });
  server.on("error", () => {});
  const secure = within(new Promise((r) => server.once("secure", r)), "server handshake");
  const client = http2.connect("https://localhost", {
    createConnection: () =>
      tls.connect({ socket: c, servername: "localhost", ca: ca.caCertPem, ALPNProtocols: ["h2"] }),
  });
  client.on("error", () => {});
  try {
    await secure;
    assert.ok(finishServerTlsHandshake(server));
    const session = http2.performServerHandshake(server);
    session.on("error", () => {});
    session.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("h2 over a hand-made TLS socket");
    });
    const req = client.request({ ":path": "/" });
    const body = within(
      new Promise<string>((resolve) => {
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (d: string) => (text += d));
        req.on("end", () => resolve(text));
      }),
      "the HTTP/2 answer (the session waits for 'secureConnect' while secureConnecting is set)",
    );
    assert.is(await body, "h2 over a hand-made TLS socket");
    session.destroy();
  } finally {
    client.destroy();
    server.destroy();
  }
  assert.is(finishServerTlsHandshake({} as tls.TLSSocket), false, "no flag: false, nothing set");
});

test("tlsProblems: a fresh server-side TLSSocket has secureConnecting set, and finishServerTlsHandshake clears it", async () => {
  const [a] = await tcpPair();
  const t = new tls.TLSSocket(a, { isServer: true, secureContext: tls.createSecureContext() });
  t.on("error", () => {});
  assert.is((t as unknown as { secureConnecting: unknown }).secureConnecting, true);
  assert.equal(tlsProblems(t), []);
  assert.is((t as unknown as { secureConnecting: unknown }).secureConnecting, false);
  assert.is(tlsProblems(t).length, 1, "a socket whose flag is not set as expected is reported");
  t.destroy();
});

test("startHeadersTimeoutCheck starts the http.Server's connections check; a server without it is reported", () => {
  const server = http.createServer();
  assert.ok(startHeadersTimeoutCheck(server));
  server.close();
  assert.equal(httpServerProblems(http.createServer()), []);
  const broken = http.createServer();
  broken.removeAllListeners("listening");
  assert.is(httpServerProblems(broken).length, 1);
  assert.match(httpServerProblems(broken)[0]!, /connectionsCheckingInterval/);
});

test("a socket shaped otherwise is reported and never spliced: the JS relay takes it", async () => {
  const [, b] = await tcpPair();
  const [c] = await tcpPair();
  assert.equal(socketProblems(b, "b"), []);
  const restore = fakeHandle(b, { fd: "7", reading: 1 });
  try {
    const problems = socketProblems(b, "b");
    assert.ok(
      problems.some((p) => p.includes("b._handle.fd")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.includes("b._handle.readStop")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.includes("b._handle.reading")),
      problems.join("\n"),
    );
    assert.is(rawStreamHandle(b), undefined);
    assert.is(socketFd(b), undefined);
    assert.is(spliceRelay(b, c, Buffer.alloc(0), Buffer.alloc(0)), undefined);
    assert.is(spliceBytes(b, c, 10, []), undefined);
  } finally {
    restore();
  }
  // A readable state without a boolean `ended` (as a reworked stream might have): not spliced either.
  const rs = (b as unknown as { _readableState: { ended: unknown } })._readableState;
  const ended = Object.getOwnPropertyDescriptor(rs, "ended");
  Object.defineProperty(rs, "ended", { value: 0, configurable: true, writable: true });
  try {
    assert.is(readEnded(b), undefined);
    assert.is(rawStreamHandle(b), undefined);
    assert.is(spliceBytes(b, c, 10, []), undefined);
  } finally {
    if (ended) Object.defineProperty(rs, "ended", ended);
    else delete (rs as { ended?: unknown }).ended;
  }
  assert.ok(rawStreamHandle(b), "restored");
});

/** A relay() between two loopback pairs, bytes checked both ways; resolves with whether it was spliced. */
async function relayed(): Promise<boolean> {
  const [client, inner] = await tcpPair();
  const [outer, origin] = await tcpPair();
  const before = spliceStats.spliced;
  const done = relay(inner, outer, Buffer.alloc(0), Buffer.alloc(0));
  const up = nextData(origin);
  client.write("to the origin");
  assert.is((await up).toString(), "to the origin");
  const down = nextData(client);
  origin.write("to the client");
  assert.is((await down).toString(), "to the client");
  client.destroy();
  origin.destroy();
  await within(done, "the relay's end");
  return spliceStats.spliced > before;
}

test("a failing self-check disables splice for the process (listeners warned): later relays go through JS", async () => {
  const available = linux && (await relayed()) && !spliceUnavailable();
  const heard: Array<[string, boolean]> = [];
  const stop = onSpliceUnavailable((reason, failed) => heard.push([reason, failed]));
  const broken = await guardNodeInternals(async () => ["socket._handle.readStop is undefined, not a function"]);
  stop();
  assert.equal(broken, ["socket._handle.readStop is undefined, not a function"]);
  assert.match(spliceUnavailable() ?? "", /readStop/);
  if (available)
    assert.equal(heard, [[spliceUnavailable()!, true]], "listeners hear it, as a failure (the proxy warns)");
  assert.is(await relayed(), false, "relayed in JS");
  assert.equal(await guardNodeInternals(), [], "the real check still passes (and is run once)");
});

test.run();
