import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";

/**
 * Every undocumented Node internal the core touches, typed once, behind small
 * functions. Each says which behaviour of Node (checked against Node 20's
 * lib/net.js, lib/_tls_wrap.js, lib/_http_server.js, lib/internal/http2/core.js)
 * it relies on and why we need it.
 *
 * Every function looks at the shape first and answers undefined / false when it
 * is not what we expect, so a caller can fall back (the JS relay) instead of
 * half-working; checkNodeInternals() tries them all on real objects once at
 * start-up, so a Node that changed is noticed before the first connection.
 */

/** The libuv stream handle (TCPWrap) under a net.Socket: what the splice relay needs of it. */
export interface StreamHandle {
  /** The socket's file descriptor; -1 once the handle is closed. */
  readonly fd: number;
  /** Whether libuv reads the fd (Node's stream code reads and sets it). */
  reading: boolean;
  /** uv_read_stop: libuv no longer reads the fd. */
  readStop(): number;
}

/** A net.Socket seen with its internals. */
interface InternalSocket {
  encrypted?: unknown;
  _handle?: unknown;
  _readableState?: { ended?: unknown; reading?: unknown };
  _read?: unknown;
  _destroy?: unknown;
  _unrefTimer?: unknown;
  secureConnecting?: unknown;
}

const internal = (socket: net.Socket) => socket as unknown as InternalSocket;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null;
}

/**
 * The socket's libuv TCP handle, when the socket is plain TCP (not TLS: a
 * TLSSocket's handle is a TLSWrap whose bytes Node transforms) and has every
 * internal the splice relay uses: `_handle.fd`/`.reading`/`.readStop`,
 * `_readableState.ended`/`.reading`, `_read`, `_destroy`. Checked per relay
 * (a few typeofs) so that a Node shaped otherwise gets the JS relay.
 */
export function rawStreamHandle(socket: net.Socket): StreamHandle | undefined {
  const s = internal(socket);
  if (s.encrypted) return undefined;
  const h = s._handle;
  if (
    !isObject(h) ||
    typeof h.fd !== "number" ||
    h.fd < 0 ||
    typeof h.readStop !== "function" ||
    typeof h.reading !== "boolean"
  )
    return undefined;
  const rs = s._readableState;
  if (!isObject(rs) || typeof rs.ended !== "boolean" || typeof rs.reading !== "boolean") return undefined;
  if (typeof s._read !== "function" || typeof s._destroy !== "function") return undefined;
  return h as unknown as StreamHandle;
}

/**
 * The file descriptor of the socket's own handle (`_handle.fd`, a TCPWrap
 * getter), for getsockopt on it; undefined when there is none (closed, TLS,
 * or a Node without it).
 */
export function socketFd(socket: net.Socket): number | undefined {
  const h = internal(socket)._handle;
  const fd = isObject(h) ? h.fd : undefined;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * Whether Node has read the socket's end (`_readableState.ended`: set when
 * libuv saw EOF, before 'end' is emitted, while data may still sit in the
 * buffer). An end already read would have to be replayed by hand after a
 * hand-off to the kernel. undefined when the state cannot be read: treat the
 * socket as not handed over.
 */
export function readEnded(socket: net.Socket): boolean | undefined {
  const rs = internal(socket)._readableState;
  return isObject(rs) && typeof rs.ended === "boolean" ? rs.ended : undefined;
}

/**
 * Stops libuv reading the socket for good: its bytes now belong to someone
 * else (the splice worker). pause() alone is not enough: Node's stream calls
 * `_read` (which restarts the handle) on any read()/resume(), so `_read` is
 * made a no-op on the instance, and the handle is stopped (`readStop`, with
 * `reading` false as net.js's own tryReadStart/readStop bookkeeping keeps it).
 * `h` comes from rawStreamHandle (same tick).
 */
export function stopReading(socket: net.Socket, h: StreamHandle): void {
  socket.pause();
  (socket as unknown as { _read: () => void })._read = () => {};
  h.reading = false;
  h.readStop();
}

/**
 * stopReading for a while; returns the undo, which makes the socket readable
 * again: the instance's `_read` removed (back to net.Socket's), and
 * `_readableState.reading` cleared. Node's readable stream sets `reading`
 * while it waits for a `_read` to deliver; the stopped handle never will, and
 * while the flag is set no later read()/resume() calls `_read` again, so
 * without clearing it the socket would never read again.
 */
export function pauseReading(socket: net.Socket, h: StreamHandle): () => void {
  const s = socket as unknown as { _read?: unknown };
  const own = Object.getOwnPropertyDescriptor(s, "_read");
  stopReading(socket, h);
  return () => {
    if (own) Object.defineProperty(s, "_read", own);
    else delete s._read;
    const rs = internal(socket)._readableState;
    if (isObject(rs) && !h.reading) rs.reading = false;
  };
}

/** Decides what a destroy() does while the socket's fd is lent out: run `proceed` now or later. */
export type DestroyHold = (err: Error | null, proceed: () => void) => void;

/**
 * Routes the socket's destroy() through `hold`: stream.destroy() calls the
 * instance's `_destroy(err, cb)` (net.Socket's closes the handle, hence the
 * fd), and the stream waits for `cb` before 'close'. Needed because closing
 * an fd the worker still polls could hand its number to a new socket
 * meanwhile. Returns the undo (the socket's own `_destroy` back), or undefined
 * when the socket has no `_destroy` to wrap.
 */
export function holdDestroy(socket: net.Socket, hold: DestroyHold): (() => void) | undefined {
  type DestroyImpl = (this: net.Socket, err: Error | null, cb: (err?: Error | null) => void) => void;
  const s = socket as unknown as { _destroy?: DestroyImpl };
  const original = s._destroy;
  if (typeof original !== "function") return undefined;
  const own = Object.getOwnPropertyDescriptor(s, "_destroy");
  s._destroy = function (this: net.Socket, err, cb) {
    hold(err, () => original.call(this, err, cb));
  };
  return () => {
    if (own) Object.defineProperty(s, "_destroy", own);
    else delete s._destroy;
  };
}

/**
 * Pushes back the socket's idle timeout (socket.setTimeout), as Node does on
 * every read and write (`_unrefTimer`). Bytes the kernel moves for a socket
 * are invisible to Node, so without this a busy spliced socket would time out
 * as idle. false when the socket has no such method.
 */
export function touchIdleTimer(socket: net.Socket): boolean {
  const s = socket as unknown as { _unrefTimer?: unknown };
  if (typeof s._unrefTimer !== "function") return false;
  (s._unrefTimer as () => void).call(socket);
  return true;
}

/**
 * Marks a server-side TLSSocket we built ourselves (new tls.TLSSocket(raw,
 * { isServer: true })) as past its handshake: call it after 'secure'.
 *
 * The TLSSocket constructor sets `secureConnecting = true`; on the server side
 * only tls.Server's own connection listener clears it (onServerSocketSecure,
 * just before 'secureConnection'), and an HTTP/2 session given a socket with
 * the flag set waits for a 'secureConnect' that a server-side socket never
 * emits (lib/internal/http2/core.js, Http2Session's constructor). There is no
 * documented hand-off that clears it: http2.createSecureServer relies on being
 * a tls.Server, and http2.performServerHandshake(socket) runs the same
 * constructor check. Routing sockets through a tls.Server instead would lose
 * the per-connection certificate and ALPN choice (tls.Server ignores a
 * `secureContext` option; its SNICallback and ALPNCallback see no socket and
 * SNI may be absent). So the flag is cleared here.
 *
 * true when the flag is now clear; false (nothing touched) when the socket has
 * no boolean `secureConnecting` (a Node that no longer sets it needs nothing).
 */
export function finishServerTlsHandshake(tlsSocket: tls.TLSSocket): boolean {
  const s = tlsSocket as unknown as { secureConnecting?: unknown };
  if (typeof s.secureConnecting !== "boolean") return false;
  s.secureConnecting = false;
  return true;
}

/** The description of the symbol under which http.Server keeps its connections-checking interval. */
const CHECKING_INTERVAL = "http.server.connectionsCheckingInterval";

/** The http.Server's connections-checking interval (headersTimeout, requestTimeout), once started. */
function checkingInterval(server: http.Server): NodeJS.Timeout | undefined {
  const key = Object.getOwnPropertySymbols(server).find((k) => k.description === CHECKING_INTERVAL);
  const timer = key === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[key];
  return isObject(timer) ? (timer as unknown as NodeJS.Timeout) : undefined;
}

/**
 * Starts Node's headersTimeout/requestTimeout check on an http.Server that
 * never listens (we hand it sockets with emit('connection')). http.Server
 * starts that interval in its own 'listening' listener
 * (setupConnectionsTracking), so we emit 'listening'. Without it a client
 * trickling its request head (slowloris) would hold its connection forever.
 * true when the interval is now running.
 */
export function startHeadersTimeoutCheck(server: http.Server): boolean {
  server.emit("listening");
  return checkingInterval(server) !== undefined;
}

// ================================================================ the self-check

/** What is wrong with `socket`'s internals for rawStreamHandle & co, as readable lines (empty: all there). */
export function socketProblems(socket: net.Socket, name: string): string[] {
  const s = internal(socket);
  const out: string[] = [];
  const want = (what: string, value: unknown, ok: boolean, expected: string) => {
    if (!ok) out.push(`${name}.${what} is ${value === null ? "null" : typeof value}, not ${expected}`);
  };
  const h = s._handle;
  want("_handle", h, isObject(h), "an object");
  if (isObject(h)) {
    want("_handle.fd", h.fd, typeof h.fd === "number" && h.fd >= 0, "a number >= 0");
    want("_handle.readStop", h.readStop, typeof h.readStop === "function", "a function");
    want("_handle.reading", h.reading, typeof h.reading === "boolean", "a boolean");
  }
  const rs = s._readableState;
  want("_readableState", rs, isObject(rs), "an object");
  if (isObject(rs)) {
    want("_readableState.ended", rs.ended, typeof rs.ended === "boolean", "a boolean");
    want("_readableState.reading", rs.reading, typeof rs.reading === "boolean", "a boolean");
  }
  for (const f of ["_read", "_destroy", "_unrefTimer"] as const)
    want(f, s[f], typeof s[f] === "function", "a function");
  return out;
}

/** What is wrong with a fresh server-side TLSSocket for finishServerTlsHandshake. */
export function tlsProblems(tlsSocket: tls.TLSSocket): string[] {
  const before = (tlsSocket as unknown as InternalSocket).secureConnecting;
  if (before !== true)
    return [`a server-side TLSSocket's secureConnecting is ${String(before)} before its handshake, not true`];
  const cleared =
    finishServerTlsHandshake(tlsSocket) && (tlsSocket as unknown as InternalSocket).secureConnecting === false;
  return cleared ? [] : ["finishServerTlsHandshake did not clear secureConnecting"];
}

/** What is wrong with startHeadersTimeoutCheck on a fresh http.Server (the interval it starts is stopped again). */
export function httpServerProblems(server: http.Server): string[] {
  const started = startHeadersTimeoutCheck(server);
  clearInterval(checkingInterval(server));
  return started
    ? []
    : [
        `http.Server has no '${CHECKING_INTERVAL}' interval after 'listening': the headers timeout would never be checked`,
      ];
}

/**
 * How long the probe waits for a loopback byte or close: milliseconds normally, but a machine under
 * load may take seconds, and a false "broken" would turn the kernel relay off for the whole process.
 * Only a Node that really changed waits this long (once, at start-up).
 */
const PROBE_WAIT_MS = 20_000;

/** Resolves with `p`, or with `fallback` when it takes longer than `ms` (a hang guard, not a measurement). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms).unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A connected loopback pair [connecting, accepted]; the listener is closed once it accepted. */
async function loopbackPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    const connected = new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
    client.on("error", () => {});
    const [, other] = await Promise.all([connected, accepted]);
    other.on("error", () => {});
    return [client, other];
  } finally {
    server.close();
  }
}

/**
 * The behaviour the splice hand-off relies on, on a real pair: a paused socket
 * reads again after the undo (the byte written meanwhile arrives), and
 * a held destroy() waits for its proceed.
 */
async function behaviourProblems(a: net.Socket, b: net.Socket): Promise<string[]> {
  const h = rawStreamHandle(b);
  if (!h) return ["rawStreamHandle found no raw handle on a loopback socket"];
  const undo = pauseReading(b, h);
  if (h.reading) return ["the handle still reads after pauseReading"];
  a.write("x");
  undo();
  const got = new Promise<string>((resolve) => b.once("data", (d: Buffer) => resolve(d.toString())));
  b.resume();
  if ((await within(got, PROBE_WAIT_MS, "")) !== "x") return ["a socket does not read again after pauseReading's undo"];
  let held: (() => void) | undefined;
  if (!holdDestroy(b, (_err, proceed) => (held = proceed))) return ["holdDestroy found no _destroy"];
  b.destroy();
  if (!held || b.closed) return ["destroy() did not wait for holdDestroy's hold"];
  const closed = new Promise<boolean>((resolve) => b.once("close", () => resolve(true)));
  held();
  return (await within(closed, PROBE_WAIT_MS, false))
    ? []
    : ["a held destroy() did not close the socket after proceed"];
}

async function probe(): Promise<string[]> {
  const [a, b] = await loopbackPair();
  try {
    const shape = [...socketProblems(a, "socket"), ...socketProblems(b, "accepted socket")];
    if (!touchIdleTimer(a)) shape.push("touchIdleTimer found no _unrefTimer");
    const problems = shape.length > 0 ? shape : await behaviourProblems(a, b);
    const t = new tls.TLSSocket(a, { isServer: true, secureContext: tls.createSecureContext() });
    t.on("error", () => {});
    problems.push(...tlsProblems(t));
    t.destroy();
    problems.push(...httpServerProblems(http.createServer()));
    return problems;
  } finally {
    a.destroy();
    b.destroy();
  }
}

/**
 * Checks every assumption above on real objects: a loopback socket pair
 * (127.0.0.1, port 0, closed right after), a server-side TLSSocket, an
 * http.Server. Resolves with the broken assumptions, empty when all hold;
 * never rejects. Run once at start-up (not per connection): a few ms.
 */
export async function checkNodeInternals(): Promise<string[]> {
  try {
    return await within(probe(), 2 * PROBE_WAIT_MS + 5000, ["the self-check's loopback probe did not finish"]);
  } catch (err) {
    return [`the self-check failed: ${(err as Error)?.message ?? String(err)}`];
  }
}
