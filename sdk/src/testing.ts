/**
 * `@interloper/sdk/testing`: drive an addon's hooks without sockets, with the
 * same addon host (hook chain, options, lifecycle, error isolation) the proxy
 * runs.
 *
 * ```ts
 * import { testContext, testFlow } from "@interloper/sdk/testing";
 * const ctx = await testContext(myAddon, { myOption: true });
 * const flow = await ctx.http(testFlow({ url: "https://example.com/" }), { status: 200, body: "hi" });
 * assert.equal(flow.response?.text(), "hi!");
 * ```
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Addon, ClientHello, HookArgs, HookName, LogEntry, NextLayerData } from "./addon.ts";
import {
  HTTPFlow,
  Request,
  Response,
  TCPFlow,
  type Address,
  type ClientConnection,
  type ServerConnection,
} from "./flow.ts";
import type { HeadersInit } from "./headers.ts";
import { AddonHost } from "./host.ts";
import { decideLayer } from "./layer-decision.ts";
import type { OptionSpec } from "./options.ts";

export interface TestContext {
  /** The addon host the addons run in. */
  readonly host: AddonHost;
  /** Every log entry written so far. */
  readonly logs: LogEntry[];
  /** The log as lines: `[addon] message` for addon entries. */
  logLines(level?: LogEntry["level"]): string[];
  /** Changes options (runs `configure`; a refused value throws and the old one stays). */
  setOptions(changes: Record<string, unknown>): Promise<Set<string>>;
  /** Runs one hook through the chain. */
  trigger<H extends HookName>(hook: H, ...args: HookArgs<H>): Promise<void>;
  /**
   * Runs an HTTP flow through the hooks in the proxy's order: `requestheaders`,
   * `request`, then — unless an addon answered — `server` stands in for the
   * server (a response or a function making one) before `responseheaders` and
   * `response`. A server error string runs the `error` hook instead.
   */
  http(
    flow: HTTPFlow,
    server?: ResponseSpec | Response | ((flow: HTTPFlow) => Response | ResponseSpec) | { error: string },
  ): Promise<HTTPFlow>;
  /**
   * `nextLayer` then, for a complete ClientHello not ignored or held back yet (or held back
   * with `final` set), `tlsClienthello`, exactly as the proxy runs them; returns the decision.
   */
  decide(data: NextLayerData): Promise<{ ignore: boolean; needMoreData: boolean; tcp: boolean }>;
  /**
   * Hot-reloads `oldAddon` as `newAddon` the way the script loader does: old
   * `done`, new `load` (with the same `loader.state`), `configure`, `running`.
   */
  reload(oldAddon: Addon, newAddon: Addon): Promise<void>;
  /** Calls `done` on the addons (like a proxy shutdown). */
  shutdown(): Promise<void>;
}

export interface ResponseSpec {
  status?: number;
  reason?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array;
  httpVersion?: string;
}

/**
 * Loads `addons` into a fresh addon host (`load`, `configure` with every
 * option, `running`) and applies `options`. `extraOptions` declares options
 * the addons read but do not add themselves (core options in the proxy).
 */
export async function testContext(
  addons: Addon | Addon[],
  options: Record<string, unknown> = {},
  extraOptions: OptionSpec[] = [],
): Promise<TestContext> {
  const host = new AddonHost();
  const logs: LogEntry[] = [];
  host.events.on("log", (e) => logs.push(e));
  for (const spec of extraOptions) host.addOption(spec);
  for (const a of Array.isArray(addons) ? addons : [addons]) await host.add(a);
  if (Object.keys(options).length > 0) await host.setOptions(options);
  await host.start();
  const ctx: TestContext = {
    host,
    logs,
    logLines: (level) =>
      logs.filter((e) => !level || e.level === level).map((e) => (e.addon ? `[${e.addon}] ${e.message}` : e.message)),
    setOptions: (changes) => host.setOptions(changes),
    trigger: async (hook, ...args) => {
      await host.trigger(hook, ...args);
    },
    http: async (flow, server) => {
      await host.trigger("requestheaders", flow);
      if (!flow.response && !flow.killed) await host.trigger("request", flow);
      if (flow.killed) return flow;
      if (!flow.response) {
        const made = typeof server === "function" ? server(flow) : server;
        if (made && "error" in made && typeof made.error === "string") {
          flow.error = { msg: made.error, timestamp: Date.now() / 1000 };
          await host.trigger("error", flow);
          return flow;
        }
        flow.response = made instanceof Response ? made : testResponse((made as ResponseSpec | undefined) ?? {});
      }
      await host.trigger("responseheaders", flow);
      if (!flow.killed) await host.trigger("response", flow);
      return flow;
    },
    decide: async (data) => {
      // The proxy's own sequence (sdk/src/layer-decision.ts), so the order cannot differ.
      const verdict = await decideLayer(host.trigger.bind(host), data, { tls: true });
      if (verdict.kind === "ignore") data.ignoreConnection = true;
      return {
        ignore: verdict.kind === "ignore",
        needMoreData: data.needMoreData === true && data.ignoreConnection === undefined,
        tcp: data.tcp === true,
      };
    },
    reload: (oldAddon, newAddon) => host.replace(oldAddon, newAddon),
    shutdown: () => host.stop(),
  };
  return ctx;
}

/** A client connection (`127.0.0.1:50000` unless given). */
export function testClient(overrides: Partial<ClientConnection> = {}): ClientConnection {
  return {
    id: randomUUID(),
    peername: { host: "127.0.0.1", port: 50000 },
    sockname: { host: "127.0.0.1", port: 8080 },
    mode: "regular",
    tlsEstablished: false,
    timestampStart: Date.now() / 1000,
    ...overrides,
  };
}

/** A server connection to `address`. */
export function testServer(
  address: Address = { host: "example.com", port: 443 },
  overrides: Partial<ServerConnection> = {},
): ServerConnection {
  return { id: randomUUID(), address, tls: address.port === 443, tlsEstablished: false, ...overrides };
}

export interface TestFlowInit {
  url?: string;
  method?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array;
  httpVersion?: string;
  /** A response already on the flow (for `response` hook tests). */
  response?: ResponseSpec;
  client?: Partial<ClientConnection>;
}

/** An HTTP flow for `url` (default `https://example.com/`), with a Host header like a real client's. */
export function testFlow(init: TestFlowInit = {}): HTTPFlow {
  const request = Request.fromUrl(init.url ?? "https://example.com/", {
    method: init.method ?? "GET",
    headers: init.headers,
    body: init.body,
    httpVersion: init.httpVersion,
  });
  if (!request.headers.has("host")) request.headers.fields.unshift(["Host", request.authority]);
  if (init.body !== undefined && !request.headers.has("content-length"))
    request.headers.set("Content-Length", String(request.body.length));
  const flow = new HTTPFlow(testClient(init.client), testServer({ host: request.host, port: request.port }), request);
  if (init.response) flow.response = testResponse(init.response);
  return flow;
}

/** A response: status 200 and a Content-Length unless given. */
export function testResponse(init: ResponseSpec = {}): Response {
  const r = new Response({
    status: init.status ?? 200,
    reason: init.reason,
    headers: init.headers,
    body: init.body,
    httpVersion: init.httpVersion,
  });
  if (!r.headers.has("content-length") && !r.headers.has("transfer-encoding"))
    r.headers.set("Content-Length", String(r.body.length));
  return r;
}

/** A TCP flow to `address`. */
export function testTcpFlow(address: Address = { host: "example.com", port: 443 }): TCPFlow {
  return new TCPFlow(testClient(), testServer(address));
}

/** A parsed ClientHello as interloper's parser produces it. */
export function testClientHello(init: { sni?: string; alpn?: string[] } = {}): ClientHello {
  const random = randomBytes(32);
  return {
    sni: init.sni,
    alpnProtocols: init.alpn ?? [],
    legacyVersion: 0x0303,
    supportedVersions: [0x0304, 0x0303],
    cipherSuites: [0x1301, 0x1302, 0x1303],
    extensions: [],
    sessionId: Buffer.alloc(0),
    random,
    raw: Buffer.alloc(0),
  };
}

export interface TestNextLayerInit {
  /** Destination host:port (default example.com:443). `null` for none. */
  destination?: Address | null;
  /** The resolved address the proxy connected to. */
  resolved?: Address;
  /** A ClientHello (complete), `"incomplete"`, or nothing. */
  clientHello?: ClientHello | "incomplete";
  hostHeader?: string | null | "incomplete";
  /** SNI of an outer TLS session (makes this the inner stage). */
  outerSni?: string;
  final?: boolean;
}

/** The payload of `nextLayer` for a connection with these properties. */
export function testNextLayer(init: TestNextLayerInit = {}): NextLayerData {
  const client = testClient(init.outerSni ? { tlsEstablished: true, sni: init.outerSni } : {});
  const server = testServer(
    init.destination === null ? { host: "", port: 0 } : (init.destination ?? { host: "example.com", port: 443 }),
  );
  if (init.destination === null) (server as { address: Address | undefined }).address = undefined;
  if (init.resolved) server.peername = init.resolved;
  return {
    client,
    server,
    stage: init.outerSni ? "inner" : "outer",
    clientData: Buffer.alloc(0),
    serverData: Buffer.alloc(0),
    clientHello: init.clientHello,
    hostHeader: init.hostHeader,
    final: init.final ?? false,
  };
}
