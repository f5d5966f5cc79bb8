import yargs, { type Options } from "yargs";
import { closestName } from "@interloper/sdk";

/** What the command line asks for, as option changes the addon host applies. */
export interface CliRequest {
  /** Typed option changes from dedicated flags (camelCase names). */
  changes: Record<string, unknown>;
  /** `--set name=value` strings, applied after the flags. */
  sets: string[];
  /** Text to print and exit 0 with (`--help`, `--version`), if asked. */
  exitText?: string;
  /** `--options`: list every option (after loading the scripts given) instead of running. */
  listOptions?: boolean;
  /** `--config FILE`: the project config file (else the working directory's interloper.config.*). */
  configFile?: string;
}

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {}

const GROUP_PROXY = "Proxy:";
const GROUP_HOSTS = "Host ignoring:";
const GROUP_TLS = "TLS:";
const GROUP_OUTPUT = "Output:";
const GROUP_REWRITE =
  "Rewriting (|flow-filter|subject|replacement: the first character is the separator, the filter optional):";
const GROUP_FLOWS = "Flows (filter expressions: a positional FILTER sets view_filter and save_stream_filter):";

/** interloper's flags (mitmproxy's names); their long names are also what a typo is compared with. */
// Repeatable flags take one value each time (as mitmproxy's argparse `append`): yargs' `array`
// would swallow the words after it, the positional filter among them. Repeats still gather
// into a list (duplicate-arguments-array).
const FLAGS = {
  mode: {
    requiresArg: true,
    alias: "m",
    type: "string",
    group: GROUP_PROXY,
    describe: "Proxy mode, MODE[:DATA][@[host:]port]; repeatable. Modes below.",
  },
  "listen-host": {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "Address to listen on (default: all interfaces).",
  },
  "listen-port": {
    alias: "p",
    type: "string",
    requiresArg: true,
    group: GROUP_PROXY,
    describe: "Port to listen on (default 8080).",
  },
  scripts: {
    requiresArg: true,
    alias: "s",
    type: "string",
    group: GROUP_PROXY,
    describe:
      "An addon script (.ts, .mts, .js, .mjs) or npm package (the project's, then the addon home's); repeatable. Reloaded on save.",
  },
  set: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "Set an option: --set name=value (snake_case or camelCase names; repeat for lists).",
  },
  confdir: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "Directory of the certificate authority and config.yaml (default ~/.interloper).",
  },
  config: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "A project config file (default: interloper.config.ts/.mts/.js/.mjs in the current folder, if any).",
  },
  proxyauth: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "Require proxy authentication: user:pass, any, or @path to an Apache htpasswd file.",
  },
  anticache: {
    type: "boolean",
    group: GROUP_PROXY,
    describe: "Strip request headers that might make the server answer 304 Not Modified.",
  },
  anticomp: {
    type: "boolean",
    group: GROUP_PROXY,
    describe: "Ask servers for uncompressed responses (Accept-Encoding: identity).",
  },
  stickycookie: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "FILTER: requests it matches get the cookies servers set earlier.",
  },
  stickyauth: {
    requiresArg: true,
    type: "string",
    group: GROUP_PROXY,
    describe: "FILTER: requests it matches get the host's last Authorization header.",
  },
  "ignore-hosts": {
    requiresArg: true,
    type: "string",
    group: GROUP_HOSTS,
    describe:
      "Regex searched in a connection's host:port strings: matching connections are passed through untouched. Repeatable.",
  },
  "allow-hosts": {
    requiresArg: true,
    type: "string",
    group: GROUP_HOSTS,
    describe: "Regex: only matching connections are intercepted, all others are passed through. Repeatable.",
  },
  "ignore-domain": {
    requiresArg: true,
    type: "string",
    group: GROUP_HOSTS,
    describe: "Pass through this domain and its subdomains on any port (dots escaped for you). Repeatable.",
  },
  "allow-domain": {
    requiresArg: true,
    type: "string",
    group: GROUP_HOSTS,
    describe: "Intercept only this domain and its subdomains. Repeatable.",
  },
  "tcp-hosts": {
    requiresArg: true,
    type: "string",
    group: GROUP_HOSTS,
    describe: "Regex on host or SNI: intercept matching connections as raw TCP (no HTTP parsing). Repeatable.",
  },
  "map-remote": {
    alias: "M",
    type: "string",
    requiresArg: true,
    group: GROUP_REWRITE,
    describe:
      "Send requests elsewhere: |flow-filter|url-regex|replacement (Python regex, \\1 refers to a group). Repeatable.",
  },
  "map-local": {
    type: "string",
    requiresArg: true,
    group: GROUP_REWRITE,
    describe: "Answer from local files: |flow-filter|url-regex|file-or-folder. Repeatable.",
  },
  "modify-headers": {
    alias: "H",
    type: "string",
    requiresArg: true,
    group: GROUP_REWRITE,
    describe: "Set headers: |flow-filter|name|value (an empty value removes, @path reads a file). Repeatable.",
  },
  "modify-body": {
    alias: "B",
    type: "string",
    requiresArg: true,
    group: GROUP_REWRITE,
    describe: "Replace in bodies: |flow-filter|regex|replacement (@path reads a file). Repeatable.",
  },
  "ssl-insecure": {
    alias: "k",
    type: "boolean",
    group: GROUP_TLS,
    describe: "Do not verify upstream server certificates.",
  },
  certs: {
    requiresArg: true,
    type: "string",
    group: GROUP_TLS,
    describe:
      "Serve your own certificate: [domain=]path to a PEM with the chain and its key (domain may be *.example.com; default *). Repeatable.",
  },
  "cert-passphrase": {
    requiresArg: true,
    type: "string",
    group: GROUP_TLS,
    describe:
      "Passphrase of encrypted keys in --certs, client_certs and the CA (seen in the process list: prefer config.yaml).",
  },
  "key-size": {
    requiresArg: true,
    type: "string",
    group: GROUP_TLS,
    describe: "RSA key size in bits of the CA when it is made (default 2048).",
  },
  quiet: {
    alias: "q",
    type: "boolean",
    group: GROUP_OUTPUT,
    describe: "Quiet: errors only, no flow lines.",
  },
  verbose: {
    alias: "v",
    type: "boolean",
    group: GROUP_OUTPUT,
    describe: "Verbose: debug log (protocol decisions, TLS details).",
  },
  "flow-detail": {
    type: "string",
    requiresArg: true,
    group: GROUP_OUTPUT,
    describe: "0 nothing, 1 request/response lines, 2 + headers, 3 + bodies (truncated), 4 full bodies.",
  },
  showhost: {
    type: "boolean",
    group: GROUP_OUTPUT,
    describe: "Show URLs with the Host header's name instead of the address requests are sent to.",
  },
  "save-stream-file": {
    alias: "w",
    type: "string",
    requiresArg: true,
    group: GROUP_FLOWS,
    describe: "Write flows to this file as they end (mitmproxy's format); +PATH appends.",
  },
  rfile: {
    alias: "r",
    type: "string",
    requiresArg: true,
    group: GROUP_FLOWS,
    describe: "Read flows from a file (mitmproxy's or HAR), tell them to the addons, then exit (unless keepserving).",
  },
  "no-server": {
    alias: "n",
    type: "boolean",
    group: GROUP_FLOWS,
    describe: "Do not listen: only read files or replay.",
  },
  "server-replay": {
    alias: "S",
    type: "string",
    requiresArg: true,
    group: GROUP_FLOWS,
    describe: "Answer requests from the recorded responses of this flow file (server_replay_* options). Repeatable.",
  },
  "client-replay": {
    alias: "C",
    type: "string",
    requiresArg: true,
    group: GROUP_FLOWS,
    describe: "Send the requests of this flow file again. Repeatable.",
  },
  web: {
    type: "boolean",
    group: GROUP_OUTPUT,
    describe: "Serve the web UI (web_host, web_port: 127.0.0.1:8081); its address, with a token, is printed.",
  },
  options: {
    type: "boolean",
    group: GROUP_OUTPUT,
    describe: "List every option (the core's, the built-in addons', the scripts' given with -s) and exit.",
  },
} as const satisfies Record<string, Options>;

/** Parses interloper's command line (mitmproxy's flag names) without side effects. */
export async function parseCli(argv: readonly string[], version: string): Promise<CliRequest> {
  let exitText: string | undefined;
  const parser = yargs([...argv])
    .scriptName("interloper")
    .usage(USAGE)
    .epilog(EPILOG)
    .options(FLAGS)
    .version(version)
    .alias("version", "V")
    .help("help")
    .alias("help", "h")
    // Options are checked; positionals are the filter expression.
    .strictOptions()
    .parserConfiguration({ "camel-case-expansion": true, "duplicate-arguments-array": true, "boolean-negation": false })
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(withSuggestion(err?.message ?? msg, Object.keys(FLAGS)));
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
  if (a.proxyauth !== undefined) changes.proxyauth = String(last(a.proxyauth as string));
  if (a.anticache) changes.anticache = true;
  if (a.anticomp) changes.anticomp = true;
  if (a.stickycookie !== undefined) changes.stickycookie = String(last(a.stickycookie as string));
  if (a.stickyauth !== undefined) changes.stickyauth = String(last(a.stickyauth as string));
  if (a.ignoreHosts !== undefined) changes.ignoreHosts = list(a.ignoreHosts);
  if (a.allowHosts !== undefined) changes.allowHosts = list(a.allowHosts);
  if (a.ignoreDomain !== undefined) changes.ignoreDomains = list(a.ignoreDomain);
  if (a.allowDomain !== undefined) changes.allowDomains = list(a.allowDomain);
  if (a.tcpHosts !== undefined) changes.tcpHosts = list(a.tcpHosts);
  if (a.mapRemote !== undefined) changes.mapRemote = list(a.mapRemote);
  if (a.mapLocal !== undefined) changes.mapLocal = list(a.mapLocal);
  if (a.modifyHeaders !== undefined) changes.modifyHeaders = list(a.modifyHeaders);
  if (a.modifyBody !== undefined) changes.modifyBody = list(a.modifyBody);
  if (a.sslInsecure) changes.sslInsecure = true;
  if (a.certs !== undefined) changes.certs = list(a.certs);
  if (a.certPassphrase !== undefined) changes.certPassphrase = String(last(a.certPassphrase as string));
  if (a.keySize !== undefined) {
    const raw = String(last(a.keySize as string));
    if (!/^\d{1,6}$/.test(raw.trim())) throw new UsageError(`invalid --key-size '${raw}': expected a number of bits`);
    changes.keySize = Number(raw);
  }
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
  if (a.showhost) changes.showhost = true;
  if (a.saveStreamFile !== undefined) changes.saveStreamFile = String(last(a.saveStreamFile as string));
  if (a.rfile !== undefined) changes.rfile = String(last(a.rfile as string));
  if (a.noServer) changes.server = false;
  if (a.web) changes.web = true;
  if (a.serverReplay !== undefined) changes.serverReplay = list(a.serverReplay);
  if (a.clientReplay !== undefined) changes.clientReplay = list(a.clientReplay);
  // mitmdump's positional filter: its words joined, for both the view and the saved flows.
  const positional = (a._ as unknown[]).map(String);
  if (positional.length > 0) {
    const filter = positional.join(" ");
    changes.viewFilter = filter;
    changes.saveStreamFilter = filter;
  }
  return {
    changes,
    sets: list(a.set) ?? [],
    ...(a.options === true ? { listOptions: true } : {}),
    ...(a.config !== undefined ? { configFile: String(last(a.config as string)) } : {}),
  };
}

const USAGE = `Usage: interloper [options] [FILTER]
       interloper COMMAND ...

An intercepting HTTP(S) proxy scripted in TypeScript.`;

const EPILOG = `Modes (--mode, repeatable):
  regular                          an explicit HTTP(S) proxy (default)
  transparent                      traffic redirected by iptables/nftables (Linux)
  socks5                           a SOCKS5 proxy (port 1080 unless given)
  reverse:SCHEME://host[:port]     every connection goes to that server (http, https, tls, tcp)
  upstream:http[s]://host[:port]   requests go on through another proxy

Commands:
  interloper new-addon NAME        scaffold an addon package (NAME: my-addon or @me/my-addon)
  interloper install PACKAGE...    install addon packages into the addon home (~/.interloper/addons)
  interloper uninstall PACKAGE...  remove them again
  interloper list                  list the addon home's packages
  interloper COMMAND --help        more on one command

Options of the proxy and its addons are set with --set name=value; --options lists them.`;

/** yargs' `Unknown argument: lisen-port` with the flag meant: `(did you mean --listen-port?)`. */
function withSuggestion(message: string, flags: string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return message;
  const given = m[1]!.split(", ");
  // yargs lists `lisen-port` and its camelCase twin `lisenPort`: one is enough.
  const unknown = given.filter(
    (arg) => !(/[A-Z]/.test(arg) && given.includes(arg.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))),
  );
  const hints = unknown.map((arg) => {
    const meant = closestName(arg.replace(/^-+/, ""), flags);
    return meant ? `${arg} (did you mean --${meant}?)` : arg;
  });
  const tail = hints.some((h) => h.includes("did you mean"))
    ? ""
    : "; options are set with --set name=value (--options lists them)";
  return `Unknown argument${unknown.length > 1 ? "s" : ""}: ${hints.join(", ")}${tail}`;
}
