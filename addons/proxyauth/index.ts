import { open } from "node:fs/promises";
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
import { Htpasswd, HtpasswdError } from "./htpasswd.ts";
import { parseProxyAuth } from "./spec.ts";

/** Checks a username and password: the one user, anyone, or an htpasswd file's users. */
type Validator = (user: string, pass: string) => boolean | Promise<boolean>;

/** htpasswd files larger than this are refused: a wrong path (a disk image, a log) is read no further. */
const HTPASSWD_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Proxy authentication (`--set proxyauth=user:pass`, `any` for any
 * credentials, `@path` for an Apache htpasswd file): explicit HTTP clients
 * must send `Proxy-Authorization: Basic` (else 407), SOCKS5 clients must
 * authenticate with username/password. Once a connection authenticated, its
 * later requests pass. An htpasswd file is read again whenever the option is set.
 */
export class ProxyAuth implements Addon {
  readonly name = "proxyauth";
  private validator: Validator | undefined;
  private loader: Loader | undefined;
  private log: Logger | undefined;
  private option: OptionHandle<string | undefined> | undefined;
  private readonly authenticated = new Set<string>();
  /** Present in the chain only while proxyauth is set: SOCKS5 asks for credentials when some addon checks them. */
  private readonly socks5: Addon = {
    name: "proxyauth-socks5",
    socks5Auth: async (data: Socks5AuthData) => {
      if (data.valid) return;
      data.valid = await this.check(data.username, data.password);
    },
  };
  private socks5Added = false;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.validator !== undefined);
    this.loader = loader;
    this.log = loader.log;
    this.option = loader.addOption({
      name: "proxyauth",
      type: "optional-string",
      default: undefined,
      secret: true,
      help: "Require proxy authentication: user:pass, 'any' to accept any credentials, or @path to an Apache htpasswd file (bcrypt, apr1 MD5, SHA1 or SHA-256/512-crypt hashes). LDAP is not supported.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (!this.option || !updated.has("proxyauth")) return;
    this.validator = await validatorFor(this.option.get());
    this.authenticated.clear();
    if (this.validator && !this.socks5Added) {
      this.socks5Added = true;
      await this.loader!.addChild(this.socks5);
    } else if (!this.validator && this.socks5Added) {
      this.socks5Added = false;
      await this.loader!.removeChild(this.socks5);
    }
  }

  clientDisconnect(client: { id: string }): void {
    this.authenticated.delete(client.id);
  }

  // The hooks return a promise only when a password is to be checked: without proxyauth (or once the
  // client is authenticated) a promise per request would cost a wait, a slow-hook entry and a timer.
  httpConnect(flow: HTTPFlow): void | Promise<void> {
    return this.require(flow);
  }

  requestheaders(flow: HTTPFlow): void | Promise<void> {
    // Requests inside a tunnel were authorised with the CONNECT; only explicit ones carry credentials.
    if (flow.request.form === "absolute" && !flow.client.tlsEstablished) return this.require(flow);
  }

  private require(flow: HTTPFlow): void | Promise<void> {
    if (!this.validator || flow.response || this.authenticated.has(flow.client.id)) return;
    const mode = flow.client.mode.split(/[:@]/)[0];
    if (mode !== "regular" && mode !== "upstream") return;
    return this.authenticate(flow);
  }

  private async authenticate(flow: HTTPFlow): Promise<void> {
    const header = flow.request.headers.get("proxy-authorization") ?? "";
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m) {
      const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0 && (await this.check(decoded.slice(0, colon), decoded.slice(colon + 1)))) {
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

  private async check(user: string, pass: string): Promise<boolean> {
    return this.validator ? await this.validator(user, pass) : false;
  }
}

/** The validator a `proxyauth` value asks for (undefined: none required); a bad value is an OptionError. */
async function validatorFor(value: string | undefined): Promise<Validator | undefined> {
  const spec = parseProxyAuth(value);
  switch (spec.kind) {
    case "off":
      return undefined;
    case "any":
      return (user, pass) => user !== "" || pass !== "";
    case "user":
      return (user, pass) => safeEqual(user, spec.user) && safeEqual(pass, spec.pass);
    case "htpasswd": {
      const file = await readHtpasswd(value!, spec.path);
      return (user, pass) => file.check(user, pass);
    }
  }
}

async function readHtpasswd(value: string, path: string): Promise<Htpasswd> {
  const refuse = (why: string) => new OptionError(`invalid value for proxyauth: '${logText(value)}' (${why})`);
  let bytes: Buffer;
  try {
    bytes = await readAtMost(path, HTPASSWD_MAX_BYTES + 1);
  } catch (err) {
    throw refuse(`cannot read the htpasswd file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (bytes.length > HTPASSWD_MAX_BYTES) throw refuse(`the htpasswd file is larger than 16 MiB`);
  try {
    const file = Htpasswd.parse(bytes.toString("utf8"));
    if (file.size === 0) throw refuse("the htpasswd file holds no user");
    return file;
  } catch (err) {
    if (err instanceof HtpasswdError) throw refuse(err.message);
    throw err;
  }
}

/** Up to `limit` bytes of a file: a device or a huge file given by mistake is not read to its end. */
async function readAtMost(path: string, limit: number): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(Math.min(64 * 1024, limit - total)), 0);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks);
  } finally {
    await file.close();
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
