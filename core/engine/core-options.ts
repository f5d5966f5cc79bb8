import type { OptionSpec } from "@interloper/sdk";
import type { AddonHost } from "@interloper/sdk/host";
import { OptionError, parseSize } from "@interloper/sdk";
import { TLS_OPTIONS } from "../tls/tls-options.ts";

/** Options of the core itself (addons add theirs in `load`). */
export const CORE_OPTIONS: OptionSpec[] = [
  {
    name: "mode",
    type: "strings",
    default: ["regular"],
    startupOnly: true,
    help: "Proxy mode(s), MODE[:DATA][@[host:]port]: regular, transparent, socks5, reverse:URL, upstream:URL.",
  },
  {
    name: "server",
    type: "bool",
    default: true,
    startupOnly: true,
    help: "Start the proxy's listeners (-n turns them off: read flow files or replay only).",
  },
  {
    name: "listenHost",
    type: "string",
    default: "",
    startupOnly: true,
    help: "Address to listen on; empty means all interfaces.",
  },
  { name: "listenPort", type: "number", default: 8080, startupOnly: true, help: "Port to listen on." },
  {
    name: "confdir",
    type: "string",
    default: "~/.interloper",
    startupOnly: true,
    help: "Where the certificate authority (and config.yaml) lives.",
  },
  {
    name: "connectionStrategy",
    type: "string",
    default: "eager",
    choices: ["eager", "lazy"],
    help: "eager: connect to the server on CONNECT, before answering 200 (the resolved address is known). lazy: connect when needed.",
  },
  {
    name: "keepHostHeader",
    type: "bool",
    default: false,
    help: "Reverse mode: keep the client's Host header instead of the target's.",
  },
  {
    name: "upstreamAuth",
    type: "optional-string",
    default: undefined,
    secret: true,
    help: "Upstream mode: user:pass for the upstream proxy (Proxy-Authorization: Basic).",
  },
  {
    name: "http2",
    type: "bool",
    default: true,
    help: "Speak HTTP/2 with clients and servers that offer it (ALPN, h2c prior knowledge).",
  },
  { name: "sslInsecure", type: "bool", default: false, help: "Do not verify upstream server certificates." },
  {
    name: "sslVerifyUpstreamTrustedCa",
    type: "optional-string",
    default: undefined,
    help: "A PEM file of extra CA certificates to trust for upstream servers.",
  },
  {
    name: "upstreamCert",
    type: "bool",
    default: true,
    help: "Copy the upstream certificate's names into the generated certificate.",
  },
  {
    name: "streamLargeBodies",
    type: "optional-string",
    default: undefined,
    help: "Stream bodies larger than this (e.g. 1m, 5k) instead of buffering them.",
  },
  {
    name: "bodySizeLimit",
    type: "optional-string",
    default: undefined,
    help: "Refuse buffered bodies larger than this (e.g. 100m); streamed bodies are not limited.",
  },
  {
    name: "bufferBudget",
    type: "optional-string",
    default: undefined,
    help: "Body bytes all flows may hold buffered at once (e.g. 2g); a body that would pass it is streamed instead. Default: half of the machine's memory.",
  },
  {
    name: "maxHeaderSize",
    type: "number",
    default: 65536,
    startupOnly: true,
    help: "Largest request or response head in bytes.",
  },
  {
    name: "idleTimeout",
    type: "number",
    default: 300,
    help: "Close client connections on which nothing moved for this many seconds (WebSockets, raw TCP and HTTP/2 included, passthrough excepted); also bounds every wait (0: never).",
  },
];

export function registerCoreOptions(host: AddonHost): void {
  for (const spec of [...CORE_OPTIONS, ...TLS_OPTIONS]) host.addOption(spec);
}

/** Parses a size option; throws an OptionError naming it. */
export function sizeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = parseSize(value);
  if (n === null) throw new OptionError(`invalid value for ${name}: '${value}' (expected a size such as 512k, 1m, 2g)`);
  return n;
}
