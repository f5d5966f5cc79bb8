// Client-side and server-side socket helpers of the harness: every wait has a
// bound, every socket has an error listener, everything is on 127.0.0.1.
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { connectTunnel } from "../../bench/lib/http1.ts";

export const HOST = "127.0.0.1";

export interface Closable {
  close(): Promise<void>;
}

/** Listens on 127.0.0.1, a port of the kernel's choice. */
export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Keeps the server's sockets so that `close` can end them all (servers wait for their sockets otherwise). */
export function trackSockets(server: net.Server): Closable {
  const sockets = new Set<net.Socket>();
  const add = (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
  };
  server.on("connection", add);
  server.on("secureConnection", add);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        setTimeout(resolve, 2000).unref();
      }),
  };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Every client socket the harness opened and that is not closed yet: destroyed when a family ends. */
const open = new Set<net.Socket>();
export function track(s: net.Socket): net.Socket {
  open.add(s);
  s.once("close", () => open.delete(s));
  return s;
}

/** Destroys every tracked client socket still open (a family overran or left some); returns how many. */
export function destroyAllClients(): number {
  const n = open.size;
  for (const s of open) s.destroy();
  open.clear();
  return n;
}

export function openClients(): number {
  return open.size;
}

export function tcp(port: number, ms = 10_000): Promise<net.Socket> {
  const s = track(net.connect({ host: HOST, port, noDelay: true }));
  s.on("error", () => {});
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("error", reject);
      s.once("close", () => reject(new Error("closed while connecting")));
    }),
    ms,
    `connect to ${port}`,
  ).catch((e: unknown) => {
    s.destroy();
    throw e;
  });
}

/** `CONNECT authority` through the proxy; the socket once it answered 2xx. */
export async function tunnel(proxyPort: number, authority: string, ms = 15_000): Promise<net.Socket> {
  const p = connectTunnel(proxyPort, authority);
  try {
    const s = track(await withTimeout(p, ms, `CONNECT ${authority}`));
    s.on("error", () => {});
    return s;
  } catch (e) {
    void p.then(
      (s) => s.destroy(),
      () => {},
    );
    throw e;
  }
}

const caCache = new Map<string, Buffer>();
export function caPem(file: string): Buffer {
  let b = caCache.get(file);
  if (!b) caCache.set(file, (b = readFileSync(file)));
  return b;
}

/** TLS on top of `socket` (a tunnel), trusting `caFile`. */
export function tlsOver(
  socket: net.Socket,
  opts: { servername: string; caFile: string; alpn?: string[] },
  ms = 15_000,
): Promise<tls.TLSSocket> {
  const t = tls.connect({
    socket,
    servername: opts.servername,
    ca: caPem(opts.caFile),
    ALPNProtocols: opts.alpn ?? ["http/1.1"],
  });
  track(t);
  t.on("error", () => {});
  return withTimeout(
    new Promise<tls.TLSSocket>((resolve, reject) => {
      t.once("secureConnect", () => resolve(t));
      t.once("error", reject);
      t.once("close", () => reject(new Error("closed during the TLS handshake")));
    }),
    ms,
    "TLS handshake",
  ).catch((e: unknown) => {
    t.destroy();
    socket.destroy();
    throw e;
  });
}

/**
 * A socket whose incoming bytes are collected, with bounded waits: for a
 * condition on what arrived, or for the peer to close.
 */
export class Wire {
  chunks: Buffer[] = [];
  received = 0;
  ended = false;
  closed = false;
  error: Error | undefined;
  /** When the last byte (or the end) arrived. */
  lastActivity = Date.now();
  private readonly changed = new EventEmitter();

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.received += d.length;
      this.lastActivity = Date.now();
      this.changed.emit("x");
    });
    socket.on("end", () => {
      this.ended = true;
      this.lastActivity = Date.now();
      this.changed.emit("x");
    });
    socket.on("error", (e) => {
      this.error = e;
      this.changed.emit("x");
    });
    socket.on("close", () => {
      this.closed = true;
      this.changed.emit("x");
    });
  }

  /** Everything received so far, as one buffer. */
  get data(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The peer closed or ended its side. */
  get gone(): boolean {
    return this.closed || this.ended;
  }

  /** Resolves true once `pred()` holds, false after `ms` (checked on every change). */
  until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!pred()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.changed.off("x", check);
        resolve(v);
      };
      this.changed.on("x", check);
    });
  }

  /** Waits for the peer to close or end, at most `ms`: true when it did. */
  waitGone(ms: number): Promise<boolean> {
    return this.until(() => this.gone, ms);
  }

  write(b: Buffer | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Resets the connection where the socket allows it (plain TCP), else destroys it. */
export function reset(s: net.Socket): void {
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}
