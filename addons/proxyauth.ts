import { timingSafeEqual } from "node:crypto";
import {
  logText,
  OptionError,
  Response,
  type Addon,
  type HTTPFlow,
  type Loader,
  type Logger,
  type OptionHandle,
  type Socks5AuthData,
} from "@interloper/sdk";

/**
 * Proxy authentication (`--set proxyauth=user:pass`, or `any` for any
 * credentials): explicit HTTP clients must send `Proxy-Authorization: Basic`
 * (else 407), SOCKS5 clients must authenticate with username/password. Once
 * a connection authenticated, its later requests pass.
 */
export class ProxyAuth implements Addon {
  readonly name = "proxyauth";
  private credentials: { user: string; pass: string } | "any" | undefined;
  private loader: Loader | undefined;
  private log: Logger | undefined;
  private option: OptionHandle<string | undefined> | undefined;
  private readonly authenticated = new Set<string>();
  /** Present in the chain only while proxyauth is set: SOCKS5 asks for credentials when some addon checks them. */
  private readonly socks5: Addon = {
    name: "proxyauth-socks5",
    socks5Auth: (data: Socks5AuthData) => {
      if (data.valid) return;
      data.valid = this.check(data.username, data.password);
    },
  };
  private socks5Added = false;

  load(loader: Loader): void {
    this.loader = loader;
    this.log = loader.log;
    this.option = loader.addOption({
      name: "proxyauth",
      type: "optional-string",
      default: undefined,
      help: "Require proxy authentication: user:pass, or 'any' to accept any credentials.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (!this.option || !updated.has("proxyauth")) return;
    const value = this.option.get();
    if (value === undefined || value === "") {
      this.credentials = undefined;
    } else if (value === "any") {
      this.credentials = "any";
    } else if (value.startsWith("@")) {
      throw new OptionError(
        `invalid value for proxyauth: '${value}' (htpasswd files are not supported; use user:pass or any)`,
      );
    } else {
      const colon = value.indexOf(":");
      if (colon <= 0) throw new OptionError(`invalid value for proxyauth: '${value}' (expected user:pass or any)`);
      this.credentials = { user: value.slice(0, colon), pass: value.slice(colon + 1) };
    }
    this.authenticated.clear();
    if (this.credentials && !this.socks5Added) {
      this.socks5Added = true;
      await this.loader!.addChild(this.socks5);
    } else if (!this.credentials && this.socks5Added) {
      this.socks5Added = false;
      await this.loader!.removeChild(this.socks5);
    }
  }

  clientDisconnect(client: { id: string }): void {
    this.authenticated.delete(client.id);
  }

  httpConnect(flow: HTTPFlow): void {
    this.require(flow);
  }

  requestheaders(flow: HTTPFlow): void {
    // Requests inside a tunnel were authorised with the CONNECT; only explicit ones carry credentials.
    if (flow.request.form === "absolute" && !flow.client.tlsEstablished) this.require(flow);
  }

  private require(flow: HTTPFlow): void {
    if (!this.credentials || flow.response || this.authenticated.has(flow.client.id)) return;
    const mode = flow.client.mode.split(/[:@]/)[0];
    if (mode !== "regular" && mode !== "upstream") return;
    const header = flow.request.headers.get("proxy-authorization") ?? "";
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m) {
      const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0 && this.check(decoded.slice(0, colon), decoded.slice(colon + 1))) {
        this.authenticated.add(flow.client.id);
        return;
      }
      // The username is the client's: escaped, so that it cannot write log lines of its own.
      this.log?.warn(`proxy authentication failed for user '${logText(decoded.slice(0, Math.max(colon, 0)))}'`);
    }
    flow.response = Response.make(407, "Proxy Authentication Required\n", {
      "Proxy-Authenticate": 'Basic realm="interloper"',
      "Content-Type": "text/plain",
    });
  }

  private check(user: string, pass: string): boolean {
    const c = this.credentials;
    if (!c) return false;
    if (c === "any") return user !== "" || pass !== "";
    return safeEqual(user, c.user) && safeEqual(pass, c.pass);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
