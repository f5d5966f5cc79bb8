import {
  compileHostPatterns,
  decideHosts,
  describeDecision,
  domainPattern,
  formatAddress,
  logText,
  patternWarnings,
  type Addon,
  type Candidate,
  type HostsDecision,
  type HostPatterns,
  type HostsInput,
  type Loader,
  type Logger,
  type NextLayerData,
  type OptionsView,
  type TlsClienthelloData,
} from "@interloper/sdk";

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
  /** Connections an earlier addon insisted on intercepting (`ignoreConnection = false` in nextLayer). */
  private readonly forcedIntercept = new WeakSet<object>();

  load(loader: Loader): void {
    loader.addOption({ name: "ignoreHosts", type: "strings", default: [], help: "Regexes searched in host:port: matching connections are passed through." });
    loader.addOption({ name: "allowHosts", type: "strings", default: [], help: "Regexes searched in host:port: only matching connections are intercepted." });
    loader.addOption({ name: "ignoreDomains", type: "strings", default: [], help: "Domains passed through with their subdomains, on any port." });
    loader.addOption({ name: "allowDomains", type: "strings", default: [], help: "Domains intercepted (with subdomains); everything else passes through." });
    loader.addOption({ name: "tcpHosts", type: "strings", default: [], help: "Regexes searched in the host or SNI: matching connections are intercepted as raw TCP." });
    this.log = loader.log;
  }

  configure(updated: ReadonlySet<string>, options: OptionsView): void {
    const relevant = ["ignoreHosts", "allowHosts", "ignoreDomains", "allowDomains", "tcpHosts"];
    if (!relevant.some((n) => updated.has(n))) return;
    // Compile everything first: a bad pattern throws and the old rules stay.
    const ignoreSources = options.get<string[]>("ignoreHosts");
    const allowSources = options.get<string[]>("allowHosts");
    const ignore = [
      ...compileHostPatterns(ignoreSources, "--ignore-hosts"),
      ...compileHostPatterns(options.get<string[]>("ignoreDomains").map((d) => domainPattern(d, "--ignore-domain")), "--ignore-domain"),
    ];
    const allow = [
      ...compileHostPatterns(allowSources, "--allow-hosts"),
      ...compileHostPatterns(options.get<string[]>("allowDomains").map((d) => domainPattern(d, "--allow-domain")), "--allow-domain"),
    ];
    const tcp = compileHostPatterns(options.get<string[]>("tcpHosts"), "--tcp-hosts");
    if (updated.has("ignoreHosts")) for (const s of ignoreSources) for (const w of patternWarnings(s, "--ignore-hosts")) this.log?.warn(w);
    if (updated.has("allowHosts")) for (const s of allowSources) for (const w of patternWarnings(s, "--allow-hosts")) this.log?.warn(w);
    this.ignore = ignore;
    this.allow = allow;
    this.tcp = tcp;
  }

  nextLayer(data: NextLayerData): void {
    if (this.tcp.length > 0 && data.tcp === undefined && this.matchesTcp(data)) data.tcp = true;
    if (data.ignoreConnection === false) this.forcedIntercept.add(data.client);
    if (data.ignoreConnection !== undefined || (this.allow.length === 0 && this.ignore.length === 0)) return;
    const input: HostsInput = {
      destination: data.server.address,
      resolved: data.server.peername,
      clientHello: data.clientHello,
      hostHeader: data.hostHeader,
      outerSni: data.client.tlsEstablished ? data.client.sni : undefined,
      final: data.final,
    };
    this.apply(data, input);
  }

  tlsClienthello(data: TlsClienthelloData): void {
    if (data.ignoreConnection || (this.allow.length === 0 && this.ignore.length === 0)) return;
    // The built-in never overrides a decision an earlier addon made.
    if (this.forcedIntercept.has(data.client)) return;
    const input: HostsInput = {
      destination: data.server.address,
      resolved: data.server.peername,
      clientHello: data.clientHello,
      outerSni: data.client.tlsEstablished ? data.client.sni : undefined,
      final: true,
    };
    const d = decideHosts({ allow: this.allow, ignore: this.ignore }, input);
    if (d.action === "ignore") {
      data.ignoreConnection = true;
      this.log?.debug(`${formatAddress(data.client.peername)}: ${describeForLog(d)}`);
    }
  }

  private apply(data: NextLayerData, input: HostsInput): void {
    const d = decideHosts({ allow: this.allow, ignore: this.ignore }, input);
    if (d.action === "wait") {
      data.needMoreData = true;
      return;
    }
    if (d.action === "ignore") data.ignoreConnection = true;
    this.log?.debug(`${formatAddress(data.client.peername)}: ${describeForLog(d)}`);
  }

  /** tcp_hosts look at the host and the SNI without a port, as mitmproxy does. */
  private matchesTcp(data: NextLayerData): boolean {
    const names = data.server.address ? [data.server.address.host] : [];
    if (data.clientHello && data.clientHello !== "incomplete" && data.clientHello.sni) names.push(data.clientHello.sni);
    if (data.client.sni) names.push(data.client.sni);
    return this.tcp.some((p) => names.some((n) => p.regex.test(n)));
  }
}

/** describeDecision with each candidate escaped: Host headers and CONNECT targets are the client's. */
function describeForLog(d: HostsDecision): string {
  const safe = (c: Candidate): Candidate => ({ ...c, value: logText(c.value) });
  return describeDecision({
    ...d,
    candidates: d.candidates.map(safe),
    ...(d.reason ? { reason: { ...d.reason, ...(d.reason.candidate ? { candidate: safe(d.reason.candidate) } : {}) } } : {}),
    ...(d.allowed ? { allowed: { ...d.allowed, candidate: safe(d.allowed.candidate) } } : {}),
  });
}
