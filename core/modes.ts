import { OptionError } from "@interloper/sdk";

/** One listener: a proxy mode and where it listens. */
export interface ModeSpec {
  /** The mode's name, e.g. `regular`. */
  name: string;
  /** The spec as the user wrote it. */
  spec: string;
  listenHost: string;
  listenPort: number;
}

const SUPPORTED = ["regular"];

/**
 * Parses `--mode` values in mitmproxy's `MODE[@[host:]port]` syntax. A mode
 * without `@` listens on `listen_host` / `listen_port`. Throws an OptionError
 * naming the spec for unknown modes, bad addresses and duplicate listeners.
 */
export function parseModes(specs: readonly string[], listenHost: string, listenPort: number): ModeSpec[] {
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) {
    throw new OptionError(`invalid value for listen_port: ${listenPort} (expected 0-65535)`);
  }
  const list = specs.length > 0 ? specs : ["regular"];
  const out: ModeSpec[] = [];
  const seen = new Set<string>();
  for (const spec of list) {
    const at = spec.indexOf("@");
    const name = (at === -1 ? spec : spec.slice(0, at)).trim();
    if (!SUPPORTED.includes(name)) {
      throw new OptionError(`invalid --mode '${spec}': unknown mode '${name}' (supported: ${SUPPORTED.join(", ")})`);
    }
    let host = listenHost;
    let port = listenPort;
    if (at !== -1) {
      const where = spec.slice(at + 1);
      const m = /^(?:(?:\[([^\]]+)\]|([^:]*)):)?(\d{1,5})$/.exec(where);
      if (!m) throw new OptionError(`invalid --mode '${spec}': expected MODE@[host:]port`);
      port = Number(m[3]);
      if (port > 65535) throw new OptionError(`invalid --mode '${spec}': port out of range`);
      if (m[1] !== undefined || m[2] !== undefined) host = m[1] ?? m[2]!;
    }
    const key = `${host}:${port}`;
    if (port !== 0 && seen.has(key)) throw new OptionError(`invalid --mode '${spec}': ${host || "*"}:${port} is already used by another mode`);
    seen.add(key);
    out.push({ name, spec, listenHost: host, listenPort: port });
  }
  return out;
}
