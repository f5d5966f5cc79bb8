// many connections: 2,000 keep-alive HTTP and 2,000 HTTPS connections held at
// once through the proxy, then all closed: the proxy's descriptors and memory
// must come back near the baseline. Then clients that leave early, at every
// stage of an exchange: nothing of theirs may stay behind in the proxy.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../bench/lib/procs.ts";
import { sleep } from "../../bench/lib/stats.ts";
import { addFinding, count, pool, range, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { FD_SLACK, originPorts, pollUntil } from "../lib/health.ts";
import { H2_PREFACE, h2Headers, h2Settings } from "../lib/frames.ts";
import { HOST, reset, tcp, tlsOver, tunnel, Wire } from "../lib/net.ts";
import type { ProxyUnderTest } from "../lib/proxy.ts";
import { mib } from "../lib/sample.ts";

async function holdOne(ctx: Ctx, proxy: ProxyUnderTest, secure: boolean, i: number): Promise<Wire> {
  let w: Wire;
  if (secure) {
    const t = await tunnel(proxy.port, `${HOST}:${ctx.app.httpsPort}`, 60_000);
    w = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }, 60_000));
    w.write(`GET /held/${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  } else {
    w = new Wire(await tcp(proxy.port, 60_000));
    w.write(`GET http://${HOST}:${ctx.app.httpPort}/held/${i} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  }
  const ok = await w.until(() => w.data.includes(`ok /held/${i}`) || w.gone, 60_000);
  if (!ok || w.gone) {
    w.destroy();
    throw new Error(w.gone ? "closed before the answer" : "no answer within 60 s");
  }
  return w;
}

function ulimit(): number {
  return Number(spawnSync("bash", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim());
}

/** Waits (bounded) for the proxy's descriptors to come back within FD_SLACK of `base`; seconds taken or undefined. */
async function fdsBack(
  proxy: ProxyUnderTest,
  base: number,
  boundS: number,
  slack = FD_SLACK,
): Promise<number | undefined> {
  const t0 = Date.now();
  const ok = await pollUntil(() => (proxy.sample()?.fds ?? Infinity) <= base + slack, boundS * 1000);
  return ok ? (Date.now() - t0) / 1000 : undefined;
}

async function holdMany(ctx: Ctx, r: FamilyResult): Promise<void> {
  let n = ctx.quick ? 200 : 2000;
  const limit = ulimit();
  // The harness holds both ends of every connection (client and origin), the proxy two per client.
  if (limit < n * 4 + 500) {
    const fit = Math.floor((limit - 500) / 4);
    r.notes.push(`ulimit -n is ${limit}: ${fit} connections per scheme instead of ${n}.`);
    n = fit;
  }
  // A proxy of its own with a long idle_timeout: the held connections must stay open while the others are opened.
  const proxy = await ctx.startProxy("many", { idleTimeoutS: 300 });
  const base = proxy.sample()!;
  const wires: Wire[] = [];
  const errors = new Map<string, number>();
  const t0 = Date.now();
  for (const secure of [false, true]) {
    await pool(range(n), 64, ctx.deadline, async (i) => {
      try {
        wires.push(await holdOne(ctx, proxy, secure, i));
        count(r, `${secure ? "HTTPS" : "HTTP"} connections held`);
      } catch (e) {
        const k = `${secure ? "HTTPS" : "HTTP"}: ${(e as Error).message.replace(/\d+/g, "N")}`;
        errors.set(k, (errors.get(k) ?? 0) + 1);
      }
    });
  }
  const setupS = (Date.now() - t0) / 1000;
  await sleep(1000);
  const held = proxy.sample()!;
  // The held connections still work: one more request on a few of them.
  let reused = 0;
  for (const w of wires.filter((_, i) => i % Math.max(1, Math.floor(wires.length / 20)) === 0)) {
    const before = w.received;
    w.write(
      w.socket.constructor.name === "TLSSocket"
        ? "GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n"
        : `GET http://${HOST}:${ctx.app.httpPort}/again HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    );
    if ((await w.until(() => w.data.subarray(before).includes("ok /again") || w.gone, 15_000)) && !w.gone) reused++;
  }
  const closedMeanwhile = wires.filter((w) => w.gone).length;
  for (const w of wires) w.destroy();
  const backS = await fdsBack(proxy, base.fds, 30);
  const after = proxy.sample()!;
  r.notes.push(
    `Held ${wires.length} connections (opened in ${setupS.toFixed(0)} s, 64 at a time): proxy fds ${base.fds} → ${held.fds} → ${after.fds} ` +
      `after closing them all (${backS === undefined ? "not back near the baseline" : `back in ${backS.toFixed(1)} s`}); RSS ${mib(base.rss)} → ` +
      `${mib(held.rss)} → ${mib(after.rss)} MiB (${((held.rss - base.rss) / Math.max(1, wires.length) / 1024).toFixed(1)} KiB per held connection). ` +
      `A second request on ${reused} of 20-odd held connections succeeded; ${closedMeanwhile} held connections had been closed by the proxy by then. ` +
      "(These connections go through a proxy of their own started with idle_timeout=300, so that they stay open while the others are opened.)",
  );
  count(
    r,
    "connections that could not be opened",
    [...errors.values()].reduce((a, b) => a + b, 0),
  );
  for (const [why, k] of errors) {
    r.failures += k;
    addFinding(r, {
      kind: "failure",
      title: `many connections: opening a held connection failed (${why.slice(0, 80)})`,
      detail: why,
      figure: `${k} of ${n}`,
      repro: repro(ctx, "many-conns"),
      count: k,
    });
  }
  if (backS === undefined) {
    addFinding(r, {
      kind: "leak",
      title: "many connections: descriptors not released after 4,000 held connections were closed",
      detail: `After every client closed, the proxy still held ${after.fds} descriptors 30 s later (baseline ${base.fds}): ${JSON.stringify(proxy.describeFds(originPorts(ctx)))}.`,
      figure: `${base.fds} → ${held.fds} → ${after.fds} fds`,
      repro: repro(ctx, "many-conns"),
    });
  }
}

/** A way for a client to leave in the middle of an exchange. */
interface Leaver {
  name: string;
  go(ctx: Ctx): Promise<void>;
}

/** Sends `bytes` on `w`, waits `ms` (or for `pred`), then resets the connection. */
async function leave(w: Wire, bytes: string | Buffer | undefined, pred: () => boolean, ms: number): Promise<void> {
  if (bytes) w.write(bytes);
  await w.until(pred, ms);
  // A reset where the socket allows it (plain TCP): the harshest way to leave.
  reset(w.socket);
}

const LEAVERS: Leaver[] = [
  { name: "closes right after connecting", go: async (ctx) => void (await tcp(ctx.proxy.port)).destroy() },
  {
    name: "closes after half a request head",
    go: async (ctx) =>
      leave(new Wire(await tcp(ctx.proxy.port)), "GET http://127.0.0.1/ HTTP/1.1\r\nHo", () => false, 50),
  },
  {
    name: "closes while the origin is answering slowly (plain)",
    go: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      await leave(
        w,
        `GET http://${HOST}:${ctx.app.httpPort}/slow?ms=3000 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
        () => false,
        300,
      );
    },
  },
  {
    name: "closes in the middle of a download (plain)",
    go: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      await leave(
        w,
        `GET http://${HOST}:${ctx.app.httpPort}/gen?n=8000000&k=leave HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
        () => w.received > 100_000,
        5000,
      );
    },
  },
  {
    name: "closes in the middle of an upload (plain)",
    go: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      w.write(
        `POST http://${HOST}:${ctx.app.httpPort}/sink?k=leave HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1000000\r\n\r\n`,
      );
      await leave(w, Buffer.alloc(200_000, 1), () => false, 100);
    },
  },
  {
    name: "closes before the CONNECT answer",
    go: async (ctx) =>
      leave(
        new Wire(await tcp(ctx.proxy.port)),
        `CONNECT ${HOST}:${ctx.app.httpsPort} HTTP/1.1\r\n\r\n`,
        () => false,
        0,
      ),
  },
  {
    name: "closes during the TLS handshake in a tunnel",
    go: async (ctx) => {
      const t = await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`);
      const w = new Wire(t);
      await leave(
        w,
        readFileSync(join(ROOT, "test/fixtures/clienthello/curl-sni-http11.bin")),
        () => w.received > 0,
        2000,
      );
    },
  },
  {
    name: "closes while the origin is answering slowly (HTTPS)",
    go: async (ctx) => {
      const t = await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`);
      const w = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }));
      await leave(w, "GET /slow?ms=3000 HTTP/1.1\r\nHost: localhost\r\n\r\n", () => false, 300);
    },
  },
  {
    name: "closes in the middle of a download (HTTPS)",
    go: async (ctx) => {
      const t = await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`);
      const w = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }));
      await leave(
        w,
        "GET /gen?n=8000000&k=leave HTTP/1.1\r\nHost: localhost\r\n\r\n",
        () => w.received > 100_000,
        5000,
      );
    },
  },
  {
    name: "closes after the WebSocket upgrade",
    go: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.port));
      const a = `${HOST}:${ctx.ws.port}`;
      await leave(
        w,
        `GET http://${a}/ HTTP/1.1\r\nHost: ${a}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        () => w.data.includes("\r\n\r\n"),
        5000,
      );
    },
  },
  {
    name: "closes an HTTP/2 session (h2c in a tunnel) after one request",
    go: async (ctx) => {
      const a = `${HOST}:${ctx.app.httpPort}`;
      const w = new Wire(await tunnel(ctx.proxy.port, a));
      w.write(Buffer.concat([H2_PREFACE, h2Settings(), h2Headers(1, a, "/leave-h2")]));
      await leave(w, undefined, () => w.data.includes("ok /leave-h2"), 5000);
    },
  },
  {
    name: "closes an HTTP/2 session (h2c in a tunnel) in the middle of a frame",
    go: async (ctx) => {
      const a = `${HOST}:${ctx.app.httpPort}`;
      const w = new Wire(await tunnel(ctx.proxy.port, a));
      w.write(Buffer.concat([H2_PREFACE, h2Settings()]));
      await w.until(() => w.received >= 9 || w.gone, 5000);
      // A DATA frame header announcing 100 bytes, and 3 of them.
      await leave(w, Buffer.from([0, 0, 100, 0, 0, 0, 0, 0, 1, 0x61, 0x62, 0x63]), () => false, 100);
    },
  },
  {
    name: "closes an HTTP/2 session (TLS, ALPN h2) after one request",
    go: async (ctx) => {
      const t = await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`);
      const w = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile, alpn: ["h2"] }));
      w.write(Buffer.concat([H2_PREFACE, h2Settings(), h2Headers(1, `localhost:${ctx.app.httpsPort}`, "/leave-h2")]));
      await leave(w, undefined, () => w.data.includes("ok /leave-h2"), 5000);
    },
  },
  {
    name: "closes after the SOCKS5 greeting",
    go: async (ctx) => {
      const w = new Wire(await tcp(ctx.proxy.socksPort!));
      await leave(w, Buffer.from([5, 1, 0]), () => w.received >= 2, 2000);
    },
  },
];

async function earlyLeavers(ctx: Ctx, r: FamilyResult): Promise<void> {
  const per = ctx.quick ? 10 : 50;
  const rows = [
    "| client leaves… | times | proxy fds after (baseline) | back near the baseline |",
    "|---|---:|---|---|",
  ];
  // One baseline for every group (the family's): each group must leave nothing behind.
  const base = r.health?.before?.fds ?? ctx.proxy.sample()!.fds;
  ctx.log(
    `  many-conns: the main proxy holds ${ctx.proxy.sample()?.fds} descriptors before the early leavers (baseline ${base})`,
  );
  for (const l of LEAVERS) {
    if (Date.now() > ctx.deadline) break;
    let failed = 0;
    const errors: string[] = [];
    await pool(range(per), 16, ctx.deadline, async () => {
      await l.go(ctx).catch((e: Error) => {
        failed++;
        errors.push(e.message);
      });
    });
    if (errors.length) r.notes.push(`"${l.name}": ${errors.length} client(s) failed before leaving: ${errors[0]}`);
    count(r, "clients that left early", per);
    // Whatever the proxy had for them must go once they are gone (idle_timeout at the latest).
    // Strict: a few clients' worth of leftovers must show (the leaving itself takes a moment).
    await sleep(500);
    const backS = await fdsBack(ctx.proxy, base, ctx.idleTimeoutS * 2 + 10, 2);
    const after = ctx.proxy.sample()!.fds;
    ctx.log(
      `  many-conns: ${per} clients ${l.name}: fds ${base} → ${after}${backS === undefined ? " (not back)" : ""}`,
    );
    rows.push(
      `| ${l.name} | ${per}${failed ? ` (${failed} failed to start)` : ""} | ${after} (${base}) | ${backS === undefined ? "**no**" : `in ${backS.toFixed(1)} s`} |`,
    );
    if (backS === undefined) {
      r.failures++;
      addFinding(r, {
        kind: "leak",
        title: `clients that leave early: descriptors stay behind when a client ${l.name}`,
        detail:
          `${per} clients each ${l.name}. ${ctx.idleTimeoutS * 2 + 10} s later the proxy still held ${after - base} more descriptors than before ` +
          `(${base} → ${after}): ${Object.entries(ctx.proxy.describeFds(originPorts(ctx)))
            .map(([k, v]) => `${v} × ${k}`)
            .join(", ")}.`,
        figure: `+${after - base} fds for ${per} clients`,
        repro: repro(ctx, "many-conns"),
      });
    }
  }
  r.extra = rows.join("\n");
}

export const manyConns: Family = {
  id: "many-conns",
  title: "many connections, and clients that leave early",
  method: (ctx) =>
    `${ctx.quick ? 200 : 2000} keep-alive HTTP connections (absolute form) and as many HTTPS ones (CONNECT + TLS), each with one ` +
    "answered GET, opened 64 at a time and held at once (through a proxy of their own with idle_timeout=300, so that they stay open); " +
    "a second request on about 20 of them; then all closed at once and that proxy's descriptors must come back within " +
    `${FD_SLACK} of its baseline within 30 s. Then ${ctx.quick ? 10 : 50} ` +
    "clients for each way of leaving early (table below); after each group the descriptors must come back within " +
    `${ctx.idleTimeoutS * 2 + 10} s. The harness re-runs itself under \`ulimit -n 65536\` (or the hard limit).`,
  deadlineMs: (ctx) => (ctx.quick ? 90 : 480) * 1000,
  async run(ctx, r) {
    r.health = { alive: true, http: "", https: "", before: ctx.proxy.sample() };
    r.notes.push(`ulimit -n of the harness (and so of the proxy): ${ulimit()}.`);
    await holdMany(ctx, r);
    await earlyLeavers(ctx, r);
  },
};
