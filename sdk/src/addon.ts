import type { EventEmitter } from "eventemitter3";
import type { Address, AnyFlow, ClientConnection, HTTPFlow, ServerConnection, TCPFlow } from "./flow.ts";
import type { OptionHandle, OptionSpec, OptionsView, SpecValue } from "./options.ts";

/** A value or a promise of it: every hook may be sync or async. */
export type Awaitable<T = void> = T | Promise<T>;

/** Log levels, most to least severe. */
export type LogLevel = "error" | "warn" | "info" | "debug";

export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

/**
 * The version of this sdk. interloper refuses an addon package whose peer range for
 * `@interloper/sdk` does not include it (the build checks it equals the sdk's package.json).
 */
export const SDK_VERSION = "0.1.0";

/** One entry of the event log. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  /** The addon that wrote it, when an addon did. */
  addon?: string;
  timestamp: number;
}

/** Where an addon writes to the event log. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Notifications that do not take part in decisions. */
export interface ProxyEvents {
  /** A log entry was written (by the core or an addon). */
  log: [entry: LogEntry];
  /** The proxy holds a paused flow (`flow.intercept()`) after `hook`, until it is resumed or killed. */
  intercept: [flow: AnyFlow, hook: HookName];
  /** A held flow goes on: it was resumed, or killed (`flow.killed`). */
  resume: [flow: AnyFlow];
  /** The addons changed: one was added, removed or reloaded, or an error was noted (see `loader.listAddons`). */
  addons: [];
}

/** An option as `loader.listOptions()` describes it. */
export interface OptionInfo {
  /** camelCase. */
  name: string;
  type: OptionSpec["type"];
  default: unknown;
  /** The current value; a secret option's, when set, is `********` (see `OptionSpec.secret`). */
  value: unknown;
  help: string;
  choices?: readonly string[];
  /** A password or credential, whose value is not shown. */
  secret?: boolean;
  /** The addon that added it (its label); undefined for the proxy's own options. */
  owner?: string;
}

/** What an addon is: one of the proxy's own, a script file, or an npm package. */
export type AddonKind = "built-in" | "script" | "package";

/** An addon's last failure: a hook that threw, or a (re)load that failed. */
export interface AddonError {
  message: string;
  /** Where, in the addon's own files, when known. */
  file?: string;
  line?: number;
  column?: number;
  timestamp: number;
}

/** A loaded addon as `loader.listAddons()` describes it. */
export interface AddonInfo {
  /** The name its log lines carry. */
  name: string;
  /** The addon it is a child of (a script's addons sit under the script). */
  parent?: string;
  kind: AddonKind;
  /** The script file or package entry it came from. */
  source?: string;
  /** The hooks it implements. */
  hooks: HookName[];
  /** The options it added (camelCase). */
  options: string[];
  /** When it last (re)loaded (seconds since the epoch). */
  loadedAt?: number;
  /** Whether `loader.reloadAddon` can reload it (scripts and packages). */
  reloadable: boolean;
  lastError?: AddonError;
  /** Its most recent log entries, oldest first (at most 50). */
  log: LogEntry[];
}

/** How `loader.addChild` may describe a child, for listings and reloads. */
export interface ChildOptions {
  /** Names it in log lines when it has no name. */
  label?: string;
  /** What its `loader.state` will be. */
  state?: Record<string, unknown>;
  /** What it is (default: what its parent is). */
  kind?: AddonKind;
  /** The file it came from (default: its parent's). */
  source?: string;
  /** How to reload it (`loader.reloadAddon`): the script loader builds the file again. */
  reload?: () => Promise<void>;
}

/** What an addon gets in `load`. Keep what you need: there is no global context. */
export interface Loader {
  /**
   * Adds an option of this addon and returns its live value, typed by the spec:
   * `const limit = loader.addOption({ name: "myLimit", type: "number", default: 10, help: "…" })`,
   * then `limit.get()` is a number. Values given with `--set` before the addon loaded are applied now.
   */
  addOption<S extends OptionSpec>(spec: S): OptionHandle<SpecValue<S>>;
  /** The same with the value type named: `addOption<string | undefined>({ type: "optional-string", … })`. */
  addOption<T>(spec: OptionSpec<T>): OptionHandle<T>;
  /** The live options (read with `options.name` or `options.get(name)`). */
  readonly options: OptionsView;
  /** This addon's logger: entries carry the addon's name. */
  readonly log: Logger;
  /** Notifications: log entries and the like. */
  readonly events: EventEmitter<ProxyEvents>;
  /**
   * Data that survives hot reloads of this addon's script (empty on the first
   * load). Keep counters, caches and learned lists here.
   */
  readonly state: Record<string, unknown>;
  /** Asks the proxy to shut down, with the given process exit code. */
  shutdown(exitCode?: number): void;
  /**
   * Tells a recorded flow (read from a file, say) to the addon chain: the
   * hooks a live flow of its kind gets, in order. Nothing goes on the network.
   */
  loadFlow(flow: AnyFlow): Promise<void>;
  /**
   * Sends an HTTP flow's request again (client replay), through the addon
   * chain as a live request, on a server connection of its own. On return the
   * flow holds the new response or an error (`isReplay` is `"request"`).
   * Throws where no proxy runs (the test harness).
   */
  replay(flow: HTTPFlow): Promise<void>;
  /**
   * Adds an addon as a child of this one: it runs right after this addon's
   * other children. `label` names it in log lines when it has no name; `state`
   * is what its `loader.state` will be.
   */
  addChild(addon: Addon, opts?: ChildOptions): Promise<void>;
  /** Removes a child added with `addChild` (its `done` runs). */
  removeChild(addon: Addon): Promise<void>;
  /** Swaps a child for a new version in the same place (hot reload); on failure the old one stays. */
  replaceChild(oldAddon: Addon, newAddon: Addon, opts?: ChildOptions): Promise<void>;
  /**
   * Changes options while the proxy runs, as `--set` does at start: every addon's `configure`
   * sees the change. Values are typed; a string for a bool, number or list option is read as
   * `--set` reads it. A refused value (an `OptionError`, naming the option and the value) is
   * thrown and nothing changes. Resolves to the names whose value changed.
   */
  setOptions(changes: Record<string, unknown>): Promise<ReadonlySet<string>>;
  /** Every option: its spec, current value and owner. */
  listOptions(): OptionInfo[];
  /** Every active addon in chain order, with its kind, source, hooks, options, load time, last error and recent log. */
  listAddons(): AddonInfo[];
  /**
   * Reloads the addon of that name (or the script it came from). Throws when it is unknown or
   * cannot be reloaded; a reload that fails leaves the previous version and notes the error.
   */
  reloadAddon(name: string): Promise<void>;
  /**
   * Notes `message` as the last error of `child` (or of this addon) for `listAddons`, without
   * logging it: for failures the addon logs itself (a script that does not build). A
   * `file:line:column` in the message is picked out.
   */
  noteError(message: string, child?: Addon): void;
  /**
   * Runs this addon's traffic hooks (every hook but load, configure, running and done) only while
   * `active()` is true; it is asked again after every option change. An addon that does nothing
   * unless an option is set costs the other flows nothing then (a call per hook per request
   * otherwise). Call it in `load`; a later call replaces the earlier one.
   */
  hooksWhen(active: () => boolean): void;
}

/** The TLS ClientHello a client sent, as parsed by interloper. */
export interface ClientHello {
  /** The server name (SNI) the client asked for, if it sent one. */
  sni?: string;
  /** The ALPN protocols the client offers, in its order (e.g. `["h2", "http/1.1"]`). */
  alpnProtocols: string[];
  /** The record-layer and legacy handshake version, e.g. `0x0303`. */
  legacyVersion: number;
  /** The versions of the `supported_versions` extension (TLS 1.3 clients), e.g. `[0x0304, 0x0303]`. */
  supportedVersions: number[];
  /** Cipher suite code points in the client's order. */
  cipherSuites: number[];
  /** Extensions in the client's order: type code and raw data. */
  extensions: Array<{ type: number; data: Buffer }>;
  /** The legacy session id. */
  sessionId: Buffer;
  /** The 32 random bytes. */
  random: Buffer;
  /** The handshake message (type, length and body), without record headers. */
  raw: Buffer;
}

/** The payload of the server connection hooks. */
export interface ServerConnectionHookData {
  readonly client: ClientConnection;
  readonly server: ServerConnection;
}

/**
 * The payload of `nextLayer`: the core has read the first bytes of a
 * connection whose destination is known and asks how to go on.
 */
export interface NextLayerData {
  readonly client: ClientConnection;
  readonly server: ServerConnection;
  /**
   * `outer`: the first bytes of a connection (a CONNECT tunnel, a transparent
   * or reverse connection). `inner`: the first bytes after interloper
   * terminated the client's TLS on this connection.
   */
  readonly stage: "outer" | "inner";
  /** The bytes the client sent so far (not yet forwarded). */
  readonly clientData: Buffer;
  /** The bytes the server sent so far (it may speak first). */
  readonly serverData: Buffer;
  /**
   * The client's TLS ClientHello: parsed once complete, `"incomplete"` while
   * the bytes look like the start of one, `undefined` when they are not TLS.
   */
  readonly clientHello: ClientHello | "incomplete" | undefined;
  /**
   * The `Host` header of a clear-text HTTP/1 request head: the value,
   * `null` if the head has none, `"incomplete"` while the head is not
   * complete, `undefined` when the bytes are not an HTTP/1 request.
   */
  readonly hostHeader: string | null | "incomplete" | undefined;
  /** No more bytes will come from the client (it closed or a limit was reached). */
  readonly final: boolean;
  /**
   * Set `true` to pass the connection through untouched, `false` to insist
   * on intercepting. Addons that run later must respect a decision already made.
   */
  ignoreConnection?: boolean;
  /** Set to ask the core for more bytes before deciding; it calls `nextLayer` again. */
  needMoreData?: boolean;
  /**
   * Set `true` to intercept the connection as raw TCP (`tcp*` hooks, no HTTP
   * parsing); TLS is still terminated. Stays in force for the inner stage.
   */
  tcp?: boolean;
}

/** The payload of `socks5Auth`: set `valid` to accept the credentials a SOCKS5 client sent. */
export interface Socks5AuthData {
  readonly client: ClientConnection;
  readonly username: string;
  readonly password: string;
  valid: boolean;
}

/** The payload of `tlsClienthello`. */
export interface TlsClienthelloData {
  readonly client: ClientConnection;
  readonly server: ServerConnection;
  readonly clientHello: ClientHello;
  /** Set `true` to pass the connection through untouched (the ClientHello is forwarded as it was). */
  ignoreConnection: boolean;
}

/** The payload of the TLS hooks. */
export interface TlsData {
  readonly client: ClientConnection;
  readonly server: ServerConnection;
  /** Which side this TLS session is on. */
  readonly side: "client" | "server";
  /** Why the handshake failed (in `tlsFailedClient` / `tlsFailedServer`), as the log says it. */
  error?: string;
  /**
   * The kind of failure, for addons to act on: `untrusted-certificate` (the
   * client rejected our certificate with an alert: it does not trust the CA,
   * or it pins), `closed` (the peer hung up mid-handshake, which pinning apps
   * often do), `protocol` (anything else).
   */
  failure?: "untrusted-certificate" | "closed" | "protocol";
}

/**
 * An addon: a plain object (or class instance) with an optional `name` and
 * methods named after hooks. Every method may be async; the proxy awaits it.
 * Addons run one after another in load order and may change the payload.
 */
export interface Addon {
  /**
   * The addon's name, used in log lines. An addon with the name of one that
   * is already loaded replaces it in its place (e.g. `hosts`).
   */
  name?: string;
  /** Sub-addons: they run right after this one, in this order. */
  addons?: Addon[];

  /**
   * Called once when the addon is added. Add options, keep the logger. What it
   * returns is awaited and otherwise ignored (`load: (l) => l.addOption(…)` is fine).
   */
  load?(loader: Loader): Awaitable<unknown>;
  /** Options changed: `updated` holds their names (all names right after `load`). Throw to refuse a value. */
  configure?(updated: ReadonlySet<string>, options: OptionsView): Awaitable;
  /** The proxy is up (also after a hot reload). */
  running?(): Awaitable;
  /** The addon is removed or the proxy shuts down. */
  done?(): Awaitable;

  /** A client connected. Set `client.error` to refuse it. */
  clientConnect?(client: ClientConnection): Awaitable;
  /** A client connection closed. */
  clientDisconnect?(client: ClientConnection): Awaitable;
  /** interloper is about to connect to a server. Set `server.error` to refuse. */
  serverConnect?(data: ServerConnectionHookData): Awaitable;
  /** The TCP connection to the server is up. */
  serverConnected?(data: ServerConnectionHookData): Awaitable;
  /** Connecting to the server failed (`server.error` says why). */
  serverConnectError?(data: ServerConnectionHookData): Awaitable;
  /** A server connection closed. */
  serverDisconnect?(data: ServerConnectionHookData): Awaitable;

  /**
   * A SOCKS5 client sent a username and password (RFC 1929). Set `data.valid`.
   * While any addon has this hook, SOCKS5 clients must authenticate.
   */
  socks5Auth?(data: Socks5AuthData): Awaitable;
  /** A CONNECT request arrived. Set `flow.response` to answer it (a non-2xx refuses the tunnel). */
  httpConnect?(flow: HTTPFlow): Awaitable;
  /** The core read a connection's first bytes and asks whether to intercept or ignore it. */
  nextLayer?(data: NextLayerData): Awaitable;
  /** The client's TLS ClientHello is complete. Set `ignoreConnection` to pass it through. */
  tlsClienthello?(data: TlsClienthelloData): Awaitable;
  tlsStartClient?(data: TlsData): Awaitable;
  tlsEstablishedClient?(data: TlsData): Awaitable;
  tlsFailedClient?(data: TlsData): Awaitable;
  tlsStartServer?(data: TlsData): Awaitable;
  tlsEstablishedServer?(data: TlsData): Awaitable;
  tlsFailedServer?(data: TlsData): Awaitable;

  /** Request line and headers are read; the body is not. Set `flow.request.stream` to stream it. */
  requestheaders?(flow: HTTPFlow): Awaitable;
  /** The whole request is read. Set `flow.response` to answer without contacting the server. */
  request?(flow: HTTPFlow): Awaitable;
  /** Status line and headers of the response are read. Set `flow.response.stream` to stream it. */
  responseheaders?(flow: HTTPFlow): Awaitable;
  /** The whole response is read; change it before it goes to the client. */
  response?(flow: HTTPFlow): Awaitable;
  /** The flow failed (`flow.error.msg` says why). */
  error?(flow: HTTPFlow): Awaitable;

  /** The connection of this HTTP flow became a WebSocket (`flow.websocket` is set). */
  websocketStart?(flow: HTTPFlow): Awaitable;
  /**
   * A WebSocket message arrived: the last of `flow.websocket.messages`.
   * Change its `content`, or `drop()` it; `flow.websocket.inject()` sends your own.
   */
  websocketMessage?(flow: HTTPFlow): Awaitable;
  /** The WebSocket closed (`closeCode`, `closeReason`, `closedByClient`). */
  websocketEnd?(flow: HTTPFlow): Awaitable;

  /** A raw TCP flow started. */
  tcpStart?(flow: TCPFlow): Awaitable;
  /** A TCP message arrived: the last of `flow.messages`. Change or empty its `content`. */
  tcpMessage?(flow: TCPFlow): Awaitable;
  /** A TCP flow ended. */
  tcpEnd?(flow: TCPFlow): Awaitable;
  /** A TCP flow failed. */
  tcpError?(flow: TCPFlow): Awaitable;
}

/** The names of all hooks (lifecycle included). */
export type HookName = Exclude<keyof Addon, "name" | "addons">;

/** The argument lists of each hook. */
export type HookArgs<H extends HookName> = Parameters<NonNullable<Addon[H]>>;

/**
 * Every hook, once: a name missing here or not in `Addon` does not compile,
 * so the list cannot drift from the interface.
 */
const HOOKS = {
  load: true,
  configure: true,
  running: true,
  done: true,
  clientConnect: true,
  clientDisconnect: true,
  serverConnect: true,
  serverConnected: true,
  serverConnectError: true,
  serverDisconnect: true,
  socks5Auth: true,
  httpConnect: true,
  nextLayer: true,
  tlsClienthello: true,
  tlsStartClient: true,
  tlsEstablishedClient: true,
  tlsFailedClient: true,
  tlsStartServer: true,
  tlsEstablishedServer: true,
  tlsFailedServer: true,
  requestheaders: true,
  request: true,
  responseheaders: true,
  response: true,
  error: true,
  websocketStart: true,
  websocketMessage: true,
  websocketEnd: true,
  tcpStart: true,
  tcpMessage: true,
  tcpEnd: true,
  tcpError: true,
} as const satisfies Record<HookName, true>;

export const HOOK_NAMES: readonly HookName[] = Object.keys(HOOKS) as HookName[];

/** The hooks that run whatever `loader.hooksWhen` says: an addon's own life, not traffic. */
export const LIFECYCLE_HOOKS: ReadonlySet<HookName> = new Set(["load", "configure", "running", "done"]);

/** A name compared loosely: `tls_clienthello`, `tlsClientHello` and `tlsclienthello` are alike. */
type Loose<S extends string> = S extends `${infer A}_${infer B}`
  ? Loose<`${A}${B}`>
  : S extends `${infer A}-${infer B}`
    ? Loose<`${A}${B}`>
    : Lowercase<S>;

/** The hook a near-miss name meant: another spelling of a hook, or mitmproxy's name for it. */
type MeantHook = { [H in HookName as Loose<H>]: H } & {
  clientconnected: "clientConnect";
  clientdisconnected: "clientDisconnect";
  serverdisconnected: "serverDisconnect";
};

/**
 * The properties of `T` that look like a hook but are not one (`requestHeaders`,
 * `tls_clienthello`, `clientConnected`): each must be a message, which a
 * method is not, so the mistake is a compile error instead of a hook that never runs.
 */
type MisspelledHooks<T> = {
  [
    K in keyof T as K extends HookName
      ? never
      : K extends string
        ? Loose<K> extends keyof MeantHook
          ? K
          : never
        : never
  ]: K extends string ? `'${K}' is not a hook: did you mean '${MeantHook[Loose<K> & keyof MeantHook]}'?` : never;
};

/**
 * Types an addon object without changing it: `export default defineAddon({ ... })`.
 * Other properties (state, helpers) are welcome; a misspelled hook is a compile error.
 */
export function defineAddon<T extends Addon>(addon: T & ThisType<T> & MisspelledHooks<T>): T {
  return addon;
}

/** Formats an address as the log prints it: `host:port`, `[v6]:port`, IPv4-mapped IPv6 as IPv4. */
export function formatAddress(address: Address | undefined): string {
  if (!address) return "?";
  let host = address.host;
  if (host.startsWith("::ffff:") && host.includes(".")) host = host.slice(7);
  return host.includes(":") ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}
