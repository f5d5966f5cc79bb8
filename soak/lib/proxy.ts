// The proxy under test: the built CLI (`node --expose-gc dist/cli.js`) as a
// child process on loopback ports, with a temporary confdir, the origins' CA
// trusted, a low idle_timeout, errors-only logging (to a file), and the guard
// addon. Its error lines are collected: an "internal error" is a finding.
import { join } from "node:path";
import { DIST_CLI, freePort, Proc, ROOT, waitForPort } from "../../bench/lib/procs.ts";
import { sleep } from "../../bench/lib/stats.ts";
import { Http1Conn, open } from "../../bench/lib/http1.ts";
import { withTimeout } from "./net.ts";
import { describeFds, sample, type Sample } from "./sample.ts";

export const GUARD_ADDON = join(ROOT, "soak/lib/guard-addon.ts");

export interface ProxyOptions {
  name: string;
  tmp: string;
  confdir: string;
  originCaFile: string;
  idleTimeoutS: number;
  /** Also listen in SOCKS5 mode. */
  socks?: boolean;
  /** More addon scripts (after the guard). */
  scripts?: string[];
  /** More flags (`--set stream_large_bodies=1m`). */
  extra?: string[];
}

export interface ErrorLine {
  at: number;
  text: string;
  /** Inputs a family saved for it (the fuzz family attributes errors to connections). */
  files?: string[];
}

export interface Heap {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  refused: number;
}

export class ProxyUnderTest {
  readonly errors: ErrorLine[] = [];
  private current: ErrorLine | undefined;

  private constructor(
    readonly opts: ProxyOptions,
    readonly proc: Proc,
    readonly port: number,
    readonly socksPort: number | undefined,
    readonly command: string,
  ) {
    proc.onLine((line) => this.onLine(line));
  }

  static async start(opts: ProxyOptions): Promise<ProxyUnderTest> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const socksPort = opts.socks ? await freePort() : undefined;
      const args = proxyArgs(opts, port, socksPort);
      const proc = new Proc(opts.name, process.execPath, args, { logFile: join(opts.tmp, `${opts.name}.log`) });
      try {
        await waitForPort(port, 30_000, proc);
        if (socksPort) await waitForPort(socksPort, 30_000, proc);
        const p = new ProxyUnderTest(opts, proc, port, socksPort, displayArgs(args, opts));
        await p.waitReady();
        return p;
      } catch (e) {
        last = e;
        await proc.stop(1000);
        if (!/in use/i.test(proc.output)) throw e;
      }
    }
    throw last;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.running;
  }

  /** The addons load after the listeners open: wait until the guard answers. */
  private async waitReady(): Promise<void> {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      if (!this.alive) throw new Error(`${this.opts.name} exited: ${this.proc.output.slice(-800)}`);
      if (await this.heap(5000)) return;
      await sleep(100);
    }
    throw new Error(`${this.opts.name}: the guard addon never answered (${this.proc.output.slice(-800)})`);
  }

  private onLine(line: string): void {
    // Stack frames and continuation lines belong to the error before them.
    if (/^\s+at |^\s{2,}\S/.test(line) && this.current) {
      if (this.current.text.split("\n").length < 8) this.current.text += `\n${line}`;
      return;
    }
    if (!line.trim()) return;
    this.current = { at: Date.now(), text: line };
    this.errors.push(this.current);
    if (this.errors.length > 20_000) this.errors.splice(0, 10_000);
  }

  /** Error lines printed since `since` (ms epoch). */
  errorsSince(since: number): ErrorLine[] {
    return this.errors.filter((e) => e.at >= since);
  }

  sample(): Sample | undefined {
    try {
      return sample(this.pid);
    } catch {
      return undefined;
    }
  }

  describeFds(origins: number[]): Record<string, number> {
    return describeFds(this.pid, { listeners: [this.port, ...(this.socksPort ? [this.socksPort] : [])], origins });
  }

  /** process.memoryUsage() of the proxy after two GCs (via the guard addon); undefined when it does not answer. */
  async heap(ms = 15_000): Promise<Heap | undefined> {
    const target = { host: "soak.invalid", port: 80, proxyPort: this.port };
    let conn: Http1Conn | undefined;
    try {
      conn = new Http1Conn(await withTimeout(open(target), ms, "heap: connect"));
      const req = "GET http://soak.invalid/__soak/heap HTTP/1.1\r\nHost: soak.invalid\r\nConnection: close\r\n\r\n";
      const r = await withTimeout(conn.request(req, true), ms, "heap");
      if (r.status !== 200 || !r.body) return undefined;
      return JSON.parse(r.body.toString("utf8")) as Heap;
    } catch {
      return undefined;
    } finally {
      conn?.close();
    }
  }

  stop(graceMs = 5000): Promise<void> {
    return this.proc.stop(graceMs);
  }
}

function proxyArgs(opts: ProxyOptions, port: number, socksPort: number | undefined): string[] {
  const args = [
    "--expose-gc",
    DIST_CLI,
    "--listen-host",
    "127.0.0.1",
    "--mode",
    `regular@${port}`,
    ...(socksPort ? ["--mode", `socks5@${socksPort}`] : []),
    "--set",
    `confdir=${opts.confdir}`,
    "--set",
    `ssl_verify_upstream_trusted_ca=${opts.originCaFile}`,
    "--set",
    `idle_timeout=${opts.idleTimeoutS}`,
    "--set",
    "termlog_verbosity=error",
    "--set",
    "flow_detail=0",
    "-s",
    GUARD_ADDON,
  ];
  for (const s of opts.scripts ?? []) args.push("-s", s);
  return [...args, ...(opts.extra ?? [])];
}

/** The command line as the report shows it: no temporary paths or port numbers. */
function displayArgs(args: string[], opts: ProxyOptions): string {
  return ["node", ...args]
    .map((a) => a.split(opts.tmp).join("$TMP").split(`${ROOT}/`).join("").replace(/@\d+$/, "@$PORT"))
    .join(" ");
}
