// The load generators that wrk cannot be (wrk has no CONNECT): one process per
// measurement, configured by a JSON argument, printing JSON lines on stdout
// (the last one is the result). Every loop stops at a request count AND a
// deadline, and the process exits by itself at its hard deadline.
//
// Modes:
//   newconn   B1: a new TCP (+ CONNECT) + TLS connection per request, `concurrency` workers
//   keepalive B2: `conns` keep-alive connections, one request in flight on each
//   download  C/E: one GET of a large body, counted and discarded
//   upload    E: one POST of a large body (written from one buffer with back-pressure), the answer read
//   first     D: one new connection + request per server name, in sequence
//   hold      F: hold `conns` idle keep-alive connections; driven phase by phase over stdin
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { getRequest, Http1Conn, open, postHead, ResponseReader, type Resp, type Target } from "./lib/http1.ts";

export interface Base {
  target: Target;
  /** The process exits (code 3) after this long whatever happens. */
  hardDeadlineMs: number;
}
export interface NewConn extends Base {
  mode: "newconn";
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxCount: number;
}
export interface KeepAlive extends Base {
  mode: "keepalive";
  conns: number;
  warmupMs: number;
  durationMs: number;
  maxCount: number;
}
export interface Download extends Base {
  mode: "download";
  path: string;
  deadlineMs: number;
}
export interface Upload extends Base {
  mode: "upload";
  path: string;
  bytes: number;
  deadlineMs: number;
}
export interface First extends Base {
  mode: "first";
  names: string[];
  warmNames: string[];
  deadlineMs: number;
}
export interface Hold extends Base {
  mode: "hold";
  conns: number;
  setupConcurrency: number;
  fresh: number;
  deadlineMs: number;
}
export type ClientConfig = NewConn | KeepAlive | Download | Upload | First | Hold;

const cfg = JSON.parse(process.argv[2] ?? "{}") as ClientConfig;
setTimeout(() => {
  emit({ error: `client hard deadline (${cfg.hardDeadlineMs} ms) reached` });
  process.exit(3);
}, cfg.hardDeadlineMs).unref();

function emit(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const now = () => performance.now();

function summary(lat: number[]): { p50: number; p99: number } {
  const v = [...lat].sort((a, b) => a - b);
  const at = (p: number) =>
    v.length ? v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]! : NaN;
  return { p50: at(50), p99: at(99) };
}

function errText(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

/** One request on a brand-new connection; resolves with its latency in ms. */
async function freshRequest(t: Target, servername?: string, hostHeader?: string): Promise<number> {
  const t0 = now();
  const sock = await open(t, servername);
  const conn = new Http1Conn(sock);
  try {
    const r = await conn.request(getRequest(t, "/", hostHeader));
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return now() - t0;
  } finally {
    conn.close();
  }
}

async function newconn(c: NewConn): Promise<object> {
  let phaseEnd = now() + c.warmupMs;
  let measuring = false;
  let count = 0;
  let errors = 0;
  let attempts = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  const worker = async () => {
    while (attempts < c.maxCount && now() < phaseEnd) {
      if (measuring) attempts++;
      try {
        const ms = await freshRequest(c.target);
        if (measuring && now() <= phaseEnd) {
          count++;
          lat.push(ms);
        }
      } catch (e) {
        if (measuring) errors++;
        firstError ??= errText(e);
      }
    }
  };
  if (c.warmupMs > 0) await Promise.all(Array.from({ length: c.concurrency }, worker));
  measuring = true;
  const t0 = now();
  phaseEnd = t0 + c.durationMs;
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  const elapsed = Math.min(now(), phaseEnd) - t0;
  return { count, errors, firstError, elapsedMs: elapsed, rps: (count / elapsed) * 1000, ...summary(lat) };
}

async function keepalive(c: KeepAlive): Promise<object> {
  const conns: Http1Conn[] = [];
  for (let i = 0; i < c.conns; i++) conns.push(new Http1Conn(await open(c.target)));
  const req = getRequest(c.target, "/");
  let phaseEnd = now() + c.warmupMs;
  let measuring = false;
  let count = 0;
  let errors = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  const worker = async (i: number) => {
    while (count < c.maxCount && now() < phaseEnd) {
      const t0 = now();
      try {
        const r = await conns[i]!.request(req);
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        if (measuring) {
          count++;
          if (lat.length < 1_000_000) lat.push(now() - t0);
        }
      } catch (e) {
        errors++;
        firstError ??= errText(e);
        if (conns[i]!.closed) {
          // Reconnect (counted as an error) rather than stop the worker.
          try {
            conns[i] = new Http1Conn(await open(c.target));
          } catch (e2) {
            firstError ??= errText(e2);
            return;
          }
        }
      }
    }
  };
  if (c.warmupMs > 0) await Promise.all(conns.map((_, i) => worker(i)));
  measuring = true;
  errors = 0;
  const t0 = now();
  phaseEnd = t0 + c.durationMs;
  await Promise.all(conns.map((_, i) => worker(i)));
  const elapsed = now() - t0;
  for (const conn of conns) conn.close();
  return { count, errors, firstError, elapsedMs: elapsed, rps: (count / elapsed) * 1000, ...summary(lat) };
}

async function download(c: Download): Promise<object> {
  const t0 = now();
  const sock = await open(c.target);
  const tConnected = now();
  return new Promise((resolve) => {
    let ttfb: number | undefined;
    let bytesSeen = 0;
    let settled = false;
    const finish = (r: object) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const reader = new ResponseReader(
      (r: Resp) => {
        const ms = now() - t0;
        finish({
          status: r.status,
          bytes: r.bodyLength,
          ms,
          connectMs: tConnected - t0,
          ttfbMs: ttfb,
          mbps: r.bodyLength / 1e6 / (ms / 1000),
          body: r.body ? r.body.subarray(0, 500).toString("utf8") : undefined,
        });
      },
      false,
      (status) => status !== 200,
    );
    const timer = setTimeout(() => {
      finish({
        timedOut: true,
        bytes: bytesSeen,
        ms: now() - t0,
        ttfbMs: ttfb,
        error: `no complete response within ${c.deadlineMs} ms`,
      });
    }, c.deadlineMs);
    sock.on("data", (chunk: Buffer) => {
      ttfb ??= now() - t0;
      bytesSeen += chunk.length;
      try {
        reader.feed(chunk);
      } catch (e) {
        finish({ error: errText(e), bytes: bytesSeen, ms: now() - t0 });
      }
    });
    const onEnd = (why: string) => () => {
      if (!reader.end())
        finish({
          error: `connection ${why} before the response was complete`,
          bytes: bytesSeen,
          ms: now() - t0,
          ttfbMs: ttfb,
        });
    };
    sock.on("end", onEnd("ended"));
    sock.on("close", onEnd("closed"));
    sock.on("error", (e) => finish({ error: errText(e), bytes: bytesSeen, ms: now() - t0 }));
    sock.write(getRequest(c.target, c.path));
  });
}

const UPLOAD_CHUNK = Buffer.alloc(256 * 1024, "u");

/** Writes `bytes` of body from one buffer, waiting for drain; resolves when all were handed to the socket. */
function writeBody(sock: Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = bytes;
    const onClose = () => reject(new Error(`connection closed with ${left} body bytes unsent`));
    sock.once("close", onClose);
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, UPLOAD_CHUNK.length);
        left -= n;
        if (!sock.write(n === UPLOAD_CHUNK.length ? UPLOAD_CHUNK : UPLOAD_CHUNK.subarray(0, n))) {
          sock.once("drain", pump);
          return;
        }
      }
      sock.off("close", onClose);
      resolve();
    };
    pump();
  });
}

async function upload(c: Upload): Promise<object> {
  const t0 = now();
  const sock = await open(c.target);
  const conn = new Http1Conn(sock);
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no complete answer within ${c.deadlineMs} ms`)), c.deadlineMs).unref(),
  );
  try {
    const answer = conn.request(postHead(c.target, c.path, c.bytes), true);
    const sent = writeBody(sock, c.bytes);
    // Whichever loses the races below rejects later, when the connection is closed.
    answer.catch(() => {});
    sent.catch(() => {});
    await Promise.race([sent, answer, deadline]);
    const tSent = now();
    const r = await Promise.race([answer, deadline]);
    const ms = now() - t0;
    const body = r.body?.subarray(0, 500).toString("utf8") ?? "";
    const received = Number(/^received (\d+)$/.exec(body)?.[1] ?? NaN);
    return {
      status: r.status,
      bytes: c.bytes,
      received,
      sentMs: tSent - t0,
      ms,
      mbps: c.bytes / 1e6 / (ms / 1000),
      body,
    };
  } catch (e) {
    return { error: errText(e), bytes: c.bytes, ms: now() - t0, timedOut: /no complete answer/.test(errText(e)) };
  } finally {
    conn.close();
  }
}

async function first(c: First): Promise<object> {
  const end = now() + c.deadlineMs;
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const run = async (names: string[], record: boolean) => {
    for (const name of names) {
      if (now() > end) return;
      try {
        const ms = await freshRequest(c.target, name, `${name}:${c.target.port}`);
        if (record) lat.push(ms);
      } catch (e) {
        if (record) errors++;
        firstError ??= `${name}: ${errText(e)}`;
      }
    }
  };
  await run(c.warmNames, false);
  await run(c.names, true);
  return { count: lat.length, errors, firstError, latencies: lat, ...summary(lat), timedOut: now() > end };
}

async function hold(c: Hold): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const commands: string[] = [];
  let wake: (() => void) | undefined;
  lines.on("line", (l) => {
    commands.push(l.trim());
    wake?.();
  });
  lines.on("close", () => process.exit(0));
  const next = async (): Promise<string> => {
    while (commands.length === 0) await new Promise<void>((r) => (wake = r));
    return commands.shift()!;
  };
  const freshSeries = async (n: number) => {
    const lat: number[] = [];
    let errors = 0;
    for (let i = 0; i < n; i++) {
      try {
        lat.push(await freshRequest(c.target));
      } catch {
        errors++;
      }
    }
    return { lat, errors };
  };

  // Warm the proxy (JIT, certificate cache) and measure a fresh request with nothing held.
  await freshSeries(10);
  const idle = await freshSeries(c.fresh);
  emit({ phase: "idle", freshIdle: idle.lat });

  if ((await next()) !== "open") return;
  const held: Http1Conn[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const deadline = now() + c.deadlineMs;
  const t0 = now();
  let started = 0;
  const req = getRequest(c.target, "/");
  const opener = async () => {
    while (started < c.conns && now() < deadline) {
      started++;
      try {
        const conn = new Http1Conn(await open(c.target));
        const r = await conn.request(req);
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        held.push(conn);
      } catch (e) {
        failed++;
        firstError ??= errText(e);
      }
    }
  };
  await Promise.all(Array.from({ length: c.setupConcurrency }, opener));
  emit({ phase: "held", held: held.length, failed, firstError, setupMs: now() - t0 });

  if ((await next()) !== "fresh") return;
  const fresh = await freshSeries(c.fresh);
  // A request on connections that were held idle (a sample of them).
  const reuse: number[] = [];
  for (let i = 0; i < Math.min(c.fresh, held.length); i++) {
    const conn = held[Math.floor((i * held.length) / c.fresh)]!;
    const t = now();
    try {
      await conn.request(req);
      reuse.push(now() - t);
    } catch {
      /* counted by absence */
    }
  }
  const stillOpen = held.filter((h) => !h.closed).length;
  emit({ phase: "done", fresh: fresh.lat, freshErrors: fresh.errors, reuse, stillOpen });
  await next();
  for (const h of held) h.close();
  process.exit(0);
}

try {
  switch (cfg.mode) {
    case "newconn":
      emit(await newconn(cfg));
      break;
    case "keepalive":
      emit(await keepalive(cfg));
      break;
    case "download":
      emit(await download(cfg));
      break;
    case "upload":
      emit(await upload(cfg));
      break;
    case "first":
      emit(await first(cfg));
      break;
    case "hold":
      await hold(cfg);
      break;
    default:
      throw new Error(`unknown mode ${(cfg as { mode: string }).mode}`);
  }
  process.exit(0);
} catch (e) {
  emit({ error: errText(e) });
  process.exit(1);
}
