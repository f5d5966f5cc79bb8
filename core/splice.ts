import type * as net from "node:net";
import { getSystemErrorName } from "node:util";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { EFD_CLOEXEC, EFD_NONBLOCK, F_GETPIPE_SZ, F_SETPIPE_SZ, loadLibc, O_CLOEXEC, O_NONBLOCK, type Libc } from "./splice-libc.ts";
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
 * ways. Everything else takes the JS relay in passthrough.ts.
 */

/** The pipe size asked for per direction; the kernel may grant less (then that is used). */
const PIPE_SIZE = 512 * 1024;
/** Smaller pipes than the default (64 KiB) are not worth splicing through. */
const MIN_PIPE_SIZE = 64 * 1024;

interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStop?(): number;
}

interface Entry {
  id: number;
  client: net.Socket;
  server: net.Socket;
  /** The worker answered `done`: it no longer touches the fds. */
  released: boolean;
  /** destroy() calls that came while the worker owned the fds; run once it let go. */
  deferred: Array<() => void>;
  abortSent: boolean;
  onDone(msg: Extract<ToMain, { t: "done" }>): void;
}

/**
 * For tests: connections that went through the worker and the bytes it moved
 * each way; `enabled` false sends every relay through JS (to compare the two).
 */
export const spliceStats = { enabled: true, spliced: 0, movedClientToServer: 0, movedServerToClient: 0 };

class Pump {
  private readonly entries = new Map<number, Entry>();
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

  add(entry: Omit<Entry, "id">, a: number, b: number, pipes: { ab: [number, number]; ba: [number, number]; size: number }): Entry {
    const e = entry as Entry;
    e.id = this.nextId++;
    this.entries.set(e.id, e);
    if (this.entries.size === 1) {
      this.worker.ref();
      this.port.ref();
    }
    this.send({ t: "add", id: e.id, a, b, ab: pipes.ab, ba: pipes.ba, pipeSize: pipes.size });
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
    if (m.t !== "done") return;
    const e = this.entries.get(m.id);
    if (!e) return;
    this.entries.delete(m.id);
    if (this.entries.size === 0) {
      this.worker.unref();
      this.port.unref();
    }
    e.onDone(m);
  }

  /** The worker is gone: no fd is watched any more, so every spliced connection can be closed. */
  private die(reason: string): void {
    if (this.dead) return;
    this.dead = reason;
    if (pump === this) pump = undefined;
    unavailable = reason;
    for (const e of this.entries.values()) e.onDone({ t: "done", id: e.id, aborted: true, moved: [0, 0] });
    this.entries.clear();
  }
}

let pump: Pump | undefined;
let unavailable: string | undefined;

/**
 * The worker next to this module: dist/splice-worker.js beside the bundle, or
 * core/splice-worker.ts when the sources run under tsx (tests). A worker does
 * not inherit tsx's loader hooks on Node 20, so then it registers them first.
 */
function startWorker(options: { workerData: unknown; transferList: MessagePort[] }): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./splice-worker.js", import.meta.url), options);
  const source = new URL("./splice-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(source)}));`;
  return new Worker(code, { ...options, eval: true });
}

function getPump(): Pump | undefined {
  if (pump || unavailable) return pump;
  const libc = loadLibc();
  if (typeof libc === "string") {
    unavailable = libc;
    return undefined;
  }
  const kickFd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kickFd < 0) {
    unavailable = `eventfd failed (errno ${libc.errno()})`;
    return undefined;
  }
  try {
    const { port1, port2 } = new MessageChannel();
    const worker = startWorker({ workerData: { port: port2, kickFd }, transferList: [port2] });
    pump = new Pump(libc, worker, port1, kickFd);
  } catch (err) {
    libc.close(kickFd);
    unavailable = `cannot start the splice worker: ${(err as Error).message}`;
  }
  return pump;
}

/** Why splice is not used in this process, once it was tried; undefined while it works (or was not needed yet). */
export function spliceUnavailable(): string | undefined {
  return unavailable;
}

/** The socket's libuv TCP handle when its bytes are the wire's bytes (not TLS) and it has a file descriptor. */
function rawHandle(socket: net.Socket): StreamHandle | undefined {
  if ((socket as { encrypted?: boolean }).encrypted) return undefined;
  const h = (socket as unknown as { _handle?: StreamHandle })._handle;
  if (!h || typeof h.fd !== "number" || h.fd < 0 || typeof h.readStop !== "function") return undefined;
  return h;
}

/** Open both ways, nothing ended yet: an end already read or written would have to be replayed by hand. */
function intact(socket: net.Socket): boolean {
  const rs = (socket as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return !socket.destroyed && !socket.connecting && !rs?.ended && !socket.writableEnded;
}

/** libuv must not read the socket any more: the bytes now belong to the worker. */
function stopReading(socket: net.Socket, h: StreamHandle): void {
  socket.pause();
  // Nothing may restart the handle's reading (a read() or resume() calls _read).
  (socket as unknown as { _read: () => void })._read = () => {};
  h.reading = false;
  h.readStop!();
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
export function spliceRelay(client: net.Socket, server: net.Socket, fromClient: Buffer, fromServer: Buffer): Promise<void> | undefined {
  if (!spliceStats.enabled) return undefined;
  const hc = rawHandle(client);
  const hs = rawHandle(server);
  if (!hc || !hs || !intact(client) || !intact(server)) return undefined;
  const p = getPump();
  if (!p) return undefined;
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
      if (!a || !b || client.destroyed || server.destroyed || hc.fd! < 0 || hs.fd! < 0) {
        p.closePipes(pipes);
        fail();
        return;
      }
      entry = p.add(
        {
          client,
          server,
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
        hc.fd!,
        hs.fd!,
        pipes,
      );
      spliceStats.spliced++;
      // A destroy() from anywhere else (session end, proxy shutdown) waits until the worker let go of
      // the fds: closing an fd the worker still polls could hand its number to a new socket meanwhile.
      for (const socket of [client, server]) {
        const s = socket as unknown as { _destroy: (err: Error | null, cb: (err?: Error | null) => void) => void };
        const original = s._destroy;
        s._destroy = function (this: unknown, err, cb) {
          const e = entry!;
          if (e.released) {
            original.call(this, err, cb);
            return;
          }
          e.deferred.push(() => original.call(this, err, cb));
          p.abort(e);
        };
      }
    });
  });
}
