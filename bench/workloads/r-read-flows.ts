// R. Reading a large flow file: `interloper -n -r FILE -q` beside
// `mitmdump -n -r FILE -q` on the same file (written by
// bench/make-flow-file.ts), with each process's RSS sampled while it reads.
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Ctx, Kind } from "../lib/context.ts";
import { displayCommand } from "../lib/context.ts";
import { DIST_CLI, memory, Proc, ROOT, run } from "../lib/procs.ts";
import { med, ratioCheck, valueCheck, type WorkloadResult } from "../lib/report.ts";
import { fmt, sleep } from "../lib/stats.ts";
import { add, MB, metric, type Workload } from "./workload.ts";

const POLL_MS = 250;

function fileBytes(ctx: Ctx): number {
  return ctx.quick ? 100e6 : 1e9;
}

function readDeadlineMs(ctx: Ctx): number {
  return ctx.quick ? 60_000 : 240_000;
}

export const R: Workload = {
  id: "R",
  title: "Reading a 1 GB flow file (-n -r)",
  deadlineMs: (ctx) => (180 + (2 * readDeadlineMs(ctx)) / 1000 + 30) * 1000,
  async run(ctx: Ctx, r) {
    r.reps = 1;
    const file = join(ctx.tmp, "big.flow");
    try {
      ctx.log(`  R writing a ${fmt(fileBytes(ctx) / MB)} MB flow file…`);
      const made = await makeFile(ctx, file);
      r.method =
        `\`bench/make-flow-file.ts\` writes ${fmt(made.bytes / MB)} MB of flows (${fmt(made.flows)} HTTPS flows in ` +
        "mitmproxy's format version 17, through the sdk's `FlowWriter`): per ten flows, five JSON API calls (2 KB " +
        "bodies), two HTML pages (40 KB), an image (150 KB), a JSON POST and a 404, each with its own URL and body. " +
        "Each tool then reads it once with `-n -r FILE -q` (no listener, no log lines: the flows still go through " +
        "every addon) and exits; time is the whole process, start-up included. RSS (VmRSS) and peak RSS (VmHWM) are " +
        `read from /proc every ${POLL_MS} ms while it runs (the last reading before exit is the peak). One run each, ` +
        `bounded at ${readDeadlineMs(ctx) / 1000} s; a run stopped there reports how far into the file it got.`;
      const seconds = metric("time to read the file", "s", "lower");
      const flowsPerS = metric("flows read per second", "flows/s", "higher");
      const mbps = metric("throughput", "MB/s", "higher");
      const peak = metric("peak RSS", "MB", "lower");
      r.metrics.push(seconds, flowsPerS, mbps, peak);
      const series: string[] = [];
      for (const kind of ["interloper", "mitmdump"] as Kind[]) {
        if (kind === "mitmdump" && !ctx.mitm.available) continue;
        const res = await readWith(ctx, kind, file, made.bytes, r);
        if (res.done) {
          add(seconds, kind, res.ms / 1000);
          add(flowsPerS, kind, made.flows / (res.ms / 1000));
          add(mbps, kind, made.bytes / MB / (res.ms / 1000));
        } else {
          // Stopped at the deadline: the speed so far, from the file position it had reached.
          add(mbps, kind, res.position / MB / (res.ms / 1000));
          r.notes.push(
            `${kind} did not finish within ${readDeadlineMs(ctx) / 1000} s: it had read ${fmt(res.position / MB)} of ${fmt(made.bytes / MB)} MB (its MB/s is that part's).`,
          );
        }
        add(peak, kind, res.hwm / MB);
        series.push(`| ${kind} | ${res.rssAt.map((x) => fmt(x / MB)).join(" | ")} | ${fmt(res.hwm / MB)} |`);
        ctx.log(
          `  R ${kind}: ${res.done ? `${fmt(res.ms / 1000)} s` : "stopped at the deadline"}, peak RSS ${fmt(res.hwm / MB)} MB`,
        );
      }
      r.extra = [
        "RSS while reading, at each fifth of the run (MB):",
        "",
        "| tool | 20% | 40% | 60% | 80% | last reading | peak |",
        "|---|---:|---:|---:|---:|---:|---:|",
        ...series,
      ].join("\n");
      r.checks.push(ratioCheck(mbps, "mitmdump", { min: 10 }, "reading: MB/s ≥ 10× `mitmdump -nr` (goal)"));
      r.checks.push(
        valueCheck(
          med(peak, "interloper"),
          `MB peak RSS reading ${fmt(made.bytes / MB)} MB`,
          { max: 200 },
          "reading streams: peak RSS ≤ 200 MB whatever the file's size",
        ),
      );
    } finally {
      rmSync(file, { force: true });
    }
  },
};

async function makeFile(ctx: Ctx, file: string): Promise<{ flows: number; bytes: number }> {
  const out = await run(
    "make-flow-file",
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/make-flow-file.ts"), file, String(fileBytes(ctx))],
    { deadlineMs: 180_000 },
  );
  const line = out.stdout
    .trim()
    .split("\n")
    .find((l) => l.startsWith("{"));
  if (out.code !== 0 || !line)
    throw new Error(`make-flow-file failed (exit ${out.code}${out.timedOut ? ", killed at its deadline" : ""})`);
  return JSON.parse(line) as { flows: number; bytes: number };
}

interface ReadResult {
  done: boolean;
  ms: number;
  /** How far into the file the reader was at its last reading (bytes). */
  position: number;
  hwm: number;
  /** RSS at 20, 40, 60 and 80% of the run, and the last reading. */
  rssAt: number[];
}

async function readWith(ctx: Ctx, kind: Kind, file: string, size: number, r: WorkloadResult): Promise<ReadResult> {
  const [cmd, args] =
    kind === "interloper"
      ? [process.execPath, [DIST_CLI, "-n", "-r", file, "-q", "--set", `confdir=${ctx.confdir.interloper}`]]
      : ["mitmdump", ["-n", "-r", file, "-q", "--set", `confdir=${ctx.confdir.mitmdump}`]];
  r.commands.push(displayCommand(ctx, cmd, args));
  const t0 = performance.now();
  const p = new Proc(`${kind}-read`, cmd, args, { logFile: join(ctx.tmp, `${kind}-read.log`) });
  const samples: { t: number; rss: number }[] = [];
  let hwm = 0;
  let position = 0;
  const end = t0 + readDeadlineMs(ctx);
  while (p.running && performance.now() < end) {
    try {
      // An exited process not yet reaped has no memory lines: such a reading is left out.
      const m = memory(p.pid);
      if (Number.isFinite(m.hwm)) hwm = Math.max(hwm, m.hwm);
      if (Number.isFinite(m.rss)) samples.push({ t: performance.now() - t0, rss: m.rss });
      position = filePosition(p.pid, file) ?? position;
    } catch {
      /* it exited between the check and the read */
    }
    await Promise.race([p.exited, sleep(POLL_MS)]);
  }
  const done = !p.running;
  const ms = performance.now() - t0;
  if (!done) await p.stop(2000);
  if (done && p.exitCode !== 0) throw new Error(`${kind} -n -r exited with ${p.exitCode}: ${p.output.slice(-300)}`);
  const at = (share: number) => samples.filter((s) => s.t <= share * ms).at(-1)?.rss ?? NaN;
  return {
    done,
    ms,
    position: done ? size : position,
    hwm,
    rssAt: [at(0.2), at(0.4), at(0.6), at(0.8), samples.at(-1)?.rss ?? NaN],
  };
}

/** The read offset of the process's descriptor open on `file` (from /proc/PID/fdinfo). */
function filePosition(pid: number, file: string): number | undefined {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== file) continue;
    const pos = /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1];
    return pos === undefined ? undefined : Number(pos);
  }
  return undefined;
}
