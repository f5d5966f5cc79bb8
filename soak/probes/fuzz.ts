// fuzz: a seeded, reproducible mutation fuzzer for every parser and listener
// of the proxy (see lib/fuzz-targets.ts). Each connection gets inputs until
// the proxy closes it or its quota is used; after each input (or batch and
// sentinel) the proxy must answer within QUIET_MS, or else close the
// connection within the hang bound: a connection it neither answers nor
// closes is a hang, and its inputs are saved.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TunnelClosed } from "../../bench/lib/http1.ts";
import { percentile } from "../../bench/lib/stats.ts";
import { addFinding, count, pool, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { fuzzTargets, QUICK_SHARE, type FuzzTarget, type Session } from "../lib/fuzz-targets.ts";
import { originPorts, pollUntil } from "../lib/health.ts";
import { derive, type Rng } from "../lib/prng.ts";
import { StallMonitor } from "../lib/stall.ts";

const QUIET_MS = 2000;
const hangBoundMs = (ctx: Ctx) => (ctx.idleTimeoutS + (ctx.quick ? 3 : 7)) * 1000;
/** Transcripts of recent connections kept for attributing an internal error that shows up later. */
const RECENT = 1500;

interface Case {
  target: string;
  conn: number;
  preamble: string;
  inputs: Buffer[];
  outcome: string;
  /** When the connection started and when its last input went out (ms epoch). */
  startedAt: number;
  lastAt: number;
  /** What state the inputs leave the parser in (for a hang). */
  state?: string;
}

interface SavedCase {
  family: "fuzz";
  target: string;
  seed: number;
  conn: number;
  outcome: string;
  state?: string;
  preamble: string;
  /** The inputs in order, base64; a sentinel (not counted as an input) follows each batch. */
  inputs: string[];
}

function save(ctx: Ctx, c: Case): string {
  const base = join(ctx.failDir, `fuzz-${c.target}-conn${c.conn}-${c.outcome.replace(/[^a-z0-9]+/gi, "-")}`);
  const saved: SavedCase = {
    family: "fuzz",
    target: c.target,
    seed: ctx.seed,
    conn: c.conn,
    outcome: c.outcome,
    state: c.state,
    preamble: c.preamble,
    inputs: c.inputs.map((b) => b.toString("base64")),
  };
  writeFileSync(`${base}.json`, JSON.stringify(saved, null, 1));
  writeFileSync(`${base}.bin`, Buffer.concat(c.inputs));
  return `${base}.json`;
}

interface Outcome {
  kind: "closed" | "answered" | "hang" | "closed-late";
  sent: number;
  /** Seconds from the last input to the close, when the proxy closed after going quiet. */
  lateS?: number;
}

/** One connection: inputs until closed, quota used or the proxy goes quiet; then the end check. */
async function fuzzConn(ctx: Ctx, t: FuzzTarget, s: Session, rng: Rng, c: Case, take: () => boolean): Promise<Outcome> {
  let sent = 0;
  let batches = 0;
  while (sent < t.perConn) {
    const parts: Buffer[] = [];
    for (let k = 0; k < t.batch && sent < t.perConn && take(); k++, sent++) parts.push(t.next(rng, s, ctx));
    if (parts.length === 0) break;
    c.inputs.push(...parts);
    if (t.sentinel) {
      const sn = t.sentinel(s, batches++);
      parts.push(sn);
      c.inputs.push(sn);
    }
    s.wire.write(Buffer.concat(parts));
    c.lastAt = Date.now();
    const ok = await s.wire.until(() => s.wire.gone || t.answered(s), QUIET_MS);
    if (s.wire.gone) return { kind: "closed", sent };
    if (!ok) return endCheck(ctx, s, sent);
  }
  return { kind: "answered", sent };
}

/** The proxy went quiet with input pending: it must close the connection within the bound. */
async function endCheck(ctx: Ctx, s: Session, sent: number): Promise<Outcome> {
  const start = Date.now();
  const gone = await waitGoneResponsive(s, hangBoundMs(ctx));
  if (!gone) return { kind: "hang", sent };
  return { kind: "closed-late", sent, lateS: (Date.now() - start + QUIET_MS) / 1000 };
}

/**
 * Waits for the proxy to close the connection for `ms` of the harness's own responsive time: when the
 * harness's event loop is late (it runs hundreds of connections and the origins), the lateness does not
 * count, and pending I/O (the close) is taken in before the verdict (timers run before I/O in a turn).
 */
async function waitGoneResponsive(s: Session, ms: number): Promise<boolean> {
  let counted = 0;
  while (counted < ms) {
    const t0 = Date.now();
    if (await s.wire.until(() => s.wire.gone, 250)) return true;
    counted += Math.min(Date.now() - t0, 350);
  }
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return s.wire.gone;
}

const OUTCOME_NAMES: Record<Outcome["kind"], string> = {
  closed: "closed by the proxy",
  answered: "answered to the end of their quota",
  hang: "HUNG (not closed)",
  "closed-late": "closed after going quiet",
};

/** Hung cases saved per finding: enough to replay, not thousands of files. */
const SAVE_PER_FINDING = 20;
const savedPer = new Map<string, number>();

/** Counts and, for a hang, saves and reports one finished connection. */
function record(ctx: Ctx, r: FamilyResult, t: FuzzTarget, s: Session, c: Case, o: Outcome, hangs: Case[]): void {
  c.outcome = o.kind;
  count(r, `${t.name}: inputs`, o.sent);
  count(r, `${t.name}: connections`);
  count(r, `${t.name}: ${OUTCOME_NAMES[o.kind]}`);
  if (s.unparsable) count(r, `${t.name}: answers that are not HTTP/1 (tunnels, TLS alerts)`);
  if (o.kind !== "hang") return;
  r.failures++;
  hangs.push(c);
  const state = t.classify?.(Buffer.concat(c.inputs));
  c.state = state;
  count(r, `${t.name}: hung after ${state ?? "its inputs"}`);
  const title = `fuzz ${t.name}: after ${state ?? "some inputs"}, the proxy neither answers nor closes the connection`;
  const n = savedPer.get(title) ?? 0;
  savedPer.set(title, n + 1);
  const file = n < SAVE_PER_FINDING ? save(ctx, c) : undefined;
  addFinding(r, {
    kind: "hang",
    title,
    detail:
      `Target: ${t.what}. After the last input the proxy sent nothing for ${QUIET_MS / 1000} s and had not closed the ` +
      `connection ${hangBoundMs(ctx) / 1000} s later (idle_timeout=${ctx.idleTimeoutS} s): a client that sends such bytes ` +
      "and then waits holds a connection (and its descriptor) for ever. The saved case lists the inputs of the connection in order.",
    figure: "",
    repro: repro(ctx, "fuzz", `--targets ${t.name}${file ? ` (or one case: npm run soak -- --replay ${file})` : ""}`),
    files: file ? [file] : [],
  });
}

async function runTarget(
  ctx: Ctx,
  r: FamilyResult,
  t: FuzzTarget,
  recent: Map<number, Case>,
  deadline = ctx.deadline,
): Promise<void> {
  const budget = ctx.quick ? Math.ceil(t.inputs / QUICK_SHARE) : t.inputs;
  let inputs = 0;
  /** Inputs made so far (by running connections too), and connections started that have made none yet (each will make one). */
  const made = { inputs: 0, pending: 0 };
  let next = 0;
  const setupErrors = new Map<string, number>();
  /** CONNECTs the harness wrote only after idle_timeout (ms from connecting); tunnels closed unanswered otherwise. */
  const harnessLate: number[] = [];
  const tunnelClosed: TunnelClosed[] = [];
  const lateCloses: number[] = [];
  const durations: number[] = [];
  /** Connections running now: saved as candidates if the proxy dies. */
  const active = new Set<Case>();
  const stopWatching = watchCrash(ctx, r, t, active);
  const monitor = new StallMonitor(ctx).start();
  /** Connections by start time (the last few thousand), to find what was sent just before a stall. */
  const starts: Case[] = [];
  const hangs: Case[] = [];
  const connNumbers = function* () {
    while (made.inputs + made.pending < budget) {
      made.pending++;
      yield next++;
    }
  };

  const oneConn = async (conn: number, slot: { pending: boolean }): Promise<void> => {
    const rng = derive(ctx.seed, "fuzz", t.name, conn);
    let s: Session;
    try {
      s = await t.open(ctx, rng);
    } catch (e) {
      if (e instanceof TunnelClosed && e.writtenAfterMs >= ctx.idleTimeoutS * 1000) {
        // The harness itself sent its CONNECT only after idle_timeout: the proxy closed an idle
        // connection, as it must (a slowloris defence), not a failure of the proxy.
        count(r, `${t.name}: CONNECTs the harness sent only after idle_timeout (closed as idle)`);
        harnessLate.push(e.writtenAfterMs);
        return;
      }
      const msg = (e as Error).message.replace(/\d+/g, "N");
      if (e instanceof TunnelClosed) tunnelClosed.push(e);
      setupErrors.set(msg, (setupErrors.get(msg) ?? 0) + 1);
      count(r, `${t.name}: connection setups failed`);
      // The proxy is not taking connections: stop this target.
      if ([...setupErrors.values()].reduce((a, b) => a + b, 0) > 500) made.inputs = budget;
      return;
    }
    const c: Case = {
      target: t.name,
      conn,
      preamble: s.preamble,
      inputs: [],
      outcome: "",
      startedAt: Date.now(),
      lastAt: Date.now(),
    };
    starts.push(c);
    if (starts.length > 1500) starts.splice(0, 500);
    const port = s.wire.socket.localPort;
    if (port) recent.set(port, c);
    if (recent.size > RECENT) recent.delete(recent.keys().next().value!);
    const take = () => {
      if (slot.pending) {
        slot.pending = false;
        made.pending--;
      } else if (made.inputs >= budget) return false;
      made.inputs++;
      return true;
    };
    const began = Date.now();
    active.add(c);
    const o = await fuzzConn(ctx, t, s, rng, c, take).finally(() => active.delete(c));
    s.wire.destroy();
    if (o.sent === 0) return; // the budget was used up meanwhile
    durations.push(Date.now() - began);
    inputs += o.sent;
    if (o.kind === "closed-late") lateCloses.push(o.lateS!);
    record(ctx, r, t, s, c, o, hangs);
  };

  const started = Date.now();
  await pool(connNumbers(), t.concurrency, deadline, async (conn) => {
    const slot = { pending: true };
    try {
      await oneConn(conn, slot);
    } finally {
      if (slot.pending) made.pending--;
    }
  });
  stopWatching();
  await monitor.stop();
  stalls(ctx, r, t, monitor, starts, hangs);
  summarise(ctx, r, t, { inputs, budget, deadline, started, setupErrors, lateCloses, durations });
  tunnelNotes(r, t, harnessLate, tunnelClosed);
}

/** What the times of CONNECTs closed unanswered say (see TunnelClosed). */
function tunnelNotes(r: FamilyResult, t: FuzzTarget, harnessLate: number[], closed: TunnelClosed[]): void {
  if (harnessLate.length)
    r.notes.push(
      `${t.name}: ${harnessLate.length} CONNECT(s) left the harness only ${(Math.max(...harnessLate) / 1000).toFixed(1)} s ` +
        `(at most) after connecting, its event loop late; the proxy closed them as idle, as it must.`,
    );
  if (closed.length) {
    const w = Math.max(...closed.map((c) => c.writtenAfterMs));
    const c = Math.max(...closed.map((x) => x.closedAfterMs));
    r.notes.push(
      `${t.name}: ${closed.length} CONNECT(s) closed unanswered although sent within ${w} ms of connecting; ` +
        `closed at most ${(c / 1000).toFixed(1)} s after they were sent.`,
    );
  }
}

/**
 * Seconds in which the proxy answered no one (its ping took seconds) are a finding of their own, with the
 * connections started just before each saved; hangs that fall in such a window are told apart (the proxy
 * was not answering anyone then, not this connection in particular).
 */
function stalls(ctx: Ctx, r: FamilyResult, t: FuzzTarget, m: StallMonitor, starts: Case[], hangs: Case[]): void {
  r.notes.push(
    `${t.name}: the proxy answered the stall monitor's ${m.pings} pings (one a second, a new connection each) within ${(m.maxPingMs / 1000).toFixed(1)} s at worst; ` +
      `the harness's own event loop was late by ${Math.round(m.harnessMaxDelayMs)} ms at worst.`,
  );
  // A slow ping while the harness itself was late by half as long or more is the harness's stall, not the proxy's.
  const harness = m.stalls.filter((s) => s.harnessLagMs >= s.ms / 2);
  if (harness.length) {
    const worst = Math.max(...harness.map((s) => s.ms)) / 1000;
    r.notes.push(
      `${t.name}: ${harness.length} slow ping(s) (up to ${worst.toFixed(1)} s) came with the harness's own event loop as late: not counted against the proxy.`,
    );
  }
  const proxyStalls = m.stalls.filter((s) => s.harnessLagMs < s.ms / 2);
  if (proxyStalls.length === 0) return;
  const bound = hangBoundMs(ctx) + QUIET_MS;
  const inStall = hangs.filter((c) => proxyStalls.some((s) => c.lastAt <= s.from + s.ms && c.lastAt + bound >= s.from));
  const files: string[] = [];
  for (const s of proxyStalls.slice(0, 3)) {
    for (const c of starts.filter((x) => x.startedAt >= s.from - 3000 && x.startedAt <= s.from + 500).slice(-5)) {
      files.push(save(ctx, { ...c, outcome: "started-before-a-stall" }));
    }
  }
  const longest = proxyStalls.reduce((a, s) => (s.ms > a.ms ? s : a));
  r.failures += proxyStalls.length;
  addFinding(r, {
    kind: "stall",
    title: `fuzz ${t.name}: the proxy stops answering everyone for seconds at a time`,
    detail:
      `While this target ran (${t.what}; ${t.concurrency} connections at a time), a fresh request for a locally answered URL took ` +
      `${proxyStalls.length} time(s) 3 s or more (the longest ${(longest.ms / 1000).toFixed(1)} s, the proxy using ` +
      `${Math.round(longest.cpu * 100)}% of a core meanwhile: ${longest.cpu > 0.7 ? "busy" : "mostly idle, i.e. waiting"}). The harness's own ` +
      `event loop was late by at most ${Math.round(longest.harnessLagMs)} ms meanwhile, so the delay is the proxy's. ${inStall.length} of the ` +
      `target's ${hangs.length} hung connections fell in such a window. The connections started just before the first stalls are saved.`,
    figure: `${proxyStalls.length} stall(s), longest ${(longest.ms / 1000).toFixed(1)} s at ${Math.round(longest.cpu * 100)}% CPU`,
    repro: repro(ctx, "fuzz", `--targets ${t.name}`),
    files,
  });
  if (inStall.length)
    r.notes.push(
      `${t.name}: ${inStall.length} of ${hangs.length} hung connections fell in a window when the proxy answered no one.`,
    );
}

function summarise(
  ctx: Ctx,
  r: FamilyResult,
  t: FuzzTarget,
  x: {
    inputs: number;
    budget: number;
    deadline: number;
    started: number;
    setupErrors: Map<string, number>;
    lateCloses: number[];
    durations: number[];
  },
): void {
  const hangs = r.counts[`${t.name}: HUNG (not closed)`] ?? 0;
  const conns = r.counts[`${t.name}: connections`] ?? 0;
  for (const f of r.findings.filter((y) => y.title.startsWith(`fuzz ${t.name}:`) && y.kind === "hang")) {
    f.figure = `${f.count} of ${conns} connections of the target (${((f.count / Math.max(1, conns)) * 100).toFixed(1)}%) hung this way (${hangs} in all)`;
  }
  for (const [msg, n] of x.setupErrors) {
    r.failures += n;
    addFinding(r, {
      kind: "failure",
      title: `fuzz ${t.name}: the connection setup through the proxy failed: ${msg.slice(0, 100)}`,
      detail: `Opening a connection for this target (${t.what}) failed before any mutated input was sent.`,
      figure: `${n} times`,
      repro: repro(ctx, "fuzz", `--targets ${t.name}`),
      count: n,
    });
  }
  const late = [...x.lateCloses].sort((a, b) => a - b);
  if (late.length) {
    r.notes.push(
      `${t.name}: ${late.length} connections went quiet and were closed by the proxy later: median ${late[late.length >> 1]!.toFixed(1)} s, max ${late[late.length - 1]!.toFixed(1)} s after the last input.`,
    );
  }
  const secs = (Date.now() - x.started) / 1000;
  if (x.durations.length) {
    r.notes.push(
      `${t.name}: connection lifetimes p50 ${percentile(x.durations, 50)} ms, p90 ${percentile(x.durations, 90)} ms, max ${percentile(x.durations, 100)} ms; ${x.inputs} inputs in ${secs.toFixed(0)} s.`,
    );
  }
  ctx.log(`  fuzz ${t.name}: ${x.inputs} inputs on ${conns} connections in ${secs.toFixed(0)} s; ${hangs} hung`);
  if (x.inputs < x.budget && Date.now() > x.deadline)
    r.notes.push(`${t.name}: stopped at its share of the family's deadline after ${x.inputs} of ${x.budget} inputs.`);
}

let restarting: Promise<void> | undefined;

/**
 * The proxy dying during a target is a crash finding: its last output (a native stack, say) and the
 * connections running at that moment (saved) go into it; a new proxy is started and the target goes on.
 */
function watchCrash(ctx: Ctx, r: FamilyResult, t: FuzzTarget, active: Set<Case>): () => void {
  let on = true;
  const proxy = ctx.proxy;
  void proxy.proc.exited.then(async (code) => {
    if (!on) return;
    const files = [...active].slice(0, 10).map((c) => save(ctx, { ...c, outcome: "running-when-the-proxy-died" }));
    r.failures++;
    addFinding(r, {
      kind: "crash",
      title: `fuzz ${t.name}: the proxy process dies (exit ${code})`,
      detail:
        `While the ${t.name} target ran (${t.what}), the proxy exited. Its last output:\n${"```"}\n${proxy.proc.output.slice(-1800).trim()}\n${"```"}\n` +
        `The ${active.size} connections running at that moment are saved (the first 10); the trigger may also be an earlier connection ` +
        "(a failed assertion in a destructor runs at a GC).",
      figure: `exit code ${code} after ${r.counts[`${t.name}: inputs`] ?? 0} inputs of the target`,
      repro: repro(ctx, "fuzz", `--targets ${t.name}`),
      files,
    });
    ctx.log(`  fuzz ${t.name}: the proxy died (exit ${code}); starting a new one`);
    restarting ??= ctx.restartMain().finally(() => (restarting = undefined));
    await restarting;
  });
  return () => void (on = false);
}

/** After a target (run alone), whatever its connections held in the proxy must be released: which target leaks. */
async function targetLeak(ctx: Ctx, r: FamilyResult, t: FuzzTarget, before: number): Promise<void> {
  const boundS = ctx.idleTimeoutS * 2 + 5;
  await pollUntil(() => (ctx.proxy.sample()?.fds ?? Infinity) <= before + 2, boundS * 1000);
  const after = ctx.proxy.sample()?.fds;
  if (after === undefined || after <= before + 2) return;
  const held = ctx.proxy.describeFds(originPorts(ctx));
  r.failures++;
  addFinding(r, {
    kind: "leak",
    title: `fuzz ${t.name}: the proxy keeps descriptors of connections the client has closed`,
    detail:
      `Every connection of this target (${t.what}) was closed by the harness (after the proxy closed it, answered all its inputs, or ` +
      `went quiet past the hang bound). ${boundS} s after the last one the proxy still held ${after - before} more descriptors than ` +
      `before the target: ${Object.entries(held)
        .map(([k, v]) => `${v} × ${k}`)
        .join(", ")}. CLOSE_WAIT from a client: the client ` +
      "has closed, the proxy never closes its end; to an origin: the server connection of such a client is kept too.",
    figure: `${before} → ${after} fds (+${after - before}) ${boundS} s after the target`,
    repro: repro(ctx, "fuzz", `--targets ${t.name}`),
  });
}

/** Internal errors the proxy logs with a client's address: the connection's inputs are saved beside them. */
function attribute(ctx: Ctx, recent: Map<number, Case>): () => void {
  const offs: Array<() => void> = [];
  let watched: unknown;
  const watch = () => {
    if (watched === ctx.proxy) return;
    watched = ctx.proxy;
    const proxy = ctx.proxy;
    offs.push(
      proxy.proc.onLine((line) => {
        const m = /^127\.0\.0\.1:(\d+): .*internal error/.exec(line);
        if (!m) return;
        const c = recent.get(Number(m[1]));
        const e = proxy.errors[proxy.errors.length - 1];
        if (!c || !e) return;
        (e.files ??= []).push(save(ctx, { ...c, outcome: "internal-error" }));
      }),
    );
  };
  watch();
  // A new proxy after a crash gets the same watch.
  const timer = setInterval(watch, 1000);
  return () => {
    clearInterval(timer);
    for (const off of offs) off();
  };
}

export const fuzz: Family = {
  id: "fuzz",
  title: "seeded mutation fuzzing of every parser and listener",
  method: (ctx) =>
    `Each target's connections get mutated inputs (1–3 stacked edits of valid ones: bit flips, edge bytes, HTTP tokens ` +
    `such as CR, LF, NUL, folding, framing fields, edge numbers, long runs, truncation, duplicated or swapped lines, ` +
    `interesting 8–32-bit length values, pipelined copies) made by a PRNG seeded from the run's seed, the target and ` +
    `the connection number, so \`--seed\` makes every input again (\`--targets a,b\` runs some targets). After each input (or batch of 8 ` +
    `and a sentinel the proxy must echo: a WebSocket text message, an HTTP/2 PING) the proxy must answer within ${QUIET_MS / 1000} s or ` +
    `else close the connection within ${hangBoundMs(ctx) / 1000} s (idle_timeout=${ctx.idleTimeoutS} s); otherwise the ` +
    `connection counts as hung and its inputs are saved. In a full run the targets run one after the other, and after each the ` +
    `proxy's descriptors must come back (a target whose connections leave descriptors behind is a leak finding); the proxy dying is ` +
    `a crash finding (a new one is started and the target goes on). Targets: ${fuzzTargets()
      .map(
        (t) =>
          `**${t.name}** (${t.what}; ` +
          `${ctx.quick ? Math.ceil(t.inputs / QUICK_SHARE) : t.inputs} inputs, up to ${t.perConn} per connection, ${t.concurrency} connections at a time)`,
      )
      .join("; ")}.`,
  deadlineMs: (ctx) => (ctx.quick ? 45 : 25 * 60) * 1000,
  async run(ctx, r) {
    const recent = new Map<number, Case>();
    const off = attribute(ctx, recent);
    const chosen = ctx.fuzzTargets;
    const targets = fuzzTargets().filter((t) => !chosen?.length || chosen.includes(t.name));
    try {
      if (ctx.quick) {
        // A smoke run: every target at once (each is small), so that one hang bound covers them all.
        await Promise.all(targets.map((t) => runTarget(ctx, r, t, recent)));
      } else {
        for (const [i, t] of targets.entries()) {
          // Each target gets its share of what is left of the deadline (connections running at a target's
          // deadline may take up to the hang bound to end).
          const share = Math.max(
            5000,
            (ctx.deadline - Date.now() - hangBoundMs(ctx) - QUIET_MS) / (targets.length - i),
          );
          const fds = ctx.proxy.sample()?.fds;
          await runTarget(ctx, r, t, recent, Math.min(ctx.deadline, Date.now() + share));
          if (fds !== undefined && ctx.proxy.alive) await targetLeak(ctx, r, t, fds);
        }
      }
    } finally {
      off();
    }
    const total = Object.entries(r.counts)
      .filter(([k]) => k.endsWith(": inputs"))
      .reduce((a, [, v]) => a + v, 0);
    r.counts["inputs in all"] = total;
    r.notes.unshift(
      `Seed ${ctx.seed}. ${total.toLocaleString("en-US")} mutated inputs in all; failing connections saved under ${ctx.failDir}.`,
    );
  },
};

/** `--replay FILE`: sends a saved case's inputs again (to the proxy of this run) and says how the connection ended. */
export async function replay(ctx: Ctx, file: string): Promise<void> {
  const c = JSON.parse(readFileSync(file, "utf8")) as SavedCase;
  const t = fuzzTargets().find((x) => x.name === c.target);
  if (!t) throw new Error(`${file}: unknown target ${c.target}`);
  const s = await t.open(ctx, derive(c.seed, "fuzz", t.name, c.conn));
  ctx.log(
    `replaying ${c.inputs.length} input(s) of ${c.target} connection ${c.conn} (seed ${c.seed}; it ended as: ${c.outcome}); setup: ${c.preamble}`,
  );
  for (const [i, b64] of c.inputs.entries()) {
    s.wire.write(Buffer.from(b64, "base64"));
    await s.wire.until(() => s.wire.gone, 200);
    if (s.wire.gone) {
      ctx.log(`the proxy closed the connection after input ${i + 1} of ${c.inputs.length}`);
      return;
    }
  }
  const start = Date.now();
  const gone = await s.wire.waitGone(hangBoundMs(ctx) + QUIET_MS);
  ctx.log(
    gone
      ? `the proxy closed the connection ${((Date.now() - start) / 1000).toFixed(1)} s after the last input (received ${s.wire.received} bytes)`
      : `HANG reproduced: the connection is still open ${((Date.now() - start) / 1000).toFixed(0)} s after the last input (received ${s.wire.received} bytes: ${JSON.stringify(s.wire.data.toString("latin1").slice(0, 120))})`,
  );
  s.wire.destroy();
  await new Promise((res) => setTimeout(res, 1000));
  ctx.log(
    ctx.proxy.alive
      ? "the proxy is still running"
      : `the proxy DIED (exit ${ctx.proxy.proc.exitCode}): ${ctx.proxy.proc.output.slice(-600)}`,
  );
}
