// D. First contact with new host names: every request brings a new SNI, so the
// proxy makes a new leaf certificate for each.
import { randomBytes } from "node:crypto";
import { httpsTarget, runClient, startProxies, stopAll, type Ctx } from "../lib/context.ts";
import { ratioCheck } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import { add, metric, ORDER, type Workload } from "./workload.ts";

interface FirstResult {
  count: number;
  errors: number;
  firstError?: string;
  p50: number;
  p99: number;
  timedOut: boolean;
}

export const D: Workload = {
  id: "D",
  title: "First contact with 200 new host names (leaf certificates)",
  deadlineMs: (ctx) => (ctx.reps * 3 * 65 + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `For each of ${ctx.sizes.hosts} new names, one at a time: a new connection, \`CONNECT 127.0.0.1:$ORIGIN\`, ` +
      "TLS with SNI `hN-….bench.test` (a name never used before in the run, so the proxy must make a certificate " +
      "for it), one GET; the figure is that request's total time. The client checks that the proxy's certificate " +
      "names the host. The proxies run with `-k` (the origin has one certificate for every name). The direct baseline " +
      "makes the same first request (TCP, TLS with that SNI, GET) to the origin. 10 warm-up names precede each series.";
    const proxies = await startProxies(ctx, { insecure: true }, r.notes);
    try {
      const p50 = metric("first request p50", "ms", "lower");
      const p99 = metric("first request p99", "ms", "lower");
      r.metrics.push(p50, p99);
      r.commands.push(...Object.values(proxies).map((p) => p.command));
      const run = randomBytes(3).toString("hex");
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const who of ORDER) {
          if (who !== "direct" && !proxies[who]) continue;
          const tag = `${who.slice(0, 1)}${rep}-${run}`;
          const res = await runClient<FirstResult>(ctx, {
            mode: "first",
            target: httpsTarget(ctx, who, proxies[who as "interloper"], { skipNameCheck: who === "direct" }),
            names: Array.from({ length: ctx.sizes.hosts }, (_, i) => `h${i}-${tag}.bench.test`),
            warmNames: Array.from({ length: 10 }, (_, i) => `w${i}-${tag}.bench.test`),
            deadlineMs: 60_000,
            hardDeadlineMs: 65_000,
          });
          add(p50, who, res.p50);
          add(p99, who, res.p99);
          ctx.log(
            `  D ${who} rep ${rep + 1}: p50 ${fmt(res.p50)} ms, p99 ${fmt(res.p99)} ms (${res.count} ok, ${res.errors} errors)`,
          );
          if (res.errors || res.timedOut)
            r.notes.push(
              `${who} rep ${rep + 1}: ${res.errors} failed${res.timedOut ? ", stopped at the deadline" : ""} (first: ${res.firstError})`,
            );
        }
      }
      r.checks.push(ratioCheck(p50, "direct", { max: 2 }, "p50 ≤ 2× direct first request p50"));
    } finally {
      await stopAll(proxies);
    }
  },
};
