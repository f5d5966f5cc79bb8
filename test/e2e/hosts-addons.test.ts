// Host ignoring and addons, in-process (SEMANTICS.md §1 "Hooks" and
// "Errors"): user addons run before the built-in `hosts` addon and it never
// overrides their decision; an addon named `hosts` replaces it; options change
// at run time; the SDK's `decideHosts` is usable by addons.
import { X509Certificate } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  compileHostPatterns,
  decideHosts,
  describeDecision,
  type Addon,
  type ClientConnection,
  type NextLayerData,
  type TlsClienthelloData,
} from "@interloper/sdk";
import { Hosts } from "../../addons/hosts.ts";
import {
  originCa,
  startInProcess,
  startOrigin,
  testConfdir,
  waitFor,
  type InProcessProxy,
  type Origin,
} from "../helpers/harness.ts";
import {
  destroyClients,
  exchange,
  getRequest,
  openTunnel,
  pem,
  readToEnd,
  readUntil,
  startRawOrigin,
  tlsDirect,
  tlsThroughTunnel,
  type RawOrigin,
} from "../helpers/tunnel.ts";
import { join } from "node:path";

const NAMES = ["other.test", "keep.test", "force.test", "mine.test", "special.test", "plain.test"];

let origin: Origin;
let raw: RawOrigin;
let originCaPem: string;
let originCaFp: string;
let originLeafFp: string;
let proxyCaPem: string | undefined;
let proxyCaFp: string | undefined;

const RAW_REPLY = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Raw: 1\r\n\r\nraw";

test.before(async () => {
  const ca = await originCa();
  originCaPem = pem(ca.caFile);
  originCaFp = new X509Certificate(originCaPem).fingerprint256;
  origin = await startOrigin((req, res) => res.end(`hello ${req.headers.host ?? ""} ${req.url}`), {
    tls: true,
    names: NAMES,
  });
  const direct = await tlsDirect(origin.port, { servername: "localhost", ca: [originCaPem] });
  direct.socket.destroy();
  assert.ok(direct.authorized, direct.authorizationError);
  originLeafFp = direct.fingerprint;
  // A clear-text origin that records bytes and answers every request head once.
  raw = await startRawOrigin((socket, received) => {
    let answered = 0;
    socket.on("data", () => {
      const heads = received().toString("latin1").split("\r\n\r\n").length - 1;
      for (; answered < heads; answered++) socket.write(RAW_REPLY);
    });
    socket.on("end", () => socket.end());
  });
});

test.after(async () => {
  destroyClients();
  await origin?.close();
  await raw?.close();
});

/** Records which hooks fired, per client port. */
function hookRecorder(): { addon: Addon; hooks(lp: number): string[] } {
  const seen = new Map<number, string[]>();
  const rec = (client: ClientConnection, hook: string) => {
    const list = seen.get(client.peername.port) ?? [];
    list.push(hook);
    seen.set(client.peername.port, list);
  };
  const addon: Addon = {
    name: "recorder",
    tlsClienthello: (d) => rec(d.client, "tlsClienthello"),
    tlsStartClient: (d) => rec(d.client, "tlsStartClient"),
    tlsEstablishedClient: (d) => rec(d.client, "tlsEstablishedClient"),
    tlsStartServer: (d) => rec(d.client, "tlsStartServer"),
    requestheaders: (f) => rec(f.client, "requestheaders"),
    request: (f) => rec(f.client, "request"),
    response: (f) => rec(f.client, "response"),
    tcpStart: (f) => rec(f.client, "tcpStart"),
    tcpMessage: (f) => rec(f.client, "tcpMessage"),
  };
  return { addon, hooks: (lp) => seen.get(lp) ?? [] };
}

async function start(addons: Addon[], options: Record<string, unknown> = {}): Promise<InProcessProxy> {
  // showhost: request lines name the host (Host header) the tests expect, not the tunnel's address.
  const p = await startInProcess(addons, { termlogVerbosity: "debug", showhost: true, ...options });
  if (!proxyCaPem) {
    proxyCaPem = pem(join(testConfdir(), "interloper-ca-cert.pem"));
    proxyCaFp = new X509Certificate(proxyCaPem).fingerprint256;
    assert.is.not(proxyCaFp, originCaFp);
  }
  return p;
}

function linesOf(p: InProcessProxy, lp: number): string[] {
  const prefix = `127.0.0.1:${lp}: `;
  return p.lines.filter(
    (l) =>
      l.startsWith(prefix) ||
      l.startsWith(`[hosts] ${prefix}`) ||
      l.includes(`127.0.0.1:${lp} -> tcp`) ||
      l.includes(`127.0.0.1:${lp} <- tcp`),
  );
}

async function waitGone(p: InProcessProxy, lp: number): Promise<string[]> {
  await waitFor(
    () => p.lines.includes(`127.0.0.1:${lp}: client disconnect`),
    `client ${lp} disconnect in:\n${p.lines.join("\n")}`,
  );
  await waitFor(
    () => p.lines.some((l) => l.startsWith(`127.0.0.1:${lp}: server disconnect `)),
    `server disconnect of ${lp} in:\n${p.lines.join("\n")}`,
  );
  return linesOf(p, lp);
}

const REQUEST_LINE = /^127\.0\.0\.1:\d+: [A-Z]+ \S+/;

interface Probe {
  lp: number;
  originCert: boolean;
  proxyCert: boolean;
  body: string;
  lines: string[];
}

/** CONNECT 127.0.0.1:origin, TLS with `sni`, one GET; the client's log lines. */
async function probe(
  p: InProcessProxy,
  sni: string | undefined,
  authority = `127.0.0.1:${origin.port}`,
): Promise<Probe> {
  const t = await tlsThroughTunnel(p.port, authority, { servername: sni, ca: [originCaPem, proxyCaPem!] });
  let body: string;
  try {
    assert.ok(t.authorized, t.authorizationError);
    body = (await exchange(t.socket, getRequest(sni ?? authority, "/x"))).body.toString();
  } finally {
    t.socket.destroy();
  }
  const lp = t.tunnel.localPort;
  const lines = await waitGone(p, lp);
  const originCert = t.fingerprint === originLeafFp && t.issuerFingerprint === originCaFp;
  const proxyCert = t.issuerFingerprint === proxyCaFp;
  assert.ok(originCert !== proxyCert, JSON.stringify(t));
  return { lp, originCert, proxyCert, body, lines };
}

function expectIgnored(r: Probe, what: string): void {
  assert.ok(r.originCert, `${what}: ignored, the origin's own certificate`);
  assert.match(r.body, /^hello /, what);
  assert.equal(
    r.lines.filter((l) => REQUEST_LINE.test(l)),
    [],
    `${what}: no request line:\n${r.lines.join("\n")}`,
  );
  assert.ok(
    r.lines.some((l) => l.startsWith(`127.0.0.1:${r.lp}: server connect `)),
    r.lines.join("\n"),
  );
}

function expectIntercepted(r: Probe, url: string, what: string): void {
  assert.ok(r.proxyCert, `${what}: intercepted, the proxy's certificate; log:\n${r.lines.join("\n")}`);
  assert.match(r.body, /^hello /, what);
  assert.ok(
    r.lines.includes(`127.0.0.1:${r.lp}: GET ${url}`),
    `${what}: request line GET ${url}:\n${r.lines.join("\n")}`,
  );
}

function sniOf(data: NextLayerData): string | undefined {
  const h = data.clientHello;
  return h && h !== "incomplete" ? h.sni : undefined;
}

/** A clear-text request through a CONNECT tunnel to the raw origin, with Host `host`. */
async function plainProbe(
  p: InProcessProxy,
  host: string,
): Promise<{ lp: number; lines: string[]; reply: string; sent: string; got: string }> {
  const before = raw.connections();
  const t = await openTunnel(p.port, `127.0.0.1:${raw.port}`);
  const sent = `GET /plain HTTP/1.1\r\nHost: ${host}\r\nX-Probe: 1\r\n\r\n`;
  t.socket.write(sent);
  const reply = (await readUntil(t.socket, (b) => b.includes("\r\n\r\nraw"), "the raw origin's reply")).toString(
    "latin1",
  );
  t.socket.end();
  await readToEnd(t.socket);
  const lines = await waitGone(p, t.localPort);
  return { lp: t.localPort, lines, reply, sent, got: raw.bytes(before).toString("latin1") };
}

// ---------------------------------------------------------------------------

test("a user addon sets ignoreConnection in tlsClienthello: passthrough with the origin's certificate, no flow hooks", async () => {
  const rec = hookRecorder();
  const skipOther: Addon = {
    name: "skip-other",
    tlsClienthello(data: TlsClienthelloData) {
      if (data.clientHello.sni === "other.test") data.ignoreConnection = true;
    },
  };
  const p = await start([rec.addon, skipOther]);
  try {
    const other = await probe(p, "other.test");
    expectIgnored(other, "other.test");
    assert.equal(rec.hooks(other.lp), ["tlsClienthello"], "an ignored connection fires no TLS/HTTP/TCP flow hooks");

    const keep = await probe(p, "keep.test");
    expectIntercepted(keep, `https://keep.test:${origin.port}/x`, "keep.test");
    for (const h of ["tlsClienthello", "tlsStartClient", "requestheaders", "request", "response"])
      assert.ok(rec.hooks(keep.lp).includes(h), `${h} in ${rec.hooks(keep.lp)}`);
  } finally {
    await p.stop();
  }
});

test("a user addon's nextLayer ignoreConnection=false overrides an ignore pattern: the built-in never overrides an earlier decision", async () => {
  const rec = hookRecorder();
  const force: Addon = {
    name: "force",
    nextLayer(data: NextLayerData) {
      if (sniOf(data) === "force.test" || data.client.sni === "force.test" || data.hostHeader === "force.test")
        data.ignoreConnection = false;
    },
  };
  const p = await start([rec.addon, force], { ignoreHosts: [".*"] });
  try {
    // Clear text: decided on the Host header.
    const forced = await plainProbe(p, "force.test");
    assert.ok(
      forced.lines.includes(`127.0.0.1:${forced.lp}: GET http://force.test:${raw.port}/plain`),
      `forced: intercepted:\n${forced.lines.join("\n")}`,
    );
    const ignored = await plainProbe(p, "plain.test");
    assert.equal(
      ignored.lines.filter((l) => REQUEST_LINE.test(l)),
      [],
      ignored.lines.join("\n"),
    );
    assert.is(ignored.got, ignored.sent, "ignored: the origin got the client's bytes unchanged");
    assert.is(ignored.reply, RAW_REPLY);

    // TLS: decided on the SNI.
    const other = await probe(p, "other.test");
    expectIgnored(other, "other.test with '.*'");
    assert.equal(rec.hooks(other.lp), [], "ignored by the options: not even tlsClienthello fires");
    const tlsForced = await probe(p, "force.test");
    expectIntercepted(
      tlsForced,
      `https://force.test:${origin.port}/x`,
      "force.test (nextLayer said false before the built-in)",
    );
  } finally {
    await p.stop();
  }
});

test("a user addon named 'hosts' replaces the built-in (its rules apply, the options no longer decide); removing it brings the built-in back", async () => {
  const p = await start([], { ignoreHosts: [`^localhost:${origin.port}$`] });
  const userHosts: Addon = {
    name: "hosts",
    nextLayer(data: NextLayerData) {
      if (data.ignoreConnection !== undefined) return;
      if (data.clientHello === "incomplete" && !data.final) {
        data.needMoreData = true;
        return;
      }
      if (sniOf(data) === "mine.test") data.ignoreConnection = true;
    },
  };
  try {
    expectIgnored(await probe(p, "localhost", `localhost:${origin.port}`), "built-in: localhost ignored by the option");
    expectIntercepted(await probe(p, "mine.test"), `https://mine.test:${origin.port}/x`, "built-in: mine.test");

    await p.proxy.host.add(userHosts);
    assert.ok(p.proxy.host.chain.includes(userHosts));
    assert.not.ok(
      p.proxy.host.chain.some((a) => a instanceof Hosts),
      "the built-in hosts addon is out of the chain",
    );
    expectIntercepted(
      await probe(p, "localhost", `localhost:${origin.port}`),
      `https://localhost:${origin.port}/x`,
      "user hosts: the option no longer decides",
    );
    expectIgnored(await probe(p, "mine.test"), "user hosts: its rule");

    // Options changed meanwhile reach the built-in when it comes back.
    await p.proxy.host.setOptions({ ignoreHosts: [`^other\\.test:${origin.port}$`] });
    expectIntercepted(await probe(p, "other.test"), `https://other.test:${origin.port}/x`, "user hosts: other.test");

    await p.proxy.host.remove(userHosts);
    assert.ok(
      p.proxy.host.chain.some((a) => a instanceof Hosts),
      "the built-in is back",
    );
    expectIgnored(await probe(p, "other.test"), "built-in back, with the option set meanwhile");
    expectIntercepted(await probe(p, "mine.test"), `https://mine.test:${origin.port}/x`, "built-in back: mine.test");
    expectIntercepted(
      await probe(p, "localhost", `localhost:${origin.port}`),
      `https://localhost:${origin.port}/x`,
      "built-in back: the old value is gone",
    );
  } finally {
    await p.stop();
  }
});

test("ignoreHosts changed at run time applies to new connections; an invalid pattern is refused and the old value stays", async () => {
  const p = await start([]);
  try {
    expectIntercepted(await probe(p, "other.test"), `https://other.test:${origin.port}/x`, "no patterns");

    await p.proxy.host.setOptions({ ignoreHosts: [`^other\\.test:`] });
    const ignored = await probe(p, "other.test");
    expectIgnored(ignored, "after setOptions");
    assert.ok(
      ignored.lines.includes(
        `[hosts] 127.0.0.1:${ignored.lp}: ignoring connection: '^other\\.test:' matched 'other.test:${origin.port}' (sni)`,
      ),
      ignored.lines.join("\n"),
    );

    let err: unknown;
    try {
      await p.proxy.host.setOptions({ ignoreHosts: ["(unclosed"] });
    } catch (e) {
      err = e;
    }
    assert.instance(err, Error, "an invalid pattern is refused");
    assert.match((err as Error).message, /^invalid --ignore-hosts pattern '\(unclosed': \S/);
    assert.equal(p.proxy.host.options.get("ignoreHosts"), [`^other\\.test:`], "the old value stays");
    expectIgnored(await probe(p, "other.test"), "old rules still active");

    let err2: unknown;
    try {
      await p.proxy.host.setOptions({ allowHosts: ["ok", "[z-a]"] });
    } catch (e) {
      err2 = e;
    }
    assert.match((err2 as Error)?.message ?? "", /^invalid --allow-hosts pattern '\[z-a\]': \S/);
    assert.equal(p.proxy.host.options.get("allowHosts"), []);
    expectIntercepted(
      await probe(p, "keep.test"),
      `https://keep.test:${origin.port}/x`,
      "allowHosts refused: still empty",
    );

    await p.proxy.host.setOptions({ ignoreHosts: [] });
    expectIntercepted(await probe(p, "other.test"), `https://other.test:${origin.port}/x`, "patterns removed again");
  } finally {
    await p.stop();
  }
});

test("decideHosts exported by the SDK, used by a user addon with its own inputs and patterns", async () => {
  // Judge the SNI as if every connection were on port 443, with the addon's own list.
  const rules = { allow: [], ignore: compileHostPatterns(["^special\\.test:443$"], "--special") };
  const decisions: string[] = [];
  const special: Addon = {
    name: "special",
    nextLayer(data: NextLayerData) {
      if (data.ignoreConnection !== undefined) return;
      const d = decideHosts(rules, {
        destination: { host: data.server.address.host, port: 443 },
        clientHello: data.clientHello,
        final: data.final,
      });
      if (d.action === "wait") {
        data.needMoreData = true;
        return;
      }
      decisions.push(describeDecision(d));
      if (d.action === "ignore") data.ignoreConnection = true;
    },
  };
  const p = await start([special]);
  try {
    expectIgnored(await probe(p, "special.test"), "special.test judged as :443");
    expectIntercepted(await probe(p, "other.test"), `https://other.test:${origin.port}/x`, "other.test");
    assert.ok(
      decisions.includes("ignoring connection: '^special\\.test:443$' matched 'special.test:443' (sni)"),
      decisions.join("\n"),
    );
    assert.ok(
      decisions.some((d) =>
        d.startsWith(
          "intercepting connection: no --ignore-hosts pattern matched '127.0.0.1:443' (destination), 'other.test:443' (sni)",
        ),
      ),
      decisions.join("\n"),
    );
  } finally {
    await p.stop();
  }
});

test("the decision after TLS was terminated has the outer SNI as a candidate (5): an addon forces interception of the outer stage only", async () => {
  const outerOnly: Addon = {
    name: "outer-only",
    nextLayer(data: NextLayerData) {
      if (data.stage === "outer" && sniOf(data) === "force.test") data.ignoreConnection = false;
    },
  };
  const p = await start([outerOnly], { ignoreHosts: [`^force\\.test:${origin.port}$`] });
  try {
    // Host header without the name: only the outer SNI can match at the inner decision.
    const t = await tlsThroughTunnel(p.port, `127.0.0.1:${origin.port}`, {
      servername: "force.test",
      ca: [originCaPem, proxyCaPem!],
    });
    let body: string;
    try {
      body = (await exchange(t.socket, getRequest(`127.0.0.1:${origin.port}`, "/inner"))).body.toString();
    } finally {
      t.socket.destroy();
    }
    const lp = t.tunnel.localPort;
    const lines = await waitGone(p, lp);
    assert.is(
      t.issuerFingerprint,
      proxyCaFp,
      `outer stage intercepted: TLS terminated by the proxy; log:\n${lines.join("\n")}`,
    );
    assert.is(body, `hello 127.0.0.1:${origin.port} /inner`);
    assert.ok(
      lines.includes(
        `[hosts] 127.0.0.1:${lp}: ignoring connection: '^force\\.test:${origin.port}$' matched 'force.test:${origin.port}' (outer-sni)`,
      ),
      lines.join("\n"),
    );
    assert.equal(
      lines.filter((l) => REQUEST_LINE.test(l)),
      [],
      "the inner connection is passed through: no request line",
    );
  } finally {
    await p.stop();
  }
});

test("tcpHosts in-process: a TCP flow with tcpStart, tcpMessage and tcpEnd; an ignored one fires none of them", async () => {
  const rec = hookRecorder();
  const ends: number[] = [];
  const endRec: Addon = { name: "tcp-end", tcpEnd: (f) => void ends.push(f.client.peername.port) };
  const echo = await startRawOrigin((socket) => {
    socket.on("data", (c: Buffer) => socket.write(c));
    socket.on("end", () => socket.end());
  });
  const p = await start([rec.addon, endRec], { tcpHosts: ["^127\\.0\\.0\\.1$"] });
  try {
    const t = await openTunnel(p.port, `127.0.0.1:${echo.port}`);
    t.socket.write("hello tcp\n");
    assert.is((await readUntil(t.socket, (b) => b.includes("\n"), "echo")).toString(), "hello tcp\n");
    t.socket.end();
    await readToEnd(t.socket);
    const lines = await waitGone(p, t.localPort);
    assert.ok(lines.includes(`127.0.0.1:${t.localPort} -> tcp -> 127.0.0.1:${echo.port}`), lines.join("\n"));
    await waitFor(() => ends.includes(t.localPort), "tcpEnd");
    assert.ok(rec.hooks(t.localPort).includes("tcpStart"));
    assert.ok(rec.hooks(t.localPort).includes("tcpMessage"));

    await p.proxy.host.setOptions({ ignoreHosts: [`:${echo.port}$`] });
    const u = await openTunnel(p.port, `127.0.0.1:${echo.port}`);
    u.socket.write("hello again\n");
    assert.is((await readUntil(u.socket, (b) => b.includes("\n"), "echo")).toString(), "hello again\n");
    u.socket.end();
    await readToEnd(u.socket);
    const lines2 = await waitGone(p, u.localPort);
    assert.equal(rec.hooks(u.localPort), [], "ignored: no TCP flow hooks");
    assert.not.ok(ends.includes(u.localPort));
    assert.not.ok(
      lines2.some((l) => l.includes(" tcp ")),
      lines2.join("\n"),
    );
  } finally {
    await p.stop();
    await echo.close();
  }
});

test.run();
