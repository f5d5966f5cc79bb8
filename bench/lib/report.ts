// Results of the workloads and their rendering into bench/BENCHMARKS.md.
import type { Who } from "./context.ts";
import { fmt, fmtRatio, median, ratio } from "./stats.ts";

export interface Metric {
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** One value per repetition. */
  values: Partial<Record<Who, number[]>>;
}

export interface Check {
  /** The target as the issue states it, e.g. "≥ 25× mitmdump". */
  target: string;
  /** What was measured, e.g. "31.2× (12,345 vs 395 req/s)". */
  figure: string;
  /** undefined: could not be judged (a baseline is missing, the workload failed). */
  met: boolean | undefined;
}

export interface WorkloadResult {
  id: string;
  title: string;
  /** How the workload is measured, in a sentence or two. */
  method: string;
  metrics: Metric[];
  checks: Check[];
  notes: string[];
  commands: string[];
  /** Extra markdown (tables of a profile, a reload series). */
  extra?: string;
  date: string;
  seconds: number;
  reps: number;
  error?: string;
}

export interface Machine {
  date: string;
  cpus: string;
  cores: number;
  memory: string;
  os: string;
  node: string;
  mitmdump: string;
  wrk: string;
  loadavg: string;
  ulimit: string;
  quick: boolean;
  reps: number;
  argv: string;
  /** The commit measured (with a note when the work tree had changes). */
  commit: string;
}

export function med(m: Metric, who: Who): number | undefined {
  const v = m.values[who];
  return v && v.length ? median(v) : undefined;
}

/** A ratio check: interloper's median against a baseline's, with the minimum (or maximum) ratio allowed. */
export function ratioCheck(m: Metric, base: Who, bound: { min?: number; max?: number }, target: string): Check {
  const a = med(m, "interloper");
  const b = med(m, base);
  const r = ratio(a, b);
  if (r === undefined) return { target, figure: `no ${base} figure`, met: undefined };
  const met = (bound.min === undefined || r >= bound.min) && (bound.max === undefined || r <= bound.max);
  return { target, figure: `${fmtRatio(r)} (${fmt(a)} vs ${fmt(b)} ${m.unit})`, met };
}

export function valueCheck(
  value: number | undefined,
  unit: string,
  bound: { min?: number; max?: number },
  target: string,
): Check {
  if (value === undefined || !Number.isFinite(value)) return { target, figure: "not measured", met: undefined };
  const met = (bound.min === undefined || value >= bound.min) && (bound.max === undefined || value <= bound.max);
  return { target, figure: `${fmt(value)} ${unit}`, met };
}

const WHO: Who[] = ["interloper", "direct", "mitmdump"];

function metricTable(metrics: Metric[]): string {
  const rows = [
    "| metric | interloper | direct | mitmdump | interloper ÷ direct | interloper ÷ mitmdump |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const m of metrics) {
    const [i, d, x] = WHO.map((w) => med(m, w));
    const unit = m.unit ? ` (${m.unit})` : "";
    rows.push(
      `| ${m.label}${unit} | **${fmt(i)}** | ${fmt(d)} | ${fmt(x)} | ${fmtRatio(ratio(i, d))} | ${fmtRatio(ratio(i, x))} |`,
    );
  }
  const raw = metrics
    .map((m) => {
      const parts = WHO.filter((w) => m.values[w]?.length).map((w) => `${w} ${m.values[w]!.map(fmt).join(", ")}`);
      return parts.length ? `- ${m.label}: ${parts.join(" · ")}` : undefined;
    })
    .filter(Boolean);
  return `${rows.join("\n")}\n\nEvery repetition (the table shows medians):\n\n${raw.join("\n")}\n`;
}

function mark(met: boolean | undefined): string {
  return met === undefined ? "n/a" : met ? "**met**" : "**not met**";
}

export function renderSection(r: WorkloadResult): string {
  const out = [`## ${r.id}. ${r.title}`, ""];
  out.push(`_Measured ${r.date}, ${r.reps} repetition${r.reps === 1 ? "" : "s"}, ${Math.round(r.seconds)} s._`, "");
  out.push(r.method, "");
  if (r.error) out.push(`**The workload failed:** ${r.error}`, "");
  if (r.metrics.length) out.push(metricTable(r.metrics));
  if (r.checks.length) {
    out.push("| target | figure | |", "|---|---|---|");
    for (const c of r.checks) out.push(`| ${c.target} | ${c.figure} | ${mark(c.met)} |`);
    out.push("");
  }
  if (r.extra) out.push(r.extra, "");
  if (r.notes.length) out.push(...r.notes.map((n) => `- ${n}`), "");
  if (r.commands.length) out.push("Commands:", "", "```sh", ...r.commands, "```", "");
  return out.join("\n");
}

export function renderDocument(machines: Machine[], results: WorkloadResult[], order: string[], intro: string): string {
  const sorted = [...results].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const out = ["# interloper benchmarks", "", intro, ""];
  out.push("## Machine", "");
  for (const m of machines) {
    out.push(
      `- run of ${m.date} (\`${m.argv}\`, commit ${m.commit}${m.quick ? ", QUICK smoke run" : ""}, ${m.reps} repetition${m.reps === 1 ? "" : "s"}): ${m.cores} cores (${m.cpus}), ${m.memory} memory, ${m.os}; Node ${m.node}; mitmdump ${m.mitmdump}; ${m.wrk}; load average at start ${m.loadavg}; ulimit -n ${m.ulimit}`,
    );
  }
  out.push("", "## Summary", "", "| | workload | target | figure | |", "|---|---|---|---|---|");
  for (const r of sorted) {
    if (r.checks.length === 0) {
      out.push(`| ${r.id} | ${r.title} | — | ${r.error ? `failed: ${r.error}` : "see below"} | |`);
      continue;
    }
    for (const c of r.checks) out.push(`| ${r.id} | ${r.title} | ${c.target} | ${c.figure} | ${mark(c.met)} |`);
  }
  out.push("");
  for (const r of sorted) out.push(renderSection(r));
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}
