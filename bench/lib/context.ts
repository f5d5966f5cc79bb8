// What every workload gets: the origin, the CAs, the tools found, and helpers
// to start a proxy under test (interloper or mitmdump, with the same flags),
// run a load generator with a deadline, and run wrk.
import { join } from "node:path";
import type { ClientConfig, Hold } from "../client.ts";
import type { Target } from "./http1.ts";
import { DIST_CLI, freePort, memory, Proc, ROOT, run, waitForPort } from "./procs.ts";

export type Kind = "interloper" | "mitmdump";
export type Who = Kind | "direct";

export interface Ctx {
  tmp: string;
  quick: boolean;
  reps: number;
  origin: { httpPort: number; httpsPort: number; pid: number };
  /** The CA that signed the origin's certificate (names localhost, 127.0.0.1). */
  originCaFile: string;
  /** The CA file each proxy presents its certificates with. */
  caFile: Record<Kind, string>;
  confdir: Record<Kind, string>;
  mitm: { available: boolean; reason?: string; version?: string };
  wrk: { available: boolean; version?: string };
  /** Durations and sizes (shorter with --quick). */
  sizes: {
    durationS: number;
    warmupS: number;
    bigBytes: number;
    hosts: number;
    holdConns: number;
    saves: number;
    reloads: number;
  };
  log(line: string): void;
}

export interface ProxyFlags {
  /** -k / --ssl-insecure */
  insecure?: boolean;
  /** --set ssl_verify_upstream_trusted_ca=FILE */
  trustedCa?: string;
  /** --ignore-hosts REGEX */
  ignoreHosts?: string;
  /** --set stream_large_bodies=VALUE */
  streamLargeBodies?: string;
  /** -s FILE (each) */
  scripts?: string[];
  /** -q (default true) */
  quiet?: boolean;
  /** Other flags, passed as they are to either tool. */
  extra?: string[];
  /** Node flags for interloper (`--cpu-prof`, `--expose-gc`). */
  nodeFlags?: string[];
}

export interface RunningProxy {
  kind: Kind;
  port: number;
  proc: Proc;
  /** The command line with paths and ports replaced by names ($PORT, $CONFDIR, ...). */
  command: string;
  stop(graceMs?: number): Promise<void>;
  memory(): { rss: number; hwm: number };
}

export class Unavailable extends Error {}

export function proxyArgs(kind: Kind, ctx: Ctx, port: number, f: ProxyFlags): { cmd: string; args: string[] } {
  const common: string[] = [];
  if (f.quiet ?? true) common.push("-q");
  if (f.insecure) common.push(kind === "interloper" ? "-k" : "--ssl-insecure");
  if (f.trustedCa) common.push("--set", `ssl_verify_upstream_trusted_ca=${f.trustedCa}`);
  if (f.ignoreHosts) common.push("--ignore-hosts", f.ignoreHosts);
  if (f.streamLargeBodies) common.push("--set", `stream_large_bodies=${f.streamLargeBodies}`);
  for (const s of f.scripts ?? []) common.push("-s", s);
  common.push(...(f.extra ?? []));
  if (kind === "interloper") {
    return {
      cmd: process.execPath,
      args: [
        ...(f.nodeFlags ?? []),
        DIST_CLI,
        "--listen-host",
        "127.0.0.1",
        "-p",
        String(port),
        "--set",
        `confdir=${ctx.confdir.interloper}`,
        ...common,
      ],
    };
  }
  return {
    cmd: "mitmdump",
    args: [
      "--listen-host",
      "127.0.0.1",
      "--listen-port",
      String(port),
      "--set",
      `confdir=${ctx.confdir.mitmdump}`,
      ...common,
    ],
  };
}

/** A command line as the report shows it: no temporary paths or port numbers. */
export function displayCommand(ctx: Ctx, cmd: string, args: string[], ports: Record<string, number> = {}): string {
  const names: [string, string][] = [
    [ctx.confdir.interloper, "$CONFDIR"],
    [ctx.confdir.mitmdump, "$CONFDIR"],
    [ctx.originCaFile, "$ORIGIN_CA"],
    [ctx.tmp, "$TMP"],
    [`${ROOT}/`, ""],
    [ROOT, "."],
  ];
  const show = (a: string) => {
    let s = a;
    for (const [from, to] of names) s = s.split(from).join(to);
    for (const [name, port] of Object.entries(ports)) s = s.replace(new RegExp(`\\b${port}\\b`, "g"), name);
    return /[\s'"*?$()|\\^]/.test(s.replace(/\$[A-Z_]+/g, "")) ? `'${s}'` : s;
  };
  const c = cmd === process.execPath ? "node" : cmd;
  return [c, ...args].map(show).join(" ");
}

export async function startProxy(ctx: Ctx, kind: Kind, flags: ProxyFlags = {}): Promise<RunningProxy> {
  if (kind === "mitmdump" && !ctx.mitm.available) throw new Unavailable(`mitmdump unavailable: ${ctx.mitm.reason}`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const { cmd, args } = proxyArgs(kind, ctx, port, flags);
    const proc = new Proc(kind, cmd, args, {
      logFile: join(ctx.tmp, `${kind}.log`),
      env: kind === "mitmdump" ? { PYTHONUNBUFFERED: "1" } : {},
    });
    try {
      await waitForPort(port, 30_000, proc);
    } catch (e) {
      await proc.stop(1000);
      lastError = e;
      if (/address already in use|in use/i.test(proc.output)) continue; // the port was taken meanwhile
      throw e;
    }
    const command = displayCommand(ctx, cmd, args, {
      $PORT: port,
      $ORIGIN_HTTP_PORT: ctx.origin.httpPort,
      $ORIGIN_HTTPS_PORT: ctx.origin.httpsPort,
    });
    return {
      kind,
      port,
      proc,
      command,
      stop: (graceMs?: number) => proc.stop(graceMs),
      memory: () => memory(proc.pid),
    };
  }
  throw lastError;
}

/** Starts a proxy for each kind available (interloper always; mitmdump if it can run). */
export async function startProxies(
  ctx: Ctx,
  flags: ProxyFlags,
  notes: string[],
): Promise<Partial<Record<Kind, RunningProxy>>> {
  const out: Partial<Record<Kind, RunningProxy>> = {};
  out.interloper = await startProxy(ctx, "interloper", flags);
  if (ctx.mitm.available) {
    try {
      out.mitmdump = await startProxy(ctx, "mitmdump", flags);
    } catch (e) {
      notes.push(`mitmdump did not start: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return out;
}

export async function stopAll(proxies: Partial<Record<Kind, RunningProxy>>): Promise<void> {
  await Promise.all(Object.values(proxies).map((p) => p?.stop()));
}

/** The targets of HTTPS workloads: straight to the origin, or through a proxy (trusting its CA). */
export function httpsTarget(
  ctx: Ctx,
  who: Who,
  proxy?: RunningProxy,
  opts: { originCert?: boolean; skipNameCheck?: boolean } = {},
): Target {
  const t: Target = {
    host: "127.0.0.1",
    port: ctx.origin.httpsPort,
    tls: { servername: "localhost", caFile: ctx.originCaFile, skipNameCheck: opts.skipNameCheck },
  };
  if (who !== "direct") {
    t.proxyPort = proxy!.port;
    // Passthrough hands the origin's own certificate to the client.
    if (!opts.originCert) t.tls!.caFile = ctx.caFile[who];
  }
  return t;
}

export function httpTarget(ctx: Ctx, proxy?: RunningProxy): Target {
  return { host: "127.0.0.1", port: ctx.origin.httpPort, proxyPort: proxy?.port };
}

/** Runs bench/client.ts with a config; resolves with its last JSON line. */
export async function runClient<T = Record<string, unknown>>(ctx: Ctx, config: ClientConfig): Promise<T> {
  const r = await run(
    "client",
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/client.ts"), JSON.stringify(config)],
    {
      deadlineMs: config.hardDeadlineMs + 5000,
      logFile: join(ctx.tmp, "client.log"),
    },
  );
  const lines = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  const last = lines.at(-1);
  if (!last)
    throw new Error(
      `client produced no result (exit ${r.code}${r.timedOut ? ", killed at its deadline" : ""}): ${r.stdout.slice(-500)}`,
    );
  const obj = JSON.parse(last) as T & { error?: string };
  if (obj.error && Object.keys(obj).length === 1) throw new Error(`client: ${obj.error}`);
  return obj;
}

/** Starts bench/client.ts in `hold` mode: the caller drives its phases over stdin. */
export function startHoldClient(config: Hold): Proc {
  return new Proc("client-hold", process.execPath, [
    "--import",
    "tsx",
    join(ROOT, "bench/client.ts"),
    JSON.stringify(config),
  ]);
}

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  raw: string;
}

const WRK_SCRIPT = join(ROOT, "bench/wrk-proxy.lua");

/** wrk against the origin (direct) or through a proxy with absolute-form requests. */
export function wrkArgs(
  ctx: Ctx,
  proxy: RunningProxy | undefined,
  durationS: number,
  conns = 8,
): { args: string[]; env: NodeJS.ProcessEnv; display: string } {
  const origin = `127.0.0.1:${ctx.origin.httpPort}`;
  const url = proxy ? `http://127.0.0.1:${proxy.port}/` : `http://${origin}/`;
  const args = ["-t1", `-c${conns}`, `-d${durationS}s`, "--latency", "-s", WRK_SCRIPT, url];
  const env: NodeJS.ProcessEnv = proxy ? { BENCH_PATH: `http://${origin}/`, BENCH_HOST: origin } : {};
  const envText = proxy ? `BENCH_PATH=http://$ORIGIN/ BENCH_HOST=$ORIGIN ` : "";
  const display = `${envText}wrk ${args
    .join(" ")
    .replace(WRK_SCRIPT, "bench/wrk-proxy.lua")
    .replace(url, proxy ? "http://127.0.0.1:$PORT/" : "http://$ORIGIN/")}`;
  return { args, env, display };
}

export async function runWrk(
  ctx: Ctx,
  proxy: RunningProxy | undefined,
  durationS: number,
  conns = 8,
): Promise<WrkResult> {
  const { args, env } = wrkArgs(ctx, proxy, durationS, conns);
  const r = await run("wrk", "wrk", args, { deadlineMs: durationS * 1000 + 15_000, env });
  if (r.timedOut) throw new Error("wrk overran its deadline and was killed");
  return parseWrk(r.stdout);
}

export function parseWrk(out: string): WrkResult {
  const time = (s: string | undefined): number => {
    const m = /([\d.]+)(us|ms|s|m)\b/.exec(s ?? "");
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : m[2] === "s" ? v * 1000 : v * 60_000;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const p50 = time(/^\s+50%\s+(\S+)/m.exec(out)?.[1]);
  const p99 = time(/^\s+99%\s+(\S+)/m.exec(out)?.[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output: ${out.slice(0, 500)}`);
  return { rps, p50Ms: p50, p99Ms: p99, requests, errors, non2xx, raw: out };
}

export { memory };
