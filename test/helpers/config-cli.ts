// Helpers of the config-file and onboarding suites: confdirs that share the test CA (no new key per
// confdir), the CLI run to its end from a chosen folder, and counting log lines that repeat.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir, testConfdir, WAIT_MS } from "./harness.ts";

const TSX = import.meta.resolve("tsx");

/** The CA files a proxy made in the shared test confdir. */
const CA_FILES = ["interloper-ca.pem", "interloper-ca-cert.pem", "interloper-ca-cert.cer", "interloper-ca-cert.p12"];

/**
 * A fresh confdir holding the shared test CA (once a proxy made it there) and, if given, a
 * config.yaml: each suite's confdir files differ, the CA need not.
 */
export function confdirWith(configYaml?: string): string {
  const dir = tempDir("interloper-confdir-");
  const shared = testConfdir();
  for (const name of CA_FILES) if (existsSync(join(shared, name))) copyFileSync(join(shared, name), join(dir, name));
  if (configYaml !== undefined) writeFileSync(join(dir, "config.yaml"), configYaml);
  return dir;
}

/** Runs the CLI (the source tree, as startProxy does) in `cwd` to its end: exit code and output. */
export function runCliIn(
  cwd: string,
  args: string[],
  timeoutMs = WAIT_MS,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "core/cli/main.ts"), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    // 'close': the output is read to its end.
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** How often `re` (global) matches in `text`: for waiting on the n-th "applied" line. */
export function countMatches(text: string, re: RegExp): number {
  return [...text.matchAll(new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`))].length;
}
