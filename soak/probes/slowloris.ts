// slowloris: hundreds of connections trickle request-head bytes (some faster
// than idle_timeout, some slower) while a normal client is served; then a
// table of idle timeouts: connections brought to each protocol state and left
// silent, and whether (and when) the proxy closes them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../bench/lib/procs.ts";
import { percentile, sleep } from "../../bench/lib/stats.ts";
import { addFinding, count, pool, range, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { FLAG, H2, h2frame, h2Headers, h2Settings, H2_PREFACE, socksHello } from "../lib/frames.ts";
import { normalRequest } from "../lib/health.ts";
import { HOST, tcp, tlsOver, tunnel, Wire } from "../lib/net.ts";

interface Trickler {
  wire: Wire;
  opened: number;
  closedAfter?: number;
}

async function trickle(ctx: Ctx, everyMs: number, until: number): Promise<Trickler | undefined> {
  let wire: Wire;
  try {
    wire = new Wire(await tcp(ctx.proxy.port));
  } catch {
    return undefined;
  }
  const t: Trickler = { wire, opened: Date.now() };
  const authority = `${HOST}:${ctx.app.httpPort}`;
  wire.write(`GET http://${authority}/slowloris HTTP/1.1\r\nHost: ${authority}\r\nX-Slow: `);
  void (async () => {
    while (Date.now() < until && !wire.gone) {
      await wire.until(() => wire.gone, everyMs);
      if (!wire.gone) wire.write("a");
    }
    if (wire.gone) t.closedAfter = (Date.now() - t.opened) / 1000;
  })();
  return t;
}

function summary(ts: Trickler[]): string {
  const closed = ts.filter((t) => t.closedAfter !== undefined).map((t) => t.closedAfter!);
  return `${closed.length} of ${ts.length} closed by the proxy${closed.length ? ` (median after ${percentile(closed, 50).toFixed(1)} s, last ${percentile(closed, 100).toFixed(1)} s)` : ""}`;
}

async function slowloris(ctx: Ctx, r: FamilyResult): Promise<void> {
  const n = ctx.quick ? 60 : 300;
  const seconds = ctx.quick ? 8 : 90;
  const fastMs = 1000;
  const slowMs = (ctx.idleTimeoutS + 3) * 1000;
  const until = Date.now() + seconds * 1000 + 5000;
  const fast: Trickler[] = [];
  const slow: Trickler[] = [];
  await pool(range(n), 50, ctx.deadline, async (i) => {
    const t = await trickle(ctx, i % 3 === 2 ? slowMs : fastMs, until);
    if (t) (i % 3 === 2 ? slow : fast).push(t);
    else count(r, "slowloris connections that could not be opened");
  });
  // A normal client meanwhile: a new connection per request, HTTP and HTTPS in turn.
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const t0 = Date.now();
    const v = await normalRequest(ctx, ctx.proxy.port, i % 2 === 1, `/during-slowloris-${i}`);
    if (v === "ok") latencies.push(Date.now() - t0);
    else errors.set(v.slice(0, 100), (errors.get(v.slice(0, 100)) ?? 0) + 1);
    await sleep(250);
  }
  await sleep(200);
  const failed = [...errors.values()].reduce((a, b) => a + b, 0);
  count(r, "slowloris connections", fast.length + slow.length);
  count(r, "normal requests meanwhile", latencies.length + failed);
  count(r, "normal requests that failed", failed);
  r.failures += failed;
  r.notes.push(
    `Slowloris, ${seconds} s: tricklers sending one head byte every ${fastMs / 1000} s (below idle_timeout): ${summary(fast)}; ` +
      `every ${slowMs / 1000} s (above idle_timeout): ${summary(slow)}. Normal requests meanwhile: ${latencies.length} ok ` +
      `(p50 ${percentile(latencies, 50)} ms, max ${percentile(latencies, 100)} ms), ${failed} failed.`,
  );
  for (const [why, k] of errors) {
    addFinding(r, {
      kind: "failure",
      title: `slowloris: a normal request fails while ${n} connections trickle heads`,
      detail: why,
      figure: `${k} of ${latencies.length + failed} requests failed`,
      repro: repro(ctx, "slowloris"),
      count: k,
    });
  }
  const openFast = fast.filter((t) => t.closedAfter === undefined).length;
  if (openFast > fast.length / 2) {
    addFinding(r, {
      kind: "unbounded",
      title:
        "slowloris: connections that trickle a request head faster than idle_timeout are never closed (no limit on the time to receive a head)",
      detail:
        `${fast.length} connections each sent one more byte of an unfinished request head every ${fastMs / 1000} s. The proxy closed ` +
        `${fast.length - openFast} of them in ${seconds} s. Each holds a descriptor and a parser for as long as the client likes: a slowloris ` +
        "client can use up the proxy's descriptors. (Node's own headersTimeout is not enforced: the HTTP server never listens, and its " +
        "connection checks start on 'listening'.)",
      figure: `${openFast} of ${fast.length} still open after ${seconds} s`,
      repro: repro(ctx, "slowloris"),
    });
  }
  const openSlow = slow.filter((t) => t.closedAfter === undefined).length;
  if (openSlow > 0) {
    addFinding(r, {
      kind: "hang",
      title: "slowloris: connections idle for longer than idle_timeout in the middle of a request head are not closed",
      detail: `${slow.length} connections each sent one more head byte every ${slowMs / 1000} s (idle_timeout=${ctx.idleTimeoutS} s); ${openSlow} were never closed.`,
      figure: `${openSlow} of ${slow.length} still open after ${seconds} s`,
      repro: repro(ctx, "slowloris"),
    });
  }
  for (const t of [...fast, ...slow]) t.wire.destroy();
}

/**
 * A protocol state a client can leave a connection in. The proxy must close every one of them once nothing
 * moved for idle_timeout: long-lived ones too (a WebSocket, an HTTP/2 session, a relayed TCP stream), as
 * mitmproxy closes any connection without activity (its watchdog, 10 minutes).
 */
interface IdleState {
  name: string;
  reach(ctx: Ctx): Promise<Wire>;
}

function hello(): Buffer {
  return readFileSync(join(ROOT, "test/fixtures/clienthello/curl-sni-http11.bin"));
}

async function answered(w: Wire, what: string, pred: () => boolean = () => w.data.includes("\r\n\r\n")): Promise<Wire> {
  if (!(await w.until(() => pred() || w.gone, 15_000)) || w.gone) {
    w.destroy();
    throw new Error(`${what}: no answer`);
  }
  return w;
}

/** h2c with prior knowledge in a CONNECT tunnel to the HTTP origin, SETTINGS exchanged. */
async function h2c(ctx: Ctx): Promise<Wire> {
  const w = new Wire(await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpPort}`));
  w.write(Buffer.concat([H2_PREFACE, h2Settings()]));
  await answered(w, "h2c preface", () => w.received >= 9);
  w.write(h2frame(H2.SETTINGS, FLAG.ACK, 0));
  return w;
}

async function viaTls(ctx: Ctx, alpn?: string[]): Promise<Wire> {
  const t = await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`);
  return new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile, alpn }));
}

const STATES: IdleState[] = [
  { name: "regular listener, nothing sent", reach: async (ctx) => new Wire(await tcp(ctx.proxy.port)) },
  { name: "SOCKS5 listener, nothing sent", reach: async (ctx) => new Wire(await tcp(ctx.proxy.socksPort!)) },
  {
    name: "a partial ClientHello straight to the regular listener",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      w.write(hello().subarray(0, 60));
      return w;
    },
  },
  {
    name: "TLS with the proxy itself (secure web proxy) done, nothing sent",
    reach: async (ctx) =>
      new Wire(await tlsOver(await tcp(ctx.proxy.port), { servername: "localhost", caFile: ctx.proxyCaFile })),
  },
  {
    name: "request head incomplete (absolute form)",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      w.write(`GET http://${HOST}:${ctx.app.httpPort}/idle HTTP/1.1\r\nHost: ${HOST}\r\n`);
      return w;
    },
  },
  {
    name: "request head complete, body incomplete (Content-Length: 100, 10 sent)",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      w.write(
        `POST http://${HOST}:${ctx.app.httpPort}/idle HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\n0123456789`,
      );
      return w;
    },
  },
  {
    name: "keep-alive after a complete response (plain HTTP)",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      w.write(`GET http://${HOST}:${ctx.app.httpPort}/idle HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      return answered(w, "GET", () => w.data.includes("ok /idle"));
    },
  },
  {
    name: "CONNECT answered, nothing sent in the tunnel",
    reach: async (ctx) => new Wire(await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`)),
  },
  {
    name: "CONNECT, then a partial ClientHello",
    reach: async (ctx) => {
      const w = new Wire(await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`));
      w.write(hello().subarray(0, 60));
      return w;
    },
  },
  { name: "CONNECT + TLS done, nothing sent", reach: (ctx) => viaTls(ctx) },
  {
    name: "CONNECT + TLS, request head incomplete",
    reach: async (ctx) => {
      const w = await viaTls(ctx);
      w.write("GET /idle HTTP/1.1\r\nHost: localhost\r\n");
      return w;
    },
  },
  {
    name: "CONNECT + TLS, keep-alive after a complete response",
    reach: async (ctx) => {
      const w = await viaTls(ctx);
      w.write("GET /idle HTTP/1.1\r\nHost: localhost\r\n\r\n");
      return answered(w, "GET", () => w.data.includes("ok /idle"));
    },
  },
  {
    name: "SOCKS5 greeting answered, request not sent",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.socksPort!));
      w.write(Buffer.from([5, 1, 0]));
      return answered(w, "SOCKS5 greeting", () => w.received >= 2);
    },
  },
  {
    name: "SOCKS5 tunnel established, nothing sent",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.socksPort!));
      w.write(socksHello(ctx.app.httpPort, false));
      return answered(w, "SOCKS5 request", () => w.received >= 12);
    },
  },
  {
    name: "HTTP/2 (h2c prior knowledge in a tunnel), session idle",
    reach: (ctx) => h2c(ctx),
  },
  {
    name: "HTTP/2 (h2c in a tunnel), a 1 MB response the client never reads (its window stays closed)",
    reach: async (ctx) => {
      const w = await h2c(ctx);
      w.write(h2Headers(1, `${HOST}:${ctx.app.httpPort}`, "/gen?n=1000000&k=idle-noread"));
      return answered(w, "the response's first window", () => w.received >= 65_535);
    },
  },
  {
    name: "HTTP/2 (h2c in a tunnel), after the proxy's GOAWAY for a bad frame, a request in flight",
    reach: async (ctx) => {
      const w = await h2c(ctx);
      const before = w.received;
      // A GET, then a frame header claiming 16 MiB (FRAME_SIZE_ERROR): nghttp2 sends GOAWAY and reads no more.
      w.write(h2Headers(1, `${HOST}:${ctx.app.httpPort}`, "/slow?ms=500"));
      w.write(Buffer.from([0xff, 0xff, 0xff, 0x44, 0, 0, 0, 0, 1]));
      return answered(w, "the GOAWAY", () => w.received > before);
    },
  },
  {
    name: "HTTP/2 over TLS (ALPN h2), session idle",
    reach: async (ctx) => {
      const w = await viaTls(ctx, ["h2"]);
      w.write(Buffer.concat([H2_PREFACE, h2Settings()]));
      return answered(w, "h2 preface", () => w.received >= 9);
    },
  },
  {
    name: "WebSocket upgraded, idle",
    reach: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      const a = `${HOST}:${ctx.ws.port}`;
      w.write(
        `GET http://${a}/ HTTP/1.1\r\nHost: ${a}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      return answered(w, "upgrade");
    },
  },
  {
    name: "raw TCP relay (non-HTTP bytes in a tunnel), idle",
    reach: async (ctx) => {
      const w = new Wire(await tunnel(ctx.proxy.port, `${HOST}:${ctx.recorder.port}`));
      w.write(Buffer.from([0, 1, 2, 3, 0x68, 0x69]));
      return w;
    },
  },
];

async function idleTable(ctx: Ctx, r: FamilyResult): Promise<string> {
  const k = ctx.quick ? 1 : 3;
  const boundS = ctx.quick ? ctx.idleTimeoutS * 2 + 5 : ctx.idleTimeoutS * 3 + 10;
  const rows = [`| connection state (left silent by the client) | closed by the proxy | after (s) |`, "|---|---|---|"];
  const results = await Promise.all(
    STATES.map(async (st) => {
      const wires = await Promise.all(
        range(k).map(() =>
          st.reach(ctx).then(
            (w) => ({ w, t: Date.now() }),
            (e: Error) => e,
          ),
        ),
      );
      const ok = wires.filter((x): x is { w: Wire; t: number } => !(x instanceof Error));
      const closedAfter = await Promise.all(
        ok.map(async ({ w, t }) => ((await w.waitGone(boundS * 1000)) ? (Date.now() - t) / 1000 : undefined)),
      );
      for (const { w } of ok) w.destroy();
      const failed = wires.filter((x) => x instanceof Error);
      return { st, closedAfter, failed };
    }),
  );
  for (const { st, closedAfter, failed } of results) {
    const closed = closedAfter.filter((x): x is number => x !== undefined);
    const open = closedAfter.length - closed.length;
    count(r, "idle connections left silent", closedAfter.length);
    rows.push(
      `| ${st.name} | ${failed.length ? `setup failed: ${failed[0]!.message.replace(/\|/g, "/")} · ` : ""}${closed.length} of ${closedAfter.length}${open ? ` (**${open} still open after ${boundS} s**)` : ""} | ${closed.length ? closed.map((x) => x.toFixed(1)).join(", ") : "—"} |`,
    );
    if (failed.length) r.failures += failed.length;
    if (open === 0) continue;
    r.failures += open;
    addFinding(r, {
      kind: "hang",
      title: `idle timeout: a connection left silent in the state "${st.name}" is never closed`,
      detail:
        `Brought to this state and left silent, the connection was still open ${boundS} s later (idle_timeout=${ctx.idleTimeoutS} s). ` +
        "Every such connection holds a descriptor (and often a server connection) for ever: a client can use up the proxy's descriptors.",
      figure: `${open} of ${closedAfter.length} still open after ${boundS} s`,
      repro: repro(ctx, "slowloris"),
      count: open,
    });
  }
  return rows.join("\n");
}

export const slowlorisFamily: Family = {
  id: "slowloris",
  title: "slowloris and idle timeouts",
  method: (ctx) =>
    `${ctx.quick ? 60 : 300} connections each send an unfinished request head and then one more byte at a time — two thirds every ` +
    `second (faster than idle_timeout=${ctx.idleTimeoutS} s), one third every ${ctx.idleTimeoutS + 3} s — for ${ctx.quick ? 8 : 90} s, ` +
    "while a normal client makes a request every 250 ms (a new connection each, HTTP and HTTPS in turn); the proxy should " +
    "serve the client and close the tricklers. Then the idle-timeout table: " +
    `${ctx.quick ? 1 : 3} connection(s) brought to each protocol state and left silent, watched for ${ctx.quick ? ctx.idleTimeoutS * 2 + 5 : ctx.idleTimeoutS * 3 + 10} s.`,
  deadlineMs: (ctx) => (ctx.quick ? 60 : 240) * 1000,
  async run(ctx, r) {
    if (ctx.quick) {
      // A smoke run: both at once.
      const [, table] = await Promise.all([slowloris(ctx, r), idleTable(ctx, r)]);
      r.extra = table;
      return;
    }
    await slowloris(ctx, r);
    r.extra = await idleTable(ctx, r);
  },
};
