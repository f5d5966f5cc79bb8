#!/usr/bin/env node
// Runs every uvu suite file in its own Node process (TypeScript through tsx),
// two at a time, and ends with the line CI reads: "N passed, N failed".
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ["test", "examples"];
// A bound for a file that hangs, far above what any file needs on a busy 2-core machine (the slowest take 1-2 min).
const PER_FILE_TIMEOUT_MS = 10 * 60_000;
const JOBS = Number(process.env.TEST_JOBS ?? 2);

function collect(path, out) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return out;
  if (st.isFile()) {
    if (/\.test\.(ts|mts|js|mjs)$/.test(path)) out.push(path);
    return out;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    collect(join(path, name), out);
  }
  return out;
}

const files = roots.flatMap((r) => collect(join(root, r), []));
let passed = 0;
let failed = 0;
let skipped = 0;

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[test runner] ${relative(root, file)} took longer than ${PER_FILE_TIMEOUT_MS / 1000}s: killed\n`;
      child.kill("SIGKILL");
    }, PER_FILE_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const num = (label) => {
        const m = new RegExp(`${label}:\\s+(\\d+)`).exec(out);
        return m ? Number(m[1]) : undefined;
      };
      const total = num("Total");
      const ok = num("Passed") ?? 0;
      const skip = num("Skipped") ?? 0;
      // uvu's Total leaves skipped tests out.
      let fail = total === undefined ? 1 : Math.max(0, total - ok);
      if (code !== 0 && fail === 0) fail = 1; // crashed after its tests, or the runner killed it
      passed += ok;
      failed += fail;
      skipped += skip;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const name = relative(root, file);
      if (fail > 0) {
        process.stdout.write(`FAIL ${name} (${ok} passed, ${fail} failed, ${secs}s)\n${out}\n`);
      } else {
        process.stdout.write(`ok   ${name} (${ok} passed${skip ? `, ${skip} skipped` : ""}, ${secs}s)\n`);
        if (process.env.TEST_VERBOSE) process.stdout.write(out);
      }
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(
  Array.from({ length: Math.min(JOBS, queue.length) }, async () => {
    while (queue.length > 0) await runFile(queue.shift());
  }),
);
if (files.length === 0) failed += 1;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
