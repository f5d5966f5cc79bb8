// A script loader inside a real AddonHost, for suites about what scripts and addon packages do
// when they load, reload and fail: log entries, reload and type-check events, a request runner.
import { readFileSync, writeFileSync } from "node:fs";
import { AddonHost } from "@interloper/sdk/host";
import { HTTPFlow, Request, type LogEntry, type Response } from "@interloper/sdk";
import { testClient, testServer } from "@interloper/sdk/testing";
import { ScriptLoader, type ReloadListener, type TypecheckListener } from "../../addons/script-loader.ts";
import { waitFor, WAIT_MS } from "./harness.ts";

export { escapeRe } from "./clients.ts";

export type ReloadEvent = Parameters<ReloadListener>[0];
export type TypecheckEvent = Parameters<TypecheckListener>[0];

export interface ScriptHost {
  host: AddonHost;
  loader: ScriptLoader;
  logs: LogEntry[];
  reloads: ReloadEvent[];
  typechecks: TypecheckEvent[];
  /** The messages logged at this level. */
  messages(level: LogEntry["level"]): string[];
  /** Runs a fresh flow through `request` (and `response`, when one is given) and returns it. */
  http(path?: string, response?: Response): Promise<HTTPFlow>;
  stop(): Promise<void>;
}

/**
 * A host with a script loader (and a `confdir` option, as the proxy has, when given), the
 * given options set (`scripts` loads them), started.
 */
export async function scriptHost(options: Record<string, unknown>, confdir?: string): Promise<ScriptHost> {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  if (confdir !== undefined) host.addOption({ name: "confdir", type: "string", default: confdir, help: "" });
  const loader = new ScriptLoader();
  const reloads: ReloadEvent[] = [];
  const typechecks: TypecheckEvent[] = [];
  loader.onReload((e) => reloads.push(e));
  loader.onTypecheck((e) => typechecks.push(e));
  await host.add(loader);
  await host.setOptions(options);
  await host.start();
  const client = testClient({ id: "c1", timestampStart: 0 });
  return {
    host,
    loader,
    logs,
    reloads,
    typechecks,
    messages: (level) => logs.filter((e) => e.level === level).map((e) => e.message),
    http: async (path = "/", response) => {
      const flow = new HTTPFlow(
        client,
        testServer({ host: "example.com", port: 80 }, { id: "s1" }),
        new Request({ host: "example.com", path }),
      );
      await host.trigger("request", flow);
      if (response) {
        flow.response = response;
        await host.trigger("response", flow);
      }
      return flow;
    },
    stop: () => host.stop(),
  };
}

/**
 * Waits until the loader's watcher reports saves of `file`: rewrites it unchanged until an
 * unchanged reload is reported (the watcher may start reporting a moment after loading).
 */
export async function settle(h: ScriptHost, file: string): Promise<void> {
  const content = readFileSync(file);
  const end = Date.now() + WAIT_MS;
  // Each attempt waits longer than the last: on a busy machine one reload can take longer than any fixed wait.
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    const from = h.reloads.length;
    writeFileSync(file, content);
    try {
      await waitFor(() => h.reloads.slice(from).find((e) => !e.changed), "an unchanged reload", wait);
      return;
    } catch {
      if (Date.now() > end) throw new Error(`the loader never reported a save of ${file}`);
    }
  }
}

/** Does `action`, then waits for the first reload event after it that changed something. */
export async function reloadAfter(h: ScriptHost, action: () => void, what: string): Promise<ReloadEvent> {
  const from = h.reloads.length;
  action();
  return waitFor(
    () => h.reloads.slice(from).find((e) => e.changed),
    `${what}; reload events so far: ${JSON.stringify(h.reloads.slice(from))}`,
  );
}

/**
 * Waits for the next type-check report. The first one of a process loads the compiler and
 * reads the sdk's sources in a worker: on a busy machine that takes a while, hence twice WAIT_MS.
 */
export async function nextTypecheck(h: ScriptHost, from = h.typechecks.length): Promise<TypecheckEvent> {
  return waitFor(() => h.typechecks[from], "a type-check report", 2 * WAIT_MS);
}
