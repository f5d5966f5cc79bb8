// A stall monitor: once a second, a fresh connection asks the proxy for
// http://soak.invalid/__soak/ping (answered by the guard addon at once) and
// the proxy's CPU time is read. A ping that takes seconds means the proxy
// stopped serving everyone (busy: its CPU runs; stuck: it does not). The
// harness's own event-loop delay is measured too, so that a stall of the
// harness is not taken for one of the proxy.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Http1Conn } from "../../bench/lib/http1.ts";
import type { Ctx } from "./family.ts";
import { tcp, withTimeout } from "./net.ts";

export interface Stall {
  /** ms epoch when the first slow ping was sent */
  from: number;
  /** how long the proxy did not answer (ms) */
  ms: number;
  /** the proxy's CPU share meanwhile (1 = a whole core) */
  cpu: number;
  /** the harness's own worst lag meanwhile (ms): a stall of the harness looks like one of the proxy */
  harnessLagMs: number;
}

function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

export class StallMonitor {
  readonly stalls: Stall[] = [];
  maxPingMs = 0;
  pings = 0;
  private stopped = false;
  private readonly loop = monitorEventLoopDelay({ resolution: 20 });
  private done: Promise<void> | undefined;
  /** The harness's timer lag, sampled every 100 ms: [ms epoch, lag ms]. */
  private readonly lags: Array<[number, number]> = [];
  private tick: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly thresholdMs = 3000,
  ) {}

  start(): this {
    this.loop.enable();
    let expected = Date.now() + 100;
    this.tick = setInterval(() => {
      const now = Date.now();
      this.lags.push([now, Math.max(0, now - expected)]);
      if (this.lags.length > 20_000) this.lags.splice(0, 10_000);
      expected = now + 100;
    }, 100);
    this.done = this.run();
    return this;
  }

  /** The harness's own worst event-loop delay (ms) while monitoring. */
  get harnessMaxDelayMs(): number {
    return this.loop.max / 1e6;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const t0 = Date.now();
      const cpu0 = cpuSeconds(this.ctx.proxy.pid);
      const ok = await this.ping();
      const ms = Date.now() - t0;
      this.pings++;
      if (ok) this.maxPingMs = Math.max(this.maxPingMs, ms);
      if (ms >= this.thresholdMs) {
        // Lag ticks land when the loop runs again: look a little past the window too.
        const lags = this.lags.filter(([at]) => at >= t0 && at <= t0 + ms + 1000).map(([, l]) => l);
        const harnessLagMs = Math.max(0, ...lags);
        this.stalls.push({ from: t0, ms, cpu: (cpuSeconds(this.ctx.proxy.pid) - cpu0) / (ms / 1000), harnessLagMs });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - ms)));
    }
  }

  private async ping(): Promise<boolean> {
    let conn: Http1Conn | undefined;
    try {
      conn = new Http1Conn(await tcp(this.ctx.proxy.port, 60_000));
      const r = await withTimeout(
        conn.request("GET http://soak.invalid/__soak/ping HTTP/1.1\r\nHost: soak.invalid\r\n\r\n"),
        60_000,
        "ping",
      );
      return r.status === 200;
    } catch {
      return false;
    } finally {
      conn?.close();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    clearInterval(this.tick);
    this.loop.disable();
  }
}
