import { resolve } from "node:path";
import {
  expandHome,
  OptionError,
  Response,
  type Addon,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
  type Request,
} from "@interloper/sdk";
import { CA_FORMATS, CaFiles } from "./ca-files.ts";
import { renderMessage, renderPage } from "./page.ts";

/**
 * The default magic host. `.invalid` is reserved (RFC 6761 §6.4): no DNS answers for it, so the
 * name can never be somebody's site, and an explicit proxy's clients send it to the proxy
 * unresolved (browsers bypass the proxy only for localhost and loopback names).
 */
export const ONBOARDING_HOST = "interloper.invalid";

/**
 * The onboarding page (mitmproxy's `mitm.it`): requests for `onboarding_host` are answered by the
 * proxy itself with a page of install steps and the CA certificate in every format the confdir
 * holds; they never reach a server. A CONNECT to that host is answered without connecting
 * anywhere, so `https://` works too (the proxy's certificate for the name, as for any site).
 */
export class Onboarding implements Addon {
  readonly name = "onboarding";
  private enabled: OptionHandle<boolean> | undefined;
  private host: OptionHandle<string> | undefined;
  private port: OptionHandle<number> | undefined;
  private loader: Loader | undefined;
  /** onboarding_host as compared, remade when the option changes (not per request: every request asks). */
  private wanted: { option: string; normal: string } | undefined;

  load(loader: Loader): void {
    this.loader = loader;
    this.enabled = loader.addOption({
      name: "onboarding",
      type: "bool",
      default: true,
      help: "Answer requests for onboarding_host with the page that installs the CA certificate.",
    });
    this.host = loader.addOption({
      name: "onboardingHost",
      type: "string",
      default: ONBOARDING_HOST,
      help: "The onboarding page's host name (any port unless onboarding_port is set). Transparent mode: a name the clients resolve to an address the redirect covers, or an IP address.",
    });
    // mitmproxy 8.1.1 has it (default 80): a config.yaml of its must not stop the start-up.
    this.port = loader.addOption({
      name: "onboardingPort",
      type: "number",
      default: 0,
      help: "The onboarding page's port: only requests to it are answered. 0: any port (as today's mitmproxy, which has no such option).",
    });
  }

  configure(updated: ReadonlySet<string>): void {
    if (!updated.has("onboardingPort")) return;
    const port = this.port!.get();
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new OptionError(`invalid value for onboarding_port: ${port} (expected 0 for any port, or 1 to 65535)`);
  }

  /** As mitmproxy answers a CONNECT an addon answered: a 2xx opens the tunnel without a server connection. */
  httpConnect(flow: HTTPFlow): void {
    if (flow.response || !this.serves(flow.request.host, flow.request.port)) return;
    flow.response = Response.make(200);
  }

  // Synchronous unless the request is for the page: every request passes here (the addon is on by
  // default), and a promise costs each one a wait, a slow-hook entry and an idle timer.
  request(flow: HTTPFlow): void | Promise<void> {
    // A flow read from a file (-r) or replayed is a record, not a client asking for the page.
    if (flow.response || flow.error || !flow.live || !this.serves(flow.request.prettyHost, flow.request.port)) return;
    return this.respond(flow);
  }

  private async respond(flow: HTTPFlow): Promise<void> {
    flow.response = await this.answer(flow.request);
  }

  private serves(host: string, port: number): boolean {
    if (!this.enabled?.get()) return false;
    const onlyPort = this.port?.get() ?? 0;
    if (onlyPort !== 0 && port !== onlyPort) return false;
    const want = this.wantedHost();
    return want !== "" && normalHost(host) === want;
  }

  private wantedHost(): string {
    const option = this.host?.get() ?? ONBOARDING_HOST;
    if (this.wanted?.option !== option) this.wanted = { option, normal: normalHost(option) };
    return this.wanted.normal;
  }

  private async answer(request: Request): Promise<Response> {
    const files = new CaFiles(this.confdir());
    const path = request.path.split("?")[0]!;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return html(405, renderMessage("Method not allowed", "The onboarding page only answers GET."), {
        Allow: "GET, HEAD",
      });
    }
    if (path === "/" || path === "/index.html") {
      const formats = files.available().map((format) => ({ format, fileName: files.fileName(format) }));
      return html(200, renderPage({ formats, fingerprint: await files.fingerprint(), baseName: files.baseName() }));
    }
    const format = CA_FORMATS.find((f) => path === `/cert/${f.id}`);
    const body = format && (await files.read(format));
    if (!format || !body) return html(404, renderMessage("Not found", `Nothing here: ${path}`));
    return Response.make(200, body, {
      "Content-Type": format.contentType,
      "Content-Disposition": `attachment; filename="${files.fileName(format)}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
  }

  private confdir(): string {
    const dir = this.loader?.options.has("confdir") ? this.loader.options.get<string>("confdir") : "~/.interloper";
    return resolve(expandHome(dir));
  }
}

function html(status: number, body: string, headers: Record<string, string> = {}): Response {
  return Response.make(status, body, {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    // Nothing on the page runs or is fetched: say so, so that nothing injected could.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    ...headers,
  });
}

/** `Interloper.Invalid.` → `interloper.invalid`; IPv6 without brackets. */
function normalHost(host: string): string {
  // Already normal (the usual case: a lower-case name from the request line): no new strings.
  if (!/[^a-z0-9.:-]|\.$/.test(host)) return host;
  return host
    .trim()
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
}
