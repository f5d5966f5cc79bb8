// I. Filter expressions: flows evaluated per second by a compiled filter
// (sdk compileFilter), measured by bench/filter.ts in a process of its own.
import { join } from "node:path";
import type { Ctx } from "../lib/context.ts";
import { ROOT, run } from "../lib/procs.ts";
import { valueCheck } from "../lib/report.ts";
import { fmt, median } from "../lib/stats.ts";
import type { FilterFigure } from "../filter.ts";
import { add, metric, type Workload } from "./workload.ts";

const SCRIPT = join(ROOT, "bench/filter.ts");

export const I: Workload = {
  id: "I",
  title: "Filter expressions: flows evaluated per second",
  deadlineMs: (ctx) => (ctx.reps * 30 + 30) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      "`bench/filter.ts` compiles each expression once with the sdk's `compileFilter` and calls it on flows built " +
      "with `@interloper/sdk/testing` — four in rotation (an HTTPS GET with its HTML response, a JSON POST with a " +
      "gzip-encoded response, a TCP flow, a WebSocket flow), and the HTTPS GET alone for the issue's typical flow — " +
      `in batches of 10,000 for about ${ctx.quick ? "0.2" : "1"} s per expression (at most 50 million calls), after ` +
      "a warm-up batch. flows/s is over wall-clock time; per CPU-second divides by the process's own CPU time " +
      "(user + system), which other processes on the machine cannot inflate. Repetitions are separate processes.";
    const runs: FilterFigure[][] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      const out = await run("filter", process.execPath, ["--import", "tsx", SCRIPT, "--json", ...quickFlag(ctx)], {
        deadlineMs: 25_000,
      });
      const line = out.stdout
        .trim()
        .split("\n")
        .find((l) => l.startsWith("{"));
      if (out.code !== 0 || !line)
        throw new Error(`bench/filter.ts failed (exit ${out.code}): ${out.stdout.slice(-300)}`);
      const figures = (JSON.parse(line) as { figures: FilterFigure[] }).figures;
      runs.push(figures);
      const typical = figures.at(-1)!;
      ctx.log(
        `  I rep ${rep + 1}: typical flow ${fmt(typical.perSecond)} flows/s, ${fmt(typical.perCpuSecond)} per CPU-s`,
      );
    }
    r.commands.push(`node --import tsx bench/filter.ts --json${ctx.quick ? " --quick" : ""}`);
    const rows = ["| expression | flows | flows/s | flows per CPU-second | compile (µs) |", "|---|---|---:|---:|---:|"];
    const first = runs[0]!;
    const perCpu = metric("typical flow: evaluations per CPU-second", "flows/s", "higher");
    const wall = metric("typical flow: evaluations per second (wall clock)", "flows/s", "higher");
    first.forEach((f, i) => {
      const all = runs.map((x) => x[i]!);
      const m = (pick: (x: FilterFigure) => number) => median(all.map(pick));
      rows.push(
        `| \`${f.expr.replace(/\|/g, "\\|")}\` | ${f.sample} | ${fmt(m((x) => x.perSecond))} | ${fmt(m((x) => x.perCpuSecond))} | ${fmt(m((x) => x.compileUs))} |`,
      );
    });
    for (const x of runs) {
      add(perCpu, "interloper", x.at(-1)!.perCpuSecond);
      add(wall, "interloper", x.at(-1)!.perSecond);
    }
    r.metrics.push(perCpu, wall);
    r.extra = `Medians over the repetitions:\n\n${rows.join("\n")}`;
    const cpuRate = median(perCpu.values.interloper!);
    const wallRate = median(wall.values.interloper!);
    r.checks.push(
      valueCheck(
        cpuRate / 1e6,
        `million per CPU-second (${fmt(wallRate / 1e6)} million per wall-clock second on the shared machine)`,
        { min: 2 },
        "`~d example\\.com & ~m GET & !~a` on a typical flow: ≥ 2 million evaluations/s",
      ),
    );
  },
};

function quickFlag(ctx: Ctx): string[] {
  return ctx.quick ? ["--quick"] : [];
}
