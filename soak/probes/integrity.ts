// integrity: 100 transfers of 1–20 MB at once, up and down, HTTP and HTTPS,
// through a buffering proxy and a streaming one (stream_large_bodies=1m):
// every body must arrive byte for byte (SHA-256 at both ends).
import { createHash } from "node:crypto";
import * as http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fmt } from "../../bench/lib/stats.ts";
import { addFinding, count, range, repro, type Ctx, type Family } from "../lib/family.ts";
import { HOST, tlsOver, tunnel, withTimeout } from "../lib/net.ts";
import { generated } from "../lib/origins.ts";
import { derive } from "../lib/prng.ts";
import type { ProxyUnderTest } from "../lib/proxy.ts";

interface Spec {
  i: number;
  up: boolean;
  secure: boolean;
  streamed: boolean;
  /** Uploads: chunked (no Content-Length) or not. */
  chunked: boolean;
  bytes: number;
  key: string;
}

interface Done {
  spec: Spec;
  ok: boolean;
  why?: string;
  seconds: number;
}

/** One request through `proxy`: Node's http client over the proxy socket (absolute form) or a CONNECT + TLS tunnel. */
async function request(
  ctx: Ctx,
  proxy: ProxyUnderTest,
  s: Spec,
  path: string,
  method: string,
): Promise<http.ClientRequest> {
  const headers: http.OutgoingHttpHeaders = {};
  if (s.up && !s.chunked) headers["content-length"] = s.bytes;
  if (!s.secure) {
    return http.request({
      host: HOST,
      port: proxy.port,
      method,
      path: `http://${HOST}:${ctx.app.httpPort}${path}`,
      headers: { ...headers, host: `${HOST}:${ctx.app.httpPort}` },
      agent: false,
    });
  }
  const t = await tunnel(proxy.port, `${HOST}:${ctx.app.httpsPort}`, 60_000);
  const sock = await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }, 60_000);
  // No agent: the request goes over this socket (an agent would open its own).
  return http.request({
    createConnection: () => sock,
    method,
    path,
    headers: { ...headers, host: `localhost:${ctx.app.httpsPort}` },
  });
}

function body(res: http.IncomingMessage): Promise<{ bytes: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    let bytes = 0;
    let text = "";
    res.on("data", (c: Buffer) => {
      bytes += c.length;
      h.update(c);
      if (text.length < 400) text += c.toString("latin1", 0, Math.min(c.length, 400));
    });
    res.on("end", () => resolve({ bytes, sha256: h.digest("hex"), text }));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("response aborted")));
  });
}

async function transfer(
  ctx: Ctx,
  proxies: { buffered: ProxyUnderTest; streamed: ProxyUnderTest },
  s: Spec,
): Promise<Done> {
  const t0 = Date.now();
  const proxy = s.streamed ? proxies.streamed : proxies.buffered;
  let req: http.ClientRequest | undefined;
  const done = (ok: boolean, why?: string): Done => {
    req?.destroy();
    return { spec: s, ok, why, seconds: (Date.now() - t0) / 1000 };
  };
  try {
    if (s.up) {
      req = await request(ctx, proxy, s, `/sink?k=${s.key}`, "POST");
      const h = createHash("sha256");
      const src = generated(s.key, s.bytes);
      src.on("data", (c: Buffer) => h.update(c));
      const res = await withTimeout(
        new Promise<http.IncomingMessage>((resolve, reject) => {
          req!.on("response", resolve);
          req!.on("error", reject);
          src.pipe(req!);
        }),
        240_000,
        "upload",
      );
      const got = await withTimeout(body(res), 60_000, "upload answer");
      const sent = h.digest("hex");
      const at = ctx.app.received.get(s.key);
      if (res.statusCode !== 200) return done(false, `status ${res.statusCode}: ${got.text.slice(0, 120)}`);
      if (!at) return done(false, "the origin recorded no upload");
      if (at.bytes !== s.bytes || at.sha256 !== sent)
        return done(
          false,
          `the origin got ${at.bytes} bytes (sha256 ${at.sha256.slice(0, 12)}…), sent ${s.bytes} (${sent.slice(0, 12)}…)`,
        );
      return done(true);
    }
    const get = await request(ctx, proxy, s, `/gen?n=${s.bytes}&k=${s.key}${s.chunked ? "&chunked=1" : ""}`, "GET");
    req = get;
    const res = await withTimeout(
      new Promise<http.IncomingMessage>((resolve, reject) => {
        get.on("response", resolve);
        get.on("error", reject);
        get.end();
      }),
      120_000,
      "download head",
    );
    const got = await withTimeout(body(res), 240_000, "download body");
    const sent = ctx.app.sent.get(s.key);
    if (res.statusCode !== 200) return done(false, `status ${res.statusCode}: ${got.text.slice(0, 120)}`);
    if (!sent) return done(false, "the origin did not finish sending");
    if (got.bytes !== s.bytes || got.sha256 !== sent.sha256)
      return done(
        false,
        `received ${got.bytes} bytes (sha256 ${got.sha256.slice(0, 12)}…), the origin sent ${sent.bytes} (${sent.sha256.slice(0, 12)}…)`,
      );
    return done(true);
  } catch (e) {
    return done(false, (e as Error).message);
  }
}

function label(s: Spec): string {
  return `${s.up ? "upload" : "download"} ${s.secure ? "HTTPS" : "HTTP"} ${s.streamed ? "streamed" : "buffered"}${s.chunked ? " chunked" : ""}`;
}

export const integrity: Family = {
  id: "integrity",
  title: "body integrity under parallel large transfers",
  method: (ctx) =>
    `${ctx.quick ? 8 : 100} transfers at once, sizes uniform in 1–${ctx.quick ? 3 : 20} MB (seeded), spread evenly over upload / download × ` +
    "HTTP (absolute form) / HTTPS (CONNECT + TLS) × a buffering proxy / a streaming one (`--set stream_large_bodies=1m`), both of their own " +
    "with `idle_timeout=60`: 100 parallel transfers on 2 cores make the harness's origins lag by seconds, and with the run's idle_timeout=5 the " +
    "proxies' timeouts cut transfers off (see origin-faults for that, with a slow origin); this family is about the bytes, " +
    "with Content-Length or chunked framing in turn. Bodies are AES-CTR keystreams made from a per-transfer key; each end hashes what it " +
    "sent or received (SHA-256) and the two must match, as must the byte counts.",
  deadlineMs: (ctx) => (ctx.quick ? 90 : 480) * 1000,
  async run(ctx, r) {
    const n = ctx.quick ? 8 : 100;
    const maxMb = ctx.quick ? 3 : 20;
    const rng = derive(ctx.seed, "integrity");
    // Proxies of their own with a long idle_timeout: a failure here is about the bytes, not a timeout under load.
    const buffered = await ctx.startProxy("buffering", { idleTimeoutS: 60 });
    const streamed = await ctx.startProxy("streaming", {
      idleTimeoutS: 60,
      extra: ["--set", "stream_large_bodies=1m"],
    });
    const specs: Spec[] = range(n).map((i) => ({
      i,
      up: (i & 1) === 1,
      secure: (i & 2) === 2,
      streamed: (i & 4) === 4,
      chunked: (i & 8) === 8,
      bytes: 1_000_000 + rng.int((maxMb - 1) * 1_000_000 + 1),
      key: `${ctx.seed}-${i}-${rng.u32().toString(36)}`,
    }));
    const t0 = Date.now();
    // The origins run in the harness: if its event loop lags, a proxy's timeout may be the harness's fault.
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const results = await Promise.all(specs.map((s) => transfer(ctx, { buffered, streamed }, s)));
    loop.disable();
    const secs = (Date.now() - t0) / 1000;
    r.notes.push(
      `The harness's event loop (the origins' and the clients') was late by at most ${Math.round(loop.max / 1e6)} ms during the transfers (p99 ${Math.round(loop.percentile(99) / 1e6)} ms).`,
    );
    const totalBytes = specs.reduce((a, s) => a + s.bytes, 0);
    count(r, "transfers", n);
    count(r, "MB moved", Math.round(totalBytes / 1e6));
    const failed = results.filter((x) => !x.ok);
    count(r, "transfers that failed or differ", failed.length);
    r.failures += failed.length;
    const rows = ["| kind | transfers | failed | MB | slowest (s) |", "|---|---:|---:|---:|---:|"];
    const kinds = [...new Set(results.map((x) => label(x.spec)))].sort();
    for (const k of kinds) {
      const mine = results.filter((x) => label(x.spec) === k);
      rows.push(
        `| ${k} | ${mine.length} | ${mine.filter((x) => !x.ok).length} | ${fmt(mine.reduce((a, x) => a + x.spec.bytes, 0) / 1e6)} | ${Math.max(...mine.map((x) => x.seconds)).toFixed(1)} |`,
      );
    }
    r.extra = rows.join("\n");
    r.notes.push(
      `${n} transfers, ${fmt(totalBytes / 1e6)} MB in all, took ${secs.toFixed(0)} s (${fmt(totalBytes / 1e6 / secs)} MB/s through the two proxies).`,
    );
    for (const x of failed) {
      addFinding(r, {
        kind: "failure",
        title: `integrity: a ${label(x.spec)} transfer fails or arrives changed`,
        detail: `Transfer ${x.spec.i}, ${x.spec.bytes} bytes: ${x.why}.`,
        figure: `${failed.filter((y) => label(y.spec) === label(x.spec)).length} of ${results.filter((y) => label(y.spec) === label(x.spec)).length}`,
        repro: repro(ctx, "integrity"),
      });
    }
  },
};
