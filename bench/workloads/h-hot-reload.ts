// H. Hot reload: how soon a saved addon answers, and whether memory stays flat
// over hundreds of reloads of a ~200 KB addon.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { join } from "node:path";
import { startProxy, type Ctx, type Kind, type RunningProxy } from "../lib/context.ts";
import { Http1Conn, getRequest, open, type Target } from "../lib/http1.ts";
import { med, valueCheck } from "../lib/report.ts";
import { fmt, median, percentile, sleep } from "../lib/stats.ts";
import { add, MB, metric, type Workload } from "./workload.ts";

const MITM_SAVES = 10;

function markerTs(marker: string): string {
  return `// Written by bench/workloads/h-hot-reload.ts: answers /__marker locally.
import { Response } from "@interloper/sdk";
export default {
  name: "marker",
  request(flow: { request: { path: string }; response?: unknown }) {
    if (flow.request.path.startsWith("/__marker")) flow.response = Response.make(200, ${JSON.stringify(marker)});
  },
};
`;
}

function markerPy(marker: string): string {
  return `# Written by bench/workloads/h-hot-reload.ts: answers /__marker locally.
from mitmproxy import http


class Marker:
    def request(self, flow):
        if flow.request.path.startswith("/__marker"):
            flow.response = http.Response.make(200, ${JSON.stringify(marker)}.encode())


addons = [Marker()]
`;
}

/** A ~200 KB addon: a table of strings and 300 small functions, plus /__heap (GC, then process.memoryUsage()). */
function bigAddon(version: number): string {
  const lines = [
    "// Written by bench/workloads/h-hot-reload.ts: a ~200 KB addon reloaded hundreds of times.",
    'import { Response } from "@interloper/sdk";',
    `const VERSION = ${version};`,
    "const TABLE: Record<string, string> = {",
  ];
  for (let i = 0; i < 1800; i++)
    lines.push(
      `  k${i}: "${i.toString(36).padStart(4, "0")}-${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(2)}-${i}",`,
    );
  lines.push("};");
  for (let i = 0; i < 300; i++)
    lines.push(`function f${i}(x: number): number { return (x * ${i + 1} + TABLE.k${i % 1800}.length) % ${997 + i}; }`);
  lines.push(`const FNS = [${Array.from({ length: 300 }, (_, i) => `f${i}`).join(", ")}];`);
  lines.push(`export default {
  name: "big",
  request(flow: { request: { path: string }; response?: unknown }) {
    const p = flow.request.path;
    if (p.startsWith("/__heap")) {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) { gc(); gc(); }
      flow.response = Response.make(200, { ...process.memoryUsage(), version: VERSION, gc: Boolean(gc) });
    } else if (p.startsWith("/__big")) {
      flow.response = Response.make(200, String(FNS[p.length % FNS.length]!(VERSION)) + TABLE["k" + (VERSION % 1800)]);
    }
  },
};
`);
  return lines.join("\n");
}

class Poller {
  private conn: Http1Conn | undefined;
  constructor(private readonly t: Target) {}
  async get(path: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.conn ??= new Http1Conn(await open(this.t));
        const r = await this.conn.request(getRequest(this.t, path), true);
        return `${r.status} ${r.body?.toString("utf8") ?? ""}`;
      } catch (e) {
        this.conn?.close();
        this.conn = undefined;
        if (attempt >= 3) throw e;
        await sleep(20);
      }
    }
  }
  close(): void {
    this.conn?.close();
  }
}

/** Saves new markers `saves` times; each time, the ms from the write to the first response with the new marker. */
async function saveLatencies(
  ctx: Ctx,
  proxy: RunningProxy,
  file: string,
  render: (m: string) => string,
  saves: number,
  notes: string[],
): Promise<number[]> {
  const poll = new Poller({ host: "127.0.0.1", port: ctx.origin.httpPort, proxyPort: proxy.port });
  const out: number[] = [];
  try {
    // The version loaded at start must answer first.
    const initial = `marker-0`;
    const t0 = performance.now();
    while (!(await poll.get("/__marker")).endsWith(initial)) {
      if (performance.now() - t0 > 15_000) throw new Error(`${proxy.kind} never served the initial marker`);
      await sleep(20);
    }
    for (let i = 1; i <= saves; i++) {
      const marker = `marker-${i}-${randomBytes(4).toString("hex")}`;
      writeFileSync(file, render(marker));
      const start = performance.now();
      let seen = false;
      while (performance.now() - start < 5000) {
        if ((await poll.get("/__marker")).endsWith(marker)) {
          seen = true;
          break;
        }
        await sleep(2);
      }
      if (seen) out.push(performance.now() - start);
      else notes.push(`${proxy.kind}: save ${i} was not active within 5 s`);
      await sleep(150); // let the file watcher settle before the next save
    }
  } finally {
    poll.close();
  }
  return out;
}

export const H: Workload = {
  id: "H",
  title: "Hot reload: save-to-active latency, memory over 500 reloads",
  deadlineMs: (ctx) => (ctx.reps * (80 + ctx.sizes.reloads * 0.4) + 120) * 1000,
  async run(ctx: Ctx, r) {
    r.method =
      `Latency: the proxy runs with \`-s marker.ts\`, an addon that answers \`/__marker\` itself; the benchmark rewrites the file ` +
      `with a new marker and polls through the proxy (a request every ~2 ms) until the new marker is served; ${ctx.sizes.saves} saves ` +
      `per repetition, the figure is their median. mitmdump's baseline is the same with a Python addon (${MITM_SAVES} saves per ` +
      "repetition; mitmproxy checks a script's mtime once per second). Memory: interloper runs under `node --expose-gc` with a " +
      `~200 KB addon (a string table and 300 functions) that is rewritten ${ctx.sizes.reloads} times, each time waiting for the log ` +
      "line `reloaded`; the addon's `/__heap` answer runs the GC and returns `process.memoryUsage()`. Heap and RSS are taken " +
      "after 10 warm-up reloads and after the series; one series (in a fresh proxy) per repetition.";
    const dir = join(ctx.tmp, "h");
    mkdirSync(dir, { recursive: true });

    // Save-to-active latency.
    const lat = metric("save-to-active p50", "ms", "lower");
    const latMax = metric("save-to-active max", "ms", "lower");
    r.metrics.push(lat, latMax);
    const kinds: Kind[] = ctx.mitm.available ? ["interloper", "mitmdump"] : ["interloper"];
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const kind of kinds) {
        const file = join(dir, kind === "interloper" ? `marker-${rep}.ts` : `marker-${rep}.py`);
        const render = kind === "interloper" ? markerTs : markerPy;
        writeFileSync(file, render("marker-0"));
        const proxy = await startProxy(ctx, kind, { scripts: [file] });
        try {
          if (rep === 0) r.commands.push(proxy.command.replace(/marker-0\.(ts|py)/, "marker.$1"));
          const saves = kind === "interloper" ? ctx.sizes.saves : Math.min(ctx.sizes.saves, MITM_SAVES);
          const ms = await saveLatencies(ctx, proxy, file, render, saves, r.notes);
          if (ms.length) {
            add(lat, kind, median(ms));
            add(latMax, kind, Math.max(...ms));
          }
          ctx.log(
            `  H ${kind} rep ${rep + 1}: save-to-active p50 ${fmt(median(ms))} ms, p90 ${fmt(percentile(ms, 90))} ms (${ms.length} saves)`,
          );
        } finally {
          await proxy.stop();
        }
      }
    }
    r.checks.push(valueCheck(median(lat.values.interloper ?? []), "ms", { max: 100 }, "save-to-active p50 ≤ 100 ms"));

    // Memory over many reloads: one series per repetition, each in a fresh proxy.
    const growth = metric(`heap growth over ${ctx.sizes.reloads} reloads`, "MB", "lower");
    const rssGrowth = metric(`RSS growth over ${ctx.sizes.reloads} reloads`, "MB", "lower");
    const perReload = metric("time per reload (save → `reloaded`)", "ms", "lower");
    r.metrics.push(growth, rssGrowth, perReload);
    const all: Sample[][] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      const { series, failures, command } = await reloadSeries(ctx, join(dir, `big-addon-${rep}.ts`));
      if (rep === 0)
        r.commands.push(`${command.replace(/\S*big-addon-0\.ts/, "big-addon.ts")}    # ${ctx.sizes.reloads} reloads`);
      if (failures)
        r.notes.push(
          `series ${rep + 1}: ${failures} of ${ctx.sizes.reloads + 10} reloads did not log \`reloaded\` within 10 s`,
        );
      all.push(series);
      const first = series[0]!;
      const last = series.at(-1)!;
      if (last.reloads !== ctx.sizes.reloads) {
        r.notes.push(`series ${rep + 1} stopped after ${last.reloads} reloads`);
        continue;
      }
      add(growth, "interloper", (last.heap - first.heap) / MB);
      add(rssGrowth, "interloper", (last.rss - first.rss) / MB);
      add(perReload, "interloper", (last.ms - first.ms) / last.reloads);
      ctx.log(
        `  H memory series ${rep + 1}: heap ${fmt(first.heap / MB)} → ${fmt(last.heap / MB)} MB, RSS ${fmt(first.rss / MB)} → ${fmt(last.rss / MB)} MB over ${last.reloads} reloads`,
      );
    }
    r.checks.push(
      valueCheck(
        med(growth, "interloper"),
        `MB heap growth (RSS ${fmt(med(rssGrowth, "interloper"))} MB)`,
        { max: 10 },
        `heap growth over ${ctx.sizes.reloads} reloads ≤ 10 MB`,
      ),
    );
    const size = Buffer.byteLength(bigAddon(0));
    const rows =
      all[0]?.map(
        (s, i) =>
          `| ${s.reloads} | ${all.map((ser) => (ser[i] ? `${fmt(ser[i].heap / MB)} / ${fmt(ser[i].rss / MB)}` : "—")).join(" | ")} |`,
      ) ?? [];
    r.extra =
      `Memory along each reload series (addon ${fmt(size / 1024)} KB; heap used after a forced GC / RSS, in MB):\n\n` +
      `| reloads | ${all.map((_, i) => `series ${i + 1}`).join(" | ")} |\n|---:|${all.map(() => "---:").join("|")}|\n` +
      rows.join("\n");
  },
};

interface Sample {
  reloads: number;
  heap: number;
  rss: number;
  ms: number;
}

/** Starts interloper with the big addon, reloads it `ctx.sizes.reloads` times, and samples heap and RSS along the way. */
async function reloadSeries(ctx: Ctx, file: string): Promise<{ series: Sample[]; failures: number; command: string }> {
  let version = 0;
  writeFileSync(file, bigAddon(version));
  const proxy = await startProxy(ctx, "interloper", {
    scripts: [file],
    quiet: false,
    extra: ["--flow-detail", "0"],
    nodeFlags: ["--expose-gc"],
  });
  const poll = new Poller({ host: "127.0.0.1", port: ctx.origin.httpPort, proxyPort: proxy.port });
  const series: Sample[] = [];
  let failures = 0;
  try {
    const heap = async () => {
      const text = await poll.get("/__heap");
      const j = JSON.parse(text.slice(text.indexOf(" ") + 1)) as { heapUsed: number; version: number; gc: boolean };
      if (j.version !== version) throw new Error(`the proxy serves version ${j.version}, expected ${version}`);
      if (!j.gc) throw new Error("the addon cannot run the GC (node --expose-gc did not take effect)");
      return j.heapUsed;
    };
    let reloadMs = 0; // time spent reloading only (not sampling)
    const reload = async () => {
      const t = performance.now();
      version++;
      const seen = proxy.proc.waitLine(/reloaded|reloading .* failed/, 10_000);
      writeFileSync(file, bigAddon(version));
      const line = await seen.catch((e: Error) => `timeout: ${e.message}`);
      if (!/reloaded/.test(line)) {
        failures++;
        if (failures > 5) throw new Error(`reloads keep failing: ${line}`);
      }
      reloadMs += performance.now() - t;
    };
    const t0 = performance.now();
    for (;;) {
      try {
        await heap();
        break;
      } catch (e) {
        if (performance.now() - t0 > 15_000) throw e;
        await sleep(50);
      }
    }
    for (let i = 0; i < 10; i++) await reload();
    const sample = async (reloads: number) => {
      await sleep(200);
      const h = await heap();
      series.push({ reloads, heap: h, rss: proxy.memory().rss, ms: reloadMs });
    };
    await sample(0);
    const every = Math.max(1, Math.round(ctx.sizes.reloads / 5));
    for (let i = 1; i <= ctx.sizes.reloads; i++) {
      await reload();
      if (i % every === 0 || i === ctx.sizes.reloads) await sample(i);
    }
  } finally {
    poll.close();
    await proxy.stop();
  }
  return { series, failures, command: proxy.command };
}
