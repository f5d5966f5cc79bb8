// A. Plain HTTP through the explicit proxy: keep-alive, 100-byte responses, wrk
// sending absolute-form requests.
import { runWrk, startProxies, stopAll, wrkArgs, type Ctx } from "../lib/context.ts";
import { ratioCheck } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import { add, metric, ORDER, type Workload } from "./workload.ts";

export const CONNS = 8;

export const A: Workload = {
  id: "A",
  title: "Plain HTTP, keep-alive, 100-byte responses",
  deadlineMs: (ctx) => (ctx.reps * 3 * (ctx.sizes.durationS + 3) + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `wrk with one thread and ${CONNS} keep-alive connections (\`-t1 -c${CONNS} -d${ctx.sizes.durationS}s --latency\`) ` +
      "sends `GET http://127.0.0.1:$ORIGIN/` (absolute-form, set by `bench/wrk-proxy.lua`) to the proxy; the direct " +
      "baseline sends `GET /` to the origin. The origin answers 100 bytes. Each tool is warmed up with a " +
      `${ctx.sizes.warmupS} s run first.`;
    if (!ctx.wrk.available) throw new Error("wrk is not installed");
    const proxies = await startProxies(ctx, {}, r.notes);
    try {
      const rps = metric("requests/s", "req/s", "higher");
      const p50 = metric("latency p50", "ms", "lower");
      const p99 = metric("latency p99", "ms", "lower");
      r.metrics.push(rps, p50, p99);
      r.commands.push(...Object.values(proxies).map((p) => p.command));
      r.commands.push(
        wrkArgs(ctx, undefined, ctx.sizes.durationS, CONNS).display,
        wrkArgs(ctx, proxies.interloper, ctx.sizes.durationS, CONNS).display,
      );
      for (const p of Object.values(proxies)) await runWrk(ctx, p, ctx.sizes.warmupS, CONNS);
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const who of ORDER) {
          if (who !== "direct" && !proxies[who]) continue;
          const w = await runWrk(ctx, who === "direct" ? undefined : proxies[who], ctx.sizes.durationS, CONNS);
          add(rps, who, w.rps);
          add(p50, who, w.p50Ms);
          add(p99, who, w.p99Ms);
          ctx.log(`  A ${who} rep ${rep + 1}: ${fmt(w.rps)} req/s, p50 ${fmt(w.p50Ms)} ms, p99 ${fmt(w.p99Ms)} ms`);
          if (w.errors || w.non2xx)
            r.notes.push(`${who} rep ${rep + 1}: ${w.errors} socket errors, ${w.non2xx} non-2xx responses`);
        }
      }
      r.checks.push(ratioCheck(rps, "mitmdump", { min: 25 }, "requests/s ≥ 25× mitmdump"));
    } finally {
      await stopAll(proxies);
    }
  },
};
