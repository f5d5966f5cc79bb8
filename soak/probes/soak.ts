// soak: a mix of everything for --minutes minutes. Steady traffic (HTTP and
// HTTPS, keep-alive, every answer checked) runs the whole time while the
// other families take turns in their small (--quick) size. Reported: requests,
// failures, crashes, and the proxy's RSS and descriptors over time.
import { percentile, sleep } from "../../bench/lib/stats.ts";
import { addFinding, count, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { HOST, tcp, tlsOver, tunnel, Wire } from "../lib/net.ts";
import { mib } from "../lib/sample.ts";
import { addonFaults } from "./addon-faults.ts";
import { fuzz } from "./fuzz.ts";
import { h2Floods } from "./h2-floods.ts";
import { integrity } from "./integrity.ts";
import { manyConns } from "./many-conns.ts";
import { originFaults } from "./origin-faults.ts";
import { slowlorisFamily } from "./slowloris.ts";
import { smuggling } from "./smuggling.ts";

const EPISODES: Family[] = [
  fuzz,
  integrity,
  smuggling,
  h2Floods,
  originFaults,
  manyConns,
  slowlorisFamily,
  addonFaults,
];

interface Traffic {
  requests: number;
  failures: Map<string, number>;
  latencies: number[];
}

/** One client of the steady traffic: keep-alive connections of 20 requests, HTTP and HTTPS in turn. */
async function steady(ctx: Ctx, id: number, until: number, t: Traffic): Promise<void> {
  for (let c = 0; Date.now() < until; c++) {
    const secure = (id + c) % 2 === 1;
    let w: Wire | undefined;
    const fail = (why: string) => t.failures.set(why, (t.failures.get(why) ?? 0) + 1);
    try {
      w = secure
        ? new Wire(
            await tlsOver(await tunnel(ctx.proxy.port, `${HOST}:${ctx.app.httpsPort}`), {
              servername: "localhost",
              caFile: ctx.proxyCaFile,
            }),
          )
        : new Wire(await tcp(ctx.proxy.port));
      for (let i = 0; i < 20 && Date.now() < until; i++) {
        const path = `/steady/${id}/${c}/${i}`;
        const before = w.received;
        const t0 = Date.now();
        t.requests++;
        w.write(
          secure
            ? `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
            : `GET http://${HOST}:${ctx.app.httpPort}${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
        );
        const ww = w;
        const ok = await ww.until(() => ww.data.subarray(before).includes(`ok ${path}`) || ww.gone, 20_000);
        if (!ok || ww.gone) {
          fail(
            ww.gone
              ? `${secure ? "HTTPS" : "HTTP"}: connection closed before the answer`
              : `${secure ? "HTTPS" : "HTTP"}: no answer within 20 s`,
          );
          break;
        }
        t.latencies.push(Date.now() - t0);
        await sleep(20);
      }
    } catch (e) {
      fail(`${secure ? "HTTPS" : "HTTP"} setup: ${(e as Error).message.replace(/\d+/g, "N")}`);
      await sleep(500);
    } finally {
      w?.destroy();
    }
  }
}

export const soak: Family = {
  id: "soak",
  title: "the mixed soak",
  method: (ctx) =>
    `${ctx.minutes} minute(s): 4 steady clients (keep-alive connections of 20 GETs, HTTP and HTTPS in turn, every answer checked, ` +
    `20 ms apart) the whole time, while the other families take turns in their small (--quick) sizes: ${EPISODES.map((f) => f.id).join(", ")}, ` +
    "round and round. The proxy's RSS and descriptors are sampled every 5 s; a dead proxy is a crash (it is restarted and the soak goes on).",
  deadlineMs: (ctx) => (ctx.minutes * 60 + 240) * 1000,
  async run(ctx, r) {
    const end = Date.now() + ctx.minutes * 60_000;
    const traffic: Traffic = { requests: 0, failures: new Map(), latencies: [] };
    const series: string[] = [
      "| at (s) | RSS (MiB) | fds | requests | failures | running |",
      "|---:|---:|---:|---:|---:|---|",
    ];
    const t0 = Date.now();
    let episode = "—";
    let crashes = 0;
    const seen = new Map<string, number>();
    const start = ctx.proxy.sample();
    const sampleRow = () => {
      const s = ctx.proxy.sample();
      const failures = [...traffic.failures.values()].reduce((a, b) => a + b, 0);
      series.push(
        `| ${Math.round((Date.now() - t0) / 1000)} | ${s ? mib(s.rss) : "—"} | ${s?.fds ?? "—"} | ${traffic.requests} | ${failures} | ${episode} |`,
      );
    };
    sampleRow();
    const timer = setInterval(sampleRow, ctx.minutes >= 5 ? 30_000 : 5000);
    const clients = [0, 1, 2, 3].map((id) => steady(ctx, id, end, traffic));
    try {
      for (let i = 0; Date.now() < end - 10_000; i++) {
        const f = EPISODES[i % EPISODES.length]!;
        episode = f.id;
        const sub: FamilyResult = {
          id: f.id,
          title: f.title,
          method: "",
          counts: {},
          failures: 0,
          findings: [],
          notes: [],
          date: "",
          seconds: 0,
          seed: ctx.seed,
          quick: true,
        };
        const child: Ctx = {
          ...ctx,
          quick: true,
          deadline: Math.min(end, Date.now() + f.deadlineMs({ ...ctx, quick: true })),
        };
        // The episode works on the current main proxy, whichever it is.
        Object.defineProperty(child, "proxy", { get: () => ctx.proxy });
        try {
          await f.run(child, sub);
        } catch (e) {
          r.notes.push(`Episode ${f.id} (${i + 1}) stopped: ${(e as Error).message}`);
        }
        await ctx.stopExtraProxies();
        count(r, `episodes: ${f.id}`);
        count(r, "failures in the episodes (see each family)", sub.failures);
        // What an episode finds is what its family finds on its own (reported there); the mix counts it again.
        for (const x of sub.findings)
          seen.set(`${x.kind}: ${x.title}`, (seen.get(`${x.kind}: ${x.title}`) ?? 0) + x.count);
        if (!ctx.proxy.alive) {
          crashes++;
          addFinding(r, {
            kind: "crash",
            title: `the proxy exited during the mixed soak (during ${f.id})`,
            detail: `Exit code ${ctx.proxy.proc.exitCode}; last output: ${ctx.proxy.proc.output.slice(-1000)}`,
            figure: `exit code ${ctx.proxy.proc.exitCode}`,
            repro: repro(ctx, "soak", `--minutes ${ctx.minutes}`),
          });
          await ctx.restartMain();
        }
      }
      await Promise.all(clients);
    } finally {
      clearInterval(timer);
      episode = "—";
      sampleRow();
    }
    const failures = [...traffic.failures.values()].reduce((a, b) => a + b, 0);
    const endSample = ctx.proxy.sample();
    count(r, "steady requests", traffic.requests);
    count(r, "steady requests failed", failures);
    count(r, "crashes", crashes);
    r.failures += failures;
    r.extra = series.join("\n");
    r.notes.unshift(
      `${ctx.minutes} min: ${traffic.requests} steady requests, ${failures} failed (p50 ${percentile(traffic.latencies, 50)} ms, p99 ${percentile(traffic.latencies, 99)} ms); ` +
        `${crashes} crash(es); proxy RSS ${start ? mib(start.rss) : "—"} → ${endSample ? mib(endSample.rss) : "—"} MiB, fds ${start?.fds ?? "—"} → ${endSample?.fds ?? "—"} at the end of the traffic.`,
    );
    if (seen.size) {
      r.notes.push(
        `What the episodes found again in the mix (each family's own section describes it): ${[...seen].map(([k, n]) => `${k.replace(/\|/g, "/")} (×${n})`).join("; ")}.`,
      );
    }
    for (const [why, n] of traffic.failures) {
      addFinding(r, {
        kind: "failure",
        title: `mixed soak: steady requests fail while the other families run (${why.slice(0, 80)})`,
        detail: `${n} of ${traffic.requests} steady requests: ${why}. The table shows which family was running when.`,
        figure: `${n} of ${traffic.requests}`,
        repro: repro(ctx, "soak", `--minutes ${ctx.minutes}`),
        count: n,
      });
    }
  },
};
