// bench/SOAK.md and bench/SOAK.json: the run's machine, a table of every
// finding, then one section per family (counts, the proxy's health, findings).
import { fmt } from "../../bench/lib/stats.ts";
import type { FamilyResult, Finding } from "./family.ts";
import { mib } from "./sample.ts";
import { FD_SLACK } from "./health.ts";

export interface RunInfo {
  date: string;
  argv: string;
  commit: string;
  seed: number;
  quick: boolean;
  cores: number;
  cpus: string;
  memory: string;
  os: string;
  node: string;
  loadavg: string;
  ulimit: string;
  proxyCommand: string;
  failDir: string;
}

const KIND_ORDER = [
  "crash",
  "stall",
  "internal-error",
  "smuggling",
  "leak",
  "hang",
  "unbounded",
  "failure",
  "observation",
];

function esc(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function findingsTable(findings: Finding[]): string {
  if (findings.length === 0) return "No findings.\n";
  const rows = ["| # | family | kind | what | figure | seen | reproduce |", "|---:|---|---|---|---|---:|---|"];
  const sorted = [...findings].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  sorted.forEach((f, i) =>
    rows.push(
      `| ${i + 1} | ${f.family} | ${f.kind} | ${esc(f.title)} | ${esc(f.figure)} | ${f.count} | \`${esc(f.repro)}\` |`,
    ),
  );
  return `${rows.join("\n")}\n`;
}

function healthTable(r: FamilyResult): string {
  const h = r.health;
  if (!h) return "";
  const rss = (x?: number) => (x === undefined ? "—" : `${mib(x)} MiB`);
  const rows = [
    "| proxy after the family | |",
    "|---|---|",
    `| still running | ${h.alive ? "yes" : "**no**"} |`,
    `| normal HTTP request | ${h.http === "ok" ? "ok" : `**${esc(h.http)}**`} |`,
    `| normal HTTPS request | ${h.https === "ok" ? "ok" : `**${esc(h.https)}**`} |`,
    `| RSS before → peak → after | ${rss(h.before?.rss)} → ${rss(h.peak?.rss)} → ${rss(h.after?.rss)} |`,
    `| open fds before → peak → after | ${h.before?.fds ?? "—"} → ${h.peak?.fds ?? "—"} → ${h.after?.fds ?? "—"}${h.settledS !== undefined ? ` (after ${fmt(h.settledS)} s)` : ""} |`,
    `| JS heap after GC before → after | ${rss(h.heapBefore)} → ${rss(h.heapAfter)} |`,
    `| external memory after GC before → after | ${rss(h.externalBefore)} → ${rss(h.externalAfter)} |`,
  ];
  if (h.fdsHeld)
    rows.push(
      `| descriptors held after | ${esc(
        Object.entries(h.fdsHeld)
          .map(([k, v]) => `${v} × ${k}`)
          .join(", "),
      )} |`,
    );
  return `${rows.join("\n")}\n`;
}

function findingDetails(findings: Finding[]): string {
  return findings
    .map((f) => {
      const files = f.files.length ? `\n  Saved inputs: ${f.files.map((x) => `\`${x}\``).join(", ")}` : "";
      return `- **${f.kind}: ${f.title}** (seen ${f.count}×; ${f.figure})\n  ${f.detail.replace(/\n/g, "\n  ")}\n  Reproduce: \`${f.repro}\`${files}`;
    })
    .join("\n");
}

export function renderSection(r: FamilyResult): string {
  const out = [`## ${r.id}: ${r.title}`, ""];
  out.push(`_Run ${r.date}, seed ${r.seed}${r.quick ? ", QUICK" : ""}, ${Math.round(r.seconds)} s._`, "");
  out.push(r.method, "");
  if (r.error) out.push(`**The family did not finish:** ${r.error}`, "");
  const counts = Object.entries(r.counts);
  if (counts.length) {
    out.push(
      "| count | |",
      "|---|---:|",
      ...counts.map(([k, v]) => `| ${esc(k)} | ${fmt(v)} |`),
      `| **failures** | **${fmt(r.failures)}** |`,
      "",
    );
  }
  out.push(healthTable(r));
  if (r.extra) out.push(r.extra, "");
  out.push(r.findings.length ? `Findings:\n\n${findingDetails(r.findings)}\n` : "Findings: none.\n");
  if (r.notes.length) out.push(...r.notes.map((n) => `- ${n}`), "");
  return out.join("\n");
}

const INTRO = `Written by \`npm run soak\` (\`soak/run.ts\`); do not edit by hand. \`npm run soak -- fuzz smuggling\` runs some
families (their sections are replaced, the others kept with their own dates), \`--seed N\` makes the run's inputs
again, \`--minutes N\` sets the length of the mixed soak (default 10), \`--quick\` makes a ~1-minute smoke run whose
report goes to \`bench/results/\` instead. Not part of \`npm test\`.

How it runs. The harness builds the proxy and runs the real CLI (\`node --expose-gc dist/cli.js\`) as a child process
listening on 127.0.0.1 (regular and SOCKS5), with a temporary confdir, the origins' CA trusted
(\`ssl_verify_upstream_trusted_ca\`), \`idle_timeout=5\` (2 in a --quick run), errors-only logging, and one addon of the harness
(\`soak/lib/guard-addon.ts\`): it refuses any server connection that is not to a loopback address (so fuzzed host
names never leave the machine) and answers \`http://soak.invalid/__soak/heap\` with the proxy's memory after two
full GCs. The origins (HTTP, HTTPS, WebSocket, a raw recorder of exact bytes, faulty ones) run in the harness
process, on loopback. After every family the harness checks that the proxy still runs, answers a normal HTTP and
HTTPS request, and that its open descriptors (\`/proc/PID/fd\`) come back within ${FD_SLACK} of their count before the family
(waiting up to 3 × idle_timeout + 15 s; a --quick run uses idle_timeout=2 and shorter bounds); its RSS (\`/proc/PID/status\`) and JS heap after GC are reported. A
descriptor or heap growth that stays is a leak finding. MiB = 2^20 bytes.`;

export function renderDocument(runs: RunInfo[], results: FamilyResult[], order: string[]): string {
  const sorted = [...results].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const out = ["# interloper soak, fault and hostile-input run", "", INTRO, "", "## Machine", ""];
  for (const m of runs) {
    out.push(
      `- run of ${m.date} (\`${m.argv}\`, seed ${m.seed}, commit ${m.commit}${m.quick ? ", QUICK smoke run" : ""}): ${m.cores} cores (${m.cpus}), ` +
        `${m.memory} memory, ${m.os}; Node ${m.node}; load average at start ${m.loadavg}; ulimit -n ${m.ulimit}; failing inputs saved under \`${m.failDir}\``,
    );
  }
  if (runs[0]) out.push("", "The proxy under test:", "", "```sh", runs[runs.length - 1]!.proxyCommand, "```");
  out.push("", "## Findings", "", findingsTable(sorted.flatMap((r) => r.findings)), "## Families", "");
  out.push(
    "| family | seconds | failures | findings | proxy fds before → after | RSS before → after |",
    "|---|---:|---:|---:|---|---|",
  );
  for (const r of sorted) {
    const h = r.health;
    out.push(
      `| ${r.id} | ${Math.round(r.seconds)} | ${r.failures} | ${r.findings.length} | ${h?.before?.fds ?? "—"} → ${h?.after?.fds ?? "—"} | ` +
        `${h?.before ? mib(h.before.rss) : "—"} → ${h?.after ? mib(h.after.rss) : "—"} MiB |`,
    );
  }
  out.push("");
  for (const r of sorted) out.push(renderSection(r));
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}
