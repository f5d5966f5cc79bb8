// h2 floods: HTTP/2 abuse through h2c prior knowledge in a CONNECT tunnel —
// rapid reset (HEADERS then RST_STREAM, thousands), SETTINGS, PING and
// CONTINUATION floods, a client that never reads. The proxy's CPU time and
// memory must stay bounded and the connection must be closed with an error.
import { readFileSync } from "node:fs";
import { fmt } from "../../bench/lib/stats.ts";
import { addFinding, count, repro, type Ctx, type Family } from "../lib/family.ts";
import { FLAG, H2, h2frame, h2Headers, h2Ping, h2Rst, h2Settings, H2_PREFACE, hpack } from "../lib/frames.ts";
import { HOST, tunnel, Wire } from "../lib/net.ts";
import { mib, PeakSampler } from "../lib/sample.ts";

/** CPU seconds the process has used (user + system), from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The GOAWAY the proxy sent, if any: its error code (RFC 9113 §7). */
function goaway(data: Buffer): number | undefined {
  let off = 0;
  while (off + 9 <= data.length) {
    const len = data.readUIntBE(off, 3);
    if (data[off + 3] === H2.GOAWAY && off + 9 + 8 <= data.length) return data.readUInt32BE(off + 9 + 4);
    off += 9 + len;
  }
  return undefined;
}

const CODES: Record<number, string> = {
  0: "NO_ERROR",
  1: "PROTOCOL_ERROR",
  2: "INTERNAL_ERROR",
  3: "FLOW_CONTROL_ERROR",
  6: "FRAME_SIZE_ERROR",
  7: "REFUSED_STREAM",
  8: "CANCEL",
  9: "COMPRESSION_ERROR",
  11: "ENHANCE_YOUR_CALM",
};

interface Flood {
  name: string;
  what: string;
  /** Frames of the flood, a batch at a time (`i` counts batches). */
  batch(i: number, authority: string): Buffer;
  /** Units (streams, frames) per batch, for the report. */
  perBatch: number;
  /** The client does not read what the proxy sends (its answers pile up). */
  noRead?: boolean;
  /** At most this many units, whatever the run's size. */
  max?: number;
  /** The first path segment of the flood's requests: the origin's count of those is what reached it. */
  segment: string;
}

const FLOODS: Flood[] = [
  {
    name: "rapid reset",
    what: "HEADERS (a GET) immediately followed by RST_STREAM(CANCEL) on a new stream, over and over (CVE-2023-44487)",
    perBatch: 500,
    segment: "/rapid",
    batch: (i, a) =>
      Buffer.concat(
        Array.from({ length: 500 }, (_, k) => {
          const id = 2 * (i * 500 + k) + 1;
          return Buffer.concat([h2Headers(id, a, `/rapid/${id}`), h2Rst(id)]);
        }),
      ),
  },
  {
    name: "SETTINGS flood",
    what: "SETTINGS frames (each needs an ACK), never reading the ACKs",
    perBatch: 1000,
    noRead: true,
    segment: "/none", // no requests
    batch: () => Buffer.concat(Array.from({ length: 1000 }, () => h2Settings([[4, 65535]]))),
  },
  {
    name: "PING flood",
    what: "PING frames (each needs an ACK), never reading the ACKs",
    perBatch: 1000,
    noRead: true,
    segment: "/none", // no requests
    batch: (i) =>
      Buffer.concat(
        Array.from({ length: 1000 }, (_, k) => h2Ping(Buffer.from([0, 0, 0, 0, i >> 8, i & 255, k >> 8, k & 255]))),
      ),
  },
  {
    name: "CONTINUATION flood",
    what: "one HEADERS without END_HEADERS, then endless CONTINUATION frames of new header fields (CVE-2024-27316 style)",
    perBatch: 1000,
    segment: "/cont",
    batch: (i, a) => {
      const head =
        i === 0
          ? [
              h2frame(
                H2.HEADERS,
                0,
                1,
                hpack([
                  [":method", "GET"],
                  [":scheme", "http"],
                  [":authority", a],
                  [":path", "/cont"],
                ]),
              ),
            ]
          : [];
      return Buffer.concat([
        ...head,
        ...Array.from({ length: 1000 }, (_, k) =>
          h2frame(H2.CONTINUATION, 0, 1, hpack([[`x-${i}-${k}`, "v".repeat(100)]])),
        ),
      ]);
    },
  },
  {
    name: "requests never read",
    what: "200 GETs for a 1 MB body on new streams (below the 250 concurrent streams the proxy allows), the client never reading (nor opening its window)",
    perBatch: 50,
    max: 200,
    noRead: true,
    segment: "/gen",
    batch: (i, a) =>
      Buffer.concat(
        Array.from({ length: 50 }, (_, k) => h2Headers(2 * (i * 50 + k) + 1, a, `/gen?n=1000000&k=noread-${i}-${k}`)),
      ),
  },
];

/**
 * How long the proxy may take to end a flood's connection once the flood stopped: nothing moves on it then,
 * so idle_timeout ends it (the proxy looks a few times per idle_timeout, and a busy machine is late: twice
 * that, plus a margin). The mixed soak's small episodes run against the main proxy's idle_timeout, so the
 * bound follows it.
 */
const closeBoundS = (ctx: Ctx) => ctx.idleTimeoutS * 2 + (ctx.quick ? 1 : 5);

interface Result {
  units: number;
  closed: boolean;
  goaway?: number;
  seconds: number;
  cpuS: number;
  rssPeak: number;
  rssBefore: number;
  originRequests: number;
  error?: string;
}

async function runFlood(ctx: Ctx, f: Flood, batches: number): Promise<Result> {
  const pid = ctx.proxy.pid;
  const a = `${HOST}:${ctx.app.httpPort}`;
  const w = new Wire(await tunnel(ctx.proxy.port, a));
  w.write(Buffer.concat([H2_PREFACE, h2Settings()]));
  await w.until(() => w.received >= 9 || w.gone, 10_000);
  w.write(h2frame(H2.SETTINGS, FLAG.ACK, 0));
  if (f.noRead) w.socket.pause();
  const sampler = new PeakSampler(() => pid, 200).start();
  const before = sampler.take();
  const cpu0 = cpuSeconds(pid);
  const origin0 = ctx.app.bySegment.get(f.segment) ?? 0;
  const t0 = Date.now();
  let units = 0;
  for (let i = 0; i < batches && !w.gone && Date.now() < ctx.deadline; i++) {
    const ok = w.socket.write(f.batch(i, a));
    units += f.perBatch;
    // The proxy's reading pace is the flood's pace: wait for the socket to drain (bounded).
    if (!ok) await Promise.race([new Promise((r) => w.socket.once("drain", r)), w.until(() => w.gone, 10_000)]);
  }
  if (f.noRead) {
    // Whatever the proxy queued for a client that never reads must stay bounded: watch it a while.
    await w.until(() => w.gone, ctx.quick ? 2000 : 5000);
    w.socket.resume();
  }
  await w.until(() => w.gone, closeBoundS(ctx) * 1000);
  const res: Result = {
    units,
    closed: w.gone,
    goaway: goaway(w.data),
    seconds: (Date.now() - t0) / 1000,
    cpuS: cpuSeconds(pid) - cpu0,
    rssPeak: sampler.peakRss,
    rssBefore: before?.rss ?? NaN,
    originRequests: (ctx.app.bySegment.get(f.segment) ?? 0) - origin0,
  };
  sampler.stop();
  w.destroy();
  return res;
}

export const h2Floods: Family = {
  id: "h2-floods",
  title: "HTTP/2 floods",
  method: (ctx) =>
    `Each flood on its own h2c connection (prior knowledge, in a CONNECT tunnel to the HTTP origin), written as fast as the proxy ` +
    `reads it, up to ${ctx.quick ? "2,000" : "20,000"} streams or frames (${ctx.quick ? 1 : 2} run(s) each): ` +
    `${FLOODS.map((f) => `**${f.name}** (${f.what})`).join("; ")}. Measured: the proxy's CPU seconds (/proc/PID/stat), its peak RSS, ` +
    "the requests that reached the origin, and whether and how the proxy ended the connection (GOAWAY code).",
  deadlineMs: (ctx) => (ctx.quick ? 60 : 300) * 1000,
  async run(ctx, r) {
    const rows = [
      "| flood | sent | proxy CPU s | proxy RSS before → peak | reached the origin | connection | seconds |",
      "|---|---:|---:|---|---:|---|---:|",
    ];
    const total = ctx.quick ? 2000 : 20_000;
    for (const f of FLOODS) {
      for (let run = 0; run < (ctx.quick ? 1 : 2); run++) {
        if (Date.now() > ctx.deadline) break;
        let res: Result;
        try {
          res = await runFlood(ctx, f, Math.ceil(Math.min(total, f.max ?? total) / f.perBatch));
        } catch (e) {
          r.failures++;
          rows.push(`| ${f.name} | — | — | — | — | setup failed: ${(e as Error).message} | — |`);
          continue;
        }
        count(r, `${f.name}: units sent`, res.units);
        const how = res.closed
          ? `closed${res.goaway !== undefined ? ` with GOAWAY ${CODES[res.goaway] ?? res.goaway}` : " (no GOAWAY)"}`
          : "**still open**";
        rows.push(
          `| ${f.name} | ${fmt(res.units)} | ${res.cpuS.toFixed(1)} | ${mib(res.rssBefore)} → ${mib(res.rssPeak)} MiB | ${res.originRequests} | ${how} | ${res.seconds.toFixed(1)} |`,
        );
        ctx.log(
          `  h2 ${f.name}: ${res.units} sent, CPU ${res.cpuS.toFixed(1)} s, RSS peak ${mib(res.rssPeak)} MiB, ${how}`,
        );
        const grew = res.rssPeak - res.rssBefore;
        if (!res.closed) {
          r.failures++;
          addFinding(r, {
            kind: "unbounded",
            title: `h2 ${f.name}: the proxy does not end the connection`,
            detail: `${f.what}: after ${fmt(res.units)} units the connection was still open ${closeBoundS(ctx)} s later (idle_timeout=${ctx.idleTimeoutS} s); the proxy used ${res.cpuS.toFixed(1)} CPU s and ${mib(grew)} MiB more RSS at the peak, and ${res.originRequests} requests reached the origin.`,
            figure: `${fmt(res.units)} sent, ${res.cpuS.toFixed(1)} CPU s, +${mib(grew)} MiB, still open`,
            repro: repro(ctx, "h2-floods"),
          });
        }
        if (f.name === "rapid reset" && res.originRequests > 100) {
          addFinding(r, {
            kind: "unbounded",
            title: "h2 rapid reset: streams the client has already reset still become requests to the origin",
            detail:
              `Of ${fmt(res.units)} streams opened and reset at once by the client, ${res.originRequests} reached the origin as requests before the proxy ended the connection: ` +
              "a client can make the proxy send requests upstream at the rate it can write two small frames, without ever waiting for an " +
              "answer or counting against the concurrent-stream limit (the amplification of CVE-2023-44487).",
            figure: `${res.originRequests} origin requests for ${fmt(res.units)} reset streams`,
            repro: repro(ctx, "h2-floods"),
          });
        }
        if (grew > 100 * 2 ** 20) {
          addFinding(r, {
            kind: "unbounded",
            title: `h2 ${f.name}: the proxy's memory grows with the flood`,
            detail: `RSS ${mib(res.rssBefore)} → ${mib(res.rssPeak)} MiB during ${fmt(res.units)} units of: ${f.what}.`,
            figure: `+${mib(grew)} MiB`,
            repro: repro(ctx, "h2-floods"),
          });
        }
      }
    }
    r.extra = rows.join("\n");
  },
};
