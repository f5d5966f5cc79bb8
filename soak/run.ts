// The soak, fault and hostile-input harness: `npm run soak` (every family),
// `npm run soak -- fuzz smuggling` (some), `--quick` (a ~1-minute smoke run),
// `--seed N`, `--minutes N` (the mixed soak, default 10), `--replay FILE`.
// Builds the proxy, starts the loopback origins and the proxy under test,
// runs each family within its deadline, checks the proxy after each, and
// writes bench/SOAK.md and bench/SOAK.json. Not part of `npm test`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { killAll, ROOT } from "../bench/lib/procs.ts";
import { CertificateAuthority } from "../core/tls/ca.ts";
import { parseArgs } from "./lib/args.ts";
import type { Ctx, Family, FamilyResult } from "./lib/family.ts";
import { checkAfter, measureBefore, normalRequest } from "./lib/health.ts";
import { destroyAllClients } from "./lib/net.ts";
import { makeCerts, startApp, startRecorder, startWs } from "./lib/origins.ts";
import { ProxyUnderTest, type ProxyOptions } from "./lib/proxy.ts";
import { renderDocument, type RunInfo } from "./lib/report.ts";
import { PeakSampler } from "./lib/sample.ts";
import { collectErrors } from "./lib/errors.ts";
import { FAMILIES } from "./probes/index.ts";
import { replay } from "./probes/fuzz.ts";
import { fuzzTargets } from "./lib/fuzz-targets.ts";

const ORDER = FAMILIES.map((f) => f.id);
const LATEST = join(ROOT, "bench/SOAK.json");
const REPORT = join(ROOT, "bench/SOAK.md");
const RESULTS_DIR = join(ROOT, "bench/results");
const ULIMIT = 65536;
/** idle_timeout of the proxies: low, so that every bound of the harness is short (shorter still in a smoke run). */
const idleTimeoutS = (quick: boolean) => (quick ? 2 : 5);

function fail(msg: string): never {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(2);
}

const t0 = Date.now();
function log(line: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
}

/** 2,000 connections and their origin ends need more descriptors than many shells allow: re-run under a raised limit. */
function ensureUlimit(): void {
  if (process.env.SOAK_ULIMIT_DONE) return;
  const script = `ulimit -n ${ULIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const r = spawnSync("bash", ["-c", script, "bash", process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, SOAK_ULIMIT_DONE: "1" },
  });
  process.exit(r.status ?? 1);
}

function commit(): string {
  const git = (args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const head = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  return git(["status", "--porcelain", "--", "core", "addons", "sdk/src"])
    ? `${head} + uncommitted changes in core/addons/sdk`
    : head;
}

function runInfo(o: { seed: number; quick: boolean }, argv: string, proxyCommand: string, failDir: string): RunInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    argv: `npm run soak${argv ? ` -- ${argv}` : ""}`,
    commit: commit(),
    seed: o.seed,
    quick: o.quick,
    cores: cpus.length,
    cpus: cpus[0]?.model?.trim() ?? "unknown CPU",
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    ulimit: spawnSync("bash", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim(),
    proxyCommand,
    failDir,
  };
}

interface Stored {
  runs: Record<string, RunInfo>;
  results: (FamilyResult & { run: string })[];
}

function write(info: RunInfo, results: FamilyResult[], quick: boolean): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (quick) {
    const file = join(RESULTS_DIR, "SOAK.quick.md");
    writeFileSync(file, renderDocument([info], results, ORDER));
    writeFileSync(
      join(RESULTS_DIR, "SOAK.quick.json"),
      JSON.stringify({ runs: { [info.date]: info }, results }, null, 1),
    );
    log(`quick run: report written to ${file} (bench/SOAK.md is left as it is)`);
    return;
  }
  // Families not run this time keep their last result.
  let stored: Stored = { runs: {}, results: [] };
  if (existsSync(LATEST)) {
    try {
      stored = JSON.parse(readFileSync(LATEST, "utf8")) as Stored;
    } catch {
      /* start afresh */
    }
  }
  const ran = new Set(results.map((r) => r.id));
  const kept = stored.results.filter((r) => !ran.has(r.id));
  const all = [...kept, ...results.map((r) => ({ ...r, run: info.date }))];
  const runs: Record<string, RunInfo> = { [info.date]: info };
  for (const r of kept) if (stored.runs[r.run]) runs[r.run] = stored.runs[r.run]!;
  writeFileSync(LATEST, JSON.stringify({ runs, results: all } satisfies Stored, null, 1));
  writeFileSync(
    REPORT,
    renderDocument(
      Object.values(runs).sort((a, b) => a.date.localeCompare(b.date)),
      all,
      ORDER,
    ),
  );
  log(`report written to ${REPORT}`);
}

async function runFamily(ctx: Ctx, f: Family, extra: ProxyUnderTest[]): Promise<FamilyResult> {
  const r: FamilyResult = {
    id: f.id,
    title: f.title,
    method: f.method(ctx),
    counts: {},
    failures: 0,
    findings: [],
    notes: [],
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    seconds: 0,
    seed: ctx.seed,
    quick: ctx.quick,
  };
  const deadlineMs = f.deadlineMs(ctx);
  ctx.deadline = Date.now() + deadlineMs;
  const before = await measureBefore(ctx.proxy);
  const sampler = new PeakSampler(() => (ctx.proxy.alive ? ctx.proxy.pid : undefined)).start();
  sampler.take();
  const started = Date.now();
  log(`${f.id}: ${f.title} (deadline ${Math.round(deadlineMs / 1000)} s)`);
  let timer: NodeJS.Timeout | undefined;
  try {
    // The family stops starting work at its deadline; this is the backstop if it does not return.
    await Promise.race([
      f.run(ctx, r),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `stopped ${Math.round((deadlineMs + 60_000) / 1000)} s after it started (its deadline plus a minute)`,
              ),
            ),
          deadlineMs + 60_000,
        );
      }),
    ]);
  } catch (e) {
    r.error = (e as Error).stack?.split("\n").slice(0, 3).join(" ") ?? String(e);
    log(`${f.id} failed: ${r.error}`);
  } finally {
    clearTimeout(timer);
  }
  r.seconds = (Date.now() - started) / 1000;
  const left = destroyAllClients();
  if (left > 0)
    r.notes.push(
      `${left} client connection(s) of the harness were still open when the family ended; the harness closed them.`,
    );
  const peak = { rss: sampler.peakRss, fds: sampler.peakFds };
  sampler.stop();
  for (const p of extra.splice(0)) {
    collectErrors(ctx, r, p, started);
    await p.stop();
  }
  collectErrors(ctx, r, ctx.proxy, started);
  const ok = await checkAfter(ctx, r, before, peak);
  if (!ok) {
    log(`${f.id}: the proxy is dead or does not answer: starting a new one for the next families`);
    r.notes.push(
      "The proxy was dead or did not answer after this family: the harness started a new one for the next families.",
    );
    await ctx.restartMain();
  } else if (r.health?.fdsHeld) {
    // What this family leaked must not be counted against (or crash) the next ones.
    log(`${f.id}: the proxy kept descriptors: starting a new one so that the next family starts clean`);
    r.notes.push(
      "The proxy kept descriptors after this family: the harness started a new one so that the next family starts clean.",
    );
    await ctx.restartMain();
  }
  log(
    `${f.id}: ${Object.entries(r.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; failures ${r.failures}; findings ${r.findings.length}`,
  );
  for (const x of r.findings) log(`  finding [${x.kind}] ${x.title} — ${x.figure} (×${x.count})`);
  return r;
}

async function main(): Promise<void> {
  ensureUlimit();
  const opts = parseArgs(process.argv.slice(2), FAMILIES, fail);
  const names = fuzzTargets().map((t) => t.name);
  for (const t of opts.targets) if (!names.includes(t)) fail(`unknown fuzz target '${t}' (known: ${names.join(", ")})`);
  const argvText = process.argv.slice(2).join(" ");
  log(`seed ${opts.seed}; families ${opts.ids.join(" ")}${opts.quick ? "; quick" : ""}`);
  log("building the proxy (node scripts/build.mjs)…");
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs")], { stdio: "inherit", cwd: ROOT, timeout: 300_000 });

  // Kept after the run: the failing inputs the report names, and the proxies' logs.
  const tmp = mkdtempSync(join(os.tmpdir(), "interloper-soak-"));
  const failDir = join(tmp, "failures");
  mkdirSync(failDir, { recursive: true });
  const stop = (code: number) => {
    destroyAllClients();
    killAll();
    process.exit(code);
  };
  // A bug of the harness itself must not end the run (nor pass for a finding about the proxy).
  process.on("uncaughtException", (e) => log(`HARNESS ERROR (not the proxy's): ${e.stack ?? e}`));
  process.on("unhandledRejection", (e) => log(`HARNESS ERROR (not the proxy's): ${(e as Error)?.stack ?? e}`));
  process.on("SIGINT", () => stop(130));
  process.on("SIGTERM", () => stop(143));

  const certs = await makeCerts(tmp);
  const confdir = join(tmp, "conf");
  await CertificateAuthority.load(confdir);
  const [app, ws, recorder] = await Promise.all([startApp(certs), startWs(), startRecorder()]);
  const baseOpts: ProxyOptions = {
    name: "proxy",
    tmp,
    confdir,
    originCaFile: certs.caFile,
    idleTimeoutS: idleTimeoutS(opts.quick),
    socks: true,
  };
  const extra: ProxyUnderTest[] = [];
  let n = 0;
  const ctx: Ctx = {
    quick: opts.quick,
    seed: opts.seed,
    minutes: opts.quick ? 0.25 : opts.minutes,
    idleTimeoutS: idleTimeoutS(opts.quick),
    tmp,
    failDir,
    certs,
    app,
    ws,
    recorder,
    fuzzTargets: opts.targets,
    proxy: await ProxyUnderTest.start(baseOpts),
    proxyCaFile: join(confdir, "interloper-ca-cert.pem"),
    startProxy: async (name, more = {}) => {
      const p = await ProxyUnderTest.start({ ...baseOpts, socks: false, ...more, name: `${name}-${++n}` });
      extra.push(p);
      return p;
    },
    stopExtraProxies: async () => {
      for (const p of extra.splice(0)) await p.stop();
    },
    restartMain: async () => {
      await ctx.proxy.stop(2000);
      ctx.proxy = await ProxyUnderTest.start(baseOpts);
    },
    deadline: 0,
    log,
  };
  log(
    `origins: http ${app.httpPort}, https ${app.httpsPort}, ws ${ws.port}, recorder ${recorder.port}; proxy ${ctx.proxy.port} (socks5 ${ctx.proxy.socksPort}); files in ${tmp}`,
  );
  try {
    if (opts.replay) {
      await replay(ctx, opts.replay);
      return;
    }
    // Warm up: the first requests load the CA's leaf context and the upstream TLS context.
    for (const secure of [false, true]) {
      const v = await normalRequest(ctx, ctx.proxy.port, secure);
      if (v !== "ok")
        throw new Error(
          `the proxy does not answer a normal ${secure ? "HTTPS" : "HTTP"} request before any family: ${v}`,
        );
    }
    const info = runInfo(opts, argvText, ctx.proxy.command, failDir);
    const results: FamilyResult[] = [];
    for (const id of opts.ids) {
      const f = FAMILIES.find((x) => x.id === id)!;
      results.push(await runFamily(ctx, f, extra));
    }
    const all = results.flatMap((r) => r.findings);
    log(`${all.length} finding(s) in all; failing inputs under ${failDir}`);
    write(info, results, opts.quick);
  } finally {
    destroyAllClients();
    await ctx.proxy.stop();
    for (const p of extra) await p.stop();
    await Promise.all([app.close(), ws.close(), recorder.close()]);
    killAll();
  }
}

await main();
process.exit(0);
