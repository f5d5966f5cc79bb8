// Filtering 50,000 flows in the web UI, in a real browser: writes a flow file of N flows (a mix of
// hosts, methods, statuses and content types, small bodies), starts `node dist/cli.js --web -r FILE`
// so the UI's store holds them, opens the UI in Debian's Chromium (headless, playwright-core), waits
// until the list has every flow, then for each expression types it into the filter box and
// measures, in the page, from the keypress to the list rendered again (the filter compiled by the
// bundled sdk compiler, evaluated over every flow summary, the visible rows laid out).
// `node --import tsx bench/ui-filter.ts [--quick] [--json]` (run `npm run build` first).
// --json prints one JSON line of the figures (workload U reads it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { FlowWriter, type HTTPFlow } from "@interloper/sdk";
import { testFlow, testResponse } from "@interloper/sdk/testing";
import { DIST_CLI, Proc } from "./lib/procs.ts";

const quick = process.argv.includes("--quick");
const json = process.argv.includes("--json");
const FLOWS = 50_000;
const REPEATS = quick ? 3 : 7;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** The expressions measured: typical ones, a regex over URLs, header fields, a negation, and clearing the filter. */
export const EXPRESSIONS = [
  "~d api3\\.example\\.com",
  "~m POST & ~c 404",
  "~u /v1/items/4.*7 & !~a",
  '~h "x-request-id: 12"',
  "~t json | ~t html",
  "",
];

export interface UiFilterFigure {
  expr: string;
  /** Milliseconds from the keypress to the list rendered, one per repetition. */
  ms: number[];
  shown: number;
}

const HOSTS = Array.from({ length: 40 }, (_, i) => `api${i}.example.com`);
const TYPES = ["application/json", "text/html; charset=utf-8", "image/png", "text/css", "application/javascript"];
const STATUSES = [200, 200, 200, 201, 204, 301, 304, 404, 500];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];

function flowAt(i: number): HTTPFlow {
  const f = testFlow({
    url: `https://${HOSTS[i % HOSTS.length]}/v1/items/${i}?page=${i % 13}`,
    method: METHODS[i % METHODS.length],
    headers: { "User-Agent": "bench", Accept: "*/*", "X-Request-Id": String(i) },
    body: i % 6 === 3 ? `{"n":${i}}` : undefined,
  });
  f.response = testResponse({
    status: STATUSES[i % STATUSES.length],
    headers: { "Content-Type": TYPES[i % TYPES.length]! },
    body: `r${i}`,
  });
  return f;
}

async function writeFlows(file: string): Promise<void> {
  const writer = await FlowWriter.open(file);
  for (let i = 0; i < FLOWS; i++) await writer.add(flowAt(i));
  await writer.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interloper-ui-bench-"));
  const file = join(dir, "flows.flow");
  let proxy: Proc | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  try {
    await writeFlows(file);
    proxy = new Proc("interloper-web", process.execPath, [
      DIST_CLI,
      "-q",
      "-p",
      "0",
      "--listen-host",
      "127.0.0.1",
      "--web",
      "--set",
      "web_port=0",
      "--set",
      `confdir=${dir}`,
      "--set",
      `web_max_flows=${FLOWS}`,
      "--set",
      "keepserving=true",
      "-r",
      file,
    ]);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UI address printed: ${proxy!.output}`)), 120_000);
      proxy!.onLine((line) => {
        const m = /Web UI at (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    // The measuring code is given to the page as text, which the UI's CSP (no eval) would refuse.
    const page = await (
      await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true })
    ).newPage();
    await page.goto(url);
    // Every flow read and shown (the store fills while the file is read).
    await page.waitForFunction(
      `document.querySelector('[data-testid="flow-count"]')?.textContent === "${FLOWS} flows"`,
      undefined,
      { timeout: 300_000, polling: 500 },
    );
    const figures: UiFilterFigure[] = [];
    for (const expr of EXPRESSIONS) {
      const figure: UiFilterFigure = { expr, ms: [], shown: 0 };
      for (let rep = 0; rep < REPEATS; rep++) {
        // Another filter first, so each measurement changes the list.
        await applyFilter(page, rep % 2 === 0 ? "~q" : "~s & ~c 999");
        const r = await applyFilter(page, expr);
        figure.ms.push(r.ms);
        figure.shown = r.shown;
      }
      figures.push(figure);
    }
    if (json) process.stdout.write(`${JSON.stringify({ flows: FLOWS, figures })}\n`);
    else
      for (const f of figures)
        console.log(
          `${JSON.stringify(f.expr).padEnd(32)} ${f.shown} shown, ms: ${f.ms.map((x) => x.toFixed(1)).join(" ")}`,
        );
  } finally {
    await browser.close();
    proxy?.kill();
    await proxy?.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Types an expression into the filter box and presses Enter; resolves with the milliseconds until the list
 * rendered again and the count shown. Page code, kept as text: it runs in the browser, not in this process.
 */
const APPLY_FILTER = `async (text) => {
  const input = document.getElementById("filter-input");
  const t0 = performance.now();
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  // The store re-renders in the next animation frame; Preact commits right after it.
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const ms = performance.now() - t0;
  const count = document.querySelector('[data-testid="flow-count"]')?.textContent ?? "";
  return { ms, shown: Number(/^(\\d+)/.exec(count)?.[1] ?? NaN) };
}`;

async function applyFilter(page: Page, expr: string): Promise<{ ms: number; shown: number }> {
  return page.evaluate<{ ms: number; shown: number }>(`(${APPLY_FILTER})(${JSON.stringify(expr)})`);
}

await main();
