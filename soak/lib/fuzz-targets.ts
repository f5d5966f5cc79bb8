// The fuzzer's targets: how to open a connection to the parser under test
// (straight to a listener, through a CONNECT tunnel, after a WebSocket
// upgrade, after the HTTP/2 preface), how to make the next mutated input from
// valid ones, and how to tell that the proxy has dealt with everything sent.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../bench/lib/procs.ts";
import { ResponseReader } from "../../bench/lib/http1.ts";
import type { Ctx } from "./family.ts";
import {
  FLAG,
  H2,
  h2frame,
  h2Ping,
  h2RandomFrame,
  h2Settings,
  H2_PREFACE,
  socksHello,
  wsFrame,
  WS_OP,
  wsRandomFrame,
} from "./frames.ts";
import { mutate } from "./mutate.ts";
import { parseRequests } from "./origins.ts";
import { parseClientHello } from "../../core/tls/clienthello.ts";
import { HOST, tcp, tunnel, Wire } from "./net.ts";
import type { Rng } from "./prng.ts";

/** A quick run makes this fraction of a full run's inputs. */
export const QUICK_SHARE = 100;

export interface Session {
  wire: Wire;
  /** Inputs (requests, frames) sent, and answers counted (target-specific). */
  sent: number;
  answers: number;
  /** What the proxy sent could not be parsed (it answered something else). */
  unparsable: boolean;
  /** HTTP/2: the next client stream; WebSocket: where to look for the next sentinel. */
  stream: number;
  scan: number;
  /** The bytes of the last sentinel, to look for in the answers. */
  expect: Buffer | undefined;
  /** The connection's setup (CONNECT, upgrade, preface), for the saved case. */
  preamble: string;
}

export interface FuzzTarget {
  name: string;
  what: string;
  /** Inputs in a full run (a quick run makes 1/QUICK_SHARE of them). */
  inputs: number;
  perConn: number;
  /** Inputs written at once before waiting for the proxy (then a sentinel, if the protocol has one). */
  batch: number;
  concurrency: number;
  /** Opens a connection ready for inputs; `rng` is the connection's own (the same on a replay). */
  open(ctx: Ctx, rng: Rng): Promise<Session>;
  next(rng: Rng, s: Session, ctx: Ctx): Buffer;
  /** Written after a batch; its answer shows the proxy got through the batch. */
  sentinel?(s: Session, n: number): Buffer;
  /** The proxy has answered everything sent so far. */
  answered(s: Session): boolean;
  /** What state a connection's inputs leave the parser in (for grouping hangs). */
  classify?(inputs: Buffer): string;
}

/** Where HTTP/1 bytes leave a reader: a complete head waiting for its body, an incomplete head, bad framing. */
export function classifyHttp(data: Buffer): string {
  if (data.subarray(0, H2_PREFACE.length).equals(H2_PREFACE))
    return "the HTTP/2 connection preface (an h2c session starts)";
  const p = parseRequests(data);
  if (p.error) return "a request whose framing a strict reader refuses";
  const rest = data.subarray(data.length - p.leftover);
  if (rest.includes("\r\n\r\n") || rest.includes("\n\n"))
    return "a request whose head is complete but whose body is not (Content-Length or chunked framing unfinished)";
  if (rest.length > 0) return "an incomplete request head";
  return "complete requests";
}

function classifyHello(data: Buffer): string {
  const p = parseClientHello(data);
  return p.status === "incomplete"
    ? "a ClientHello whose length fields promise more bytes than were sent"
    : p.status === "complete"
      ? "a complete ClientHello"
      : "bytes that are not a ClientHello";
}

function session(wire: Wire, preamble: string): Session {
  return { wire, sent: 0, answers: 0, unparsable: false, stream: 1, scan: 0, expect: undefined, preamble };
}

/** HTTP/1: counts complete responses as they arrive (an unparsable one ends the counting). */
function countResponses(s: Session): void {
  const reader = new ResponseReader(() => s.answers++);
  s.wire.socket.on("data", (d: Buffer) => {
    if (s.unparsable) return;
    try {
      reader.feed(d);
    } catch {
      s.unparsable = true;
    }
  });
}

function h1Bases(authority: string, absolute: boolean): Buffer[] {
  const t = (p: string) => (absolute ? `http://${authority}${p}` : p);
  const h = `Host: ${authority}\r\n`;
  const body = "name=value&other=%20x";
  return [
    `GET ${t("/fz/a?q=1")} HTTP/1.1\r\n${h}User-Agent: soak/1\r\nAccept: */*\r\n\r\n`,
    `GET ${t("/fz/b")} HTTP/1.1\r\n${h}Accept-Language: en;q=0.8\r\nCookie: a=1; b=2\r\nIf-None-Match: "x"\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n`,
    `POST ${t("/fz/c")} HTTP/1.1\r\n${h}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `POST ${t("/fz/d")} HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n`,
    `HEAD ${t("/fz/e")} HTTP/1.1\r\n${h}\r\n`,
    `PUT ${t("/fz/f")} HTTP/1.1\r\n${h}Content-Length: 0\r\n\r\n`,
    `OPTIONS ${t("/fz/g")} HTTP/1.1\r\n${h}Connection: keep-alive\r\n\r\n`,
    `DELETE ${t("/fz/h")} HTTP/1.1\r\n${h}Accept-Encoding: gzip, br\r\n\r\n`,
  ].map((s) => Buffer.from(s, "latin1"));
}

function chunkedBase(rng: Rng, authority: string, absolute: boolean): { bytes: Buffer; headEnd: number } {
  const head = `POST ${absolute ? `http://${authority}/fz/chunked` : "/fz/chunked"} HTTP/1.1\r\nHost: ${authority}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  let body = "";
  for (let i = rng.int(4); i >= 0; i--) {
    const n = rng.pick([1, 5, 16, 100, 255]);
    const ext = rng.chance(0.3) ? `;e${i}=${rng.chance(0.5) ? '"q"' : "v"}` : "";
    body += `${n.toString(16)}${ext}\r\n${"c".repeat(n)}\r\n`;
  }
  body += `0\r\n${rng.chance(0.3) ? "X-T: 1\r\n" : ""}\r\n`;
  return { bytes: Buffer.from(head + body, "latin1"), headEnd: head.length };
}

function h1Target(name: string, inTunnel: boolean, inputs: number): FuzzTarget {
  let bases: Buffer[] | undefined;
  return {
    name,
    what: inTunnel
      ? "HTTP/1 request heads and bodies in origin form, inside a CONNECT tunnel to the HTTP origin"
      : "HTTP/1 request heads and bodies in absolute form, straight to the regular listener",
    inputs,
    perConn: 40,
    batch: 1,
    concurrency: 384,
    async open(ctx) {
      const authority = `${HOST}:${ctx.app.httpPort}`;
      bases ??= h1Bases(authority, !inTunnel);
      const sock = inTunnel ? await tunnel(ctx.proxy.port, authority) : await tcp(ctx.proxy.port);
      const s = session(new Wire(sock), inTunnel ? `CONNECT ${authority}` : "none (regular listener)");
      countResponses(s);
      return s;
    },
    next(rng, s) {
      s.sent++;
      return mutate(rng, rng.pick(bases!), "text", { others: bases });
    },
    answered: (s) => s.unparsable || s.answers >= s.sent,
    classify: classifyHttp,
  };
}

function chunkedTarget(inputs: number): FuzzTarget {
  return {
    name: "chunked",
    what: "chunked request bodies (sizes, extensions, trailers, terminators), half absolute form, half in a CONNECT tunnel",
    inputs,
    perConn: 40,
    batch: 1,
    concurrency: 384,
    async open(ctx, rng) {
      const authority = `${HOST}:${ctx.app.httpPort}`;
      const inTunnel = rng.chance(0.5);
      const sock = inTunnel ? await tunnel(ctx.proxy.port, authority) : await tcp(ctx.proxy.port);
      const s = session(new Wire(sock), inTunnel ? `CONNECT ${authority}` : "none (regular listener)");
      s.stream = inTunnel ? 0 : 1; // absolute form or not
      countResponses(s);
      return s;
    },
    next(rng, s, ctx) {
      s.sent++;
      const base = chunkedBase(rng, `${HOST}:${ctx.app.httpPort}`, s.stream === 1);
      return mutate(rng, base.bytes, "text", { from: base.headEnd });
    },
    answered: (s) => s.unparsable || s.answers >= s.sent,
    classify: classifyHttp,
  };
}

let hellos: Buffer[] | undefined;
function clientHellos(): Buffer[] {
  const dir = join(ROOT, "test/fixtures/clienthello");
  hellos ??= readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
  return hellos;
}

function tlsTarget(name: string, inTunnel: boolean, inputs: number): FuzzTarget {
  return {
    name,
    what: inTunnel
      ? "TLS ClientHellos (mutated real ones from test/fixtures/clienthello) as a CONNECT tunnel's first bytes"
      : "TLS ClientHellos (mutated real ones) straight to the regular listener (a client speaking TLS to the proxy)",
    inputs,
    perConn: 1,
    batch: 1,
    concurrency: 512,
    async open(ctx) {
      const authority = `${HOST}:${ctx.app.httpsPort}`;
      const sock = inTunnel ? await tunnel(ctx.proxy.port, authority) : await tcp(ctx.proxy.port);
      return session(new Wire(sock), inTunnel ? `CONNECT ${authority}` : "none (regular listener)");
    },
    next(rng, s) {
      s.sent++;
      const all = clientHellos();
      return mutate(rng, rng.pick(all), "binary", { max: 4, others: all });
    },
    answered: (s) => s.wire.received > 0,
    classify: classifyHello,
  };
}

function socksTarget(inputs: number): FuzzTarget {
  return {
    name: "socks5",
    what: "SOCKS5 greetings and CONNECT requests (to the HTTP origin, by address or by name), with a request after them",
    inputs,
    perConn: 1,
    batch: 1,
    concurrency: 512,
    async open(ctx) {
      return session(new Wire(await tcp(ctx.proxy.socksPort!)), "none (SOCKS5 listener)");
    },
    next(rng, s, ctx) {
      s.sent++;
      const base = socksHello(ctx.app.httpPort, rng.chance(0.3));
      const withRequest = rng.chance(0.3)
        ? Buffer.concat([base, Buffer.from(`GET /fz/socks HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)])
        : base;
      return mutate(rng, withRequest, "binary", { max: 3 });
    },
    // The method choice is 2 bytes; anything more is the reply to the request (or a refusal).
    answered: (s) => s.wire.received > 2 || (s.wire.received >= 2 && s.wire.data[1] === 0xff),
    classify: () => "SOCKS5 bytes after which the proxy waits for more",
  };
}

/** Looks for the sentinel's bytes in what arrived since the last one. */
function sawSentinel(s: Session): boolean {
  if (!s.expect) return true;
  const i = s.wire.data.indexOf(s.expect, s.scan);
  if (i < 0) return false;
  s.scan = i + s.expect.length;
  s.expect = undefined;
  return true;
}

function wsTarget(inputs: number): FuzzTarget {
  return {
    name: "websocket",
    what: "WebSocket client frames (mutated text, binary, ping, pong and fragmented messages) after a real upgrade through the proxy to the ws echo origin",
    inputs,
    perConn: 240,
    batch: 8,
    concurrency: 192,
    async open(ctx) {
      const authority = `${HOST}:${ctx.ws.port}`;
      const wire = new Wire(await tcp(ctx.proxy.port));
      const upgrade =
        `GET http://${authority}/fz HTTP/1.1\r\nHost: ${authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      wire.write(upgrade);
      const ok = await wire.until(() => wire.data.includes("\r\n\r\n") || wire.gone, 15_000);
      if (!ok || !wire.data.subarray(0, 12).toString("latin1").includes(" 101")) {
        wire.destroy();
        throw new Error(
          `WebSocket upgrade through the proxy failed: ${JSON.stringify(wire.data.toString("latin1").slice(0, 80))}`,
        );
      }
      const s = session(wire, `upgrade: ${upgrade.trim()}`);
      s.scan = wire.data.indexOf("\r\n\r\n") + 4;
      return s;
    },
    next(rng, s) {
      s.sent++;
      return mutate(rng, wsRandomFrame(rng), "binary", { max: 2 });
    },
    sentinel(s, n) {
      const text = Buffer.from(`SENTINEL-${n}-${s.sent}`);
      s.expect = text;
      return wsFrame(WS_OP.text, text, { mask: Buffer.from([1, 2, 3, 4]) });
    },
    answered: sawSentinel,
  };
}

function h2Target(inputs: number): FuzzTarget {
  return {
    name: "h2c",
    what: "HTTP/2 frames (HEADERS, CONTINUATION, DATA, SETTINGS, WINDOW_UPDATE, PRIORITY, RST_STREAM, PING) after the h2c prior-knowledge preface in a CONNECT tunnel to the HTTP/1 origin",
    inputs,
    perConn: 240,
    batch: 8,
    concurrency: 192,
    async open(ctx) {
      const authority = `${HOST}:${ctx.app.httpPort}`;
      const wire = new Wire(await tunnel(ctx.proxy.port, authority));
      wire.write(Buffer.concat([H2_PREFACE, h2Settings()]));
      // The proxy's SETTINGS frame.
      const ok = await wire.until(() => wire.received >= 9 || wire.gone, 15_000);
      if (!ok || wire.data[3] !== H2.SETTINGS) {
        wire.destroy();
        throw new Error(`no HTTP/2 SETTINGS from the proxy after the h2c preface (got ${wire.received} bytes)`);
      }
      wire.write(h2frame(H2.SETTINGS, FLAG.ACK, 0));
      return session(
        wire,
        `CONNECT ${authority}, then the h2c preface and an empty SETTINGS frame (and the ACK of the proxy's)`,
      );
    },
    next(rng, s, ctx) {
      s.sent++;
      s.stream += 2;
      return mutate(rng, h2RandomFrame(rng, s.stream, `${HOST}:${ctx.app.httpPort}`), "binary", { max: 2 });
    },
    sentinel(s, n) {
      const data = Buffer.alloc(8);
      data.writeUInt32BE(n);
      data.writeUInt32BE(s.sent, 4);
      s.expect = Buffer.concat([Buffer.from([0, 0, 8, H2.PING, FLAG.ACK, 0, 0, 0, 0]), data]);
      return h2Ping(data);
    },
    answered: sawSentinel,
  };
}

/** Every target and its share of a full run's inputs (103,000 in all: a target stopped early still leaves 100,000). */
export function fuzzTargets(): FuzzTarget[] {
  return [
    h1Target("http1", false, 27_000),
    h1Target("http1-tunnel", true, 10_000),
    chunkedTarget(16_000),
    tlsTarget("tls", false, 5_000),
    tlsTarget("tls-tunnel", true, 5_000),
    socksTarget(8_000),
    wsTarget(16_000),
    h2Target(16_000),
  ];
}
