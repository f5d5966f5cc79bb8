import { OptionError } from "@interloper/sdk";

export type ModeName = "regular" | "transparent" | "socks5" | "reverse" | "upstream";

/** One listener: a proxy mode and where it listens. */
export interface ModeSpec {
  name: ModeName;
  /** The spec as the user wrote it. */
  spec: string;
  listenHost: string;
  listenPort: number;
  /** reverse: where every connection goes; upstream: the upstream proxy. */
  target?: { scheme: string; host: string; port: number };
}

const NAMES: readonly ModeName[] = ["regular", "transparent", "socks5", "reverse", "upstream"];
const REVERSE_SCHEMES = ["http", "https", "tls", "tcp"];
const UPSTREAM_SCHEMES = ["http", "https"];
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, tls: 443, tcp: 0 };

/**
 * Parses `--mode` values in mitmproxy's syntax: `MODE[:DATA][@[host:]port]`,
 * e.g. `regular`, `socks5@1080`, `reverse:https://example.com@8443`,
 * `upstream:http://proxy:3128`, `transparent@127.0.0.1:8081`. A mode without
 * `@` listens on `listen_host` / `listen_port` (socks5: port 1080 unless
 * `listen_port` was changed). Errors name the spec.
 */
export function parseModes(
  specs: readonly string[],
  listenHost: string,
  listenPort: number,
  listenPortSet = false,
): ModeSpec[] {
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) {
    throw new OptionError(`invalid value for listen_port: ${listenPort} (expected 0-65535)`);
  }
  const list = specs.length > 0 ? specs : ["regular"];
  const out: ModeSpec[] = [];
  const seen = new Set<string>();
  for (const spec of list) {
    const bad = (why: string) => new OptionError(`invalid --mode '${spec}': ${why}`);
    const { body, where } = splitListen(spec);
    const colon = body.indexOf(":");
    const name = (colon === -1 ? body : body.slice(0, colon)).trim();
    const data = colon === -1 ? undefined : body.slice(colon + 1);
    if (!(NAMES as readonly string[]).includes(name)) {
      throw bad(`unknown mode '${name}' (modes: ${NAMES.join(", ")})`);
    }
    const mode = name as ModeName;
    let target: ModeSpec["target"];
    if (mode === "reverse" || mode === "upstream") {
      if (!data)
        throw bad(
          `${mode} mode needs a URL, e.g. ${mode}:${mode === "reverse" ? "https://example.com" : "http://proxy.local:3128"}`,
        );
      // As mitmproxy: a reverse target without a scheme is https, an upstream proxy http.
      target = parseTarget(
        data,
        mode === "reverse" ? REVERSE_SCHEMES : UPSTREAM_SCHEMES,
        mode === "reverse" ? "https" : "http",
        bad,
      );
    } else if (data !== undefined) {
      throw bad(`${mode} mode takes no data after ':'`);
    }
    let host = listenHost;
    let port = mode === "socks5" && !listenPortSet ? 1080 : listenPort;
    if (where !== undefined) {
      const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(where);
      if (!m) throw bad("expected MODE@[host:]port");
      port = Number(m[3]);
      if (port > 65535) throw bad("port out of range");
      if (m[1] !== undefined || m[2] !== undefined) host = m[1] ?? m[2]!;
    }
    const key = `${host}:${port}`;
    if (port !== 0 && seen.has(key)) throw bad(`${host || "*"}:${port} is already used by another mode`);
    seen.add(key);
    out.push({ name: mode, spec, listenHost: host, listenPort: port, ...(target ? { target } : {}) });
  }
  return out;
}

/** `MODE[:DATA]@LISTEN`: an '@' followed by `[host:]port` names the listen address (mitmproxy's rule). */
function splitListen(spec: string): { body: string; where: string | undefined } {
  const at = spec.lastIndexOf("@");
  if (at === -1) return { body: spec, where: undefined };
  const after = spec.slice(at + 1);
  // e.g. `reverse:http://example.com` has no '@' followed by a port: nothing to split.
  if (!/^(?:\[[^\]]+\]:|[^:/]*:)?\d+$/.test(after)) return { body: spec, where: undefined };
  return { body: spec.slice(0, at), where: after };
}

function parseTarget(
  data: string,
  schemes: string[],
  defaultScheme: string,
  bad: (why: string) => OptionError,
): { scheme: string; host: string; port: number } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(data) ? data : `${defaultScheme}://${data}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw bad(`'${data}' is not a URL`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (!schemes.includes(scheme)) throw bad(`scheme '${scheme}' is not supported here (use ${schemes.join(", ")})`);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (!host) throw bad("the URL has no host");
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[scheme]!;
  if (!port) throw bad(`${scheme} needs a port, e.g. ${scheme}://${host}:5000`);
  if (url.pathname !== "/" && url.pathname !== "") throw bad("the URL must not have a path");
  return { scheme, host, port };
}
