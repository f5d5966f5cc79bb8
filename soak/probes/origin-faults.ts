// origin faults: servers that misbehave (reset in the middle of a body, a
// garbage status line, no answer at all, a close right after the head, a
// certificate nobody trusts, a TLS handshake that never ends...). The client
// must get a 502/504, or a clean close once the head was passed on, within
// a bounded time; and the proxy must keep nothing of those exchanges.
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { addFinding, count, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { freePort } from "../../bench/lib/procs.ts";
import { HOST, listen, reset, tcp, tlsOver, trackSockets, tunnel, Wire, type Closable } from "../lib/net.ts";

type Behaviour = (s: net.Socket, path: string) => void;

const BODY = Buffer.alloc(1000, 0x62);

/** What each path of the fault origin does once it has a request head. */
const FAULTS: Record<string, { what: string; act: Behaviour }> = {
  "reset-mid-body": {
    what: "sends a head with Content-Length: 100000, 1000 bytes of body, then resets the connection",
    act: (s) => {
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
      s.write(BODY, () => setTimeout(() => reset(s), 50));
    },
  },
  "garbage-status": {
    what: "answers a garbage status line",
    act: (s) => s.end("HTPT/1.1 2x0 WHAT\r\nContent-Length: 2\r\n\r\nhi"),
  },
  "binary-garbage": {
    what: "answers 200 bytes of binary garbage",
    act: (s) => s.end(Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff))),
  },
  "bad-content-length": {
    what: "answers Content-Length: abc",
    act: (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello"),
  },
  "bad-chunked": {
    what: "answers a chunked body with a bad chunk size",
    act: (s) => s.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
  },
  "no-answer": { what: "reads the request and never answers (the connection stays open)", act: () => {} },
  "close-after-headers": {
    what: "sends a head with Content-Length: 1000, then closes",
    act: (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
  },
  "partial-head": { what: "sends half a status line, then closes", act: (s) => s.end("HTTP/1.1 200 OK\r\nContent-Le") },
  "close-without-answer": { what: "closes without answering", act: (s) => s.end() },
  "reset-without-answer": { what: "resets the connection without answering", act: (s) => reset(s) },
  "huge-head": {
    what: "answers a 200 KB response head",
    act: (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(200_000)}\r\nContent-Length: 0\r\n\r\n`),
  },
  "slow-head": {
    what: "trickles its response head, one byte a second, never finishing it",
    act: (s) => {
      s.write("HTTP/1.1 200 OK\r\nX-Slow: ");
      const t = setInterval(() => (s.writable ? s.write("a") : clearInterval(t)), 1000);
      s.once("close", () => clearInterval(t));
    },
  },
  "stalled-body": {
    what: "sends a head with Content-Length: 1000, 10 bytes, then nothing (the connection stays open)",
    act: (s) => s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"),
  },
};

interface FaultOrigins extends Closable {
  slow: number;
  http: number;
  https: number;
  badCert: number;
  stalledTls: number;
  refused: number;
}

/**
 * Slow but healthy: reads an upload at about 1.6 MB/s (10 MB: some 6 s) before answering, or sends a 10 MB
 * download at 1 MB/s. The server is never idle, so no idle timeout may end these exchanges.
 */
function slowHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url!.includes("slow-download")) {
    res.writeHead(200, { "content-length": SLOW_BYTES });
    let sent = 0;
    const t = setInterval(() => {
      res.write(Buffer.alloc(100_000, 0x64));
      sent += 100_000;
      if (sent >= SLOW_BYTES) {
        clearInterval(t);
        res.end();
      }
    }, 100);
    res.on("close", () => clearInterval(t));
    return;
  }
  let n = 0;
  req.on("data", (c: Buffer) => {
    n += c.length;
    req.pause();
    setTimeout(() => req.resume(), 40);
  });
  req.on("end", () => res.end(`got ${n}`));
}

const SLOW_BYTES = 10_000_000;

function faultHandler(s: net.Socket): void {
  s.on("error", () => {});
  let buf = "";
  const onData = (d: Buffer) => {
    buf += d.toString("latin1");
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    s.off("data", onData);
    const path = /^\S+ (?:https?:\/\/[^/]+)?\/([^ ?]*)/.exec(buf)?.[1] ?? "";
    const fault = FAULTS[path];
    if (fault) fault.act(s, path);
    else s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  };
  s.on("data", onData);
}

async function startFaultOrigins(ctx: Ctx): Promise<FaultOrigins> {
  const plain = net.createServer(faultHandler);
  const secure = tls.createServer({ key: ctx.certs.key, cert: ctx.certs.cert }, faultHandler);
  const bad = tls.createServer({ key: ctx.certs.untrusted.key, cert: ctx.certs.untrusted.cert }, faultHandler);
  // Accepts TCP and never says a word: a TLS handshake with it never ends.
  const stalled = net.createServer((s) => s.on("error", () => {}));
  for (const t of [secure, bad]) t.on("tlsClientError", () => {});
  const slow = http.createServer(slowHandler);
  const servers = [plain, secure, bad, stalled, slow];
  const closers = servers.map(trackSockets);
  const [plainPort, https, badCert, stalledTls, slowPort] = await Promise.all(servers.map(listen));
  return {
    slow: slowPort!,
    http: plainPort!,
    https: https!,
    badCert: badCert!,
    stalledTls: stalledTls!,
    refused: await freePort(),
    close: async () => void (await Promise.all(closers.map((c) => c.close()))),
  };
}

interface Outcome {
  status?: number;
  closed: boolean;
  seconds: number;
  error?: string;
}

/** One request for `path` through the proxy to `port`, plain or over TLS: what the client saw, and when. */
async function probe(ctx: Ctx, port: number, secure: boolean, path: string, boundS: number): Promise<Outcome> {
  const t0 = Date.now();
  let w: Wire;
  try {
    if (secure) {
      const t = await tunnel(ctx.proxy.port, `${HOST}:${port}`, boundS * 1000);
      w = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }, boundS * 1000));
      w.write(`GET /${path} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
    } else {
      w = new Wire(await tcp(ctx.proxy.port));
      w.write(`GET http://${HOST}:${port}/${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`);
    }
  } catch (e) {
    return { closed: true, seconds: (Date.now() - t0) / 1000, error: (e as Error).message };
  }
  // A status line, or the end of the connection.
  await w.until(() => w.gone || /^HTTP\/1\.[01] \d{3}/.test(w.data.toString("latin1", 0, 12)), boundS * 1000);
  const head = w.data.toString("latin1", 0, 12);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
  const out: Outcome = {
    status: status ? Number(status) : undefined,
    closed: w.gone,
    seconds: (Date.now() - t0) / 1000,
  };
  w.destroy();
  return out;
}

function acceptable(o: Outcome): boolean {
  return o.status === 502 || o.status === 504 || (o.status === undefined && o.closed) || (o.status === 200 && o.closed);
}

/** A slow but healthy origin, each way and through the buffering and the streaming proxy: it must get through. */
async function slowOrigins(ctx: Ctx, r: FamilyResult, o: FaultOrigins, rows: string[], reps: number): Promise<void> {
  const streamed = await ctx.startProxy("slow-streamed", { extra: ["--set", "stream_large_bodies=1m"] });
  const cases = [
    { name: "slow reader of a 10 MB upload (~1.6 MB/s)", up: true },
    { name: "slow sender of a 10 MB download (1 MB/s)", up: false },
  ];
  await Promise.all(
    cases.flatMap((c) =>
      [ctx.proxy, streamed].map(async (proxy) => {
        const mode = proxy === ctx.proxy ? "buffered" : "streamed";
        const seen: string[] = [];
        for (let i = 0; i < reps; i++) {
          const t0 = Date.now();
          const w = new Wire(await tcp(proxy.port));
          const target = `http://${HOST}:${o.slow}/${c.up ? "slow-upload" : "slow-download"}`;
          w.write(
            `${c.up ? "POST" : "GET"} ${target} HTTP/1.1\r\nHost: ${HOST}:${o.slow}\r\n${c.up ? `Content-Length: ${SLOW_BYTES}\r\n` : ""}\r\n`,
          );
          if (c.up) w.write(Buffer.alloc(SLOW_BYTES, 0x75));
          const done = () => (c.up ? w.data.includes(`got ${SLOW_BYTES}`) : w.received >= SLOW_BYTES + 40);
          await w.until(() => done() || w.gone, 60_000);
          const head = w.data.toString("latin1", 0, 12);
          seen.push(
            done()
              ? `ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`
              : `${head.slice(9, 12) || "nothing"} after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
          );
          w.destroy();
        }
        count(r, "requests to slow origins", reps);
        const bad = seen.filter((x) => !x.startsWith("ok"));
        rows.push(
          `| ${c.name} (${mode} proxy) | HTTP | ${seen.join(", ")} | — | ${bad.length ? "**not ok**" : "ok"} |`,
        );
        if (!bad.length) return;
        r.failures += bad.length;
        addFinding(r, {
          kind: "failure",
          title: `a slow but working origin (${c.name}) gets cut off by the ${mode} proxy`,
          detail:
            `The origin ${c.up ? "reads the 10 MB upload steadily at about 1.6 MB/s and answers once it has all of it" : "sends the 10 MB body steadily at 1 MB/s"}; ` +
            `it is never idle. Seen: ${seen.join(", ")}.` +
            (c.up
              ? ` The proxy's "server did not answer within idle_timeout" timer runs while the server is still reading the request body, so an upload ` +
                `that takes the server longer than idle_timeout (${ctx.idleTimeoutS} s here, 300 s by default) to read fails with a 504.`
              : ""),
          figure: `${bad.length} of ${seen.length}: ${bad[0]}`,
          repro: repro(ctx, "origin-faults"),
          count: bad.length,
        });
      }),
    ),
  );
}

export const originFaults: Family = {
  id: "origin-faults",
  title: "misbehaving origins",
  method: (ctx) =>
    `Fault origins on loopback (plain, TLS with a trusted certificate, TLS with a certificate from a CA nobody trusts, a TCP server ` +
    `that never speaks, a port nobody listens on). Each fault is asked for through the proxy over HTTP (absolute form) and HTTPS ` +
    `(CONNECT + TLS), ${ctx.quick ? 1 : 3} time(s) each; the client must get a 502 or 504 — or, once a head was passed on, a clean ` +
    `close — within ${ctx.quick ? 12 : 45} s. Faults: ${Object.entries(FAULTS)
      .map(([k, v]) => `\`${k}\` (${v.what})`)
      .join(", ")}. ` +
    "And two slow but healthy origins, through the buffering proxy and a streaming one (`stream_large_bodies=1m`): one reads a 10 MB upload " +
    "at about 1.6 MB/s before answering, one sends a 10 MB download at 1 MB/s; both must get through (200, every byte).",
  deadlineMs: (ctx) => (ctx.quick ? 60 : 300) * 1000,
  async run(ctx, r) {
    const o = await startFaultOrigins(ctx);
    const boundS = ctx.quick ? 12 : 45;
    const reps = ctx.quick ? 1 : 3;
    const rows = ["| fault | scheme | client saw | seconds | |", "|---|---|---|---:|---|"];
    const cases: Array<{ name: string; port: number; secure: boolean; path: string }> = [];
    for (const path of Object.keys(FAULTS)) {
      cases.push({ name: path, port: o.http, secure: false, path }, { name: path, port: o.https, secure: true, path });
    }
    cases.push(
      { name: "untrusted certificate", port: o.badCert, secure: true, path: "ok" },
      { name: "TLS handshake never answered", port: o.stalledTls, secure: true, path: "ok" },
      { name: "TCP server that never answers (plain)", port: o.stalledTls, secure: false, path: "ok" },
      { name: "connection refused", port: o.refused, secure: false, path: "ok" },
      { name: "connection refused", port: o.refused, secure: true, path: "ok" },
    );
    try {
      await slowOrigins(ctx, r, o, rows, reps);
      // All at once: the slow ones (no answer) run side by side.
      const results = await Promise.all(
        cases.flatMap((c) =>
          Array.from({ length: reps }, async () => ({ c, o: await probe(ctx, c.port, c.secure, c.path, boundS) })),
        ),
      );
      for (const c of cases) {
        const mine = results.filter((x) => x.c === c).map((x) => x.o);
        const bad = mine.filter((x) => !acceptable(x));
        const seen = mine.map((x) =>
          x.status
            ? String(x.status)
            : x.error
              ? `error: ${x.error}`
              : x.closed
                ? "closed"
                : `nothing within ${boundS} s`,
        );
        const secs = mine.map((x) => x.seconds.toFixed(1)).join(", ");
        const scheme = c.secure ? "HTTPS" : "HTTP";
        rows.push(
          `| ${c.name} | ${scheme} | ${[...new Set(seen)].join(" / ").replace(/\|/g, "/")} | ${secs} | ${bad.length ? "**not ok**" : "ok"} |`,
        );
        count(r, "requests to faulty origins", mine.length);
        if (!bad.length) continue;
        r.failures += bad.length;
        const hang = bad.some((x) => x.status === undefined && !x.closed && !x.error);
        addFinding(r, {
          kind: hang ? "hang" : "failure",
          title: `origin fault "${c.name}" over ${scheme}: ${hang ? `the client gets no answer and no close within ${boundS} s` : `the client gets ${seen[0]}`}`,
          detail:
            `${FAULTS[c.path]?.what ?? c.name}. Expected: a 502 or 504 (or a clean close once a head was passed on) within ${boundS} s. Seen: ${seen.join(", ")} after ${secs} s.` +
            (hang
              ? " Nothing in the proxy times out a server that does not answer: each such request holds a client connection and a server connection for ever."
              : ""),
          figure: `${bad.length} of ${mine.length}: ${seen[0]} after ${mine[0]!.seconds.toFixed(1)} s`,
          repro: repro(ctx, "origin-faults"),
          count: bad.length,
        });
      }
    } finally {
      await o.close();
    }
    r.extra = rows.join("\n");
  },
};
