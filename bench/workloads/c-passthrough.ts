// C. An ignored (passthrough) HTTPS download of 1 GiB through `--ignore-hosts`.
import { httpsTarget, runClient, startProxies, stopAll, type Ctx } from "../lib/context.ts";
import { ratioCheck } from "../lib/report.ts";
import { fmt } from "../lib/stats.ts";
import { add, metric, ORDER, type Workload } from "./workload.ts";

export interface DownloadResult {
  status?: number;
  bytes: number;
  ms: number;
  mbps?: number;
  ttfbMs?: number;
  timedOut?: boolean;
  error?: string;
  body?: string;
}

/** Matches the origin in both tools: mitmproxy 8 searches the bare host, interloper `host:port`. */
export const IGNORE_ORIGIN = "^127\\.0\\.0\\.1";

export const C: Workload = {
  id: "C",
  title: "Passthrough (ignored) HTTPS download of 1 GiB",
  deadlineMs: (ctx) => (ctx.reps * 3 * 60 + 60) * 1000,
  async run(ctx: Ctx, r) {
    const gib = ctx.sizes.bigBytes / 2 ** 30;
    r.method =
      `The client sends \`CONNECT 127.0.0.1:$ORIGIN\`, does TLS with the origin itself (it trusts only the origin's CA, ` +
      `so an intercepted connection would fail) and downloads ${fmt(gib)} GiB, which the origin writes from one ` +
      "pre-allocated buffer. Both proxies run with `--ignore-hosts '" +
      IGNORE_ORIGIN +
      "'`. MB/s = 10^6 bytes per " +
      "second of the whole exchange (connect, handshake, body).";
    const proxies = await startProxies(ctx, { ignoreHosts: IGNORE_ORIGIN }, r.notes);
    try {
      const mbps = metric("throughput", "MB/s", "higher");
      r.metrics.push(mbps);
      r.commands.push(...Object.values(proxies).map((p) => p.command));
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const who of ORDER) {
          if (who !== "direct" && !proxies[who]) continue;
          const res = await runClient<DownloadResult>(ctx, {
            mode: "download",
            target: httpsTarget(ctx, who, proxies[who as "interloper"], { originCert: true }),
            path: `/big?bytes=${ctx.sizes.bigBytes}`,
            deadlineMs: 50_000,
            hardDeadlineMs: 55_000,
          });
          if (res.status !== 200 || res.bytes !== ctx.sizes.bigBytes) {
            r.notes.push(
              `${who} rep ${rep + 1}: download failed: ${res.error ?? `status ${res.status}, ${res.bytes} bytes`}`,
            );
            continue;
          }
          add(mbps, who, res.mbps!);
          ctx.log(`  C ${who} rep ${rep + 1}: ${fmt(res.mbps)} MB/s`);
        }
      }
      r.checks.push(ratioCheck(mbps, "direct", { min: 0.85 }, "MB/s ≥ 0.85× direct"));
    } finally {
      await stopAll(proxies);
    }
  },
};
