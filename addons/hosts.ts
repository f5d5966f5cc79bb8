import {
  compileHostPatterns,
  decideHosts,
  describeDecision,
  domainPattern,
  formatAddress,
  hostsInputFrom,
  logText,
  patternWarnings,
  type Addon,
  type Candidate,
  type HostsDecision,
  type HostPatterns,
  type Loader,
  type Logger,
  type NextLayerData,
  type OptionHandle,
  type TlsClienthelloData,
} from "@interloper/sdk";

const LISTS = ["ignoreHosts", "allowHosts", "ignoreDomains", "allowDomains", "tcpHosts"] as const;
type ListOption = (typeof LISTS)[number];

/**
 * ignore_hosts / allow_hosts / tcp_hosts: which connections interloper leaves
 * alone, exactly as mitmproxy decides it (SEMANTICS.md §1). It answers
 * `nextLayer` (every protocol decision) and `tlsClienthello`, and never
 * overrides a decision an earlier addon made.
 */
export class Hosts implements Addon {
  readonly name = "hosts";
  private allow: HostPatterns[] = [];
  private ignore: HostPatterns[] = [];
  private tcp: HostPatterns[] = [];
  private log: Logger | undefined;
  private lists: Record<ListOption, OptionHandle<string[]>> | undefined;
  /** Connections an earlier addon insisted on intercepting (`ignoreConnection = false` in nextLayer). */
  private readonly forcedIntercept = new WeakSet<object>();

  load(loader: Loader): void {
    const list = (name: ListOption, help: string) => loader.addOption({ name, type: "strings", default: [], help });
    this.lists = {
      ignoreHosts: list("ignoreHosts", "Regexes searched in host:port: matching connections are passed through."),
      allowHosts: list("allowHosts", "Regexes searched in host:port: only matching connections are intercepted."),
      ignoreDomains: list("ignoreDomains", "Domains passed through with their subdomains, on any port."),
      allowDomains: list("allowDomains", "Domains intercepted (with subdomains); everything else passes through."),
      tcpHosts: list(
        "tcpHosts",
        "Regexes searched in the host or SNI: matching connections are intercepted as raw TCP.",
      ),
    };
    this.log = loader.log;
  }

  configure(updated: ReadonlySet<string>): void {
    const lists = this.lists;
    if (!lists || !LISTS.some((n) => updated.has(n))) return;
    // Compile everything first: a bad pattern throws and the old rules stay.
    const ignoreSources = lists.ignoreHosts.get();
    const allowSources = lists.allowHosts.get();
    const ignore = [
      ...compileHostPatterns(ignoreSources, "--ignore-hosts"),
      ...compileHostPatterns(
        lists.ignoreDomains.get().map((d) => domainPattern(d, "--ignore-domain")),
        "--ignore-domain",
      ),
    ];
    const allow = [
      ...compileHostPatterns(allowSources, "--allow-hosts"),
      ...compileHostPatterns(
        lists.allowDomains.get().map((d) => domainPattern(d, "--allow-domain")),
        "--allow-domain",
      ),
    ];
    const tcp = compileHostPatterns(lists.tcpHosts.get(), "--tcp-hosts");
    if (updated.has("ignoreHosts"))
      for (const s of ignoreSources) for (const w of patternWarnings(s, "--ignore-hosts")) this.log?.warn(w);
    if (updated.has("allowHosts"))
      for (const s of allowSources) for (const w of patternWarnings(s, "--allow-hosts")) this.log?.warn(w);
    this.ignore = ignore;
    this.allow = allow;
    this.tcp = tcp;
  }

  nextLayer(data: NextLayerData): void {
    if (this.tcp.length > 0 && data.tcp === undefined && this.matchesTcp(data)) data.tcp = true;
    if (data.ignoreConnection === false) this.forcedIntercept.add(data.client);
    if (data.ignoreConnection !== undefined || (this.allow.length === 0 && this.ignore.length === 0)) return;
    const d = decideHosts({ allow: this.allow, ignore: this.ignore }, hostsInputFrom(data));
    if (d.action === "wait") {
      data.needMoreData = true;
      return;
    }
    if (d.action === "ignore") data.ignoreConnection = true;
    this.log?.debug(`${formatAddress(data.client.peername)}: ${describeForLog(d)}`);
  }

  tlsClienthello(data: TlsClienthelloData): void {
    if (data.ignoreConnection || (this.allow.length === 0 && this.ignore.length === 0)) return;
    // The built-in never overrides a decision an earlier addon made.
    if (this.forcedIntercept.has(data.client)) return;
    const d = decideHosts({ allow: this.allow, ignore: this.ignore }, hostsInputFrom(data));
    if (d.action === "ignore") {
      data.ignoreConnection = true;
      this.log?.debug(`${formatAddress(data.client.peername)}: ${describeForLog(d)}`);
    }
  }

  /** tcp_hosts look at the host and the SNI without a port, as mitmproxy does. */
  private matchesTcp(data: NextLayerData): boolean {
    const names = data.server.address ? [data.server.address.host] : [];
    if (data.clientHello && data.clientHello !== "incomplete" && data.clientHello.sni) names.push(data.clientHello.sni);
    if (data.client.sni) names.push(data.client.sni);
    return this.tcp.some((p) => names.some((n) => p.regex.test(n)));
  }
}

/**
 * describeDecision with each candidate escaped: Host headers and CONNECT targets are the client's.
 * Object.assign, not `{ ...d, key }`: that is a slow path on Node 20 (V8 11.3), and this runs per
 * connection whenever host rules are set.
 */
function describeForLog(d: HostsDecision): string {
  const safe = (c: Candidate): Candidate => Object.assign({}, c, { value: logText(c.value) });
  const out: HostsDecision = Object.assign({}, d, { candidates: d.candidates.map(safe) });
  if (d.reason?.candidate) out.reason = Object.assign({}, d.reason, { candidate: safe(d.reason.candidate) });
  if (d.allowed) out.allowed = Object.assign({}, d.allowed, { candidate: safe(d.allowed.candidate) });
  return describeDecision(out);
}
