// Rerouting (issue 15): an addon that changes flow.request.url, host, port or
// scheme in requestheaders or request sends the request to the new server —
// absolute-form requests, CONNECT tunnels, HTTP/1 and HTTP/2 clients, in
// regular, upstream and reverse mode (transparent mode: transparent.test.ts).
// Every origin answers with a body only it sends, so each test sees which
// server actually answered; the log and the addon's view of flow.server are
// checked beside it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatAddress, type Addon, type HTTPFlow } from "@interloper/sdk";
import {
  curl,
  startInProcess,
  startOrigin,
  testConfdir,
  waitFor,
  type InProcessProxy,
  type Origin,
} from "../helpers/harness.ts";
import { WireClient, freePort } from "../helpers/clients.ts";
import { closeSession, h2Get, h2ViaProxy, startH2Origin, type H2Origin } from "../helpers/h2.ts";
import { startUpstreamProxy, type UpstreamProxy } from "../helpers/modes.ts";
import { WsClient, startWsOrigin } from "../helpers/ws.ts";

/** What the rerouting addon saw: each `serverConnect`'s address, and flow.server.address in `response`. */
interface Seen {
  serverConnect: string[];
  responseServer: string[];
}

/**
 * Reroutes as the request's `x-reroute-*` fields say (so one proxy serves every case): `url` (a whole
 * URL), `scheme`, `host`, `port`, each set as an addon would; `x-set-host` changes only the Host
 * header. In `request`, or in `requestheaders` when `x-reroute-in: requestheaders`.
 */
function rerouter(seen: Seen): Addon {
  const apply = (flow: HTTPFlow) => {
    const get = (name: string) => flow.request.headers.get(`x-reroute-${name}`) ?? undefined;
    const url = get("url");
    if (url) flow.request.url = url;
    const scheme = get("scheme");
    if (scheme) flow.request.scheme = scheme as "http" | "https";
    const host = get("host");
    if (host) flow.request.host = host;
    const port = get("port");
    if (port) flow.request.port = Number(port);
    const hostField = flow.request.headers.get("x-set-host");
    if (hostField) flow.request.headers.set("Host", hostField);
  };
  const early = (flow: HTTPFlow) => flow.request.headers.get("x-reroute-in") === "requestheaders";
  return {
    name: "rerouter",
    requestheaders: (flow) => void (early(flow) && apply(flow)),
    request: (flow) => void (!early(flow) && apply(flow)),
    serverConnect: (data) => void seen.serverConnect.push(formatAddress(data.server.address)),
    response: (flow) => void seen.responseServer.push(formatAddress(flow.server.address)),
  };
}

/** An origin whose answer names it: `NAME METHOD PATH host=HOST`, and an `x-origin` field. */
function named(name: string) {
  return (req: { method?: string; url?: string; headers: { host?: string } }, res: NodeResponse) => {
    res.setHeader("x-origin", name);
    res.end(`${name} ${req.method} ${req.url} host=${req.headers.host ?? ""}`);
  };
}
type NodeResponse = { setHeader(n: string, v: string): unknown; end(body: string): unknown };

let plainA: Origin;
let plainB: Origin;
let secureA: Origin;
let secureB: Origin;
/** A TLS origin whose certificate no one trusts. */
let untrusted: Origin;
/** An HTTP/2-only origin: a client tunnelling to it speaks h2 with the proxy. */
let h2origin: H2Origin;
/** The server names secureB's clients sent (SNI). */
const sniB: string[] = [];
const seen: Seen = { serverConnect: [], responseServer: [] };
let regular: InProcessProxy;
let proxyCa: string;

test.before(async () => {
  plainA = await startOrigin(named("plainA"));
  plainB = await startOrigin(named("plainB"));
  secureA = await startOrigin(named("secureA"), { tls: true });
  secureB = await startOrigin(named("secureB"), { tls: true });
  untrusted = await startOrigin(named("untrusted"), { tls: true, selfSigned: true });
  h2origin = await startH2Origin((req, res) => named("h2origin")(req, res));
  secureB.server.on("secureConnection", (s: tls.TLSSocket) => sniB.push(s.servername || "(none)"));
  regular = await startInProcess([rerouter(seen)]);
  proxyCa = join(testConfdir(), "interloper-ca-cert.pem");
});

test.after(async () => {
  await regular.stop();
  for (const o of [plainA, plainB, secureA, secureB, untrusted, h2origin]) await o.close();
});

function reset(): void {
  seen.serverConnect.length = 0;
  seen.responseServer.length = 0;
  sniB.length = 0;
}

/** curl through `proxy` with `fields` as request header fields; stdout as text. */
async function get(
  proxy: InProcessProxy,
  url: string,
  fields: string[] = [],
  extra: string[] = [],
): Promise<{ body: string; code: number | null; stderr: string }> {
  const r = await curl([
    "-x",
    `http://127.0.0.1:${proxy.port}`,
    "--cacert",
    proxyCa,
    ...fields.flatMap((f) => ["-H", f]),
    ...extra,
    url,
  ]);
  return { body: r.stdout.toString(), code: r.code, stderr: r.stderr };
}

/** Waits for a log line of `proxy` ending with `text`. */
function logged(proxy: InProcessProxy, text: string): Promise<unknown> {
  return waitFor(
    () => proxy.logs.some((e) => e.message.endsWith(text)),
    `a log line ending with ${JSON.stringify(text)}`,
  );
}

// ---------------------------------------------------------------- regular mode, absolute form

test("absolute form: url set in request goes to the other origin; serverConnect, flow.server and the log follow", async () => {
  reset();
  const before = plainA.requests.length;
  const r = await get(regular, `http://127.0.0.1:${plainA.port}/p`, [
    `x-reroute-url: http://127.0.0.1:${plainB.port}/moved?q=1`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.body, `plainB GET /moved?q=1 host=127.0.0.1:${plainB.port}`);
  assert.is(plainA.requests.length, before, "the first origin is never asked");
  const b = `127.0.0.1:${plainB.port}`;
  assert.equal(seen.serverConnect, [b]);
  assert.equal(seen.responseServer, [b]);
  await logged(regular, `server connect ${b}`);
  assert.not.ok(regular.logs.some((e) => e.message.endsWith(`server connect 127.0.0.1:${plainA.port}`)));
});

test("absolute form: port alone, set in requestheaders, reroutes (the Host header is left as it was)", async () => {
  reset();
  const r = await get(regular, `http://127.0.0.1:${plainA.port}/p`, [
    `x-reroute-port: ${plainB.port}`,
    "x-reroute-in: requestheaders",
  ]);
  assert.is(r.body, `plainB GET /p host=127.0.0.1:${plainA.port}`);
  assert.equal(seen.responseServer, [`127.0.0.1:${plainB.port}`]);
});

test("absolute form: http to https — TLS to the new server, SNI its name, its certificate verified", async () => {
  reset();
  const r = await get(regular, `http://127.0.0.1:${plainA.port}/p`, [
    `x-reroute-url: https://localhost:${secureB.port}/secure`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.body, `secureB GET /secure host=localhost:${secureB.port}`);
  assert.equal(sniB, ["localhost"]);
  assert.equal(seen.responseServer, [`localhost:${secureB.port}`]);
});

test("only the Host header changed: no reroute (as in mitmproxy)", async () => {
  reset();
  const r = await get(regular, `http://127.0.0.1:${plainA.port}/p`, [`x-set-host: 127.0.0.1:${plainB.port}`]);
  assert.is(r.body, `plainA GET /p host=127.0.0.1:${plainB.port}`);
  assert.equal(seen.responseServer, [`127.0.0.1:${plainA.port}`]);
});

// ---------------------------------------------------------------- regular mode, CONNECT tunnels

test("tunnel to an https origin, rerouted to a plain http origin (https to http)", async () => {
  reset();
  const r = await get(regular, `https://localhost:${secureA.port}/p`, [
    `x-reroute-url: http://127.0.0.1:${plainB.port}/plain`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.body, `plainB GET /plain host=127.0.0.1:${plainB.port}`);
  assert.ok(seen.responseServer.includes(`127.0.0.1:${plainB.port}`), seen.responseServer.join());
  await logged(regular, `server connect 127.0.0.1:${plainB.port}`);
});

test("tunnel to an https origin, rerouted to another https origin: its SNI, its certificate", async () => {
  reset();
  const r = await get(regular, `https://127.0.0.1:${secureA.port}/p`, [
    `x-reroute-host: localhost`,
    `x-reroute-port: ${secureB.port}`,
  ]);
  assert.is(r.code, 0, r.stderr);
  // The host setter renamed the Host header, as mitmproxy's does (the value as given, no port).
  assert.is(r.body, `secureB GET /p host=localhost`);
  assert.equal(sniB, ["localhost"]);
  assert.equal(seen.responseServer, [`localhost:${secureB.port}`]);
});

test("tunnel: the scheme alone (with the port) takes the request to a plain server", async () => {
  reset();
  const r = await get(regular, `https://127.0.0.1:${secureA.port}/p`, [
    "x-reroute-scheme: http",
    `x-reroute-port: ${plainB.port}`,
  ]);
  assert.is(r.body, `plainB GET /p host=127.0.0.1:${secureA.port}`);
});

test("tunnel: a later request that does not reroute still reaches the tunnel's server, on the same tunnel", async () => {
  reset();
  const clientsBefore = regular.logs.filter((e) => e.message.endsWith("client connect")).length;
  const r = await curl([
    "-x",
    `http://127.0.0.1:${regular.port}`,
    "--cacert",
    proxyCa,
    "-w",
    " connects=%{num_connects}\n",
    "-H",
    `x-reroute-url: http://127.0.0.1:${plainB.port}/first`,
    `https://localhost:${secureA.port}/first`,
    "--next",
    "-x",
    `http://127.0.0.1:${regular.port}`,
    "--cacert",
    proxyCa,
    "-w",
    " connects=%{num_connects}\n",
    `https://localhost:${secureA.port}/second`,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(
    r.stdout.toString(),
    `plainB GET /first host=127.0.0.1:${plainB.port} connects=1\n` +
      `secureA GET /second host=localhost:${secureA.port} connects=0\n`,
  );
  const clientsAfter = regular.logs.filter((e) => e.message.endsWith("client connect")).length;
  assert.is(clientsAfter - clientsBefore, 1, "one client connection for both requests");
  assert.equal(seen.responseServer, [`127.0.0.1:${plainB.port}`, `localhost:${secureA.port}`]);
});

test("tunnel: the new server's certificate is verified — an untrusted one is a 502 with the reason", async () => {
  reset();
  const r = await get(
    regular,
    `https://localhost:${secureA.port}/p`,
    [`x-reroute-url: https://localhost:${untrusted.port}/p`],
    ["-i"],
  );
  assert.is(r.code, 0, r.stderr);
  // curl -i prints the proxy's answer to CONNECT first.
  assert.match(r.body, /\r\n\r\nHTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.match(r.body, /certificate verify failed/);
  assert.not.match(r.body, /untrusted GET/);
});

test("a new server that refuses the connection: 502 and the error lines, as for any other server", async () => {
  reset();
  const port = await freePort();
  const r = await get(
    regular,
    `https://localhost:${secureA.port}/p`,
    [`x-reroute-url: http://127.0.0.1:${port}/x`],
    ["-i"],
  );
  // curl -i prints the proxy's answer to CONNECT first.
  assert.match(r.body, /\r\n\r\nHTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.match(r.body, /error establishing server connection: Connection refused\n$/);
  await logged(regular, "error establishing server connection: Connection refused");
  await waitFor(
    () => regular.lines.some((l) => l.includes("<< error establishing server connection: Connection refused")),
    "the flow's error line",
  );
  assert.ok(seen.serverConnect.includes(`127.0.0.1:${port}`), seen.serverConnect.join());
});

test("a destination no server can have (host:port in the host) is a 502 that says so", async () => {
  reset();
  const r = await get(
    regular,
    `http://127.0.0.1:${plainA.port}/p`,
    [`x-reroute-host: localhost:${plainB.port}`],
    ["-i"],
  );
  assert.match(r.body, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.match(
    r.body,
    /request\.host "localhost:\d+" is not a host name or address \(the port goes in request\.port\)/,
  );
  assert.equal(seen.serverConnect, []);
});

test("pipelined requests: rerouted and not, each answered by its server, in the order sent", async () => {
  reset();
  const client = await WireClient.connect(regular.port);
  try {
    const a = `127.0.0.1:${plainA.port}`;
    const request = (path: string, field = "") => `GET http://${a}${path} HTTP/1.1\r\nHost: ${a}\r\n${field}\r\n`;
    const toB = `x-reroute-url: http://127.0.0.1:${plainB.port}/b\r\n`;
    client.write(request("/1", toB) + request("/2") + request("/3", toB) + request("/4"));
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await client.readResponse()).body.toString());
    const b = `127.0.0.1:${plainB.port}`;
    assert.equal(bodies, [
      `plainB GET /b host=${b}`,
      `plainA GET /2 host=${a}`,
      `plainB GET /b host=${b}`,
      `plainA GET /4 host=${a}`,
    ]);
  } finally {
    client.destroy();
  }
});

// ---------------------------------------------------------------- HTTP/2 clients

test("HTTP/2 client (curl --http2 through a tunnel): rerouted to an HTTP/1 origin and to an https origin", async () => {
  reset();
  const toPlain = await get(
    regular,
    `https://localhost:${h2origin.port}/p`,
    [`x-reroute-url: http://127.0.0.1:${plainB.port}/from-h2`],
    ["--http2", "-w", " %{http_version}"],
  );
  assert.is(toPlain.code, 0, toPlain.stderr);
  assert.is(toPlain.body, `plainB GET /from-h2 host=127.0.0.1:${plainB.port} 2`);
  const toSecure = await get(
    regular,
    `https://localhost:${h2origin.port}/p`,
    [`x-reroute-url: https://localhost:${secureB.port}/from-h2`],
    ["--http2", "-w", " %{http_version}"],
  );
  assert.is(toSecure.body, `secureB GET /from-h2 host=localhost:${secureB.port} 2`);
  assert.equal(sniB, ["localhost"]);
});

test("HTTP/1.1 client rerouted to an HTTP/2-only origin: the new connection offers h2 (the proxy translates)", async () => {
  reset();
  const r = await get(
    regular,
    `https://localhost:${secureA.port}/p`,
    [`x-reroute-url: https://localhost:${h2origin.port}/to-h2`],
    ["--http1.1", "-w", " %{http_version}"],
  );
  assert.is(r.code, 0, r.stderr);
  assert.match(r.body, /^h2origin GET \/to-h2 host=.* 1\.1$/);
  assert.equal(seen.responseServer, [`localhost:${h2origin.port}`]);
});

test("HTTP/2 client: many streams at once, some rerouted to one HTTP/1 origin, the rest to the tunnel's server", async () => {
  const { session } = await h2ViaProxy(regular.port, `localhost:${h2origin.port}`, readFileSync(proxyCa, "utf8"));
  try {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        h2Get(session, {
          ":path": `/s${i}`,
          ...(i % 2 === 0 ? { "x-reroute-url": `http://127.0.0.1:${plainB.port}/s${i}` } : {}),
        }),
      ),
    );
    results.forEach((res, i) => {
      const expected = i % 2 === 0 ? `plainB GET /s${i} host=127.0.0.1:${plainB.port}` : `h2origin GET /s${i} host=`;
      assert.is(res.body.toString().slice(0, expected.length), expected, `stream ${i}`);
    });
  } finally {
    await closeSession(session);
  }
});

// ---------------------------------------------------------------- upstream and reverse mode

test("upstream mode: plain http goes to the upstream proxy in absolute form, https through a CONNECT to it", async () => {
  const up: UpstreamProxy = await startUpstreamProxy();
  const viaUp = await startInProcess([rerouter(seen)], { mode: [`upstream:http://127.0.0.1:${up.port}`] });
  try {
    reset();
    const plain = await get(viaUp, `http://127.0.0.1:${plainA.port}/p`, [
      `x-reroute-url: http://127.0.0.1:${plainB.port}/up`,
    ]);
    assert.is(plain.body, `plainB GET /up host=127.0.0.1:${plainB.port}`);
    assert.ok(
      up.records.some((r) => r.kind === "request" && r.target === `http://127.0.0.1:${plainB.port}/up`),
      JSON.stringify(up.records.map((r) => r.target)),
    );
    const secure = await get(viaUp, `http://127.0.0.1:${plainA.port}/p`, [
      `x-reroute-url: https://localhost:${secureB.port}/up`,
    ]);
    assert.is(secure.code, 0, secure.stderr);
    assert.is(secure.body, `secureB GET /up host=localhost:${secureB.port}`);
    assert.ok(up.records.some((r) => r.kind === "connect" && r.target === `localhost:${secureB.port}`));
    assert.equal(sniB, ["localhost"]);
    // Inside a tunnel (itself through the upstream proxy), to a plain origin: absolute form to the proxy.
    const fromTunnel = await get(viaUp, `https://localhost:${secureA.port}/t`, [
      `x-reroute-url: http://127.0.0.1:${plainB.port}/from-tunnel`,
    ]);
    assert.is(fromTunnel.body, `plainB GET /from-tunnel host=127.0.0.1:${plainB.port}`);
    assert.ok(up.records.some((r) => r.target === `http://127.0.0.1:${plainB.port}/from-tunnel`));
  } finally {
    await viaUp.stop();
    await up.close();
  }
});

test("reverse mode: a request for the fixed target is sent to the server the addon names", async () => {
  const reverse = await startInProcess([rerouter(seen)], { mode: [`reverse:http://127.0.0.1:${plainA.port}`] });
  try {
    reset();
    const direct = await curl([`http://127.0.0.1:${reverse.port}/p`]);
    assert.is(direct.stdout.toString(), `plainA GET /p host=127.0.0.1:${plainA.port}`);
    const moved = await curl([
      "-H",
      `x-reroute-url: https://localhost:${secureB.port}/r`,
      `http://127.0.0.1:${reverse.port}/p`,
    ]);
    assert.is(moved.code, 0, moved.stderr);
    assert.is(moved.stdout.toString(), `secureB GET /r host=localhost:${secureB.port}`);
    assert.equal(sniB, ["localhost"]);
    await logged(reverse, `server connect localhost:${secureB.port} (127.0.0.1:${secureB.port})`);
  } finally {
    await reverse.stop();
  }
});

test("WebSocket: an Upgrade request rerouted (to a plain and to a TLS origin) opens there; messages go both ways", async () => {
  const wsPlain = await startWsOrigin();
  const wsSecure = await startWsOrigin({ tls: true });
  const reverse = await startInProcess([rerouter(seen)], { mode: [`reverse:http://127.0.0.1:${plainA.port}`] });
  try {
    for (const [origin, url] of [
      [wsPlain, `http://127.0.0.1:${wsPlain.port}/chat`],
      [wsSecure, `https://localhost:${wsSecure.port}/chat`],
    ] as const) {
      reset();
      const client = await WsClient.open(`ws://127.0.0.1:${reverse.port}/ws`, {
        headers: { "x-reroute-url": url },
      });
      try {
        client.send("hello");
        const [echo] = await client.waitMessages(1);
        assert.is(echo!.data.toString(), "hello");
        assert.equal(
          origin.handshakes.map((h) => h.url),
          ["/chat"],
        );
        assert.equal(seen.serverConnect.at(-1), formatAddress({ host: new URL(url).hostname, port: origin.port }));
      } finally {
        client.ws.terminate();
      }
    }
  } finally {
    await reverse.stop();
    await wsPlain.close();
    await wsSecure.close();
  }
});

test.run();
