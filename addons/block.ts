import { isIP } from "node:net";
import {
  formatAddress,
  type Addon,
  type ClientConnection,
  type Loader,
  type Logger,
  type OptionHandle,
} from "@interloper/sdk";

/**
 * Refuses clients by address: `block_global` (on by default) refuses clients
 * from public addresses, `block_private` those from private ones. Loopback
 * is always allowed, so a proxy left open to the internet is not an open proxy.
 */
export class Block implements Addon {
  readonly name = "block";
  private blockGlobal = true;
  private blockPrivate = false;
  private log: Logger | undefined;
  private options: { global: OptionHandle<boolean>; private: OptionHandle<boolean> } | undefined;

  load(loader: Loader): void {
    this.options = {
      global: loader.addOption({
        name: "blockGlobal",
        type: "bool",
        default: true,
        help: "Refuse clients from public IP addresses.",
      }),
      private: loader.addOption({
        name: "blockPrivate",
        type: "bool",
        default: false,
        help: "Refuse clients from private IP addresses.",
      }),
    };
    this.log = loader.log;
  }

  configure(): void {
    if (!this.options) return;
    this.blockGlobal = this.options.global.get();
    this.blockPrivate = this.options.private.get();
  }

  clientConnect(client: ClientConnection): void {
    const kind = addressKind(client.peername.host);
    if (kind === "loopback") return;
    if (kind === "private" && this.blockPrivate) {
      client.error = `Client connection from ${formatAddress(client.peername)} killed by block_private option.`;
    } else if (kind === "global" && this.blockGlobal) {
      client.error = `Client connection from ${formatAddress(client.peername)} killed by block_global option.`;
    }
    if (client.error) this.log?.warn(client.error);
  }
}

/** Classifies an IP address: loopback, private (RFC 1918, link-local, ULA, CGNAT) or global. */
export function addressKind(address: string): "loopback" | "private" | "global" {
  let ip = address;
  if (ip.toLowerCase().startsWith("::ffff:") && ip.includes(".")) ip = ip.slice(7);
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split(".").map(Number) as [number, number];
    if (a === 127) return "loopback";
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
    if (a === 169 && b === 254) return "private";
    if (a === 100 && b >= 64 && b <= 127) return "private";
    if (a === 0) return "private";
    return "global";
  }
  if (v === 6) {
    const lower = ip.toLowerCase();
    if (lower === "::1") return "loopback";
    if (/^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || lower === "::") return "private";
    return "global";
  }
  // Unix sockets and the like are local.
  return "loopback";
}
