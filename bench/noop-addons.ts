// Workload G: ten addons that define every hook as a no-op, loaded with
// `-s bench/noop-addons.ts`. What they cost is the price of the hook chain
// itself: ten awaited calls per hook, on every connection, TLS step and flow.
import type { Addon } from "@interloper/sdk";

function noopAddon(i: number): Addon {
  return {
    name: `noop${i}`,
    load() {},
    configure() {},
    running() {},
    done() {},
    clientConnect() {},
    clientDisconnect() {},
    serverConnect() {},
    serverConnected() {},
    serverConnectError() {},
    serverDisconnect() {},
    socks5Auth() {},
    httpConnect() {},
    nextLayer() {},
    tlsClienthello() {},
    tlsStartClient() {},
    tlsEstablishedClient() {},
    tlsFailedClient() {},
    tlsStartServer() {},
    tlsEstablishedServer() {},
    tlsFailedServer() {},
    requestheaders() {},
    request() {},
    responseheaders() {},
    response() {},
    error() {},
    tcpStart() {},
    tcpMessage() {},
    tcpEnd() {},
    tcpError() {},
  };
}

export default Array.from({ length: 10 }, (_, i) => noopAddon(i + 1));
