// What the parts of the core may know about the proxy they run in: the hook
// chain, the settings, the CA and how to verify servers. Sessions, layers and
// HTTP exchanges receive this instead of the whole ProxyServer, so each can be
// built and tested with a small fake of it (types only: no import cycle).
import type * as tls from "node:tls";
import type { AddonHost } from "@interloper/sdk/host";
import type { BufferBudget } from "../http/buffer-budget.ts";
import type { CertificateAuthority } from "../tls/ca.ts";
import type { TlsConfig } from "../tls/tls-config.ts";

/** The core's parsed view of its options, refreshed on every change. */
export interface CoreSettings {
  connectionStrategy: "eager" | "lazy";
  sslInsecure: boolean;
  upstreamCert: boolean;
  streamLargeBodies: number | undefined;
  bodySizeLimit: number | undefined;
  idleTimeoutMs: number;
  extraUpstreamCa: string | undefined;
  http2: boolean;
  keepHostHeader: boolean;
}

export interface ProxyContext {
  /** The addon chain: hooks, options, the event log. */
  readonly host: AddonHost;
  readonly settings: CoreSettings;
  /** Issues the certificates clients are shown. */
  readonly ca: CertificateAuthority;
  /** The TLS options of both sides: the certificate, versions and ciphers clients get (certs, tls_version_client_*, …). */
  readonly tls: TlsConfig;
  /**
   * How to speak TLS to a server or upstream proxy: verification, versions, ciphers and the
   * client certificate for `serverName` (its SNI, else its host). Throws a CertFileError when
   * the client_certs folder's file for it is unusable.
   */
  upstreamTlsOptions(serverName?: string): tls.ConnectionOptions;
  /** The body bytes all flows may hold buffered at once (buffer_budget). */
  readonly bufferBudget: BufferBudget;
}
