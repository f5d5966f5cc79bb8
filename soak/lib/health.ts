// After every family: is the proxy up, does it answer a normal request over
// HTTP and HTTPS, and do its descriptors and memory come back near where they
// were before the family (a leak is a finding).
import { sleep } from "../../bench/lib/stats.ts";
import { addFinding, repro, type Ctx, type FamilyResult, type Health } from "./family.ts";
import { HOST, tcp, tlsOver, tunnel, Wire } from "./net.ts";
import type { Heap, ProxyUnderTest } from "./proxy.ts";
import { mib, MiB, type Sample } from "./sample.ts";

/** Descriptors the proxy may hold above its baseline without it being a leak (a keep-alive or two). */
export const FD_SLACK = 6;
/** Heap growth after GC that counts as a leak. */
const HEAP_SLACK = 16 * MiB;

export interface Before {
  sample: Sample | undefined;
  heap: Heap | undefined;
}

export async function measureBefore(proxy: ProxyUnderTest): Promise<Before> {
  return { sample: proxy.sample(), heap: await proxy.heap() };
}

/** One GET through the proxy, plain (absolute form) or HTTPS (CONNECT + TLS): "ok" or what went wrong. */
export async function normalRequest(ctx: Ctx, proxyPort: number, secure: boolean, path = "/health"): Promise<string> {
  let wire: Wire | undefined;
  try {
    if (secure) {
      const t = await tunnel(proxyPort, `${HOST}:${ctx.app.httpsPort}`);
      wire = new Wire(await tlsOver(t, { servername: "localhost", caFile: ctx.proxyCaFile }));
      wire.write(`GET ${path} HTTP/1.1\r\nHost: localhost:${ctx.app.httpsPort}\r\nConnection: close\r\n\r\n`);
    } else {
      wire = new Wire(await tcp(proxyPort));
      wire.write(
        `GET http://${HOST}:${ctx.app.httpPort}${path} HTTP/1.1\r\nHost: ${HOST}:${ctx.app.httpPort}\r\nConnection: close\r\n\r\n`,
      );
    }
    const w = wire;
    const expect = path === "/health" ? "ok" : `ok ${path}`;
    const ok = await w.until(() => w.data.includes(`\r\n\r\n${expect}`) || w.gone, 15_000);
    const text = w.data.toString("latin1");
    if (!ok) return `no answer within 15 s (got ${w.received} bytes)`;
    if (!text.startsWith("HTTP/1.1 200") || !text.includes(`\r\n\r\n${expect}`))
      return `unexpected answer: ${JSON.stringify(text.slice(0, 120))}`;
    return "ok";
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  } finally {
    wire?.destroy();
  }
}

/** How long descriptors may take to come back after a family (idle connections time out first). */
export function settleBoundS(ctx: Ctx): number {
  return ctx.quick ? ctx.idleTimeoutS * 2 + 5 : ctx.idleTimeoutS * 3 + 15;
}

/** Waits (bounded) for the proxy's descriptors to come back within FD_SLACK of `base`. */
async function settle(
  ctx: Ctx,
  proxy: ProxyUnderTest,
  base: number,
): Promise<{ sample: Sample | undefined; seconds: number }> {
  const boundMs = settleBoundS(ctx) * 1000;
  const start = Date.now();
  let s = proxy.sample();
  while (s && s.fds > base + FD_SLACK && Date.now() - start < boundMs) {
    await sleep(500);
    s = proxy.sample();
  }
  return { sample: s, seconds: (Date.now() - start) / 1000 };
}

/**
 * The checks after a family. Returns false when the proxy is dead or does not
 * answer (the caller starts a new one for the next family).
 */
export async function checkAfter(
  ctx: Ctx,
  r: FamilyResult,
  before: Before,
  peak: { rss: number; fds: number },
): Promise<boolean> {
  const proxy = ctx.proxy;
  const h: Health = { alive: proxy.alive, http: "not tried", https: "not tried", before: before.sample, peak };
  r.health = h;
  if (!proxy.alive) {
    addFinding(r, {
      kind: "crash",
      title: `the proxy exited during the ${r.id} family (code ${proxy.proc.exitCode})`,
      detail: `Its last output: ${"```"}${proxy.proc.output.slice(-1500)}${"```"}`,
      figure: `exit code ${proxy.proc.exitCode}`,
      repro: repro(ctx, r.id),
    });
    return false;
  }
  h.http = await normalRequest(ctx, proxy.port, false);
  h.https = await normalRequest(ctx, proxy.port, true);
  for (const [scheme, v] of [
    ["HTTP", h.http],
    ["HTTPS", h.https],
  ] as const) {
    if (v === "ok") continue;
    addFinding(r, {
      kind: "failure",
      title: `after the ${r.id} family, a normal ${scheme} request through the proxy fails`,
      detail: `GET /health through the proxy: ${v}.`,
      figure: v,
      repro: repro(ctx, r.id),
    });
  }
  const base = before.sample?.fds ?? NaN;
  const settled = await settle(ctx, proxy, base);
  h.after = settled.sample;
  h.settledS = settled.seconds;
  const heap = await proxy.heap();
  h.heapBefore = before.heap?.heapUsed;
  h.heapAfter = heap?.heapUsed;
  h.externalBefore = before.heap ? before.heap.external : undefined;
  h.externalAfter = heap ? heap.external : undefined;
  if (h.after && h.after.fds > base + FD_SLACK) {
    h.fdsHeld = proxy.describeFds(originPorts(ctx));
    addFinding(r, {
      kind: "leak",
      title: `file descriptors not released after the ${r.id} family`,
      detail:
        `The proxy held ${h.after.fds} descriptors ${Math.round(settled.seconds)} s after the family ended (every client gone; ` +
        `idle_timeout=${ctx.idleTimeoutS} s), ${h.after.fds - base} more than before it (${base}). What they are: ` +
        `${Object.entries(h.fdsHeld)
          .map(([k, v]) => `${v} × ${k}`)
          .join(", ")}.`,
      figure: `${base} → ${h.after.fds} fds (+${h.after.fds - base}) after ${Math.round(settled.seconds)} s`,
      repro: repro(ctx, r.id),
    });
  }
  if (heap && before.heap) {
    const grew = heap.heapUsed - before.heap.heapUsed + (heap.external - before.heap.external);
    if (grew > HEAP_SLACK) {
      addFinding(r, {
        kind: "leak",
        title: `memory not released after the ${r.id} family (after full GCs)`,
        detail:
          `After two full GCs the proxy's JS heap + external memory was ${mib(heap.heapUsed + heap.external)} MiB against ` +
          `${mib(before.heap.heapUsed + before.heap.external)} MiB before the family: objects are still referenced.`,
        figure: `heapUsed ${mib(before.heap.heapUsed)} → ${mib(heap.heapUsed)} MiB, external ${mib(before.heap.external)} → ${mib(heap.external)} MiB`,
        repro: repro(ctx, r.id),
      });
    }
  }
  if (h.after && before.sample) {
    r.notes.push(
      `Proxy after the family: RSS ${mib(before.sample.rss)} → peak ${mib(peak.rss)} → ${mib(h.after.rss)} MiB; fds ${before.sample.fds} → peak ${peak.fds} → ${h.after.fds}` +
        (heap && before.heap ? `; JS heap after GC ${mib(before.heap.heapUsed)} → ${mib(heap.heapUsed)} MiB` : "") +
        ".",
    );
  }
  return h.http === "ok" || h.https === "ok";
}

export function originPorts(ctx: Ctx): number[] {
  return [ctx.app.httpPort, ctx.app.httpsPort, ctx.ws.port, ctx.recorder.port];
}

/** A bounded wait for a condition polled every 100 ms. */
export async function pollUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(100);
  }
  return true;
}
