// The benchmark suite: `npm run bench` (everything), `npm run bench -- A C`
// (some workloads), `--reps N` (default 3), `--quick` (a short smoke run).
// Builds the proxy, installs wrk and mitmproxy when missing, starts the
// origin, runs each workload against the direct connection, interloper and
// mitmdump, and writes bench/BENCHMARKS.md. All traffic stays on 127.0.0.1.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../core/tls/ca.ts";
import type { Ctx } from "./lib/context.ts";
import { freePort, killAll, Proc, ROOT, run, waitForPort } from "./lib/procs.ts";
import { renderDocument, type Machine, type WorkloadResult } from "./lib/report.ts";
import { sleep } from "./lib/stats.ts";
import { A } from "./workloads/a-plain-http.ts";
import { B1, B2 } from "./workloads/b-https.ts";
import { C } from "./workloads/c-passthrough.ts";
import { D } from "./workloads/d-first-contact.ts";
import { E } from "./workloads/e-streaming.ts";
import { F } from "./workloads/f-idle-conns.ts";
import { G } from "./workloads/g-hook-overhead.ts";
import { H } from "./workloads/h-hot-reload.ts";
import { I } from "./workloads/i-filters.ts";
import { P } from "./workloads/p-profile.ts";
import { R } from "./workloads/r-read-flows.ts";
import { U } from "./workloads/u-ui-filter.ts";
import { V } from "./workloads/v-web-ui.ts";
import { W } from "./workloads/w-save-stream.ts";
import type { Workload } from "./workloads/workload.ts";

const WORKLOADS: Workload[] = [A, B1, B2, C, D, E, F, G, H, I, W, R, U, V, P];
const ORDER = WORKLOADS.map((w) => w.id);
const RESULTS_DIR = join(ROOT, "bench/results");
/** Every figure of BENCHMARKS.md, machine-readable; a partial run keeps the workloads it did not run from here. */
const LATEST = join(ROOT, "bench/BENCHMARKS.json");
const REPORT = join(ROOT, "bench/BENCHMARKS.md");
const ULIMIT = 65536;

const USAGE = `usage: npm run bench -- [WORKLOAD ...] [--reps N] [--quick]

Workloads (default: all; B means B1 and B2): ${WORKLOADS.map((w) => `\n  ${w.id.padEnd(3)} ${w.title}`).join("")}

  --reps N   repetitions of each measurement (default 3)
  --quick    shorter runs and smaller sizes, 1 repetition unless --reps: a smoke run.
             Its report goes to bench/results/BENCHMARKS.quick.md, not bench/BENCHMARKS.md.`;

function parseArgs(argv: string[]): { ids: string[]; reps: number; quick: boolean } {
  const ids: string[] = [];
  let reps: number | undefined;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "--quick") quick = true;
    else if (a === "--reps" || a.startsWith("--reps=")) {
      const v = a.includes("=") ? a.slice(7) : argv[++i];
      reps = Number(v);
      if (!Number.isInteger(reps) || reps < 1 || reps > 20)
        fail(`--reps wants a whole number from 1 to 20, got '${v}'`);
    } else if (a.startsWith("-")) fail(`unknown option ${a}\n\n${USAGE}`);
    else {
      const id = a.toUpperCase();
      // A letter alone names its numbered parts too (B: B1 and B2).
      const named = ORDER.includes(id) ? [id] : ORDER.filter((x) => new RegExp(`^${id}\\d+$`).test(x));
      if (!/^[A-Z]\w*$/.test(id) || named.length === 0) fail(`unknown workload '${a}' (known: ${ORDER.join(", ")})`);
      for (const n of named) if (!ids.includes(n)) ids.push(n);
    }
  }
  return {
    ids: ids.length ? ids.sort((x, y) => ORDER.indexOf(x) - ORDER.indexOf(y)) : ORDER,
    reps: reps ?? (quick ? 1 : 3),
    quick,
  };
}

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const t0 = Date.now();
function log(line: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${s}s] ${line}\n`);
}

/** Share of all cores busy over `ms` (from /proc/stat); between workloads that is other people's load. */
async function cpuBusy(ms: number): Promise<number> {
  const read = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

/** Waits (at most `maxMs`) for the machine to be quiet, so that other processes disturb the figures less. */
async function waitQuiet(maxMs: number): Promise<number> {
  const end = Date.now() + maxMs;
  let busy = await cpuBusy(1000);
  if (busy > QUIET)
    log(`other processes keep ${(busy * 100).toFixed(0)}% of the CPU busy: waiting up to ${maxMs / 1000} s for quiet…`);
  while (busy > QUIET && Date.now() < end) busy = await cpuBusy(2000);
  return busy;
}
const QUIET = 0.15;

/** Holding 2,000 connections needs more file descriptors than many shells allow: re-run under a raised limit. */
function ensureUlimit(): void {
  if (process.env.BENCH_ULIMIT_DONE) return;
  const script = `ulimit -n ${ULIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const r = spawnSync("bash", ["-c", script, "bash", process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, BENCH_ULIMIT_DONE: "1" },
  });
  process.exit(r.status ?? 1);
}

function has(cmd: string): boolean {
  return spawnSync("bash", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

async function ensureTools(): Promise<void> {
  const missing = ["wrk", "mitmdump"].filter((c) => !has(c));
  if (missing.length === 0) return;
  if (!has("apt-get")) {
    log(`missing ${missing.join(", ")} and no apt-get: those baselines will be left out`);
    return;
  }
  log(`installing ${missing.join(", ")} (apt-get update; apt-get install -y wrk mitmproxy)…`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const logFile = join(os.tmpdir(), "interloper-bench-apt.log");
  const u = await run("apt-get", "apt-get", ["update"], { deadlineMs: 300_000, env, logFile });
  if (u.code !== 0) log(`apt-get update failed (exit ${u.code}); see ${logFile}`);
  const pkgs = missing.map((c) => (c === "mitmdump" ? "mitmproxy" : c));
  const i = await run("apt-get", "apt-get", ["install", "-y", ...pkgs], { deadlineMs: 600_000, env, logFile });
  if (i.code !== 0) log(`apt-get install ${pkgs.join(" ")} failed (exit ${i.code}); see ${logFile}`);
}

function version(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  return r.error ? undefined : text;
}

/** mitmdump must start and write its CA before any workload relies on it. */
async function checkMitmdump(ctx: Ctx): Promise<void> {
  const v = version("mitmdump", ["--version"]);
  if (!v || !/Mitmproxy:/.test(v)) {
    ctx.mitm = {
      available: false,
      reason: "mitmdump is not installed (apt-get install mitmproxy failed or is not possible here)",
    };
    return;
  }
  ctx.mitm.version = /Mitmproxy:\s*(\S+)/.exec(v)?.[1] ?? v.split("\n")[0];
  const port = await freePort();
  const p = new Proc("mitmdump", "mitmdump", [
    "--listen-host",
    "127.0.0.1",
    "--listen-port",
    String(port),
    "--set",
    `confdir=${ctx.confdir.mitmdump}`,
    "-q",
  ]);
  try {
    await waitForPort(port, 30_000, p);
    const end = Date.now() + 10_000;
    while (!existsSync(ctx.caFile.mitmdump) && Date.now() < end) await sleep(50);
    if (!existsSync(ctx.caFile.mitmdump)) throw new Error(`it wrote no CA to ${ctx.caFile.mitmdump}`);
    ctx.mitm.available = true;
  } catch (e) {
    ctx.mitm = {
      available: false,
      version: ctx.mitm.version,
      reason: `mitmdump did not start: ${(e as Error).message.split("\n")[0]}`,
    };
  } finally {
    await p.stop();
  }
}

function machine(ctx: Ctx, argv: string): Machine {
  const cpus = os.cpus();
  const ulimit = spawnSync("bash", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpus: cpus[0]?.model?.trim() ?? "unknown CPU",
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    mitmdump: ctx.mitm.version
      ? `${ctx.mitm.version}${ctx.mitm.available ? "" : ` (unusable: ${ctx.mitm.reason})`}`
      : `not available (${ctx.mitm.reason})`,
    wrk: ctx.wrk.version ?? "wrk not available",
    loadavg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    ulimit,
    quick: ctx.quick,
    reps: ctx.reps,
    argv: `npm run bench${argv ? ` -- ${argv}` : ""}`,
    commit: commit(),
  };
}

function commit(): string {
  const git = (args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const head = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  return git(["status", "--porcelain", "--", "core", "addons", "sdk/src"])
    ? `${head} + uncommitted changes in core/addons/sdk`
    : head;
}

const INTRO = `Written by \`npm run bench\` (\`bench/run.ts\`); do not edit by hand. \`npm run bench -- A C\` runs some
workloads (their sections are replaced, the others kept with their own dates), \`--reps N\` sets the repetitions
(default 3), \`--quick\` makes a short smoke run whose report goes to \`bench/results/\` instead.

How it is measured. Everything runs on this one machine over 127.0.0.1: the origin (\`bench/origin.ts\`, one Node
process answering over raw sockets — no llhttp, prebuilt 100-byte responses, a pre-allocated buffer for large
bodies — so it stays well ahead of any proxy in front of it), the proxy under test, and the load generator (wrk for
plain HTTP; \`bench/client.ts\`, raw sockets with a minimal HTTP/1.1 parser, for CONNECT and TLS, which wrk cannot
do). They share the machine's cores, so each figure is "with the load generator and origin on the same cores" —
for every tool alike. Each measurement is repeated (tools interleaved within a repetition) and the tables show
medians; every repetition's value is listed under each table. Baselines of the same run: **direct** (the client
talks to the origin, no proxy) and **mitmdump** (mitmproxy, started with the same flags: \`--set confdir=…\`,
\`-q\`, \`--ssl-insecure\` or \`--set ssl_verify_upstream_trusted_ca=…\`, \`--ignore-hosts\`,
\`--set stream_large_bodies=1m\`). Ratios are interloper ÷ baseline of the medians. MB = 10^6 bytes; KB in F =
1024 bytes. Other processes on the machine (see the load average) can disturb the figures.`;

async function main(): Promise<void> {
  ensureUlimit();
  const opts = parseArgs(process.argv.slice(2));
  const argvText = process.argv.slice(2).join(" ");
  log(`workloads ${opts.ids.join(" ")}, ${opts.reps} repetition(s)${opts.quick ? ", quick" : ""}`);

  log("building the proxy (node scripts/build.mjs)…");
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs")], { stdio: "inherit", cwd: ROOT, timeout: 300_000 });
  await ensureTools();

  const tmp = mkdtempSync(join(os.tmpdir(), "interloper-bench-"));
  let origin: Proc | undefined;
  const cleanup = () => {
    killAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    cleanup();
    process.exit(143);
  });

  try {
    // The origin's certificate comes from a CA of its own, as a real server's would.
    const originCa = await CertificateAuthority.load(join(tmp, "origin-ca"));
    writeFileSync(join(tmp, "origin-cert.pem"), originCa.leafCertPem(["localhost", "127.0.0.1"]));
    writeFileSync(join(tmp, "origin-key.pem"), originCa.leafKeyPem);
    const interloperConf = join(tmp, "conf-interloper");
    await CertificateAuthority.load(interloperConf);
    const mitmConf = join(tmp, "conf-mitmdump");
    mkdirSync(mitmConf, { recursive: true });

    origin = new Proc("origin", process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "bench/origin.ts"),
      join(tmp, "origin-cert.pem"),
      join(tmp, "origin-key.pem"),
    ]);
    const ports = JSON.parse(await origin.waitLine(/httpsPort/, 30_000)) as Ctx["origin"];

    const ctx: Ctx = {
      tmp,
      quick: opts.quick,
      reps: opts.reps,
      origin: ports,
      originCaFile: join(tmp, "origin-ca/interloper-ca-cert.pem"),
      caFile: {
        interloper: join(interloperConf, "interloper-ca-cert.pem"),
        mitmdump: join(mitmConf, "mitmproxy-ca-cert.pem"),
      },
      confdir: { interloper: interloperConf, mitmdump: mitmConf },
      mitm: { available: false },
      wrk: {
        available: has("wrk"),
        version: version("wrk", ["-v"])
          ?.split("\n")[0]
          ?.replace(/\s*Copyright.*/, ""),
      },
      sizes: opts.quick
        ? { durationS: 2, warmupS: 1, bigBytes: 128 * 2 ** 20, hosts: 40, holdConns: 300, saves: 5, reloads: 30 }
        : { durationS: 5, warmupS: 1, bigBytes: 2 ** 30, hosts: 200, holdConns: 2000, saves: 20, reloads: 500 },
      log,
    };
    await checkMitmdump(ctx);
    log(
      `origin on 127.0.0.1:${ports.httpPort} (http) and :${ports.httpsPort} (https); mitmdump ${ctx.mitm.available ? ctx.mitm.version : `unavailable: ${ctx.mitm.reason}`}; ${ctx.wrk.version ?? "no wrk"}`,
    );
    const env = machine(ctx, argvText);

    const results: WorkloadResult[] = [];
    // Waiting for other people's load to pass is worth a little, not the suite's time budget.
    let quietBudget = ctx.quick ? 30_000 : 120_000;
    for (const id of opts.ids) {
      const w = WORKLOADS.find((x) => x.id === id)!;
      const r: WorkloadResult = {
        id: w.id,
        title: w.title,
        method: "",
        metrics: [],
        checks: [],
        notes: [],
        commands: [],
        date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        seconds: 0,
        reps: ctx.reps,
      };
      if (!ctx.mitm.available) r.notes.push(`No mitmdump baseline: ${ctx.mitm.reason}.`);
      const deadline = w.deadlineMs(ctx);
      const waitMs = Math.min(ctx.quick ? 10_000 : 30_000, quietBudget);
      const waitStart = Date.now();
      const busy = await waitQuiet(waitMs);
      quietBudget = Math.max(0, quietBudget - (Date.now() - waitStart));
      r.notes.push(
        `Before it started, other processes kept ${(busy * 100).toFixed(0)}% of the machine's CPU busy (load average ${os.loadavg()[0]!.toFixed(2)}).`,
      );
      log(
        `${w.id}: ${w.title} (deadline ${Math.round(deadline / 1000)} s, CPU busy before ${(busy * 100).toFixed(0)}%)`,
      );
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          w.run(ctx, r),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`stopped at the workload's deadline of ${Math.round(deadline / 1000)} s`)),
              deadline,
            );
          }),
        ]);
      } catch (e) {
        r.error = (e as Error).message.split("\n")[0];
        log(`${w.id} failed: ${r.error}`);
        killAll(origin); // whatever the workload left running
      } finally {
        clearTimeout(timer);
      }
      r.seconds = (Date.now() - started) / 1000;
      results.push(r);
      for (const c of r.checks)
        log(`${w.id}: ${c.target}: ${c.figure} → ${c.met === undefined ? "n/a" : c.met ? "met" : "NOT met"}`);
    }

    write(env, results, opts.quick);
  } finally {
    await origin?.stop();
    cleanup();
  }
  log("done");
}

interface Stored {
  machines: Record<string, Machine>;
  results: (WorkloadResult & { machine: string })[];
}

function write(env: Machine, results: WorkloadResult[], quick: boolean): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (quick) {
    const file = join(RESULTS_DIR, "BENCHMARKS.quick.md");
    writeFileSync(file, renderDocument([env], results, ORDER, INTRO));
    log(`quick run: report written to ${file} (bench/BENCHMARKS.md is left as it is)`);
    return;
  }
  // Workloads not run this time keep their last result (from bench/BENCHMARKS.json).
  let stored: Stored = { machines: {}, results: [] };
  if (results.length < ORDER.length && existsSync(LATEST)) {
    try {
      stored = JSON.parse(readFileSync(LATEST, "utf8")) as Stored;
    } catch {
      /* start afresh */
    }
  }
  const ran = new Set(results.map((r) => r.id));
  const kept = stored.results.filter((r) => !ran.has(r.id));
  const all = [...kept, ...results.map((r) => ({ ...r, machine: env.date }))];
  const machines: Record<string, Machine> = { [env.date]: env };
  for (const r of kept) if (stored.machines[r.machine]) machines[r.machine] = stored.machines[r.machine]!;
  writeFileSync(LATEST, JSON.stringify({ machines, results: all } satisfies Stored, null, 1));
  writeFileSync(
    REPORT,
    renderDocument(
      Object.values(machines).sort((a, b) => a.date.localeCompare(b.date)),
      all,
      ORDER,
      INTRO,
    ),
  );
  log(`report written to ${REPORT}`);
}

await main();
