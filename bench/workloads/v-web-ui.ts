// V. The web UI open on workload A: the throughput interloper keeps with `--web` and a
// WebSocket client connected to `/api/updates` reading every update (as a browser tab
// does), against the same run without `--web` (paired as in W). A third proxy runs `--web`
// with no client: what the flow store costs by itself, apart from the live updates. Also the
// proxy's RSS after the runs with the UI (its flow store is bounded by web_max_flows).
import WebSocket from "ws";
import type { RowBatch } from "../../addons/web/api-types.ts";
import { summariesOfRows } from "../../addons/web/ui/lib/summary-row.ts";
import { runWrk, startProxy, wrkArgs, type Ctx, type RunningProxy } from "../lib/context.ts";
import { freePort } from "../lib/procs.ts";
import { med, valueCheck, type WorkloadResult } from "../lib/report.ts";
import { fmt, median } from "../lib/stats.ts";
import { CONNS } from "./a-plain-http.ts";
import { add, MB, metric, type Workload } from "./workload.ts";

const PASSWORD = "bench-web-ui";

/** A client of the UI's updates that reads (and parses) everything, as the browser does, counting flows seen. */
interface Reader {
  flows: number;
  messages: number;
  close(): void;
}

function openUpdates(port: number): Promise<Reader> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/updates`, {
    headers: { Authorization: `Bearer ${PASSWORD}` },
    origin: `http://127.0.0.1:${port}`,
  });
  const reader: Reader = { flows: 0, messages: 0, close: () => ws.terminate() };
  ws.on("message", (data: Buffer) => {
    reader.messages++;
    for (const u of JSON.parse(data.toString("utf8")) as { type: string; data: unknown }[]) {
      if (u.type === "flows/add") reader.flows++;
      // Finished flows come as rows; the browser makes each one's summary (ui/lib/summary-row.ts).
      else if (u.type === "flows/rows") reader.flows += summariesOfRows(u.data as RowBatch).length;
    }
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(reader));
    ws.once("error", reject);
  });
}

export const V: Workload = {
  id: "V",
  title: "The web UI open on workload A: throughput against no UI",
  deadlineMs: (ctx) => (ctx.reps * 3 * (ctx.sizes.durationS + 3) + 120) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `Workload A (wrk \`-t1 -c${CONNS}\`, absolute-form, 100-byte responses) through interloper with \`--web\` ` +
      "and a WebSocket client connected to `/api/updates` that reads and parses every update (what a browser tab " +
      "with the UI does), and through interloper without `--web`, back to back in every repetition (alternating " +
      "which goes first); the figure is the median over the repetitions of 1 − with ÷ without. The UI keeps its " +
      "default bound (web_max_flows 50,000). In the same repetitions, after the pair, a third interloper runs " +
      "`--web` with no client connected: its flow store still keeps every flow, but no update is made or sent; " +
      "its loss is against the same repetition's run without `--web`.";
    if (!ctx.wrk.available) throw new Error("wrk is not installed");
    await throughput(ctx, r);
  },
};

async function throughput(ctx: Ctx, r: WorkloadResult): Promise<void> {
  const plain = await startProxy(ctx, "interloper");
  let web: RunningProxy | undefined;
  let unwatched: RunningProxy | undefined;
  let reader: Reader | undefined;
  try {
    const uiPort = await freePort();
    web = await startProxy(ctx, "interloper", {
      extra: ["--web", "--set", `web_port=${uiPort}`, "--set", `web_password=${PASSWORD}`],
    });
    unwatched = await startProxy(ctx, "interloper", {
      extra: ["--web", "--set", `web_port=${await freePort()}`, "--set", `web_password=${PASSWORD}`],
    });
    reader = await openUpdates(uiPort);
    const without = metric("requests/s, without the UI", "req/s", "higher");
    const withUi = metric("requests/s, UI open", "req/s", "higher");
    const storeOnly = metric("requests/s, --web with no client", "req/s", "higher");
    r.metrics.push(without, withUi, storeOnly);
    r.commands.push(plain.command, web.command, wrkArgs(ctx, plain, ctx.sizes.durationS, CONNS).display);
    await runWrk(ctx, plain, ctx.sizes.warmupS, CONNS);
    await runWrk(ctx, web, ctx.sizes.warmupS, CONNS);
    await runWrk(ctx, unwatched, ctx.sizes.warmupS, CONNS);
    for (let rep = 0; rep < ctx.reps; rep++) {
      const pair: [RunningProxy, boolean][] = [
        [plain, false],
        [web, true],
      ];
      if (rep % 2 === 1) pair.reverse();
      for (const [p, isWeb] of pair) {
        const w = await runWrk(ctx, p, ctx.sizes.durationS, CONNS);
        add(isWeb ? withUi : without, "interloper", w.rps);
        ctx.log(`  V ${isWeb ? "UI open" : "no UI"} rep ${rep + 1}: ${fmt(w.rps)} req/s`);
        if (w.errors || w.non2xx)
          r.notes.push(`${isWeb ? "UI open" : "no UI"} rep ${rep + 1}: ${w.errors} socket errors, ${w.non2xx} non-2xx`);
      }
      const s = await runWrk(ctx, unwatched, ctx.sizes.durationS, CONNS);
      add(storeOnly, "interloper", s.rps);
      ctx.log(`  V --web, no client rep ${rep + 1}: ${fmt(s.rps)} req/s`);
    }
    const lossAgainst = (m: typeof withUi) =>
      (without.values.interloper ?? []).map((a, i) => (1 - m.values.interloper![i]! / a) * 100);
    const losses = lossAgainst(withUi);
    r.metrics.push(
      {
        label: "throughput lost to the open UI, per repetition",
        unit: "%",
        better: "lower",
        values: { interloper: losses },
      },
      {
        label: "throughput lost to --web with no client, per repetition",
        unit: "%",
        better: "lower",
        values: { interloper: lossAgainst(storeOnly) },
      },
    );
    r.notes.push(
      `The UI's client received ${fmt(reader.messages)} messages announcing ${fmt(reader.flows)} new flows; ` +
        `the proxy with the UI ended at ${fmt(web.memory().rss / MB)} MB RSS (without: ${fmt(plain.memory().rss / MB)} MB).`,
    );
    r.checks.push(
      valueCheck(
        losses.length ? median(losses) : undefined,
        `% throughput lost (median of the paired repetitions; medians ${fmt(med(withUi, "interloper"))} vs ${fmt(med(without, "interloper"))} req/s)`,
        { max: 10 },
        "the open UI costs ≤ 10% of A's throughput",
      ),
    );
  } finally {
    reader?.close();
    await Promise.all([plain.stop(), web?.stop(), unwatched?.stop()]);
  }
}
