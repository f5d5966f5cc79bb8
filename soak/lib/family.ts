// The shape of a probe family, what each one gets (the context) and what it
// fills in (its result: counts, failures, findings).
import type { AppOrigin, Certs, Recorder, WsOrigin } from "./origins.ts";
import type { ProxyOptions, ProxyUnderTest } from "./proxy.ts";
import type { Sample } from "./sample.ts";

export type FindingKind =
  "crash" | "stall" | "hang" | "leak" | "internal-error" | "smuggling" | "unbounded" | "failure" | "observation";

export interface Finding {
  family: string;
  kind: FindingKind;
  /** One line: what goes wrong. */
  title: string;
  /** What was seen, and why it matters. */
  detail: string;
  /** The figure measured (counts, bytes, seconds). */
  figure: string;
  /** How to see it again with the harness. */
  repro: string;
  /** How many times it was seen in the run. */
  count: number;
  /** Inputs saved for it (a few at most). */
  files: string[];
}

export interface Health {
  alive: boolean;
  http: string;
  https: string;
  before?: Sample;
  peak?: { rss: number; fds: number };
  after?: Sample;
  /** Seconds the descriptors took to come back near the baseline (or the bound when they did not). */
  settledS?: number;
  heapBefore?: number;
  heapAfter?: number;
  externalBefore?: number;
  externalAfter?: number;
  fdsHeld?: Record<string, number>;
}

export interface FamilyResult {
  id: string;
  title: string;
  method: string;
  counts: Record<string, number>;
  failures: number;
  findings: Finding[];
  notes: string[];
  date: string;
  seconds: number;
  seed: number;
  quick: boolean;
  health?: Health;
  /** Extra markdown (tables). */
  extra?: string;
  error?: string;
}

export interface Ctx {
  quick: boolean;
  seed: number;
  minutes: number;
  idleTimeoutS: number;
  tmp: string;
  /** Where failing inputs are saved (kept after the run). */
  failDir: string;
  certs: Certs;
  app: AppOrigin;
  ws: WsOrigin;
  recorder: Recorder;
  /** The main proxy (regular + SOCKS5); replaced when it died. */
  proxy: ProxyUnderTest;
  /** The CA the proxies present their certificates with. */
  proxyCaFile: string;
  /** Starts another proxy (stopped when the family ends). */
  startProxy(name: string, extra?: Partial<ProxyOptions>): Promise<ProxyUnderTest>;
  /** Stops the extra proxies started so far (the mixed soak, between its episodes). */
  stopExtraProxies(): Promise<void>;
  /** Replaces a dead main proxy with a new one. */
  restartMain(): Promise<void>;
  /** `--targets`: the fuzz targets to run (all when empty). */
  fuzzTargets?: string[];
  /** The family's hard deadline (ms epoch): loops stop starting work after it. */
  deadline: number;
  log(line: string): void;
}

export interface Family {
  id: string;
  title: string;
  method(ctx: Ctx): string;
  /** Bound of the whole family. */
  deadlineMs(ctx: Ctx): number;
  run(ctx: Ctx, r: FamilyResult): Promise<void>;
}

export function count(r: FamilyResult, name: string, n = 1): void {
  r.counts[name] = (r.counts[name] ?? 0) + n;
}

/** Adds a finding, or counts it again when one with the same title is there (keeping a few files). */
export function addFinding(
  r: FamilyResult,
  f: Omit<Finding, "family" | "count" | "files"> & { files?: string[]; count?: number },
): Finding {
  const have = r.findings.find((x) => x.title === f.title);
  if (have) {
    have.count += f.count ?? 1;
    for (const file of f.files ?? []) if (have.files.length < 5) have.files.push(file);
    return have;
  }
  const finding: Finding = { ...f, family: r.id, count: f.count ?? 1, files: (f.files ?? []).slice(0, 5) };
  r.findings.push(finding);
  return finding;
}

export function repro(ctx: Ctx, family: string, more = ""): string {
  return `npm run soak -- ${family} --seed ${ctx.seed}${ctx.quick ? " --quick" : ""}${more ? ` ${more}` : ""}`;
}

/** Runs `task` over `items` with at most `limit` at once, stopping new ones after the deadline. */
export async function pool<T>(
  items: Iterable<T>,
  limit: number,
  deadline: number,
  task: (item: T) => Promise<void>,
): Promise<number> {
  const it = items[Symbol.iterator]();
  let done = 0;
  const worker = async () => {
    for (;;) {
      if (Date.now() > deadline) return;
      const n = it.next();
      if (n.done) return;
      await task(n.value);
      done++;
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return done;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
