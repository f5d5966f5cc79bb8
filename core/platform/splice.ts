import type * as net from "node:net";
import { getSystemErrorName } from "node:util";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import {
  checkNodeInternals,
  holdDestroy,
  pauseReading,
  rawStreamHandle,
  readEnded,
  stopReading,
  touchIdleTimer,
} from "./node-internals.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  F_GETPIPE_SZ,
  F_SETPIPE_SZ,
  loadLibc,
  O_CLOEXEC,
  O_NONBLOCK,
  type Libc,
} from "./splice-libc.ts";
import type { SpliceFailure, ToMain, ToWorker } from "./splice-protocol.ts";

/**
 * Passthrough in the kernel: two plain TCP sockets relayed with splice(2)
 * (socket -> pipe -> socket) by one worker thread, so the bytes never cross
 * into JS. Measured on bench C (1 GiB ignored HTTPS download): the JS relay
 * costs the proxy ~1.1 s of CPU per GiB, a spliced relay ~0.2 s; on a machine
 * whose cores the client's and origin's TLS already fill, that CPU is
 * throughput.
 *
 * Used only where it is exactly equivalent: Linux, koffi loaded, both sockets
 * raw TCP (no TLS socket, whose bytes Node transforms) and still open both
 * ways, and Node's internals shaped as node-internals.ts expects (checked at
 * start-up and per socket). Everything else takes the JS relay in passthrough.ts.
 *
 * The same worker also runs bounded one-way transfers (spliceBytes): exactly
 * `length` bytes of a streamed HTTP/1 body from the server's socket to the
 * client's, after which both sockets go back to Node for the next exchange.
 */

/** The pipe size asked for per direction; the kernel may grant less (then that is used). */
const PIPE_SIZE = 512 * 1024;
/** Smaller pipes than the default (64 KiB) are not worth splicing through. */
const MIN_PIPE_SIZE = 64 * 1024;

interface Entry {
  id: number;
  /** The socket fds the worker owns until `done`. */
  fds: number[];
  /** The worker answered `done`: it no longer touches the fds. */
  released: boolean;
  /** destroy() calls that came while the worker owned the fds; run once it let go. */
  deferred: Array<() => void>;
  abortSent: boolean;
  onDone(msg: Extract<ToMain, { t: "done" }>): void;
  onProgress?(moved: number): void;
}

type AddMessage = Omit<Extract<ToWorker, { t: "add" }>, "id"> | Omit<Extract<ToWorker, { t: "bytes" }>, "id">;

/**
 * For tests: connections that went through the worker and the bytes it moved
 * each way; `transfers` and `bytesMoved` the same for spliceBytes (only what
 * the worker moved, not the bytes written from JS first); `enabled` false sends
 * every relay and transfer through JS (to compare the two).
 */
export const spliceStats = {
  enabled: true,
  spliced: 0,
  movedClientToServer: 0,
  movedServerToClient: 0,
  transfers: 0,
  bytesMoved: 0,
};

class Pump {
  private readonly entries = new Map<number, Entry>();
  /** Socket fds the worker owns: one epoll set cannot hold an fd twice, so they take no second job. */
  private readonly busyFds = new Set<number>();
  private nextId = 1;
  private readonly kickValue = Buffer.alloc(8);
  dead: string | undefined;

  constructor(
    private readonly libc: Libc,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly kickFd: number,
  ) {
    this.kickValue.writeBigUInt64LE(1n);
    port.on("message", (m: ToMain) => this.onMessage(m));
    // Idle, the worker keeps nobody alive; with connections it does, as the JS relay's reads would.
    // (unref after on("message"): adding the listener refs the port.)
    worker.unref();
    port.unref();
    worker.on("error", (err) => this.die(`splice worker failed: ${err.message}`));
    worker.on("exit", () => this.die("splice worker exited"));
    // A worker blocked in epoll_wait would hold up the exit by up to its timeout: wake it and let it go.
    process.once("exit", () => {
      this.send({ t: "stop" });
    });
  }

  /** Two non-blocking pipes, or undefined (out of fds: the caller relays in JS). */
  makePipes(): { ab: [number, number]; ba: [number, number]; size: number } | undefined {
    const a = new Int32Array(2);
    const b = new Int32Array(2);
    if (this.libc.pipe2(a, O_NONBLOCK | O_CLOEXEC) !== 0) return undefined;
    if (this.libc.pipe2(b, O_NONBLOCK | O_CLOEXEC) !== 0) {
      this.libc.close(a[0]!);
      this.libc.close(a[1]!);
      return undefined;
    }
    // Refused (an unprivileged user over fs.pipe-user-pages-soft): the pipes keep what they got.
    this.libc.fcntl(a[0]!, F_SETPIPE_SZ, PIPE_SIZE);
    this.libc.fcntl(b[0]!, F_SETPIPE_SZ, PIPE_SIZE);
    const size = Math.min(this.libc.fcntl(a[0]!, F_GETPIPE_SZ, 0), this.libc.fcntl(b[0]!, F_GETPIPE_SZ, 0));
    const pipes = { ab: [a[0]!, a[1]!] as [number, number], ba: [b[0]!, b[1]!] as [number, number], size };
    // Past that limit the kernel hands out pipes of a page or two, where splice would crawl: JS relays better.
    if (!(size >= MIN_PIPE_SIZE)) {
      this.closePipes(pipes);
      return undefined;
    }
    return pipes;
  }

  closePipes(p: { ab: [number, number]; ba: [number, number] }): void {
    for (const fd of [...p.ab, ...p.ba]) this.libc.close(fd);
  }

  busy(fd: number): boolean {
    return this.busyFds.has(fd);
  }

  add(entry: Omit<Entry, "id">, msg: AddMessage): Entry {
    const e = entry as Entry;
    e.id = this.nextId++;
    if (this.dead) {
      // The worker died since the caller got this pump: nobody will answer, so answer here (a turn
      // later: the caller does not hold the entry yet).
      queueMicrotask(() => e.onDone({ t: "done", id: e.id, aborted: true, moved: [0, 0] }));
      return e;
    }
    this.entries.set(e.id, e);
    for (const fd of e.fds) this.busyFds.add(fd);
    if (this.entries.size === 1) {
      this.worker.ref();
      this.port.ref();
    }
    this.send(Object.assign({}, msg, { id: e.id }));
    return e;
  }

  abort(e: Entry): void {
    if (e.abortSent || e.released) return;
    e.abortSent = true;
    this.send({ t: "abort", id: e.id });
  }

  private send(m: ToWorker): void {
    if (this.dead) return;
    this.port.postMessage(m);
    this.libc.write(this.kickFd, this.kickValue, 8);
  }

  private onMessage(m: ToMain): void {
    if (m.t === "progress") {
      this.entries.get(m.id)?.onProgress?.(m.moved);
      return;
    }
    if (m.t !== "done") return;
    const e = this.entries.get(m.id);
    if (!e) return;
    this.entries.delete(m.id);
    for (const fd of e.fds) this.busyFds.delete(fd);
    if (this.entries.size === 0) {
      this.worker.unref();
      this.port.unref();
    }
    e.onDone(m);
  }

  /** Ends the worker (as a crash would, for tests of that path). */
  async terminate(): Promise<void> {
    this.send({ t: "stop" });
    await this.worker.terminate();
  }

  /** The worker is gone: no fd is watched any more, so every spliced connection can be closed. */
  private die(reason: string): void {
    if (this.dead) return;
    this.dead = reason;
    if (pump === this) pump = undefined;
    markUnavailable(reason, true);
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.busyFds.clear();
    for (const e of entries) e.onDone({ t: "done", id: e.id, aborted: true, moved: [0, 0] });
  }
}

let pump: Pump | undefined;
let unavailable: string | undefined;

/**
 * The worker next to this module: dist/splice-worker.js beside the bundle, or
 * core/platform/splice-worker.ts when the sources run under tsx (tests). A worker does
 * not inherit tsx's loader hooks on Node 20, so then it registers them first.
 */
function startWorker(options: { workerData: unknown; transferList: MessagePort[] }): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./splice-worker.js", import.meta.url), options);
  const source = new URL("./splice-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(source)}));`;
  return new Worker(code, Object.assign({}, options, { eval: true }));
}

function getPump(): Pump | undefined {
  // Once unavailable (disabled by the start-up check included), new relays go through JS.
  if (unavailable) return undefined;
  if (pump) return pump;
  const libc = loadLibc();
  if (typeof libc === "string") {
    markUnavailable(libc, false);
    return undefined;
  }
  const kickFd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kickFd < 0) {
    markUnavailable(`eventfd failed (errno ${libc.errno()})`, false);
    return undefined;
  }
  try {
    const { port1, port2 } = new MessageChannel();
    const worker = startWorker({ workerData: { port: port2, kickFd }, transferList: [port2] });
    pump = new Pump(libc, worker, port1, kickFd);
  } catch (err) {
    libc.close(kickFd);
    markUnavailable(`cannot start the splice worker: ${(err as Error).message}`, false);
  }
  return pump;
}

type UnavailableListener = (reason: string, failed: boolean) => void;
const unavailableListeners: UnavailableListener[] = [];

/**
 * Calls `listener` once, when splice turns out to be unavailable in this
 * process: `failed` true when the worker died while in use (the relays it held
 * were closed) or the start-up check disabled it (guardNodeInternals), false
 * when it could not start (not Linux, koffi missing).
 */
export function onSpliceUnavailable(listener: UnavailableListener): () => void {
  unavailableListeners.push(listener);
  return () => {
    const i = unavailableListeners.indexOf(listener);
    if (i !== -1) unavailableListeners.splice(i, 1);
  };
}

function markUnavailable(reason: string, failed: boolean): void {
  if (unavailable) return;
  unavailable = reason;
  for (const l of unavailableListeners.splice(0)) l(reason, failed);
}

/**
 * Turns the kernel relay off for this process (new relays and transfers go through JS; those
 * running go on): for a Node whose internals are not what this module relies on. Listeners hear
 * `reason` with `failed` true, so that the proxy warns.
 */
export function disableSplice(reason: string): void {
  markUnavailable(reason, true);
}

let internalsChecked: Promise<string[]> | undefined;

/**
 * The start-up guard: runs `check` (checkNodeInternals, once per process for the default) and,
 * when an assumption no longer holds, disables the kernel relay. Resolves with what failed (empty
 * when all holds); never rejects. `check` is a parameter so tests can inject a failure.
 */
export function guardNodeInternals(check: () => Promise<string[]> = checkNodeInternals): Promise<string[]> {
  const run = () =>
    check().then((broken) => {
      if (broken.length > 0)
        disableSplice(`Node ${process.version}'s internals are not as expected: ${broken.join("; ")}`);
      return broken;
    });
  if (check !== checkNodeInternals) return run();
  internalsChecked ??= run();
  return internalsChecked;
}

/** Ends the worker as a crash would: for tests of what then happens (its connections close, later ones use JS). */
export async function endSpliceWorker(): Promise<void> {
  await pump?.terminate();
}

/** Why splice is not used in this process, once it was tried; undefined while it works (or was not needed yet). */
export function spliceUnavailable(): string | undefined {
  return unavailable;
}

/** Open both ways, nothing ended yet: an end already read or written would have to be replayed by hand. */
function intact(socket: net.Socket): boolean {
  return readableIntact(socket) && !socket.writableEnded;
}

/** What Node had already read into the socket's buffer. */
function takeBuffered(socket: net.Socket): Buffer[] {
  const out: Buffer[] = [];
  let chunk: Buffer | null;
  while (socket.readableLength > 0 && (chunk = socket.read() as Buffer | null) !== null) out.push(chunk);
  return out;
}

/** Writes `data` and resolves once every pending write on the socket reached the kernel (false: the socket failed). */
function flush(socket: net.Socket, data: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve(false);
      return;
    }
    if (data.length === 0 && socket.writableLength === 0) {
      resolve(true);
      return;
    }
    socket.write(data, (err) => resolve(!err && !socket.destroyed));
  });
}

function systemError(f: SpliceFailure): NodeJS.ErrnoException {
  let name: string;
  try {
    name = getSystemErrorName(-f.errno);
  } catch {
    name = `errno ${f.errno}`;
  }
  const err = new Error(`${f.op} ${name}`) as NodeJS.ErrnoException;
  err.errno = -f.errno;
  err.code = name;
  err.syscall = f.op;
  return err;
}

/**
 * Relays `client` and `server` in the kernel, after writing the bytes already
 * read from each side. Returns undefined when this pair cannot be spliced
 * (the caller relays in JS); otherwise the promise resolves when both sockets
 * are closed.
 */
export function spliceRelay(
  client: net.Socket,
  server: net.Socket,
  fromClient: Buffer,
  fromServer: Buffer,
): Promise<void> | undefined {
  if (!spliceStats.enabled) return undefined;
  const hc = rawStreamHandle(client);
  const hs = rawStreamHandle(server);
  if (!hc || !hs || !intact(client) || !intact(server)) return undefined;
  const p = getPump();
  if (!p || p.busy(hc.fd) || p.busy(hs.fd)) return undefined;
  const pipes = p.makePipes();
  if (!pipes) return undefined;

  return new Promise((resolve) => {
    let open = 2;
    const closed = () => {
      if (--open === 0) resolve();
    };
    let entry: Entry | undefined;
    const fail = () => {
      client.destroy();
      server.destroy();
    };
    client.on("error", fail);
    server.on("error", fail);
    // Closing is the worker's word (its `done`) or a failure before the hand-off: either way both go.
    client.once("close", () => {
      server.destroy();
      closed();
    });
    server.once("close", () => {
      client.destroy();
      closed();
    });

    stopReading(client, hc);
    stopReading(server, hs);
    const toServer = Buffer.concat([fromClient, ...takeBuffered(client)]);
    const toClient = Buffer.concat([fromServer, ...takeBuffered(server)]);
    void Promise.all([flush(server, toServer), flush(client, toClient)]).then(([a, b]) => {
      if (!a || !b || client.destroyed || server.destroyed || hc.fd < 0 || hs.fd < 0) {
        p.closePipes(pipes);
        fail();
        return;
      }
      entry = p.add(
        {
          fds: [hc.fd, hs.fd],
          released: false,
          deferred: [],
          abortSent: false,
          onDone: (msg) => {
            const e = entry!;
            e.released = true;
            spliceStats.movedClientToServer += msg.moved[0];
            spliceStats.movedServerToClient += msg.moved[1];
            for (const run of e.deferred.splice(0)) run();
            // Closed in the JS relay's order: the failing socket first (its error handler closes the
            // other); on a clean end the client, whose close closes the server, so the log reads
            // `client disconnect`, then `server disconnect`.
            if (msg.error) (msg.error.side === 0 ? client : server).destroy(systemError(msg.error));
            else client.destroy();
          },
        },
        { t: "add", a: hc.fd, b: hs.fd, ab: pipes.ab, ba: pipes.ba, pipeSize: pipes.size },
      );
      spliceStats.spliced++;
      // A destroy() from anywhere else (session end, proxy shutdown) waits until the worker let go of
      // the fds. The sockets are never handed back, so their destroy stays held. (rawStreamHandle
      // saw both sockets' _destroy, so the hold cannot be refused.)
      holdForWorker(client, () => entry!, p);
      holdForWorker(server, () => entry!, p);
    });
  });
}

/**
 * Makes destroy() of `socket` wait for the worker (see holdDestroy): run at once when the worker let
 * go, else deferred until it does (and the worker told to stop). Returns the undo; a no-op when the
 * socket has no `_destroy` to hold (rawStreamHandle checked it before).
 */
function holdForWorker(
  socket: net.Socket,
  entry: () => Entry,
  p: Pump,
  destroyed?: (err: Error | null) => void,
): () => void {
  const undo = holdDestroy(socket, (err, proceed) => {
    const e = entry();
    if (e.released) {
      proceed();
      return;
    }
    destroyed?.(err);
    e.deferred.push(proceed);
    p.abort(e);
  });
  return undo ?? (() => {});
}

/** Open for reading: nothing read past the end yet (the end would have to be replayed); unknown counts as ended. */
function readableIntact(socket: net.Socket): boolean {
  return !socket.destroyed && !socket.connecting && readEnded(socket) === false;
}

/** Open for writing. */
function writableIntact(socket: net.Socket): boolean {
  return !socket.destroyed && !socket.connecting && !socket.writableEnded;
}

/**
 * Writes `chunks` and resolves once they and every write before them reached the kernel: true,
 * or false when the socket failed or either socket closed first. Waiting for the write callback
 * also waits out a cork (Node's http ServerResponse corks the socket until the next tick).
 */
function writeThrough(dst: net.Socket, chunks: Buffer[], src: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    if (dst.destroyed || src.destroyed) {
      resolve(false);
      return;
    }
    const data = chunks.filter((c) => c.length > 0);
    if (data.length === 0 && dst.writableLength === 0) {
      resolve(true);
      return;
    }
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      dst.off("close", closed);
      src.off("close", closed);
      resolve(ok);
    };
    const closed = () => settle(false);
    dst.once("close", closed);
    src.once("close", closed);
    const last = data.pop() ?? Buffer.alloc(0);
    for (const c of data) dst.write(c);
    dst.write(last, (err) => settle(!err && !dst.destroyed && !src.destroyed));
  });
}

/** Why a spliceBytes transfer failed; `srcEnded` when src simply ended before `length` bytes. */
export class TransferError extends Error {
  srcEnded = false;
  constructor(message: string, cause?: unknown) {
    super(`spliceBytes: ${message}`, cause === undefined ? undefined : { cause });
  }
}

function transferError(message: string, cause?: unknown): TransferError {
  return new TransferError(message, cause);
}

/**
 * Moves exactly `length` bytes from `src` to `dst`: first the `first` buffers (bytes already read
 * into JS, they count toward `length`), then whatever Node still holds in src's readable buffer (up
 * to what is left of `length`), then the rest moved by the worker thread between the two fds
 * (read/write through its buffer: see splice-worker.ts for why not splice here). Both must be raw
 * TCP sockets (not TLS), open.
 *
 * Before the worker starts it waits until dst's pending Node writes are flushed (a cork by Node's http
 * ServerResponse until the next tick included), and stops src's handle reading. Nothing is shut down
 * or closed: on success both sockets are handed back to Node — src not reading (paused, its reading
 * restored so that a later src.resume() reads normally again), dst writable as before.
 *
 * Resolves when all `length` bytes were written to dst's kernel buffer. Rejects (an Error with a
 * clear message, and `code`/`errno`/`syscall` where the system gave one) when src ends or fails
 * before `length` bytes, dst fails, or either socket is destroyed meanwhile (a destroy() during the
 * transfer waits until the worker let go of the fds, then the promise rejects); after a rejection
 * both sockets may be destroyed at once.
 *
 * Returns undefined, touching nothing, when splicing is not possible: not Linux, koffi not loaded,
 * a TLS or otherwise non-raw socket, either socket not open (src's end already read, dst ended),
 * src holding more bytes in Node than `length` leaves, a socket already in the worker's hands, or
 * spliceStats.enabled false. The caller then streams in JS.
 *
 * While the transfer runs, nobody else may read src (the caller takes its 'data'/'end' listeners
 * off: draining Node's buffer here emits 'data') or write dst. Throws a RangeError for a `length`
 * that is not a non-negative safe integer or smaller than `first`'s bytes.
 */
export function spliceBytes(
  src: net.Socket,
  dst: net.Socket,
  length: number,
  first: Buffer[],
): Promise<void> | undefined {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`spliceBytes: bad length ${length}`);
  const firstBytes = first.reduce((n, b) => n + b.length, 0);
  if (firstBytes > length)
    throw new RangeError(`spliceBytes: first holds ${firstBytes} bytes, more than length ${length}`);
  if (!spliceStats.enabled || src === dst) return undefined;
  const hs = rawStreamHandle(src);
  const hd = rawStreamHandle(dst);
  if (!hs || !hd || !readableIntact(src) || !writableIntact(dst)) return undefined;
  const buffered = src.readableLength;
  if (firstBytes + buffered > length) return undefined;
  const p = getPump();
  if (!p || p.busy(hs.fd) || p.busy(hd.fd)) return undefined;
  const rest = length - firstBytes - buffered;

  // Committed: from here on the sockets are ours until the promise settles.
  const resumable = pauseReading(src, hs);
  const drained = takeBuffered(src);
  return writeThrough(dst, [...first, ...drained], src).then((ok) => {
    if (!ok || src.destroyed || dst.destroyed || hs.fd < 0 || hd.fd < 0) {
      resumable();
      throw transferError(`${src.destroyed ? "src" : "dst"} closed or failed before the transfer started`);
    }
    if (rest === 0) {
      resumable();
      return;
    }
    return kernelPart(p, src, dst, hs.fd, hd.fd, rest, length, resumable);
  });
}

/** The worker moves `rest` bytes src -> dst; settles once it let go of the fds. */
function kernelPart(
  p: Pump,
  src: net.Socket,
  dst: net.Socket,
  srcFd: number,
  dstFd: number,
  rest: number,
  length: number,
  resumable: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let destroyedBy: { socket: "src" | "dst"; err: Error | null } | undefined;
    const restore: Array<() => void> = [];
    const before = length - rest;
    // Its callbacks run a turn later at the earliest (p.add never calls them itself).
    const entry: Entry = p.add(
      {
        fds: [srcFd, dstFd],
        released: false,
        deferred: [],
        abortSent: false,
        onProgress: () => {
          // Bytes flow while Node sees none: keep the sockets' idle timeouts (setTimeout) from firing.
          touchIdleTimer(src);
          touchIdleTimer(dst);
        },
        onDone: (msg) => {
          const e = entry;
          e.released = true;
          for (const undo of restore.splice(0)) undo();
          resumable();
          spliceStats.bytesMoved += msg.moved[0];
          for (const run of e.deferred.splice(0)) run();
          const done = before + msg.moved[0];
          if (msg.moved[0] === rest) {
            // Every byte was handed over: a destroy or an abort that came after (the client, done
            // reading, closed before this message arrived) does not undo the transfer.
            resolve();
          } else if (destroyedBy) {
            reject(
              transferError(
                `${destroyedBy.socket} was destroyed during the transfer (${done} of ${length} bytes)`,
                destroyedBy.err ?? undefined,
              ),
            );
          } else if (msg.error?.op === "eof") {
            const err = transferError(`src ended after ${done} of ${length} bytes`);
            err.srcEnded = true;
            reject(err);
          } else if (msg.error) {
            const cause = systemError(msg.error);
            const err = transferError(
              `${msg.error.side === 0 ? "reading src" : "writing dst"} failed after ${done} of ${length} bytes: ${cause.message}`,
              cause,
            ) as NodeJS.ErrnoException;
            err.code = cause.code;
            err.errno = cause.errno;
            err.syscall = cause.syscall;
            reject(err);
          } else if (msg.aborted) {
            reject(
              transferError(`the splice worker stopped (${p.dead ?? "aborted"}) after ${done} of ${length} bytes`),
            );
          } else {
            reject(transferError(`the worker moved ${msg.moved[0]} bytes, not ${rest}`));
          }
        },
      },
      { t: "bytes", src: srcFd, dst: dstFd, length: rest },
    );
    spliceStats.transfers++;
    restore.push(
      holdForWorker(
        src,
        () => entry,
        p,
        (err) => (destroyedBy ??= { socket: "src", err }),
      ),
      holdForWorker(
        dst,
        () => entry,
        p,
        (err) => (destroyedBy ??= { socket: "dst", err }),
      ),
    );
  });
}
