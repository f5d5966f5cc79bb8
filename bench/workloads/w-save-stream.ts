// W. -w (save_stream_file) on workload A: the throughput it costs (interloper
// with and without -w, paired as in G), and the proxy's RSS over a long
// capture (wrk in segments, RSS and the file's size read after each).
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runWrk, startProxy, wrkArgs, type Ctx, type RunningProxy } from "../lib/context.ts";
import { med, valueCheck, type WorkloadResult } from "../lib/report.ts";
import { fmt, median } from "../lib/stats.ts";
import { CONNS } from "./a-plain-http.ts";
import { add, MB, metric, type Workload } from "./workload.ts";

/** The long capture stops at this many flows or after this many segments, whichever comes first. */
const TARGET_FLOWS = 1_000_000;
const SEGMENT_S = 10;

function segments(ctx: Ctx): number {
  // 12 × 10 s: a million flows at ~8,500/s on the shared 2-core machine (6 reached ~745,000).
  return ctx.quick ? 2 : 12;
}

export const W: Workload = {
  id: "W",
  title: "-w (save_stream_file) on workload A: throughput and RSS",
  deadlineMs: (ctx) => (ctx.reps * 2 * (ctx.sizes.durationS + 3) + segments(ctx) * (SEGMENT_S + 5) + 90) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `Workload A (wrk \`-t1 -c${CONNS}\`, absolute-form, 100-byte responses) through interloper with ` +
      "`-w $TMP/save.flow` and without it, back to back in every repetition (alternating which goes first); the " +
      "figure is the median over the repetitions of 1 − with ÷ without. Then a long capture: a fresh interloper " +
      `with \`-w\`, wrk in ${SEGMENT_S} s segments (at most ${segments(ctx)}, stopping once ${fmt(TARGET_FLOWS)} ` +
      "flows were answered), the proxy's RSS (VmRSS) and the flow file's size read after each segment. Flows = " +
      "responses wrk counted; the proxy writes each flow when its response ends.";
    if (!ctx.wrk.available) throw new Error("wrk is not installed");
    await throughput(ctx, r);
    await longCapture(ctx, r);
  },
};

async function throughput(ctx: Ctx, r: WorkloadResult): Promise<void> {
  const file = join(ctx.tmp, "save.flow");
  const plain = await startProxy(ctx, "interloper");
  let saving: RunningProxy | undefined;
  try {
    saving = await startProxy(ctx, "interloper", { extra: ["-w", file] });
    const without = metric("requests/s, without -w", "req/s", "higher");
    const withW = metric("requests/s, with -w", "req/s", "higher");
    r.metrics.push(without, withW);
    r.commands.push(plain.command, saving.command, wrkArgs(ctx, plain, ctx.sizes.durationS, CONNS).display);
    await runWrk(ctx, plain, ctx.sizes.warmupS, CONNS);
    await runWrk(ctx, saving, ctx.sizes.warmupS, CONNS);
    for (let rep = 0; rep < ctx.reps; rep++) {
      const pair: [RunningProxy, boolean][] = [
        [plain, false],
        [saving, true],
      ];
      if (rep % 2 === 1) pair.reverse();
      for (const [p, isSaving] of pair) {
        const w = await runWrk(ctx, p, ctx.sizes.durationS, CONNS);
        add(isSaving ? withW : without, "interloper", w.rps);
        ctx.log(`  W ${isSaving ? "-w" : "plain"} rep ${rep + 1}: ${fmt(w.rps)} req/s`);
        if (w.errors || w.non2xx)
          r.notes.push(
            `${isSaving ? "with" : "without"} -w rep ${rep + 1}: ${w.errors} socket errors, ${w.non2xx} non-2xx`,
          );
      }
    }
    const losses = (without.values.interloper ?? []).map((a, i) => (1 - withW.values.interloper![i]! / a) * 100);
    r.metrics.push({
      label: "throughput lost to -w, per repetition",
      unit: "%",
      better: "lower",
      values: { interloper: losses },
    });
    r.checks.push(
      valueCheck(
        losses.length ? median(losses) : undefined,
        `% throughput lost (median of the paired repetitions; medians ${fmt(med(withW, "interloper"))} vs ${fmt(med(without, "interloper"))} req/s)`,
        { max: 15 },
        "-w costs ≤ 15% of A's throughput",
      ),
    );
  } finally {
    await Promise.all([plain.stop(), saving?.stop()]);
    rmSync(file, { force: true });
  }
}

interface Sample {
  seconds: number;
  flows: number;
  fileBytes: number;
  rss: number;
}

async function longCapture(ctx: Ctx, r: WorkloadResult): Promise<void> {
  const file = join(ctx.tmp, "long.flow");
  const proxy = await startProxy(ctx, "interloper", { extra: ["-w", file] });
  const samples: Sample[] = [];
  const size = () => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  try {
    r.commands.push(`${proxy.command}    # the long capture, wrk -d${SEGMENT_S}s per segment`);
    const startRss = proxy.memory().rss;
    samples.push({ seconds: 0, flows: 0, fileBytes: size(), rss: startRss });
    let flows = 0;
    let seconds = 0;
    for (let s = 0; s < segments(ctx) && flows < TARGET_FLOWS; s++) {
      const w = await runWrk(ctx, proxy, SEGMENT_S, CONNS);
      flows += w.requests;
      seconds += SEGMENT_S;
      const sample = { seconds, flows, fileBytes: size(), rss: proxy.memory().rss };
      samples.push(sample);
      ctx.log(
        `  W capture ${seconds} s: ${fmt(flows)} flows, file ${fmt(sample.fileBytes / MB)} MB, RSS ${fmt(sample.rss / MB)} MB`,
      );
      if (w.errors || w.non2xx)
        r.notes.push(`long capture, segment ${s + 1}: ${w.errors} socket errors, ${w.non2xx} non-2xx`);
    }
  } finally {
    await proxy.stop();
    rmSync(file, { force: true });
  }
  const rows = ["| after | flows written | flow file (MB) | proxy RSS (MB) |", "|---|---:|---:|---:|"];
  for (const s of samples)
    rows.push(
      `| ${s.seconds === 0 ? "start (listening, nothing sent)" : `${s.seconds} s`} | ${fmt(s.flows)} | ${fmt(s.fileBytes / MB)} | ${fmt(s.rss / MB)} |`,
    );
  r.extra = `Long capture with \`-w\`:\n\n${rows.join("\n")}`;
  const first = samples[1];
  const last = samples.at(-1)!;
  if (!first) return;
  if (last.flows < TARGET_FLOWS)
    r.notes.push(
      `The long capture reached ${fmt(last.flows)} flows, not ${fmt(TARGET_FLOWS)}: it is bounded at ${segments(ctx)} segments of ${SEGMENT_S} s on this shared 2-core machine.`,
    );
  r.checks.push(
    valueCheck(
      (last.rss - first.rss) / MB,
      `MB RSS growth from ${fmt(first.flows)} to ${fmt(last.flows)} flows written (${fmt(first.rss / MB)} → ${fmt(last.rss / MB)} MB; ${fmt(samples[0]!.rss / MB)} MB at start)`,
      { max: 20 },
      "-w: RSS flat over the capture (grows ≤ 20 MB after the first segment)",
    ),
  );
}
