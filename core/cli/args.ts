import yargs from "yargs";

/** What the command line asks for, as option changes the addon host applies. */
export interface CliRequest {
  /** Typed option changes from dedicated flags (camelCase names). */
  changes: Record<string, unknown>;
  /** `--set name=value` strings, applied after the flags. */
  sets: string[];
  /** Text to print and exit 0 with (`--help`, `--version`), if asked. */
  exitText?: string;
}

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {}

const GROUP_PROXY = "Proxy:";
const GROUP_HOSTS = "Host ignoring:";
const GROUP_TLS = "TLS:";
const GROUP_OUTPUT = "Output:";

/** Parses interloper's command line (mitmproxy's flag names) without side effects. */
export async function parseCli(argv: readonly string[], version: string): Promise<CliRequest> {
  let exitText: string | undefined;
  const parser = yargs([...argv])
    .scriptName("interloper")
    .usage("Usage: interloper [options]\n\nAn intercepting HTTP(S) proxy scripted in TypeScript.")
    .option("mode", {
      requiresArg: true,
      alias: "m",
      type: "string",
      array: true,
      group: GROUP_PROXY,
      describe: "Proxy mode, MODE[@[host:]port]; repeatable. Modes: regular (default).",
    })
    .option("listen-host", {
      requiresArg: true,
      type: "string",
      group: GROUP_PROXY,
      describe: "Address to listen on (default: all interfaces).",
    })
    .option("listen-port", {
      alias: "p",
      type: "string",
      requiresArg: true,
      group: GROUP_PROXY,
      describe: "Port to listen on (default 8080).",
    })
    .option("scripts", {
      requiresArg: true,
      alias: "s",
      type: "string",
      array: true,
      group: GROUP_PROXY,
      describe: "An addon script (.ts, .mts, .js, .mjs) or installed npm package; repeatable. Reloaded on save.",
    })
    .option("set", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_PROXY,
      describe: "Set an option: --set name=value (snake_case or camelCase names; repeat for lists).",
    })
    .option("confdir", {
      requiresArg: true,
      type: "string",
      group: GROUP_PROXY,
      describe: "Directory of the certificate authority (default ~/.interloper).",
    })
    .option("ignore-hosts", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_HOSTS,
      describe:
        "Regex searched in a connection's host:port strings: matching connections are passed through untouched. Repeatable.",
    })
    .option("allow-hosts", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_HOSTS,
      describe: "Regex: only matching connections are intercepted, all others are passed through. Repeatable.",
    })
    .option("ignore-domain", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_HOSTS,
      describe: "Pass through this domain and its subdomains on any port (dots escaped for you). Repeatable.",
    })
    .option("allow-domain", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_HOSTS,
      describe: "Intercept only this domain and its subdomains. Repeatable.",
    })
    .option("tcp-hosts", {
      requiresArg: true,
      type: "string",
      array: true,
      group: GROUP_HOSTS,
      describe: "Regex on host or SNI: intercept matching connections as raw TCP (no HTTP parsing). Repeatable.",
    })
    .option("ssl-insecure", {
      alias: "k",
      type: "boolean",
      group: GROUP_TLS,
      describe: "Do not verify upstream server certificates.",
    })
    .option("quiet", {
      alias: "q",
      type: "boolean",
      group: GROUP_OUTPUT,
      describe: "Quiet: errors only, no flow lines.",
    })
    .option("verbose", {
      alias: "v",
      type: "boolean",
      group: GROUP_OUTPUT,
      describe: "Verbose: debug log (protocol decisions, TLS details).",
    })
    .option("flow-detail", {
      type: "string",
      requiresArg: true,
      group: GROUP_OUTPUT,
      describe: "0 nothing, 1 request/response lines, 2 + headers, 3 + bodies (truncated), 4 full bodies.",
    })
    .version(version)
    .alias("version", "V")
    .help("help")
    .alias("help", "h")
    .strict()
    .parserConfiguration({ "camel-case-expansion": true, "duplicate-arguments-array": true, "boolean-negation": false })
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    });
  let printed = "";
  const argvParsed = await parser.parseAsync([...argv], {}, (_err, _argv, output) => {
    printed = output;
  });
  if (printed) exitText = printed;
  if (exitText !== undefined) return { changes: {}, sets: [], exitText };

  const a = argvParsed as Record<string, unknown>;
  const changes: Record<string, unknown> = {};
  const list = (v: unknown) => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(String));
  const last = <T>(v: T | T[]) => (Array.isArray(v) ? v[v.length - 1] : v);
  if (a.mode !== undefined) changes.mode = list(a.mode);
  if (a.listenHost !== undefined) changes.listenHost = String(last(a.listenHost as string));
  if (a.listenPort !== undefined) {
    const raw = String(last(a.listenPort as string));
    const port = Number(raw);
    if (!/^\d{1,5}$/.test(raw.trim()) || port > 65535)
      throw new UsageError(`invalid --listen-port '${raw}': expected 0-65535`);
    changes.listenPort = port;
  }
  if (a.scripts !== undefined) changes.scripts = list(a.scripts);
  if (a.confdir !== undefined) changes.confdir = String(last(a.confdir as string));
  if (a.ignoreHosts !== undefined) changes.ignoreHosts = list(a.ignoreHosts);
  if (a.allowHosts !== undefined) changes.allowHosts = list(a.allowHosts);
  if (a.ignoreDomain !== undefined) changes.ignoreDomains = list(a.ignoreDomain);
  if (a.allowDomain !== undefined) changes.allowDomains = list(a.allowDomain);
  if (a.tcpHosts !== undefined) changes.tcpHosts = list(a.tcpHosts);
  if (a.sslInsecure) changes.sslInsecure = true;
  if (a.flowDetail !== undefined) {
    const raw = String(last(a.flowDetail as string));
    if (!/^[0-4]$/.test(raw.trim())) throw new UsageError(`invalid --flow-detail '${raw}': expected 0 to 4`);
    changes.flowDetail = Number(raw);
  }
  if (a.quiet && a.verbose) throw new UsageError("-q/--quiet and -v/--verbose cannot be used together");
  if (a.quiet) {
    changes.termlogVerbosity = "error";
    if (changes.flowDetail === undefined) changes.flowDetail = 0;
  }
  if (a.verbose) changes.termlogVerbosity = "debug";
  return { changes, sets: list(a.set) ?? [] };
}
