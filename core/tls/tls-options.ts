import type { OptionSpec } from "@interloper/sdk";
import { DEFAULT_MAX_VERSION, DEFAULT_MIN_VERSION, TLS_VERSION_NAMES } from "./versions.ts";

/** The TLS options of the core, with mitmproxy's names, values and defaults. */
export const TLS_OPTIONS: OptionSpec[] = [
  {
    name: "certs",
    type: "strings",
    default: [],
    help: "Serve your own certificate: [domain=]path, a PEM holding the chain (leaf first) and its private key. The domain may be a wildcard (*.example.com); without one it is * (every name). Repeatable.",
  },
  {
    name: "certPassphrase",
    type: "optional-string",
    default: undefined,
    secret: true,
    help: "Passphrase of encrypted private keys in certs, client_certs and the confdir's CA (visible in the process list when given on the command line: put it in config.yaml).",
  },
  {
    name: "clientCerts",
    type: "optional-string",
    default: undefined,
    help: "Client certificate presented to servers that ask for one: a PEM file (chain and key), or a folder of HOST.pem files chosen by the server's name.",
  },
  ...(["client", "server"] as const).flatMap((side): OptionSpec[] =>
    (["min", "max"] as const).map((bound) => ({
      name: `tlsVersion${side === "client" ? "Client" : "Server"}${bound === "min" ? "Min" : "Max"}`,
      type: "string",
      default: bound === "min" ? DEFAULT_MIN_VERSION : DEFAULT_MAX_VERSION,
      choices: TLS_VERSION_NAMES,
      help: `The ${bound === "min" ? "lowest" : "highest"} TLS version for ${side === "client" ? "clients of the proxy" : "connections to servers"} (SSL3 is not available in Node).`,
    })),
  ),
  {
    name: "ciphersClient",
    type: "optional-string",
    default: undefined,
    help: "Ciphers offered to clients, as an OpenSSL cipher string (TLS 1.3 suites by their TLS_ names).",
  },
  {
    name: "ciphersServer",
    type: "optional-string",
    default: undefined,
    help: "Ciphers offered to servers, as an OpenSSL cipher string (TLS 1.3 suites by their TLS_ names).",
  },
  {
    name: "keySize",
    type: "number",
    default: 2048,
    startupOnly: true,
    help: "RSA key size in bits of the CA when it is made (an existing CA is kept; leaf keys are P-256).",
  },
];
