// P. CPU profiles of interloper under workloads A, B1, B2, D and E (node --cpu-prof),
// summarised as self time per function and per source file.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { randomBytes } from "node:crypto";
import { httpTarget, httpsTarget, runClient, runWrk, startProxy, type Ctx, type ProxyFlags } from "../lib/context.ts";
import { summarise, type ProfileSummary } from "../lib/cpuprofile.ts";
import { ROOT } from "../lib/procs.ts";
import { fmt } from "../lib/stats.ts";
import type { Workload } from "./workload.ts";

const DIR = join(ROOT, "bench/profiles");

async function profiled(
  ctx: Ctx,
  name: string,
  flags: ProxyFlags,
  load: (port: number) => Promise<string>,
): Promise<{ file: string; summary: ProfileSummary; load: string; command: string }> {
  mkdirSync(DIR, { recursive: true });
  // Only the latest profile of each workload is kept (they are not in git and would pile up).
  for (const f of readdirSync(DIR)) if (f.startsWith(`${name}-`) && f.endsWith(".cpuprofile")) rmSync(join(DIR, f));
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const fileName = `${name}-${stamp}.cpuprofile`;
  const proxy = await startProxy(ctx, "interloper", {
    ...flags,
    nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${DIR}`, `--cpu-prof-name=${fileName}`],
  });
  let loadText: string;
  try {
    loadText = await load(proxy.port);
  } finally {
    await proxy.stop(15_000); // SIGTERM: the proxy exits cleanly and V8 writes the profile
  }
  const file = join(DIR, fileName);
  if (!existsSync(file)) throw new Error(`no profile written (${readdirSync(DIR).length} files in bench/profiles)`);
  return { file, summary: summarise(file), load: loadText, command: proxy.command };
}

function table(title: string, p: { file: string; summary: ProfileSummary; load: string }): string {
  const s = p.summary;
  const lines = [
    `**${title}** — ${p.load}; profile \`${relative(ROOT, p.file)}\`. Busy ${fmt(s.busyMs / 1000)} s of ${fmt(s.totalMs / 1000)} s sampled ` +
      `(idle ${fmt((s.idleMs / s.totalMs) * 100)}%), GC ${fmt((s.gcMs / Math.max(1, s.busyMs)) * 100)}% of busy time.`,
    "",
    "| self time | share of busy | function | where |",
    "|---:|---:|---|---|",
    ...s.top.map((h) => `| ${fmt(h.ms)} ms | ${fmt(h.share * 100)}% | \`${h.name}\` | ${h.where} |`),
    "",
    "By file:",
    "",
    "| self time | share of busy | file |",
    "|---:|---:|---|",
    ...s.byFile.map((h) => `| ${fmt(h.ms)} ms | ${fmt(h.share * 100)}% | ${h.name} |`),
  ];
  return lines.join("\n");
}

export const P: Workload = {
  id: "P",
  title: "CPU profile of interloper under A, B1, B2, D and E",
  deadlineMs: (ctx) => (3 * (ctx.sizes.durationS + ctx.sizes.warmupS + 30) + 2 * 90 + 60) * 1000,
  async run(ctx: Ctx, r) {
    r.reps = 1; // one profile per workload: its shares, not its throughput, are the point
    r.method =
      "interloper runs under `node --cpu-prof --cpu-prof-dir=bench/profiles` through one warm-up and one measured run of " +
      "workload A (wrk), of workload B1 and of workload B2 with 8 connections, then through one series of workload D (first " +
      "contact with new names) and one streamed download of workload E; the proxy is then stopped with SIGTERM so that V8 writes " +
      "the profile. Self time is summed per function (positions mapped to the TypeScript sources through " +
      "dist/cli.js.map); shares are of the busy (non-idle) time. Profiling slows the proxy down, so these runs' " +
      "throughput is not a figure of the suite.";
    const parts: string[] = [];
    if (ctx.wrk.available) {
      const a = await profiled(ctx, "A", {}, async (port) => {
        const proxy = { port } as never;
        await runWrk(ctx, proxy, ctx.sizes.warmupS);
        const w = await runWrk(ctx, proxy, ctx.sizes.durationS);
        return `workload A, ${fmt(w.rps)} req/s while profiled`;
      });
      r.commands.push(a.command);
      parts.push(table("Workload A (plain HTTP keep-alive)", a));
      ctx.log(
        `  P A: top ${a.summary.top
          .slice(0, 3)
          .map((h) => `${h.name} ${fmt(h.share * 100)}%`)
          .join(", ")}`,
      );
    }
    const b1 = await profiled(ctx, "B1", { trustedCa: ctx.originCaFile }, async (port) => {
      const res = await runClient<{ rps: number }>(ctx, {
        mode: "newconn",
        target: httpsTarget(ctx, "interloper", { port } as never),
        concurrency: 4,
        warmupMs: ctx.sizes.warmupS * 1000,
        durationMs: ctx.sizes.durationS * 1000,
        maxCount: 100_000,
        hardDeadlineMs: (ctx.sizes.warmupS + ctx.sizes.durationS) * 1000 + 20_000,
      });
      return `workload B1 (a new TLS connection per request, 4 at a time), ${fmt(res.rps)} req/s while profiled`;
    });
    r.commands.push(b1.command);
    parts.push(table("Workload B1 (HTTPS, a new TLS connection per request)", b1));
    ctx.log(
      `  P B1: top ${b1.summary.top
        .slice(0, 3)
        .map((h) => `${h.name} ${fmt(h.share * 100)}%`)
        .join(", ")}`,
    );
    const b = await profiled(ctx, "B2", { trustedCa: ctx.originCaFile }, async (port) => {
      const res = await runClient<{ rps: number }>(ctx, {
        mode: "keepalive",
        target: httpsTarget(ctx, "interloper", { port } as never),
        conns: 8,
        warmupMs: ctx.sizes.warmupS * 1000,
        durationMs: ctx.sizes.durationS * 1000,
        maxCount: 5_000_000,
        hardDeadlineMs: (ctx.sizes.warmupS + ctx.sizes.durationS) * 1000 + 20_000,
      });
      return `workload B2 with 8 connections, ${fmt(res.rps)} req/s while profiled`;
    });
    r.commands.push(b.command);
    parts.push(table("Workload B2 (HTTPS keep-alive, 8 connections)", b));
    ctx.log(
      `  P B2: top ${b.summary.top
        .slice(0, 3)
        .map((h) => `${h.name} ${fmt(h.share * 100)}%`)
        .join(", ")}`,
    );
    const tag = randomBytes(3).toString("hex");
    const d = await profiled(ctx, "D", { insecure: true }, async (port) => {
      const res = await runClient<{ p50: number; count: number }>(ctx, {
        mode: "first",
        target: httpsTarget(ctx, "interloper", { port } as never),
        names: Array.from({ length: ctx.sizes.hosts }, (_, i) => `h${i}-p${tag}.bench.test`),
        warmNames: Array.from({ length: 10 }, (_, i) => `w${i}-p${tag}.bench.test`),
        deadlineMs: 60_000,
        hardDeadlineMs: 65_000,
      });
      return `workload D (${res.count} first requests, one at a time), p50 ${fmt(res.p50)} ms while profiled`;
    });
    r.commands.push(d.command);
    parts.push(table("Workload D (first contact with new names)", d));
    ctx.log(
      `  P D: top ${d.summary.top
        .slice(0, 3)
        .map((h) => `${h.name} ${fmt(h.share * 100)}%`)
        .join(", ")}`,
    );
    const e = await profiled(ctx, "E", { streamLargeBodies: "1m" }, async (port) => {
      const res = await runClient<{ mbps?: number; bytes: number }>(ctx, {
        mode: "download",
        target: httpTarget(ctx, { port } as never),
        path: `/big?bytes=${ctx.sizes.bigBytes}`,
        deadlineMs: 60_000,
        hardDeadlineMs: 65_000,
      });
      return `workload E (one streamed download of ${fmt(res.bytes / 1e6)} MB), ${fmt(res.mbps)} MB/s while profiled`;
    });
    r.commands.push(e.command);
    parts.push(table("Workload E (a streamed 1 GiB response)", e));
    ctx.log(
      `  P E: top ${e.summary.top
        .slice(0, 3)
        .map((h) => `${h.name} ${fmt(h.share * 100)}%`)
        .join(", ")}`,
    );
    r.extra = parts.join("\n\n");
  },
};
