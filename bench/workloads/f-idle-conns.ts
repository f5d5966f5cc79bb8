// F. Thousands of idle keep-alive HTTPS connections held through the proxy:
// the proxy's memory per connection, and the latency of a fresh request meanwhile.
import { httpsTarget, startHoldClient, startProxy, type Ctx, type RunningProxy } from "../lib/context.ts";
import { med, valueCheck } from "../lib/report.ts";
import { median, sleep, fmt } from "../lib/stats.ts";
import { add, metric, ORDER, type Workload } from "./workload.ts";

const FRESH = 20;
const SETUP_CONCURRENCY = 32;

export const F: Workload = {
  id: "F",
  title: "2,000 idle keep-alive HTTPS connections",
  deadlineMs: (ctx) => (ctx.reps * 3 * 150 + 60) * 1000,
  async run(ctx: Ctx, r) {
    const n = ctx.sizes.holdConns;
    r.method =
      `A client (\`bench/client.ts\`, mode hold) warms the proxy with 10 fresh requests, times ${FRESH} fresh requests ` +
      `(new connection, CONNECT, TLS, GET) with nothing held, then opens ${n} connections through CONNECT + TLS, ` +
      `each making one GET and then staying open and idle (${SETUP_CONCURRENCY} opened at a time). One second after the last, ` +
      `it times ${FRESH} fresh requests and one request on ${FRESH} of the held connections. Proxy RSS per held ` +
      `connection = (VmRSS with them − VmRSS before) / ${n}, one fresh proxy per repetition. The proxies verify ` +
      "the origin against its CA. The direct baseline holds the connections to the origin itself.";
    const perConn = metric("proxy RSS per held connection", "KB", "lower");
    const freshHeld = metric(`fresh request p50 with ${n} held`, "ms", "lower");
    const freshIdle = metric("fresh request p50, nothing held", "ms", "lower");
    const reuse = metric("request on a held connection p50", "ms", "lower");
    r.metrics.push(perConn, freshHeld, freshIdle, reuse);
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const who of ORDER) {
        if (who === "mitmdump" && !ctx.mitm.available) continue;
        let proxy: RunningProxy | undefined;
        const client = { stop: async () => {} };
        try {
          if (who !== "direct") {
            proxy = await startProxy(ctx, who, { trustedCa: ctx.originCaFile });
            if (rep === 0) r.commands.push(proxy.command);
          }
          const c = startHoldClient({
            mode: "hold",
            target: httpsTarget(ctx, who, proxy),
            conns: n,
            setupConcurrency: SETUP_CONCURRENCY,
            fresh: FRESH,
            deadlineMs: 110_000,
            hardDeadlineMs: 140_000,
          });
          client.stop = () => c.stop(1000);
          const phase = async (name: string, ms: number) =>
            JSON.parse(await c.waitLine(new RegExp(`"phase":"${name}"`), ms)) as Record<string, unknown>;
          const idle = await phase("idle", 30_000);
          await sleep(300);
          const before = proxy?.memory().rss;
          c.send("open");
          const held = await phase("held", 120_000);
          await sleep(1000);
          const after = proxy?.memory().rss;
          c.send("fresh");
          const done = await phase("done", 60_000);
          c.send("close");
          const heldCount = held.held as number;
          if (heldCount < n)
            r.notes.push(
              `${who} rep ${rep + 1}: only ${heldCount} of ${n} connections opened (${held.failed} failed; first: ${held.firstError})`,
            );
          if ((done.stillOpen as number) < heldCount)
            r.notes.push(
              `${who} rep ${rep + 1}: ${heldCount - (done.stillOpen as number)} held connections were closed by then`,
            );
          if (before !== undefined && after !== undefined && heldCount > 0)
            add(perConn, who, (after - before) / heldCount / 1024);
          add(freshHeld, who, median(done.fresh as number[]));
          add(freshIdle, who, median(idle.freshIdle as number[]));
          if ((done.reuse as number[]).length) add(reuse, who, median(done.reuse as number[]));
          ctx.log(
            `  F ${who} rep ${rep + 1}: ${heldCount} held in ${fmt((held.setupMs as number) / 1000)} s` +
              (before !== undefined ? `, RSS ${fmt(before / 2 ** 20)} → ${fmt(after! / 2 ** 20)} MiB` : "") +
              `, fresh p50 ${fmt(median(done.fresh as number[]))} ms (idle ${fmt(median(idle.freshIdle as number[]))} ms)`,
          );
        } finally {
          await client.stop();
          await proxy?.stop();
        }
      }
    }
    r.checks.push(
      valueCheck(med(perConn, "interloper"), "KB per connection", { max: 30 }, "≤ 30 KB per held connection"),
    );
  },
};
