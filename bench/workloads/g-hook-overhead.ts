// G. Hook overhead: workload A through interloper with ten no-op addons on
// every hook (bench/noop-addons.ts), against interloper without them.
import { join } from "node:path";
import { runWrk, startProxy, wrkArgs, type Ctx, type RunningProxy } from "../lib/context.ts";
import { ROOT } from "../lib/procs.ts";
import { med, valueCheck } from "../lib/report.ts";
import { fmt, median } from "../lib/stats.ts";
import { CONNS } from "./a-plain-http.ts";
import { add, metric, type Workload } from "./workload.ts";

export const G: Workload = {
  id: "G",
  title: "Hook overhead: 10 no-op addons on every hook",
  deadlineMs: (ctx) => (ctx.reps * 2 * (ctx.sizes.durationS + 3) + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `Workload A (wrk \`-t1 -c${CONNS}\`, absolute-form, 100-byte responses) through interloper with ` +
      "`-s bench/noop-addons.ts` (ten addons, each defining all 29 hooks as no-ops) and through interloper " +
      "without it, back to back in every repetition (alternating which goes first). The figure is the median over the " +
      "repetitions of the throughput lost to the hook chain, 1 − with ÷ without, each repetition compared with itself.";
    if (!ctx.wrk.available) throw new Error("wrk is not installed");
    const plain = await startProxy(ctx, "interloper");
    let noop: RunningProxy | undefined;
    try {
      noop = await startProxy(ctx, "interloper", { scripts: [join(ROOT, "bench/noop-addons.ts")] });
      const without = metric("requests/s, no addons", "req/s", "higher");
      const withNoop = metric("requests/s, 10 no-op addons", "req/s", "higher");
      const p50Without = metric("latency p50, no addons", "ms", "lower");
      const p50With = metric("latency p50, 10 no-op addons", "ms", "lower");
      r.metrics.push(without, withNoop, p50Without, p50With);
      r.commands.push(plain.command, noop.command, wrkArgs(ctx, plain, ctx.sizes.durationS, CONNS).display);
      await runWrk(ctx, plain, ctx.sizes.warmupS, CONNS);
      await runWrk(ctx, noop, ctx.sizes.warmupS, CONNS);
      for (let rep = 0; rep < ctx.reps; rep++) {
        // Alternate which goes first, so neither always runs on a warmer machine.
        const pair: [RunningProxy, boolean][] =
          rep % 2 === 0
            ? [
                [plain, false],
                [noop, true],
              ]
            : [
                [noop, true],
                [plain, false],
              ];
        for (const [p, isNoop] of pair) {
          const w = await runWrk(ctx, p, ctx.sizes.durationS, CONNS);
          add(isNoop ? withNoop : without, "interloper", w.rps);
          add(isNoop ? p50With : p50Without, "interloper", w.p50Ms);
          ctx.log(`  G ${isNoop ? "noop" : "plain"} rep ${rep + 1}: ${fmt(w.rps)} req/s`);
          if (w.errors || w.non2xx)
            r.notes.push(
              `${isNoop ? "with" : "without"} addons rep ${rep + 1}: ${w.errors} socket errors, ${w.non2xx} non-2xx`,
            );
        }
      }
      // Paired: each repetition's two runs are back to back, so their ratio is free of the drift between repetitions.
      const losses = (without.values.interloper ?? []).map((a, i) => (1 - withNoop.values.interloper![i]! / a) * 100);
      const loss = losses.length ? median(losses) : undefined;
      r.metrics.push({
        label: "throughput lost, per repetition",
        unit: "%",
        better: "lower",
        values: { interloper: losses },
      });
      const a = med(without, "interloper");
      const b = med(withNoop, "interloper");
      r.checks.push(
        valueCheck(
          loss,
          `% throughput lost (median of the paired repetitions; medians ${fmt(b)} vs ${fmt(a)} req/s)`,
          { max: 10 },
          "≤ 10% loss",
        ),
      );
    } finally {
      await Promise.all([plain.stop(), noop?.stop()]);
    }
  },
};
