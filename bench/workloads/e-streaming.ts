// E. A 1 GiB response through the proxy over plain HTTP: streamed
// (`--set stream_large_bodies=1m`), with the proxy's peak RSS; and once
// without streaming, which must finish or be refused clearly, never hang.
// Then the buffered rows of issue 17 (e-buffered.ts): peak RSS ÷ body for
// HTTPS downloads and uploads, and concurrent downloads under buffer_budget.
import { httpTarget, runClient, startProxy, type Ctx, type Kind } from "../lib/context.ts";
import { med, ratioCheck, valueCheck, type Check } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import type { DownloadResult } from "./c-passthrough.ts";
import {
  BUFFERED_CASES,
  bufferedCheck,
  bufferedDeadlineMs,
  bufferedTable,
  concurrentUnderBudget,
  measureBuffered,
  type BufferedFigure,
} from "./e-buffered.ts";
import { add, MB, metric, ORDER, type Workload } from "./workload.ts";

const KINDS: Kind[] = ["interloper", "mitmdump"];

export const E: Workload = {
  id: "E",
  title: "1 GiB response, streamed and not streamed",
  deadlineMs: (ctx) =>
    (ctx.reps * 3 * 70 +
      2 * (unstreamedDeadline(ctx) / 1000 + 20) +
      (BUFFERED_CASES.length + 2) * (bufferedDeadlineMs(ctx) / 1000 + 20) +
      60) *
    1000,
  async run(ctx: Ctx, r) {
    const gib = ctx.sizes.bigBytes / 2 ** 30;
    r.method =
      `The client sends \`GET http://127.0.0.1:$ORIGIN/big\` (absolute-form, plain HTTP) to the proxy and reads ` +
      `${fmt(gib)} GiB, written by the origin from one pre-allocated buffer; the direct baseline asks the origin. ` +
      "Every measurement starts a fresh proxy, so its peak RSS (VmHWM in /proc/PID/status, read after the " +
      "transfer) belongs to that transfer. MB/s = 10^6 bytes per second. The buffered rows (no " +
      "`stream_large_bodies`, interloper only: mitmdump does not finish the plain-HTTP case) add an HTTPS download " +
      "(CONNECT, the client trusting the proxy's CA, the proxy verifying the origin's) and uploads (`POST /sink`, " +
      "written by the client from one buffer; the origin counts the bytes and answers only once all came), each " +
      "through a fresh proxy; and eight concurrent downloads of half that size through one proxy started with " +
      "`--set buffer_budget=` twice that size, so that the budget holds four at a time.";
    const mbps = metric("streamed throughput", "MB/s", "higher");
    const hwm = metric("proxy peak RSS while streaming", "MB", "lower");
    r.metrics.push(mbps, hwm);
    const flags = { streamLargeBodies: "1m" };
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const who of ORDER) {
        if (who === "mitmdump" && !ctx.mitm.available) continue;
        const proxy = who === "direct" ? undefined : await startProxy(ctx, who, flags);
        try {
          if (proxy && rep === 0) r.commands.push(proxy.command);
          const res = await runClient<DownloadResult>(ctx, {
            mode: "download",
            target: httpTarget(ctx, proxy),
            path: `/big?bytes=${ctx.sizes.bigBytes}`,
            deadlineMs: 60_000,
            hardDeadlineMs: 65_000,
          });
          const peak = proxy?.memory().hwm;
          if (res.status !== 200 || res.bytes !== ctx.sizes.bigBytes) {
            r.notes.push(
              `${who} rep ${rep + 1}: streamed download failed: ${res.error ?? `status ${res.status}, ${res.bytes} bytes`}`,
            );
            continue;
          }
          add(mbps, who, res.mbps!);
          if (peak !== undefined) add(hwm, who, peak / MB);
          ctx.log(`  E ${who} rep ${rep + 1}: ${fmt(res.mbps)} MB/s${peak ? `, peak RSS ${fmt(peak / MB)} MB` : ""}`);
        } finally {
          await proxy?.stop();
        }
      }
    }
    r.checks.push(ratioCheck(mbps, "direct", { min: 0.5 }, "streamed MB/s ≥ 0.5× direct"));
    r.checks.push(valueCheck(med(hwm, "interloper"), "MB peak RSS", { max: 100 }, "streamed: proxy peak RSS ≤ 100 MB"));

    // Without streaming: once per tool, bounded by a deadline.
    const rows = [
      "| without streaming | outcome | time (s) | MB/s | proxy peak RSS (MB) |",
      "|---|---|---:|---:|---:|",
    ];
    let httpBuffered: BufferedFigure | undefined;
    let check: Check = {
      target: "not streamed: finishes or is refused clearly, never hangs",
      figure: "not measured",
      met: undefined,
    };
    for (const kind of KINDS) {
      if (kind === "mitmdump" && !ctx.mitm.available) continue;
      const proxy = await startProxy(ctx, kind);
      try {
        r.commands.push(`${proxy.command}    # without streaming`);
        ctx.log(`  E ${kind} without streaming (deadline ${unstreamedDeadline(ctx) / 1000} s)…`);
        let res: DownloadResult;
        try {
          res = await runClient<DownloadResult>(ctx, {
            mode: "download",
            target: httpTarget(ctx, proxy),
            path: `/big?bytes=${ctx.sizes.bigBytes}`,
            deadlineMs: unstreamedDeadline(ctx),
            hardDeadlineMs: unstreamedDeadline(ctx) + 5000,
          });
        } catch (e) {
          res = { bytes: 0, ms: NaN, error: (e as Error).message };
        }
        const peak = proxy.proc.running ? proxy.memory().hwm : NaN;
        const outcome = describe(res, ctx.sizes.bigBytes, proxy.proc.running);
        rows.push(
          `| ${kind} | ${outcome.text} | ${fmt(res.ms / 1000)} | ${outcome.ok === "completed" ? fmt(res.mbps) : "—"} | ${fmt(peak / MB)} |`,
        );
        ctx.log(`  E ${kind} without streaming: ${outcome.text}`);
        if (kind === "interloper") {
          httpBuffered = {
            label: "HTTP download",
            ok: outcome.ok === "completed",
            outcome: outcome.text.replace(/^completed: /, ""),
            seconds: res.ms / 1000,
            peak,
          };
          check = {
            target: check.target,
            figure: outcome.text,
            met: outcome.ok === "completed" || outcome.ok === "refused",
          };
        }
      } finally {
        await proxy.stop();
      }
    }
    r.checks.push(check);
    r.extra = rows.join("\n");

    const buffered = httpBuffered ? [httpBuffered] : [];
    for (const c of BUFFERED_CASES) buffered.push(await measureBuffered(ctx, c, r));
    r.checks.push(...buffered.map((f) => bufferedCheck(ctx, f)));
    r.extra += `\n\n${bufferedTable(ctx, buffered)}\n\nThe HTTP download row is interloper's run without streaming above.`;
    const concurrent = await concurrentUnderBudget(ctx, r);
    r.checks.push(...concurrent.checks);
    r.extra += `\n\n${concurrent.text}`;
  },
};

function unstreamedDeadline(ctx: Ctx): number {
  return ctx.quick ? 30_000 : 60_000;
}

function describe(
  res: DownloadResult,
  expected: number,
  alive: boolean,
): { ok: "completed" | "refused" | "failed"; text: string } {
  const dead = alive ? "" : "; the proxy process died";
  if (res.status === 200 && res.bytes === expected)
    return { ok: "completed", text: `completed: all ${fmt(expected / MB)} MB delivered${dead}` };
  if (res.status !== undefined && res.status >= 400) {
    const body = (res.body ?? "").replace(/\s+/g, " ").trim().slice(0, 160);
    return { ok: "refused", text: `refused: HTTP ${res.status}${body ? ` "${body}"` : ""}${dead}` };
  }
  if (res.timedOut)
    return {
      ok: "failed",
      text: `no complete response within the deadline (${fmt(res.bytes / MB)} MB received): hung${dead}`,
    };
  return { ok: "failed", text: `failed: ${res.error ?? `status ${res.status}, ${res.bytes} bytes`}${dead}` };
}
