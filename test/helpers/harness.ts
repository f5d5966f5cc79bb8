// Shared pieces of the end-to-end suites: a proxy (as a child process through
// the CLI, or in-process with extra addons), origin servers with certificates
// from a test CA, and curl. Everything listens on 127.0.0.1 only.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Addon, LogEntry } from "@interloper/sdk";
import { Block } from "../../addons/block.ts";
import { Dumper } from "../../addons/dumper.ts";
import { Hosts } from "../../addons/hosts.ts";
import { ProxyServer } from "../../core/engine/proxy-server.ts";
import { CertificateAuthority } from "../../core/tls/ca.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

export function tempDir(prefix = "interloper-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The bound on a wait for something that normally takes milliseconds (a
 * response, a log line, a close). Generous: on a busy 2-core machine such
 * things can take seconds, and the bound only turns a hang into a failure.
 */
export const WAIT_MS = 30_000;

/**
 * Waits until `check` returns a value (neither undefined nor false) or `timeoutMs` passes (then
 * throws with `what`). It polls every 20 ms: for state no event announces (log lines, counters,
 * a page's DOM); a socket's bytes have event-driven waits in clients.ts. An async check is
 * awaited: a promise is not the answer (it was, and the browser tests' waits raced the page).
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Settles as `p` does, or rejects after `timeoutMs` naming `what` (a hang guard for a promise tied to an event). */
export function within<T>(p: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** A CA of the test's own that signs the origin servers' certificates (the proxy is told to trust it). */
export interface OriginCa {
  dir: string;
  caFile: string;
  ca: CertificateAuthority;
  keyPem: string;
  certFor(names: string[]): string;
}

let originCaPromise: Promise<OriginCa> | undefined;
export function originCa(): Promise<OriginCa> {
  originCaPromise ??= (async () => {
    const dir = tempDir("interloper-origin-ca-");
    const ca = await CertificateAuthority.load(dir);
    const caFile = join(dir, "interloper-ca-cert.pem");
    return { dir, caFile, ca, keyPem: ca.leafKeyPem, certFor: (names) => ca.leafCertPem(names) };
  })();
  return originCaPromise;
}

export interface Origin {
  port: number;
  server: http.Server | https.Server;
  /** Requests received: method, url, raw headers. */
  requests: Array<{ method: string; url: string; rawHeaders: string[]; body: Buffer }>;
  close(): Promise<void>;
}

/**
 * An origin server on 127.0.0.1. With `tls`, its certificate (for
 * `localhost`, `127.0.0.1` and `names`) is signed by the test's origin CA.
 */
export async function startOrigin(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  opts: { tls?: boolean; names?: string[]; selfSigned?: boolean; host?: string } = {},
): Promise<Origin> {
  const requests: Origin["requests"] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  };
  let server: http.Server | https.Server;
  if (opts.tls) {
    const names = ["localhost", "127.0.0.1", ...(opts.names ?? [])];
    if (opts.selfSigned) {
      // A certificate from a CA nobody trusts.
      const dir = tempDir("interloper-untrusted-");
      const other = await CertificateAuthority.load(dir);
      server = https.createServer({ key: other.leafKeyPem, cert: other.leafCertPem(names) }, onRequest);
    } else {
      const ca = await originCa();
      server = https.createServer({ key: ca.keyPem, cert: ca.certFor(names) }, onRequest);
    }
  } else {
    server = http.createServer(onRequest);
  }
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // Idle connections stay until the test closes them: Node's 5 s keep-alive timeout would close one
  // that a test slowed down by a busy machine is about to reuse (the proxy then opens a second).
  server.keepAliveTimeout = 0;
  await new Promise<void>((r) => server.listen(0, opts.host ?? "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    server,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface ProxyProcess {
  port: number;
  confdir: string;
  caFile: string;
  child: ChildProcess;
  /** Everything the proxy printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Waits until stdout matches. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

let sharedConfdir: string | undefined;
/** One confdir per test process: the CA is made once. */
export function testConfdir(): string {
  sharedConfdir ??= tempDir("interloper-conf-");
  return sharedConfdir;
}

/**
 * Runs the CLI (`node --import tsx core/cli/main.ts`, the source tree) with `args`
 * plus `-p 0` and a test confdir, and waits for its listening line.
 */
/** tsx, resolved from this repository (so the CLI can run from another working directory). */
const TSX = import.meta.resolve("tsx");

export async function startProxy(
  args: string[] = [],
  opts: { confdir?: string; trustOrigin?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ProxyProcess> {
  const confdir = opts.confdir ?? testConfdir();
  const extra: string[] = [];
  if (opts.trustOrigin !== false) extra.push("--set", `ssl_verify_upstream_trusted_ca=${(await originCa()).caFile}`);
  const child = spawn(
    process.execPath,
    [
      "--import",
      TSX,
      join(ROOT, "core/cli/main.ts"),
      "-p",
      "0",
      "--listen-host",
      "127.0.0.1",
      "--set",
      `confdir=${confdir}`,
      ...extra,
      ...args,
    ],
    {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json"), ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  let outputDone = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    wake();
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  // 'close': the process is gone and its output read to the end; no line can come any more.
  child.once("close", () => {
    outputDone = true;
    wake();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  /** Re-checked on every piece of output; fails at once when the process ended without printing a match. */
  const waitForOutput = (re: RegExp, timeoutMs = WAIT_MS) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = () => {
        const m = re.exec(out);
        if (m) {
          finish();
          resolve(m);
        } else if (outputDone) {
          finish();
          reject(new Error(`the proxy ended without printing ${re}; got:\n${out}\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for proxy output ${re}; got:\n${out}\n${err}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const m = await Promise.race([
    waitForOutput(/listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/),
    exited.then((code) => {
      throw new Error(`proxy exited with ${code} before listening:\n${out}\n${err}`);
    }),
  ]);
  return {
    port: Number(m[1]),
    confdir,
    caFile: join(confdir, "interloper-ca-cert.pem"),
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Runs the CLI to completion (for start-up errors): exit code and output. */
export function runCli(
  args: string[],
  timeoutMs = WAIT_MS,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "core/cli/main.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    // 'close': the output is read to its end (the process may exit before its pipes are drained).
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface InProcessProxy {
  proxy: ProxyServer;
  port: number;
  /** The event log lines printed so far (the dumper's output). */
  lines: string[];
  logs: LogEntry[];
  stop(): Promise<void>;
}

/**
 * A proxy in this process with the built-in addons plus `addons` (run before
 * the built-in hosts addon, like user scripts), listening on 127.0.0.1.
 */
export async function startInProcess(addons: Addon[], options: Record<string, unknown> = {}): Promise<InProcessProxy> {
  const proxy = new ProxyServer();
  const lines: string[] = [];
  const logs: LogEntry[] = [];
  proxy.host.events.on("log", (e) => logs.push(e));
  await proxy.host.add(proxy.coreAddon());
  await proxy.host.add(new Block());
  for (const a of addons) await proxy.host.add(a);
  await proxy.host.add(new Hosts());
  let partial = "";
  await proxy.host.add(
    new Dumper({
      write: (t: string) => {
        partial += t;
        const parts = partial.split("\n");
        partial = parts.pop()!;
        lines.push(...parts);
      },
    }),
  );
  await proxy.host.setOptions({
    confdir: testConfdir(),
    listenHost: "127.0.0.1",
    listenPort: 0,
    sslVerifyUpstreamTrustedCa: (await originCa()).caFile,
    ...options,
  });
  await proxy.start();
  const port = proxy.listening[0]!.address.port;
  return { proxy, port, lines, logs, stop: () => proxy.stop() };
}

export interface CurlResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs curl with `args` (add `-x http://127.0.0.1:PORT` yourself). */
export function curl(args: string[], timeoutMs = WAIT_MS): Promise<CurlResult> {
  return new Promise((resolve) => {
    const child = spawn("curl", ["-s", "-S", "--noproxy", "", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    // 'close', not 'exit': the process can be gone while the last of its output is still in the pipe.
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** Writes a file in a fresh temp dir and returns its path. */
export function tempFile(name: string, content: string | Buffer): string {
  const p = join(tempDir(), name);
  writeFileSync(p, content);
  return p;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
