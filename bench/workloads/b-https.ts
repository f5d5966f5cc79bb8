// B1. HTTPS through CONNECT, a new TLS connection per request.
// B2. HTTPS keep-alive through the proxy, 1 and 8 connections.
import { httpsTarget, runClient, startProxies, stopAll, type Ctx } from "../lib/context.ts";
import { ratioCheck } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import { add, metric, ORDER, type Workload } from "./workload.ts";

interface RateResult {
  count: number;
  errors: number;
  firstError?: string;
  rps: number;
  p50: number;
  p99: number;
}

const CONCURRENCY = 4;

export const B1: Workload = {
  id: "B1",
  title: "HTTPS, a new TLS connection per request",
  deadlineMs: (ctx) => (ctx.reps * 3 * (ctx.sizes.durationS + 8) + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `A Node client (\`bench/client.ts\`, mode newconn) runs ${CONCURRENCY} workers; each request opens a TCP ` +
      "connection, sends `CONNECT 127.0.0.1:$ORIGIN` (the direct baseline skips this), does a full TLS handshake " +
      "(SNI localhost, no session resumption), sends one GET and closes. The proxies verify the origin against " +
      "its CA (`ssl_verify_upstream_trusted_ca`); the client verifies the proxy's certificate against the proxy's CA. " +
      `Each repetition: ${ctx.sizes.warmupS} s warm-up, then ${ctx.sizes.durationS} s measured (bounded at 100,000 requests).`;
    const proxies = await startProxies(ctx, { trustedCa: ctx.originCaFile }, r.notes);
    try {
      const rps = metric("requests/s", "req/s", "higher");
      const p50 = metric("request latency p50", "ms", "lower");
      r.metrics.push(rps, p50);
      r.commands.push(...Object.values(proxies).map((p) => p.command));
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const who of ORDER) {
          if (who !== "direct" && !proxies[who]) continue;
          const res = await runClient<RateResult>(ctx, {
            mode: "newconn",
            target: httpsTarget(ctx, who, proxies[who as "interloper"]),
            concurrency: CONCURRENCY,
            warmupMs: ctx.sizes.warmupS * 1000,
            durationMs: ctx.sizes.durationS * 1000,
            maxCount: 100_000,
            hardDeadlineMs: (ctx.sizes.warmupS + ctx.sizes.durationS) * 1000 + 20_000,
          });
          add(rps, who, res.rps);
          add(p50, who, res.p50);
          ctx.log(`  B1 ${who} rep ${rep + 1}: ${fmt(res.rps)} req/s (${res.count} ok, ${res.errors} errors)`);
          if (res.errors)
            r.notes.push(`${who} rep ${rep + 1}: ${res.errors} failed requests (first: ${res.firstError})`);
        }
      }
      r.checks.push(ratioCheck(rps, "mitmdump", { min: 3 }, "requests/s ≥ 3× mitmdump"));
      r.checks.push(ratioCheck(rps, "direct", { min: 0.6 }, "requests/s ≥ 0.6× direct"));
    } finally {
      await stopAll(proxies);
    }
  },
};

export const B2: Workload = {
  id: "B2",
  title: "HTTPS keep-alive, 1 and 8 connections",
  deadlineMs: (ctx) => (ctx.reps * 6 * (ctx.sizes.durationS + 8) + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      "A Node client (`bench/client.ts`, mode keepalive) opens N TLS connections (through CONNECT for the proxies) " +
      "and keeps one request in flight on each, reading each 100-byte response before sending the next " +
      "(raw sockets and a minimal parser: Node's http client would cost the shared CPU more than the proxy does). " +
      `Each repetition: ${ctx.sizes.warmupS} s warm-up on the open connections, then ${ctx.sizes.durationS} s measured.`;
    const proxies = await startProxies(ctx, { trustedCa: ctx.originCaFile }, r.notes);
    try {
      const metrics = new Map(
        [1, 8].map((n) => [n, metric(`requests/s, ${n} connection${n > 1 ? "s" : ""}`, "req/s", "higher")]),
      );
      const p50 = metric("latency p50, 8 connections", "ms", "lower");
      const p99 = metric("latency p99, 8 connections", "ms", "lower");
      r.metrics.push(...metrics.values(), p50, p99);
      r.commands.push(...Object.values(proxies).map((p) => p.command));
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const conns of [1, 8]) {
          for (const who of ORDER) {
            if (who !== "direct" && !proxies[who]) continue;
            const res = await runClient<RateResult>(ctx, {
              mode: "keepalive",
              target: httpsTarget(ctx, who, proxies[who as "interloper"]),
              conns,
              warmupMs: ctx.sizes.warmupS * 1000,
              durationMs: ctx.sizes.durationS * 1000,
              maxCount: 5_000_000,
              hardDeadlineMs: (ctx.sizes.warmupS + ctx.sizes.durationS) * 1000 + 20_000,
            });
            add(metrics.get(conns)!, who, res.rps);
            if (conns === 8) {
              add(p50, who, res.p50);
              add(p99, who, res.p99);
            }
            ctx.log(`  B2 ${who} ${conns} conns rep ${rep + 1}: ${fmt(res.rps)} req/s (${res.errors} errors)`);
            if (res.errors)
              r.notes.push(
                `${who} ${conns} conns rep ${rep + 1}: ${res.errors} failed requests (first: ${res.firstError})`,
              );
          }
        }
      }
      r.checks.push(ratioCheck(metrics.get(8)!, "mitmdump", { min: 20 }, "8 connections: requests/s ≥ 20× mitmdump"));
    } finally {
      await stopAll(proxies);
    }
  },
};
