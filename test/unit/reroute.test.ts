// The reroute decision (does a request the hooks changed need another server
// than the route it arrived on, and which), the route it leads to (tunnel,
// pool, upstream proxy), and the ALPN a new server connection offers. No
// sockets: ServerConn objects are made but never connected.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Request, type Address } from "@interloper/sdk";
import { ServerConn, type ServerOwner, type UpstreamProxy } from "../../core/connection/server-conn.ts";
import { reroute, type Destination } from "../../core/http/exchange/reroute.ts";
import { ServerRoute, type ServerSource } from "../../core/http/exchange/server-route.ts";
import { serverAlpnOffers } from "../../core/tls/server-alpn.ts";

const CHOSEN: Destination = { scheme: "https", host: "origin.test", port: 443 };

const same: Array<[string, { scheme: unknown; host: unknown; port: unknown }]> = [
  ["unchanged", { scheme: "https", host: "origin.test", port: 443 }],
  ["the host in other letter case", { scheme: "https", host: "ORIGIN.Test", port: 443 }],
  ["the scheme in capitals", { scheme: "HTTPS", host: "origin.test", port: 443 }],
];
for (const [what, now] of same) {
  test(`reroute: ${what} is the same destination`, () => {
    assert.equal(reroute(CHOSEN, now), { kind: "same" });
  });
}

const other: Array<[string, { scheme: unknown; host: unknown; port: unknown }, Destination]> = [
  [
    "another host",
    { scheme: "https", host: "other.test", port: 443 },
    { scheme: "https", host: "other.test", port: 443 },
  ],
  [
    "another port",
    { scheme: "https", host: "origin.test", port: 8443 },
    { scheme: "https", host: "origin.test", port: 8443 },
  ],
  [
    "https to http",
    { scheme: "http", host: "origin.test", port: 443 },
    { scheme: "http", host: "origin.test", port: 443 },
  ],
  [
    "an IPv4 address",
    { scheme: "https", host: "127.0.0.1", port: 443 },
    { scheme: "https", host: "127.0.0.1", port: 443 },
  ],
  ["an IPv6 address", { scheme: "https", host: "::1", port: 443 }, { scheme: "https", host: "::1", port: 443 }],
  [
    "an IPv6 address in brackets",
    { scheme: "https", host: "[::1]", port: 443 },
    { scheme: "https", host: "::1", port: 443 },
  ],
  [
    "a name in another script (looked up as punycode)",
    { scheme: "https", host: "bücher.test", port: 443 },
    { scheme: "https", host: "xn--bcher-kva.test", port: 443 },
  ],
  [
    "the scheme in capitals, to http",
    { scheme: "HTTP", host: "origin.test", port: 80 },
    { scheme: "http", host: "origin.test", port: 80 },
  ],
];
for (const [what, now, to] of other) {
  test(`reroute: ${what} is another destination`, () => {
    assert.equal(reroute(CHOSEN, now), { kind: "other", to });
  });
}

const invalid: Array<[string, { scheme: unknown; host: unknown; port: unknown }, RegExp]> = [
  ["an empty host", { scheme: "https", host: "", port: 443 }, /^request\.host is empty$/],
  [
    "host:port in the host",
    { scheme: "https", host: "other.test:8080", port: 443 },
    /^request\.host "other\.test:8080" is not a host name or address \(the port goes in request\.port\)$/,
  ],
  ["a URL in the host", { scheme: "https", host: "http://other.test/", port: 443 }, /is not a host name or address/],
  ["a space in the host", { scheme: "https", host: "other test", port: 443 }, /is not a host name or address/],
  ["a CRLF in the host", { scheme: "https", host: "a\r\nX-Injected: 1", port: 443 }, /^request\.host "a\\r\\nX-/],
  ["a host that is no string", { scheme: "https", host: 42, port: 443 }, /^request\.host "42" is not a string$/],
  ["a host of 300 letters", { scheme: "https", host: "a".repeat(300), port: 443 }, /"a{77}\.\.\."/],
  ["port 0", { scheme: "https", host: "origin.test", port: 0 }, /^request\.port "0" is not a port number/],
  ["port 65536", { scheme: "https", host: "origin.test", port: 65536 }, /not a port number \(1 to 65535\)$/],
  ["a port with a fraction", { scheme: "https", host: "origin.test", port: 80.5 }, /not a port number/],
  ["a port as a string", { scheme: "https", host: "origin.test", port: "8080" }, /not a port number/],
  ["NaN as the port", { scheme: "https", host: "origin.test", port: NaN }, /not a port number/],
  ["scheme ftp", { scheme: "ftp", host: "origin.test", port: 21 }, /^request\.scheme "ftp" is neither http nor https$/],
  ["no scheme", { scheme: undefined, host: "origin.test", port: 443 }, /^request\.scheme "undefined"/],
];
for (const [what, now, reason] of invalid) {
  test(`reroute: ${what} is refused with one line`, () => {
    const result = reroute(CHOSEN, now);
    assert.is(result.kind, "invalid");
    const text = (result as { reason: string }).reason;
    assert.match(text, reason);
    assert.not.match(text, /[\r\n]/);
  });
}

// ---------------------------------------------------------------- routes

const OWNER = {} as ServerOwner;

/** A pool like a ClientSession's: one connection per destination, recording how each was made. */
class FakeSource implements ServerSource {
  readonly made: Array<{ address: Address; tls: boolean; via: UpstreamProxy | undefined }> = [];
  private readonly pool = new Map<string, ServerConn>();
  constructor(private readonly upstream?: UpstreamProxy) {}
  serverFor(address: Address, tls: boolean, via?: UpstreamProxy): ServerConn {
    const key = `${address.host}:${address.port}:${tls}`;
    let conn = this.pool.get(key);
    if (!conn) {
      conn = new ServerConn(OWNER, address, tls, via);
      this.pool.set(key, conn);
      this.made.push({ address, tls, via });
    }
    return conn;
  }
  upstreamProxy(): UpstreamProxy | undefined {
    return this.upstream;
  }
  serverAlpn(): string[] {
    return ["http/1.1"];
  }
}

function tunnelRequest(scheme: "http" | "https" = "https"): Request {
  return new Request({ scheme, host: "origin.test", port: 443, path: "/", headers: [["Host", "origin.test"]] });
}

function inTunnel(source: FakeSource, request: Request): { route: ServerRoute; tunnel: ServerConn } {
  const tunnel = new ServerConn(OWNER, { host: "origin.test", port: 443 }, true);
  const route = ServerRoute.for({ session: source, tunnel: { server: tunnel, scheme: "https" } }, request, false);
  return { route, tunnel };
}

test("route: in a tunnel, a request left alone (or with only its Host header changed) stays on the tunnel's server", () => {
  const source = new FakeSource();
  const request = tunnelRequest();
  const { route, tunnel } = inTunnel(source, request);
  assert.is(route.conn, tunnel);
  request.headers.set("Host", "other.test");
  assert.is(route.forRequest(request), route);
  assert.is(source.made.length, 0);
});

test("route: in a tunnel, a new host goes to a pool connection for it, with TLS as the scheme says", () => {
  const source = new FakeSource();
  const request = tunnelRequest();
  const { route } = inTunnel(source, request);
  request.url = "http://127.0.0.1:34012/x";
  const next = route.forRequest(request) as ServerRoute;
  assert.ok(next instanceof ServerRoute);
  assert.equal(next.server.address, { host: "127.0.0.1", port: 34012 });
  assert.is(next.server.tls, false);
  assert.is(next.viaProxy, undefined);
  // The same destination again: the pooled connection.
  assert.is((route.forRequest(request) as ServerRoute).conn, next.conn);
  assert.is(source.made.length, 1);
});

test("route: an absolute-form request pointed at another https server gets its own TLS connection", () => {
  const source = new FakeSource();
  const request = new Request({ scheme: "http", host: "a.test", port: 80, path: "/" });
  const route = ServerRoute.for({ session: source }, request, false);
  assert.equal(route.server.address, { host: "a.test", port: 80 });
  request.scheme = "https";
  request.host = "b.test";
  request.port = 443;
  const next = route.forRequest(request) as ServerRoute;
  assert.equal(next.server.address, { host: "b.test", port: 443 });
  assert.is(next.server.tls, true);
});

test("route: upstream mode sends rerouted plain HTTP to the upstream proxy, https through a CONNECT to it", () => {
  const upstream: UpstreamProxy = { scheme: "http", host: "127.0.0.1", port: 3128 };
  const source = new FakeSource(upstream);
  const request = tunnelRequest();
  const { route } = inTunnel(source, request);
  request.url = "http://plain.test/x";
  const plain = route.forRequest(request) as ServerRoute;
  assert.is(plain.viaProxy, upstream);
  assert.equal(plain.server.address, { host: "127.0.0.1", port: 3128 });
  request.url = "https://secure.test/x";
  const secure = route.forRequest(request) as ServerRoute;
  assert.is(secure.viaProxy, undefined);
  assert.equal(secure.server.address, { host: "secure.test", port: 443 });
  assert.equal(source.made.at(-1), { address: { host: "secure.test", port: 443 }, tls: true, via: upstream });
});

test("route: a destination an addon cannot have meant is refused with the reason", () => {
  const source = new FakeSource();
  const request = tunnelRequest();
  const { route } = inTunnel(source, request);
  request.host = "other.test:8443";
  assert.match(route.forRequest(request) as string, /^request\.host "other\.test:8443" is not a host name/);
  assert.is(source.made.length, 0);
});

// ---------------------------------------------------------------- ALPN

const alpn: Array<[string, string[] | undefined, boolean, string[]]> = [
  ["a client without TLS", undefined, true, ["http/1.1"]],
  ["a client offering h2 and http/1.1", ["h2", "http/1.1"], true, ["h2", "http/1.1"]],
  ["the same with HTTP/2 off", ["h2", "http/1.1"], false, ["http/1.1"]],
  ["an HTTP/1.1 client (h2 added: the proxy translates)", ["http/1.1"], true, ["http/1.1", "h2"]],
  ["an HTTP/1.1 client with HTTP/2 off", ["http/1.1"], false, ["http/1.1"]],
  ["h2c is never offered", ["h2c", "http/1.1"], true, ["http/1.1", "h2"]],
  ["a TLS client without ALPN", [], true, []],
  ["other protocols pass", ["h2", "spdy/3"], true, ["h2", "spdy/3"]],
];
for (const [what, offers, h2, expected] of alpn) {
  test(`server ALPN: ${what}`, () => {
    assert.equal(serverAlpnOffers(offers, h2), expected);
  });
}

test.run();
