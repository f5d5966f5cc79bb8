import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { CheckRequest, CheckResponse, TypeProblem } from "./typecheck-protocol.ts";

export type { TypeProblem } from "./typecheck-protocol.ts";

/** What one check found: the problems in the user's files, or why it could not run. */
export type CheckResult = { problems: TypeProblem[]; files: number; ms: number } | { unavailable: string };

/** The folder of the sdk installed beside interloper (found as Node would, without going through its exports). */
function installedSdkDir(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", "@interloper", "sdk");
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** The files a script type-checks `@interloper/sdk` against: the proxy's own sdk, which the script runs with. */
function proxySdkTypes(): Record<string, string> | undefined {
  const dir = installedSdkDir();
  if (!dir) return undefined;
  // A source checkout has the sdk's sources; an installed sdk its declarations.
  const pick = (name: string) =>
    [join(dir, "src", `${name}.ts`), join(dir, "dist", `${name}.d.ts`)].find((f) => existsSync(f));
  const index = pick("index");
  const testing = pick("testing");
  if (!index) return undefined;
  return { "@interloper/sdk": index, ...(testing ? { "@interloper/sdk/testing": testing } : {}) };
}

/** The TypeScript compiler for a script: its project's own, else the one installed beside interloper. */
function findTypescript(entry: string): string | undefined {
  for (const from of [entry, import.meta.url]) {
    try {
      return createRequire(from).resolve("typescript");
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Where Node's types are, when the script's own folder has none (interloper's, if installed with it). */
function nodeTypeRoots(entry: string): string[] | undefined {
  for (const from of [entry, import.meta.url]) {
    try {
      const pkg = createRequire(from).resolve("@types/node/package.json");
      return [dirname(dirname(pkg))];
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Type-checks scripts in a worker thread, so a reload never waits for it: the result comes
 * afterwards and is only reported. The worker keeps the compiler's state between checks
 * (incremental) and is started on the first check.
 */
export class TypeChecker {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, (r: CheckResult) => void>();
  private readonly sdkTypes = proxySdkTypes();

  check(entry: string): Promise<CheckResult> {
    const typescript = findTypescript(entry);
    if (!typescript) {
      return Promise.resolve({
        unavailable: "no TypeScript compiler found (npm install -D typescript in the script's folder turns it on)",
      });
    }
    if (!this.sdkTypes) return Promise.resolve({ unavailable: "the sdk's type declarations are not installed" });
    const req: CheckRequest = {
      id: ++this.seq,
      entry,
      typescript,
      paths: this.sdkTypes,
      typeRoots: nodeTypeRoots(entry),
    };
    return new Promise((resolve) => {
      this.waiting.set(req.id, resolve);
      this.start().postMessage(req);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.fail("the type checker stopped");
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    // The checker alone must not keep the process alive.
    worker.unref();
    worker.on("message", (res: CheckResponse) => {
      const resolve = this.waiting.get(res.id);
      this.waiting.delete(res.id);
      resolve?.("error" in res ? { unavailable: `the type checker failed: ${res.error}` } : res);
    });
    worker.on("error", (err) => this.fail(`the type checker failed: ${err.message}`));
    worker.on("exit", () => {
      if (this.worker === worker) this.worker = undefined;
      this.fail("the type checker stopped");
    });
    this.worker = worker;
    return worker;
  }

  private fail(reason: string): void {
    for (const resolve of this.waiting.values()) resolve({ unavailable: reason });
    this.waiting.clear();
  }
}

/**
 * The worker beside this module: dist/typecheck-worker.js next to the bundle, or the .ts
 * source under tsx (tests), which on Node 20 needs tsx's loader registered in the worker first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./typecheck-worker.js", import.meta.url));
  const source = new URL("./typecheck-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(source)}));`;
  return new Worker(code, { eval: true });
}
