// Child processes of the benchmark: the origin, the proxies under test and the
// load generators. Every child is tracked and killed (by its own pid) when the
// suite ends or a workload overruns its deadline; none outlives the run.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, type WriteStream } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { sleep } from "./stats.ts";

export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const live = new Set<Proc>();

export class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  private readonly log: WriteStream | undefined;
  private tail = "";
  private readonly lineListeners = new Set<(line: string, stream: "stdout" | "stderr") => void>();

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    opts: { logFile?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    this.child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        live.delete(this);
        resolve(this.exitCode);
      });
      this.child.on("error", (e) => {
        this.tail += `spawn error: ${e.message}\n`;
        this.exitCode = -2;
        live.delete(this);
        resolve(-2);
      });
    });
    for (const stream of ["stdout", "stderr"] as const) {
      let partial = "";
      this.child[stream]!.on("data", (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        this.log?.write(text);
        this.tail = (this.tail + text).slice(-4000);
        partial += text;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) for (const fn of this.lineListeners) fn(l, stream);
      });
    }
    this.child.stdin!.on("error", () => {});
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last few KB of output, for error messages. */
  get output(): string {
    return this.tail;
  }

  onLine(fn: (line: string, stream: "stdout" | "stderr") => void): () => void {
    this.lineListeners.add(fn);
    return () => this.lineListeners.delete(fn);
  }

  /** Resolves with the first line matching `re` (stdout or stderr); rejects after `ms` or when the process exits. */
  waitLine(re: RegExp, ms: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const off = this.onLine((line) => {
        if (re.test(line)) {
          done();
          resolve(line);
        }
      });
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no line matching ${re} within ${ms} ms`));
      }, ms);
      const onExit = () => {
        done();
        reject(new Error(`${this.name} exited (${this.exitCode}) while waiting for ${re}: ${this.tail.slice(-500)}`));
      };
      this.child.once("exit", onExit);
      const done = () => {
        off();
        clearTimeout(timer);
        this.child.off("exit", onExit);
      };
    });
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(t);
    this.log?.end();
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

/** Kills every child still running but `except` (the suite is ending or a workload overran). */
export function killAll(except?: Proc): void {
  for (const p of live) if (p !== except) p.kill();
}

/** A port nobody listens on right now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, ms: number, proc?: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc && !proc.running)
      throw new Error(`${proc.name} exited (code ${proc.exitCode}): ${proc.output.trim().slice(-800)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(
    `${proc?.name ?? "server"} did not listen on port ${port} within ${ms} ms${proc ? `: ${proc.output.trim().slice(-800)}` : ""}`,
  );
}

/** Memory figures of a process from /proc, in bytes: current RSS and its peak (VmHWM). */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** Runs a command to completion with a deadline; resolves with its output. */
export async function run(
  name: string,
  cmd: string,
  args: string[],
  opts: { deadlineMs: number; env?: NodeJS.ProcessEnv; logFile?: string },
): Promise<{ code: number | null; stdout: string; timedOut: boolean }> {
  const p = new Proc(name, cmd, args, { env: opts.env, logFile: opts.logFile });
  let stdout = "";
  p.child.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    p.kill();
  }, opts.deadlineMs);
  const code = await p.exited;
  clearTimeout(t);
  return { code, stdout: stdout || p.output, timedOut };
}

/** The first existing file among candidates. */
export function firstExisting(...files: string[]): string | undefined {
  return files.find((f) => existsSync(f));
}

export const DIST_CLI = join(ROOT, "dist/cli.js");
