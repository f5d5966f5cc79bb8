// The origin server of every workload, in its own process so that its CPU is
// not the load generator's or the proxy's. It speaks just enough HTTP/1.1 over
// raw sockets (no llhttp, no http.ServerResponse) to stay far ahead of any
// proxy in front of it:
//   GET /                    -> 200, 100-byte body (keep-alive)
//   GET /big?bytes=N         -> 200, N bytes written from one pre-allocated buffer with back-pressure
//   POST /sink (Content-Length: N) -> the N body bytes dropped as they come, then 200 "received N"
//                               (an upload that lost bytes never gets its answer); other methods and
//                               paths with a body: the body dropped, then the 100-byte answer
// on plain TCP and on TLS (one certificate for every SNI: it answers any name).
// Prints {"httpPort":..,"httpsPort":..} on stdout once listening.
//
// Usage: node --import tsx bench/origin.ts CERT.pem KEY.pem
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) {
  process.stderr.write("usage: origin.ts CERT KEY\n");
  process.exit(2);
}

const SMALL_BODY = Buffer.alloc(100, "x");
const SMALL = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${SMALL_BODY.length}\r\n\r\n`, "latin1"),
  SMALL_BODY,
]);
const CHUNK = Buffer.alloc(256 * 1024, "b");
const CRLFCRLF = Buffer.from("\r\n\r\n");

function serve(sock: net.Socket): void {
  sock.setNoDelay(true);
  sock.on("error", () => {});
  let pending: Buffer | undefined;
  let busy = false; // a big body is being written; requests behind it wait
  let sinkLeft = 0; // request body bytes still to come and be dropped
  let sinkTotal = 0;
  let sinkAnswer = false; // answer "received N" once they came

  const handle = () => {
    if (!pending || busy) return;
    const buf = pending;
    pending = undefined;
    let off = 0;
    let small = 0;
    const flushSmall = () => {
      if (small === 0) return;
      sock.write(small === 1 ? SMALL : Buffer.concat(Array(small).fill(SMALL)));
      small = 0;
    };
    while (off < buf.length) {
      const end = buf.indexOf(CRLFCRLF, off);
      if (end < 0) break;
      const head = buf.toString("latin1", off, end);
      off = end + 4;
      const lineEnd = head.indexOf("\r\n");
      const line = lineEnd < 0 ? head : head.slice(0, lineEnd);
      const method = line.slice(0, line.indexOf(" "));
      const target = line.slice(line.indexOf(" ") + 1, line.lastIndexOf(" "));
      if (method !== "GET" && method !== "HEAD") {
        // Skip a declared body (it may be far larger than this chunk), then answer.
        flushSmall();
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        sinkTotal = sinkLeft = m ? Number(m[1]) : 0;
        sinkAnswer = target.includes("/sink");
        pending = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
        if (pending) {
          const rest = pending;
          pending = undefined;
          drop(rest);
        } else if (sinkLeft === 0) endSink();
        return;
      }
      const big = target.indexOf("/big");
      if (big >= 0) {
        flushSmall();
        const q = /[?&]bytes=(\d+)/.exec(target);
        const total = q ? Number(q[1]) : 1 << 30;
        busy = true;
        if (off < buf.length) pending = Buffer.from(buf.subarray(off));
        sendBig(sock, total, method === "HEAD", () => {
          busy = false;
          handle();
        });
        return;
      }
      small++;
    }
    flushSmall();
    if (off < buf.length) {
      pending = Buffer.from(buf.subarray(off));
      if (pending.length > 65536) sock.destroy();
    }
  };

  /** Drops request body bytes; what follows the body is the next request. */
  const drop = (chunk: Buffer) => {
    const n = Math.min(sinkLeft, chunk.length);
    sinkLeft -= n;
    if (sinkLeft > 0) return;
    endSink();
    if (n < chunk.length) {
      pending = pending ? Buffer.concat([pending, chunk.subarray(n)]) : Buffer.from(chunk.subarray(n));
      handle();
    }
  };
  const endSink = () => {
    if (sinkAnswer) {
      const text = `received ${sinkTotal}`;
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
      sinkAnswer = false;
    } else sock.write(SMALL);
  };

  sock.on("data", (chunk: Buffer) => {
    if (sinkLeft > 0) {
      drop(chunk);
      return;
    }
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    handle();
  });
}

function sendBig(sock: net.Socket, total: number, headOnly: boolean, done: () => void): void {
  sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`);
  let left = headOnly ? 0 : total;
  const pump = () => {
    while (left > 0) {
      if (sock.destroyed) return;
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!sock.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        sock.once("drain", pump);
        return;
      }
    }
    done();
  };
  pump();
}

const plain = net.createServer({ noDelay: true }, serve);
const secure = tls.createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile), ALPNProtocols: ["http/1.1"] },
  serve,
);
secure.on("tlsClientError", () => {});
plain.maxConnections = secure.maxConnections = 100_000;

await Promise.all([
  new Promise<void>((r) => plain.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, r)),
  new Promise<void>((r) => secure.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, r)),
]);
const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
process.stdout.write(`${JSON.stringify({ httpPort: port(plain), httpsPort: port(secure), pid: process.pid })}\n`);
// Ends with its parent: a benchmark must never leave servers behind.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
