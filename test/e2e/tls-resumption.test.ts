// TLS session resumption towards servers: a second connection to the same
// server resumes the session of the first (what the origin sees), the client
// still gets a leaf with the upstream certificate's names, addons still see
// the server's certificate, and a session is never resumed where it would
// skip a check: another SNI, or verification switched back on after
// ssl_insecure.
import type * as tls from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon, TlsData } from "@interloper/sdk";
import { startInProcess, startOrigin, type Origin } from "../helpers/harness.ts";
import { WireClient, openTunnel, proxyCaPem, tlsOver } from "../helpers/clients.ts";
import { testConfdir } from "../helpers/harness.ts";

/** Records, per TLS connection the origin accepted, whether it was a resumed session. */
function resumptions(origin: Origin): boolean[] {
  const seen: boolean[] = [];
  origin.server.on("secureConnection", (s: tls.TLSSocket) => seen.push(s.isSessionReused()));
  return seen;
}

/** CONNECT, TLS with the proxy (verified against its CA), one GET; returns the status, body and the leaf's SANs. */
async function fetchThrough(
  port: number,
  confdir: string,
  authority: string,
  servername: string,
): Promise<{ status: number; body: string; sans: string }> {
  const tunnel = await openTunnel(port, authority);
  assert.is(tunnel.status, 200, tunnel.head);
  const t = await tlsOver(tunnel.socket, { servername, ca: proxyCaPem(confdir) });
  try {
    const sans = t.getPeerCertificate().subjectaltname ?? "";
    const c = new WireClient(t);
    c.write(`GET /r HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    const r = await c.readResponse();
    return { status: r.status, body: r.body.toString(), sans };
  } finally {
    t.destroy();
  }
}

function certificateRecorder(): { addon: Addon; lists: string[][]; names: string[] } {
  const lists: string[][] = [];
  const names: string[] = [];
  return {
    lists,
    names,
    addon: {
      name: "cert-recorder",
      tlsEstablishedServer(data: TlsData) {
        lists.push(data.server.certificateList ?? []);
      },
    },
  };
}

test("a second connection to the same server resumes the TLS session; the leaf and certificateList are those of the full handshake", async () => {
  const origin = await startOrigin((_req, res) => res.end("resumed?"), { tls: true, names: ["extra.resume.test"] });
  const seen = resumptions(origin);
  const rec = certificateRecorder();
  const confdir = testConfdir();
  const p = await startInProcess([rec.addon], { confdir });
  try {
    const first = await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost");
    const second = await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost");
    assert.is(first.status, 200);
    assert.is(second.status, 200);
    assert.is(second.body, "resumed?");
    assert.equal(seen, [false, true], "the origin saw a full handshake, then a resumed one");
    // upstream_cert: the origin's extra name is in both leaves, though the resumed handshake carried no certificate.
    assert.ok(first.sans.includes("DNS:extra.resume.test"), first.sans);
    assert.ok(second.sans.includes("DNS:extra.resume.test"), second.sans);
    assert.is(rec.lists.length, 2);
    assert.is(rec.lists[0]!.length, 1, "the chain the origin sent: its leaf alone");
    assert.match(rec.lists[1]![0]!, /^-----BEGIN CERTIFICATE-----\n/);
    assert.is(
      rec.lists[1]![0]!.replace(/\s/g, ""),
      rec.lists[0]![0]!.replace(/\s/g, ""),
      "the same server certificate both times",
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("another SNI does not resume the session made for the first name", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"), { tls: true, names: ["other.resume.test"] });
  const seen = resumptions(origin);
  const confdir = testConfdir();
  const p = await startInProcess([], { confdir });
  try {
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost")).status, 200);
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "other.resume.test")).status, 200);
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "other.resume.test")).status, 200);
    assert.equal(seen, [false, false, true]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a session made under ssl_insecure is not resumed once verification is back on: the untrusted server is refused", async () => {
  const origin = await startOrigin((_req, res) => res.end("untrusted"), { tls: true, selfSigned: true });
  const seen = resumptions(origin);
  const confdir = testConfdir();
  const p = await startInProcess([], { confdir, sslInsecure: true });
  try {
    const insecure = await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost");
    assert.is(insecure.status, 200);
    assert.is(insecure.body, "untrusted");
    await p.proxy.host.setOptions({ sslInsecure: false });
    const verified = await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost");
    assert.is(verified.status, 502);
    assert.match(verified.body, /certificate verify failed/);
    assert.not.ok(seen.includes(true), `no resumed session: ${JSON.stringify(seen)}`);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a new trust store (ssl_verify_upstream_trusted_ca changed) starts without sessions", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"), { tls: true });
  const seen = resumptions(origin);
  const confdir = testConfdir();
  const p = await startInProcess([], { confdir });
  try {
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost")).status, 200);
    const file = p.proxy.host.options.get<string>("sslVerifyUpstreamTrustedCa");
    await p.proxy.host.setOptions({ sslVerifyUpstreamTrustedCa: undefined });
    await p.proxy.host.setOptions({ sslVerifyUpstreamTrustedCa: file });
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost")).status, 200);
    assert.is((await fetchThrough(p.port, confdir, `localhost:${origin.port}`, "localhost")).status, 200);
    assert.equal(seen, [false, false, true]);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test.run();
