import { readFileSync } from "node:fs";
import * as net from "node:net";
import type * as tls from "node:tls";
import { expandHome, OptionError, type Addon, type OptionsView } from "@interloper/sdk";
import { AddonHost } from "@interloper/sdk/host";
import { acceptExplicit } from "../accept/explicit.ts";
import { acceptReverse } from "../accept/reverse.ts";
import { acceptSocks5 } from "../accept/socks5.ts";
import { acceptTransparent } from "../accept/transparent.ts";
import { ClientSession } from "../connection/client-session.ts";
import { originalDstUnavailable } from "../platform/original-dst.ts";
import { guardNodeInternals, onSpliceUnavailable } from "../platform/splice.ts";
import { registerCoreOptions, sizeOption } from "./core-options.ts";
import { handleConnect } from "../http/connect.ts";
import { handleRequest } from "../http/exchange/handle-request.ts";
import { handleUpgrade } from "../http/exchange/upgrade.ts";
import { BufferBudget } from "../http/buffer-budget.ts";
import { replayRequest } from "../replay/client-replay.ts";
import type { UpstreamProxy } from "../connection/server-conn.ts";
import { HttpFrontend } from "../http/frontend.ts";
import { parseModes, type ModeSpec } from "./modes.ts";
import { runLayers, type LayerRoutes } from "../layers/run-layers.ts";
import { interceptTls } from "../tls/intercept.ts";
import type { CoreSettings, ProxyContext } from "./context.ts";
import { CertificateAuthority } from "../tls/ca.ts";
import { TlsConfig } from "../tls/tls-config.ts";

/** A user-caused start-up failure: printed as one line, non-zero exit. */
export class StartupError extends Error {}

/**
 * The engine: listeners, the HTTP front end, the CA, and the addon host that
 * every decision goes through. It holds no policy of its own.
 */
export class ProxyServer implements ProxyContext {
  readonly host: AddonHost;
  settings: CoreSettings = {
    connectionStrategy: "eager",
    sslInsecure: false,
    upstreamCert: true,
    streamLargeBodies: undefined,
    bodySizeLimit: undefined,
    idleTimeoutMs: 300_000,
    extraUpstreamCa: undefined,
    http2: true,
    keepHostHeader: false,
  };
  readonly bufferBudget = new BufferBudget(BufferBudget.defaultLimit());
  private replayUpstream: UpstreamProxy | undefined;
  private frontendInstance: HttpFrontend | undefined;
  private caInstance: CertificateAuthority | undefined;
  readonly tls = new TlsConfig();
  private readonly servers: net.Server[] = [];
  private readonly sessions = new Set<ClientSession>();
  /** Ends the subscription to the kernel relay's availability (made at start). */
  private stopListening: (() => void) | undefined;
  /**
   * Where runLayers sends decided connections: the HTTP front end, and TLS
   * interception whose inner layer is decided by runLayers again.
   */
  private readonly routes: LayerRoutes = {
    http: (socket, ctx) => this.frontend.accept(socket, ctx),
    http2: (socket, ctx) => this.frontend.acceptHttp2(socket, ctx),
    tls: (session, socket, conn, first, hello, tcp, opts) =>
      interceptTls(session, socket, conn, first, hello, tcp, opts, (inner, server, next) =>
        runLayers(this.routes, session, inner, server, next),
      ),
  };
  /** The addresses actually listened on (after start). */
  readonly listening: Array<{ mode: ModeSpec; address: net.AddressInfo }> = [];

  constructor(opts: { onShutdown?: (code: number) => void } = {}) {
    this.host = new AddonHost({ onShutdown: opts.onShutdown });
    registerCoreOptions(this.host);
    this.host.provideReplay((flow) => replayRequest(this, flow, this.replayUpstream));
  }

  /** Node's HTTP/1 parser for the client side (made at start, with the header size limit). */
  get frontend(): HttpFrontend {
    if (!this.frontendInstance) throw new Error("the proxy is not started");
    return this.frontendInstance;
  }

  /** The core's own addon: checks and caches core options (it refuses bad values like any addon). */
  coreAddon(): Addon {
    return {
      name: "core",
      configure: (updated: ReadonlySet<string>, options: OptionsView) => {
        const next = { ...this.settings };
        next.connectionStrategy = options.get<"eager" | "lazy">("connectionStrategy");
        next.sslInsecure = options.get<boolean>("sslInsecure");
        next.upstreamCert = options.get<boolean>("upstreamCert");
        next.http2 = options.get<boolean>("http2");
        next.keepHostHeader = options.get<boolean>("keepHostHeader");
        next.streamLargeBodies = sizeOption(
          "stream_large_bodies",
          options.get<string | undefined>("streamLargeBodies"),
        );
        next.bodySizeLimit = sizeOption("body_size_limit", options.get<string | undefined>("bodySizeLimit"));
        this.bufferBudget.limit =
          sizeOption("buffer_budget", options.get<string | undefined>("bufferBudget")) ?? BufferBudget.defaultLimit();
        const idle = options.get<number>("idleTimeout");
        if (idle < 0) throw new OptionError(`invalid value for idle_timeout: ${idle} (expected seconds, 0 or more)`);
        next.idleTimeoutMs = idle * 1000;
        if (updated.has("sslVerifyUpstreamTrustedCa")) {
          const file = options.get<string | undefined>("sslVerifyUpstreamTrustedCa");
          next.extraUpstreamCa = undefined;
          if (file) {
            try {
              next.extraUpstreamCa = readFileSync(expandHome(file), "utf8");
            } catch (err) {
              throw new OptionError(
                `invalid value for ssl_verify_upstream_trusted_ca: cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? err}`,
              );
            }
            if (!next.extraUpstreamCa.includes("-----BEGIN CERTIFICATE-----")) {
              throw new OptionError(
                `invalid value for ssl_verify_upstream_trusted_ca: '${file}' holds no PEM certificate`,
              );
            }
          }
        }
        if (updated.has("mode") || updated.has("listenHost") || updated.has("listenPort")) {
          parseModes(
            options.get<string[]>("mode"),
            options.get<string>("listenHost"),
            options.get<number>("listenPort"),
            this.host.options.wasSet("listenPort"),
          );
        }
        const maxHeader = options.get<number>("maxHeaderSize");
        if (!Number.isInteger(maxHeader) || maxHeader < 1024) {
          throw new OptionError(`invalid value for max_header_size: ${maxHeader} (expected bytes, at least 1024)`);
        }
        const tlsChange = this.tls.prepare(updated, options);
        this.settings = next;
        tlsChange.commit();
        for (const warning of tlsChange.warnings) this.host.log("warn", warning);
        this.frontendInstance?.setIdleTimeout(next.idleTimeoutMs);
      },
    };
  }

  get ca(): CertificateAuthority {
    if (!this.caInstance) throw new Error("the certificate authority is not loaded");
    return this.caInstance;
  }

  /** How to speak TLS to servers and upstream proxies (see ProxyContext). */
  upstreamTlsOptions(serverName?: string): tls.ConnectionOptions {
    return this.tls.serverOptions(serverName, this.settings);
  }

  /** Loads the CA and opens the listeners; then addons get `running`. */
  async start(): Promise<void> {
    const opts = this.host.options;
    try {
      this.caInstance = await CertificateAuthority.load(expandHome(opts.get<string>("confdir")), {
        keySize: opts.get<number>("keySize"),
        passphrase: opts.get<string | undefined>("certPassphrase") || undefined,
      });
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
    this.tls.attach(this.caInstance);
    for (const n of this.caInstance.notices) this.host.log("info", n);
    for (const w of this.caInstance.warnings) this.host.log("warn", w);
    this.frontendInstance = new HttpFrontend(
      { maxHeaderSize: opts.get<number>("maxHeaderSize"), idleTimeoutMs: this.settings.idleTimeoutMs },
      (ctx, req, res) => void handleRequest(this, ctx, req, res),
      (ctx, req, socket, head) => void handleConnect(this, this.routes, ctx, req, socket, head),
      (ctx, req, socket, head) => void handleUpgrade(this, ctx, req, socket, head),
    );
    const modes = parseModes(
      opts.get<string[]>("mode"),
      opts.get<string>("listenHost"),
      opts.get<number>("listenPort"),
      opts.wasSet("listenPort"),
    );
    // Client replay goes through the upstream proxy in upstream mode, as mitmproxy's does.
    const upstream = modes.find((m) => m.name === "upstream")?.target;
    const auth = opts.get<string | undefined>("upstreamAuth");
    this.replayUpstream = upstream && { ...upstream, ...(auth ? { auth } : {}) };
    if (modes.some((m) => m.name === "transparent")) {
      const why = originalDstUnavailable();
      if (why) throw new StartupError(why);
    }
    this.stopListening = onSpliceUnavailable((reason, failed) =>
      this.host.log(
        failed ? "warn" : "debug",
        `kernel relay unavailable (${reason}): passthrough and streamed bodies are relayed in JavaScript`,
      ),
    );
    const broken = await guardNodeInternals();
    if (broken.length > 0)
      this.host.log(
        "warn",
        `Node ${process.version} internals interloper relies on are not as expected (please report): ${broken.join("; ")}`,
      );
    // -n (server=false): addons run (read a file, replay) but nothing listens.
    for (const mode of opts.get<boolean>("server") ? modes : []) {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket, mode));
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err: NodeJS.ErrnoException) => {
          const where = `${mode.listenHost || "*"}:${mode.listenPort}`;
          const why =
            err.code === "EADDRINUSE"
              ? "address already in use"
              : err.code === "EACCES"
                ? "permission denied"
                : err.message;
          reject(new StartupError(`cannot listen on ${where}: ${why}`));
        });
        server.listen({ host: mode.listenHost || undefined, port: mode.listenPort }, () => resolve());
      });
      server.on("error", (err) => this.host.log("error", `listener error: ${err.message}`));
      this.servers.push(server);
      const address = server.address() as net.AddressInfo;
      this.listening.push({ mode, address });
      const shownHost = mode.listenHost
        ? mode.listenHost.includes(":")
          ? `[${mode.listenHost}]`
          : mode.listenHost
        : "*";
      this.host.log(
        "info",
        `${listenerTitle(mode)} listening at ${listenerScheme(mode)}://${shownHost}:${address.port}`,
      );
    }
    await this.host.start();
  }

  private accept(socket: net.Socket, mode: ModeSpec): void {
    const session = new ClientSession(this, socket, mode, () => this.sessions.delete(session));
    this.sessions.add(session);
    session.log("info", "client connect");
    session.expectSetup("connection set-up");
    void (async () => {
      await this.host.trigger("clientConnect", session.client);
      if (session.client.error) {
        session.log("info", session.client.error);
        socket.destroy();
        return;
      }
      if (socket.destroyed) return;
      switch (mode.name) {
        case "regular":
        case "upstream":
          return acceptExplicit(this.routes, session, socket);
        case "socks5":
          return acceptSocks5(this.routes, session, socket);
        case "reverse":
          return acceptReverse(this.routes, session, socket);
        case "transparent":
          return acceptTransparent(this.routes, session, socket);
      }
    })().catch((err: unknown) => {
      this.host.log("error", `${session.prefix}: internal error: ${(err as Error)?.stack ?? err}`);
      socket.destroy();
    });
  }

  /** Stops listening, closes every connection and calls `done` on the addons. */
  async stop(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.servers.length = 0;
    this.stopListening?.();
    for (const session of this.sessions) session.close();
    this.frontendInstance?.close();
    await Promise.all(closed);
    await this.host.stop();
  }
}

/** The start-up line's subject: `Proxy server` for the regular proxy, as mitmproxy prints it, else the mode. */
function listenerTitle(mode: ModeSpec): string {
  switch (mode.name) {
    case "regular":
      return "Proxy server";
    case "transparent":
      return "Transparent proxy";
    case "socks5":
      return "SOCKS5 proxy";
    case "reverse":
      return `Reverse proxy to ${mode.target!.scheme}://${formatHost(mode.target!.host)}:${mode.target!.port}`;
    case "upstream":
      return `Upstream proxy via ${mode.target!.scheme}://${formatHost(mode.target!.host)}:${mode.target!.port}`;
  }
}

function listenerScheme(mode: ModeSpec): string {
  return mode.name === "socks5" ? "socks5" : "http";
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
