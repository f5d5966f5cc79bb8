/**
 * pinning-detector: learns which hosts' clients refuse interloper's
 * certificate (certificate pinning, or a client that does not trust the CA)
 * and passes their later connections through untouched, so the app keeps
 * working while everything else is still intercepted.
 *
 *   interloper -s examples/pinning-detector.ts
 *
 * The first connection to such a host fails (that is how we learn); the
 * client's retry goes through. The list lives in `loader.state`, so it
 * survives hot reloads of this script (not restarts of interloper).
 */
import {
  formatAddress,
  type Addon,
  type Loader,
  type Logger,
  type TlsClienthelloData,
  type TlsData,
} from "@interloper/sdk";

/**
 * The handshake failures that point at our certificate: an explicit alert
 * ("the client does not trust the proxy's certificate for …") or a client that
 * hangs up mid-handshake without a word, which is how many pinning apps react.
 */
const REFUSED_OUR_CERT = /does not trust the proxy's certificate|closed during (the )?TLS handshake/i;

export class PinningDetector implements Addon {
  readonly name = "pinning-detector";
  /** Lower-cased host names whose connections are passed through. */
  pinned = new Set<string>();
  private log: Logger | undefined;

  load(loader: Loader): void {
    this.log = loader.log;
    // Share the Set with the state object: what we learn lands there directly,
    // and the next version of this script starts from it.
    this.pinned = (loader.state.pinnedHosts ??= new Set<string>()) as Set<string>;
  }

  tlsFailedClient(data: TlsData): void {
    if (!data.error || !REFUSED_OUR_CERT.test(data.error)) return;
    // The name the client asked for; without SNI, the destination it connected to.
    const host = (data.client.sni ?? data.server.address?.host)?.toLowerCase();
    if (!host || this.pinned.has(host)) return;
    this.pinned.add(host);
    // Once per host: the core already logged each failed handshake with its reason.
    this.log?.warn(
      `${host}: the client refused interloper's certificate; its connections are passed through from now on`,
    );
  }

  tlsClienthello(data: TlsClienthelloData): void {
    if (data.ignoreConnection) return;
    const host = (data.clientHello.sni ?? data.server.address?.host)?.toLowerCase();
    if (host && this.pinned.has(host)) {
      data.ignoreConnection = true;
      this.log?.debug(`${formatAddress(data.client.peername)}: passing ${host} through (learned as pinned)`);
    }
  }
}

export default new PinningDetector();
