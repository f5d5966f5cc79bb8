// E, buffered bodies (issue 17): the proxy's peak RSS ÷ body size for a large
// body held whole (no stream_large_bodies) — download and upload, HTTP and
// HTTPS — and eight concurrent downloads under a buffer_budget.
import {
  httpsTarget,
  httpTarget,
  runClient,
  startProxy,
  type Ctx,
  type ProxyFlags,
  type RunningProxy,
} from "../lib/context.ts";
import type { Target } from "../lib/http1.ts";
import type { Check, WorkloadResult } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import type { DownloadResult } from "./c-passthrough.ts";
import { MB } from "./workload.ts";

export interface BufferedCase {
  label: string;
  direction: "download" | "upload";
  tls: boolean;
}

/** The cases measured here; the plain-HTTP download is E's "without streaming" run, passed in. */
export const BUFFERED_CASES: BufferedCase[] = [
  { label: "HTTPS download", direction: "download", tls: true },
  { label: "HTTP upload", direction: "upload", tls: false },
  { label: "HTTPS upload", direction: "upload", tls: true },
];

export interface BufferedFigure {
  label: string;
  ok: boolean;
  outcome: string;
  seconds: number;
  peak: number;
}

export function bufferedDeadlineMs(ctx: Ctx): number {
  return ctx.quick ? 30_000 : 60_000;
}

interface UploadResult {
  status?: number;
  bytes: number;
  received?: number;
  ms: number;
  error?: string;
}

/** One buffered transfer of `ctx.sizes.bigBytes` through a fresh interloper; its peak RSS read after it. */
export async function measureBuffered(ctx: Ctx, c: BufferedCase, r: WorkloadResult): Promise<BufferedFigure> {
  const bytes = ctx.sizes.bigBytes;
  const flags: ProxyFlags = c.tls ? { trustedCa: ctx.originCaFile } : {};
  const proxy = await startProxy(ctx, "interloper", flags);
  try {
    if (c.tls && !r.commands.some((x) => x.includes("ssl_verify_upstream_trusted_ca")))
      r.commands.push(`${proxy.command}    # buffered HTTPS`);
    const target: Target = c.tls ? httpsTarget(ctx, "interloper", proxy) : httpTarget(ctx, proxy);
    const deadline = bufferedDeadlineMs(ctx);
    let ok: boolean;
    let outcome: string;
    let ms: number;
    if (c.direction === "download") {
      const res = await runClient<DownloadResult>(ctx, {
        mode: "download",
        target,
        path: `/big?bytes=${bytes}`,
        deadlineMs: deadline,
        hardDeadlineMs: deadline + 5000,
      });
      ok = res.status === 200 && res.bytes === bytes;
      outcome = ok ? `all ${fmt(bytes / MB)} MB delivered` : (res.error ?? `status ${res.status}, ${res.bytes} bytes`);
      ms = res.ms;
    } else {
      const res = await runClient<UploadResult>(ctx, {
        mode: "upload",
        target,
        path: "/sink",
        bytes,
        deadlineMs: deadline,
        hardDeadlineMs: deadline + 5000,
      });
      ok = res.status === 200 && res.received === bytes;
      outcome = ok
        ? `all ${fmt(bytes / MB)} MB reached the origin`
        : (res.error ?? `status ${res.status}, the origin got ${res.received ?? "?"} bytes`);
      ms = res.ms;
    }
    const peak = alivePeak(proxy);
    ctx.log(`  E buffered ${c.label}: ${outcome}, peak RSS ${fmt(peak / MB)} MB (${fmt(peak / bytes)}× the body)`);
    return { label: c.label, ok, outcome, seconds: ms / 1000, peak };
  } finally {
    await proxy.stop();
  }
}

function alivePeak(proxy: RunningProxy): number {
  return proxy.proc.running ? proxy.memory().hwm : NaN;
}

/** The issue's bound: peak RSS ≤ 1.2 × body + 100 MB. */
export function bufferedCheck(ctx: Ctx, f: BufferedFigure): Check {
  const bytes = ctx.sizes.bigBytes;
  const limit = 1.2 * bytes + 100 * MB;
  return {
    target: `buffered ${f.label}: peak RSS ≤ 1.2 × body + 100 MB (${fmt(limit / MB)} MB)`,
    figure: f.ok
      ? `${fmt(f.peak / bytes)}× the body (${fmt(f.peak / MB)} MB for ${fmt(bytes / MB)} MB)`
      : `failed: ${f.outcome}`,
    met: f.ok && Number.isFinite(f.peak) ? f.peak <= limit : f.ok ? undefined : false,
  };
}

export function bufferedTable(ctx: Ctx, figures: BufferedFigure[]): string {
  const rows = [
    `| buffered ${fmt(ctx.sizes.bigBytes / 2 ** 30)} GiB (interloper) | outcome | time (s) | proxy peak RSS (MB) | peak RSS ÷ body |`,
    "|---|---|---:|---:|---:|",
  ];
  for (const f of figures)
    rows.push(
      `| ${f.label} | ${f.ok ? "completed" : "failed"}: ${f.outcome} | ${fmt(f.seconds)} | ${fmt(f.peak / MB)} | ${fmt(f.peak / ctx.sizes.bigBytes)}× |`,
    );
  return rows.join("\n");
}

const CONCURRENT = 8;

/** `--set buffer_budget=` text for a byte count: whole GiB as `Ng`, else MiB. */
function sizeArg(bytes: number): string {
  return bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30}g` : `${Math.round(bytes / 2 ** 20)}m`;
}

/**
 * Eight concurrent buffered downloads of half E's size each (512 MiB) with a
 * budget of twice E's size (2 GiB): the budget holds four, the others are
 * streamed. Every download must complete with its bytes; RSS stays under
 * the budget + 200 MB.
 */
export async function concurrentUnderBudget(ctx: Ctx, r: WorkloadResult): Promise<{ checks: Check[]; text: string }> {
  const each = ctx.sizes.bigBytes / 2;
  const budget = 2 * ctx.sizes.bigBytes;
  const proxy = await startProxy(ctx, "interloper", {
    quiet: false,
    extra: ["--set", `buffer_budget=${sizeArg(budget)}`],
  });
  let switched = 0;
  proxy.proc.onLine((line) => {
    if (/buffer_budget .* streaming/.test(line)) switched++;
  });
  const deadline = bufferedDeadlineMs(ctx) * 2;
  try {
    r.commands.push(`${proxy.command}    # ${CONCURRENT} concurrent buffered downloads`);
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: CONCURRENT }, () =>
        runClient<DownloadResult>(ctx, {
          mode: "download",
          target: httpTarget(ctx, proxy),
          path: `/big?bytes=${each}`,
          deadlineMs: deadline,
          hardDeadlineMs: deadline + 5000,
        }).catch((e: Error): DownloadResult => ({ bytes: 0, ms: NaN, error: e.message })),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    const peak = alivePeak(proxy);
    const complete = results.filter((x) => x.status === 200 && x.bytes === each).length;
    const delivered = results.reduce((a, x) => a + (x.bytes || 0), 0);
    const failures = results.filter((x) => !(x.status === 200 && x.bytes === each));
    const limit = budget + 200 * MB;
    ctx.log(
      `  E ${CONCURRENT} × ${fmt(each / MB)} MB buffered, budget ${sizeArg(budget)}: ${complete} complete, ${switched} streamed by the budget, peak RSS ${fmt(peak / MB)} MB`,
    );
    const label = `${CONCURRENT} concurrent buffered downloads of ${fmt(each / 2 ** 20)} MiB, \`buffer_budget=${sizeArg(budget)}\``;
    const text =
      `${label}: ${complete} of ${CONCURRENT} complete with every byte (${fmt(delivered / MB)} of ` +
      `${fmt((CONCURRENT * each) / MB)} MB delivered) in ${fmt(seconds)} s; ${switched} of them streamed because the ` +
      `budget was taken (the proxy's info line); proxy peak RSS ${fmt(peak / MB)} MB.` +
      (failures.length ? ` Failures: ${failures.map((x) => x.error ?? `status ${x.status}`).join("; ")}.` : "");
    return {
      text,
      checks: [
        {
          target: `${CONCURRENT} × ${fmt(each / 2 ** 20)} MiB buffered, budget ${sizeArg(budget)}: all complete, none lost`,
          figure: `${complete} of ${CONCURRENT} complete, ${fmt(delivered / MB)} of ${fmt((CONCURRENT * each) / MB)} MB delivered`,
          met: complete === CONCURRENT,
        },
        {
          target: `${CONCURRENT} × ${fmt(each / 2 ** 20)} MiB buffered: peak RSS ≤ budget + 200 MB (${fmt(limit / MB)} MB)`,
          figure: `${fmt(peak / MB)} MB peak RSS`,
          met: Number.isFinite(peak) ? peak <= limit : false,
        },
      ],
    };
  } finally {
    await proxy.stop();
  }
}
