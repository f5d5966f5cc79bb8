// The web UI (`--web`): a built-in addon on the public sdk. Its options always exist; the
// server, the flow store and the hooks that fill it run only while `web` is on, so a proxy
// without the UI pays nothing per flow. See API.md for what the server offers.
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { homedir, networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import {
  OptionError,
  snakeOptionName,
  type Addon,
  type AnyFlow,
  type HookName,
  type LogEntry,
  type Loader,
  type OptionHandle,
} from "@interloper/sdk";
import { openBrowser } from "./open-browser.ts";
import { WebRecorder } from "./recorder.ts";
import { hostSpelling, isLoopback, listeningNames, type AccessRules } from "./server/access.ts";
import { resumeEnds } from "./server/api-flows.ts";
import { addonJson, optionJson } from "./server/api-proxy.ts";
import { defaultStaticDir } from "./server/static.ts";
import { UpdateHub } from "./server/updates.ts";
import type { WebApi } from "./server/web-api.ts";
import { WebServer } from "./server/web-server.ts";
import { BodySpill } from "./store/body-spill.ts";
import { EventLog } from "./store/event-log.ts";
import { FlowStore } from "./store/flow-store.ts";

/** What runs while the UI is on. */
interface Running {
  server: WebServer;
  store: FlowStore;
  hub: UpdateHub;
  recorder: WebRecorder;
  unsubscribe: () => void;
}

/** Options that pick the listener and the secret: fixed while the UI runs. */
const FIXED_WHILE_RUNNING = ["webHost", "webPort", "webPassword"] as const;

export class WebUI implements Addon {
  readonly name = "web";
  private loader: Loader | undefined;
  private web!: OptionHandle<boolean>;
  private host!: OptionHandle<string>;
  private port!: OptionHandle<number>;
  private openBrowser!: OptionHandle<boolean>;
  private password!: OptionHandle<string | undefined>;
  private maxFlows!: OptionHandle<number>;
  private ui: Running | undefined;
  private readonly staticDir: string;

  /** `staticDir`: where the built front-end is (default: dist/web next to the CLI). */
  constructor(opts: { staticDir?: string } = {}) {
    this.staticDir = opts.staticDir ?? defaultStaticDir();
  }

  /** The URL the UI was announced at (with its token), while it runs; for tests and tools. */
  url: string | undefined;

  load(loader: Loader): void {
    this.loader = loader;
    this.web = loader.addOption({ name: "web", type: "bool", default: false, help: "Serve the web UI (--web)." });
    this.host = loader.addOption({
      name: "webHost",
      type: "string",
      default: "127.0.0.1",
      startupOnly: true,
      help: "Address the web UI listens on; an address reachable from the network needs web_password.",
    });
    this.port = loader.addOption({
      name: "webPort",
      type: "number",
      default: 8081,
      startupOnly: true,
      help: "Port of the web UI (0: any free port).",
    });
    this.openBrowser = loader.addOption({
      name: "webOpenBrowser",
      type: "bool",
      default: false,
      help: "Open the system's browser at the web UI once it listens.",
    });
    this.password = loader.addOption<string | undefined>({
      name: "webPassword",
      type: "optional-string",
      default: undefined,
      startupOnly: true,
      secret: true,
      help: "Password for the web UI instead of the random token printed at start-up.",
    });
    this.maxFlows = loader.addOption({
      name: "webMaxFlows",
      type: "number",
      default: 50_000,
      help: "Flows the web UI keeps; the oldest go first (an intercepted flow is kept).",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    checkWhole("webMaxFlows", this.maxFlows.get(), 1, Number.MAX_SAFE_INTEGER);
    checkWhole("webPort", this.port.get(), 0, 65535);
    const ui = this.ui;
    if (!ui) {
      if (this.web.get()) await this.start();
      return;
    }
    for (const name of FIXED_WHILE_RUNNING)
      if (updated.has(name))
        throw new OptionError(`${snakeOptionName(name)} cannot change while the web UI runs: restart interloper`);
    if (updated.has("web") && !this.web.get()) return this.stop();
    if (updated.has("webMaxFlows")) ui.store.setMaxFlows(this.maxFlows.get());
    ui.hub.optionsChanged(updated);
  }

  async done(): Promise<void> {
    await this.stop();
  }

  private async start(): Promise<void> {
    const loader = this.loader!;
    const host = this.host.get();
    const password = this.password.get();
    if (!isLoopback(host) && !password)
      throw new OptionError(
        `web_host ${host} is reachable from the network: set web_password to protect the web UI, or listen on 127.0.0.1`,
      );
    const secret = password ?? randomBytes(18).toString("base64url");
    const store = new FlowStore({ maxFlows: this.maxFlows.get() }, this.bodySpill());
    const events = new EventLog();
    const hub = await UpdateHub.create(store, {
      options: (names) =>
        loader
          .listOptions()
          .filter((o) => names.has(o.name))
          .map(optionJson),
      addons: () => loader.listAddons().map(addonJson),
    });
    const api: WebApi = { store, loader, events, pausedAt: new WeakMap() };
    const rules: AccessRules = { secret, hostNames: new Set(), port: this.port.get() };
    const server = new WebServer(api, rules, hub, this.staticDir);
    let port: number;
    try {
      port = (await server.listen(host, this.port.get())).port;
    } catch (err) {
      await server.close();
      store.close();
      throw new OptionError(
        `web_port: the web UI cannot listen on ${host}:${this.port.get()}: ${(err as Error).message}`,
      );
    }
    rules.port = port;
    rules.hostNames = listeningNames(host, interfaceAddresses());
    const recorder = new WebRecorder(store);
    const unsubscribe = this.subscribe(api, hub);
    this.ui = { server, store, hub, recorder, unsubscribe };
    await loader.addChild(recorder);
    // An interactive tool keeps serving after -r, -C or -S (mitmproxy ignores keepserving there).
    if (loader.options.has("keepserving") && !loader.options.get<boolean>("keepserving"))
      await loader.setOptions({ keepserving: true });
    this.announce(host, port, password === undefined ? secret : undefined);
  }

  private async stop(): Promise<void> {
    const ui = this.ui;
    if (!ui) return;
    this.ui = undefined;
    this.url = undefined;
    ui.unsubscribe();
    await this.loader!.removeChild(ui.recorder);
    await ui.server.close();
    ui.store.close();
  }

  /** The proxy's events the UI follows: log lines, flows paused and resumed, addon changes. */
  private subscribe(api: WebApi, hub: UpdateHub): () => void {
    const events = this.loader!.events;
    const onLog = (entry: LogEntry) => hub.event(api.events.add(entry));
    const onIntercept = (flow: AnyFlow, hook: HookName) => {
      api.pausedAt.set(flow, hook);
      api.store.touch(flow.id);
    };
    const onResume = (flow: AnyFlow) => api.store.resumed(flow, resumeEnds(api, flow));
    const onAddons = () => hub.addons();
    events.on("log", onLog);
    events.on("intercept", onIntercept);
    events.on("resume", onResume);
    events.on("addons", onAddons);
    return () => {
      events.off("log", onLog);
      events.off("intercept", onIntercept);
      events.off("resume", onResume);
      events.off("addons", onAddons);
    };
  }

  private announce(host: string, port: number, token: string | undefined): void {
    const shown = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : hostSpelling(host);
    const base = `http://${shown}:${port}/`;
    this.url = token === undefined ? base : `${base}?token=${token}`;
    this.loader!.log.info(`Web UI at ${this.url}`);
    if (this.openBrowser.get()) openBrowser(this.url, (m) => this.loader?.log.warn(m));
  }

  /**
   * Where bodies too big for memory go: a folder of this process in the confdir's `web-bodies`
   * (those of processes no longer running are removed). Without one they are dropped, with a marker.
   */
  private bodySpill(): BodySpill | undefined {
    const options = this.loader!.options;
    const confdir = options.has("confdir") ? options.get<string>("confdir") : "~/.interloper";
    const root = join(
      confdir === "~" || confdir.startsWith("~/") ? homedir() + confdir.slice(1) : resolve(confdir),
      "web-bodies",
    );
    removeStale(root);
    const dir = join(root, `${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      return new BodySpill(dir, (m) => this.loader?.log.warn(m));
    } catch (err) {
      this.loader!.log.warn(
        `cannot keep large bodies on disk (${(err as Error).message}): they are dropped, with a marker`,
      );
      return undefined;
    }
  }
}

function checkWhole(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new OptionError(
      `invalid value for ${snakeOptionName(name)}: ${value} (expected a whole number from ${min} to ${max})`,
    );
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address)
    .filter((a): a is string => typeof a === "string");
}

/** Body folders of processes that are gone (a crash leaves its folder behind). */
function removeStale(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
