// U. The web UI: applying a filter over 50,000 flows in the browser (Debian's Chromium, headless),
// measured by bench/ui-filter.ts in a process of its own.
import { join } from "node:path";
import type { Ctx } from "../lib/context.ts";
import { ROOT, run } from "../lib/procs.ts";
import { valueCheck } from "../lib/report.ts";
import { fmt, median } from "../lib/stats.ts";
import type { UiFilterFigure } from "../ui-filter.ts";
import { add, metric, type Workload } from "./workload.ts";

const SCRIPT = join(ROOT, "bench/ui-filter.ts");

export const U: Workload = {
  id: "U",
  title: "Web UI: filtering 50,000 flows in the browser",
  deadlineMs: () => 600_000,
  async run(ctx: Ctx, r) {
    r.reps = 1;
    r.method =
      "`bench/ui-filter.ts` writes 50,000 HTTPS flows (40 hosts, GET/POST/PUT/DELETE, nine statuses, five content " +
      "types, small bodies) to a flow file, starts `node dist/cli.js --web -r FILE` so the UI's store holds them, " +
      "opens the UI in Debian's Chromium (headless, through playwright-core) and waits until the list shows all " +
      "50,000. For each expression it then types the expression into the filter box and presses Enter, timing in " +
      "the page from the keypress until the list has rendered again (the bundled sdk filter compiler compiles it, " +
      "evaluates it over every flow summary, and the virtualised list lays out the rows in view); another filter " +
      `is applied between measurements. ${ctx.quick ? 3 : 7} measurements per expression; the median is reported.`;
    const out = await run(
      "ui-filter",
      process.execPath,
      ["--import", "tsx", SCRIPT, "--json", ...(ctx.quick ? ["--quick"] : [])],
      {
        deadlineMs: 560_000,
      },
    );
    const line = out.stdout
      .trim()
      .split("\n")
      .find((l) => l.startsWith("{"));
    if (out.code !== 0 || !line)
      throw new Error(`bench/ui-filter.ts failed (exit ${out.code}): ${out.stdout.slice(-500)}`);
    const figures = (JSON.parse(line) as { figures: UiFilterFigure[] }).figures;
    r.commands.push(`node --import tsx bench/ui-filter.ts --json${ctx.quick ? " --quick" : ""}`);
    const rows = ["| expression | flows shown | median (ms) | slowest (ms) |", "|---|---:|---:|---:|"];
    const worst = metric("filter 50,000 flows: slowest expression's median", "ms", "lower");
    let slowest = 0;
    for (const f of figures) {
      const m = median(f.ms);
      slowest = Math.max(slowest, m);
      const shown = f.expr === "" ? "(no filter)" : `\`${f.expr.replace(/\|/g, "\\|")}\``;
      rows.push(`| ${shown} | ${fmt(f.shown)} | ${fmt(m)} | ${fmt(Math.max(...f.ms))} |`);
      ctx.log(`  U ${JSON.stringify(f.expr)}: median ${fmt(m)} ms, ${f.shown} shown`);
    }
    add(worst, "interloper", slowest);
    r.metrics.push(worst);
    r.extra = rows.join("\n");
    r.checks.push(
      valueCheck(
        slowest,
        "ms for the slowest expression (median)",
        { max: 200 },
        "a filter over 50,000 flows applies in < 200 ms",
      ),
    );
  },
};
