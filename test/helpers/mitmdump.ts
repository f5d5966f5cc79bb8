// mitmproxy's mitmdump (Debian's 8.1.1, on the PATH; .ci/run installs it) as a
// child process for the interop suites: a proxy on a free loopback port whose
// start is its "listening" line, stopped with SIGINT (it then writes its files)
// and killed if it does not exit in time.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./clients.ts";
import { WAIT_MS } from "./harness.ts";

export interface Mitmdump {
  port: number;
  child: ChildProcess;
  output(): string;
  /** SIGINT, then SIGKILL if it has not exited within WAIT_MS; resolves once it exited. */
  stop(): Promise<void>;
}

/** Runs `mitmdump` with `args` and waits (bounded) for it to exit; its output and exit code. */
export function runMitmdump(args: string[], timeoutMs = WAIT_MS): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("mitmdump", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run mitmdump (is mitmproxy installed? .ci/run installs it): ${err.message}`));
    });
    // 'close': its output read to the end ('exit' can come while the pipe still holds some).
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A proxy on 127.0.0.1; resolves once mitmdump printed that it listens. */
export async function startMitmdump(args: string[]): Promise<Mitmdump> {
  const port = await freePort();
  const child = spawn("mitmdump", ["--listen-host", "127.0.0.1", "--listen-port", String(port), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`mitmdump did not listen within ${WAIT_MS} ms:\n${output}`)),
        WAIT_MS,
      );
      const onData = (d: Buffer) => {
        output += d.toString();
        if (/Proxy server listening at/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run mitmdump (is mitmproxy installed? .ci/run installs it): ${err.message}`));
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`mitmdump exited (${code}) before listening:\n${output}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, child, output: () => output, stop };
}
