// HTTP/2 interception: curl --http2 and Node's http2 client through the
// explicit proxy (CONNECT, then TLS with ALPN h2 in the tunnel) against h2 and
// HTTP/1.1-only origins, translation both ways, many streams on one
// connection, trailers, RST_STREAM, local answers, h2c prior knowledge in a
// tunnel, the event log (SEMANTICS.md §4), `http2=false`, streamed bodies and
// the hook order (SEMANTICS.md §3).
import { createHash, randomBytes } from "node:crypto";
import * as http2 from "node:http2";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Response, type Addon, type HTTPFlow } from "@interloper/sdk";
import {
  curl,
  sha256,
  sleep,
  startInProcess,
  startOrigin,
  startProxy,
  testConfdir,
  waitFor,
  WAIT_MS,
  within,
} from "../helpers/harness.ts";
import { PEER, WireClient, hookRecorder, openTunnel, proxyCaPem, tlsOver } from "../helpers/clients.ts";
import { closeSession, h2Get, h2Request, h2ViaProxy, startH1NoAlpnOrigin, startH2Origin } from "../helpers/h2.ts";
import { HTTPS_HOOK_ORDER } from "../helpers/hook-order.ts";

/** SEMANTICS.md §3 for one intercepted HTTPS request (the same for HTTP/2 as for HTTP/1). */
const SECTION_3 = HTTPS_HOOK_ORDER;

const caFile = () => join(testConfdir(), "interloper-ca-cert.pem");
const caPem = () => proxyCaPem(testConfdir());

/** curl through the proxy, printing the negotiated HTTP version on a last line of its own. */
async function curlVia(
  port: number,
  ca: string,
  args: string[],
): Promise<{ code: number | null; body: string; version: string; stderr: string }> {
  const r = await curl(["-x", `http://127.0.0.1:${port}`, "--cacert", ca, "-w", "\n%{http_version}", ...args], 60_000);
  const text = r.stdout.toString("latin1");
  const i = text.lastIndexOf("\n");
  return { code: r.code, body: text.slice(0, i), version: text.slice(i + 1), stderr: r.stderr };
}

test("curl --http2 through the CLI to an h2 origin: HTTP/2 on both sides, and the log lines `GET https://localhost:O/path HTTP/2.0` / `     << HTTP/2.0 200 OK 8b`", async () => {
  const origin = await startH2Origin((req, res) => res.end(`h2 ${req.url}`));
  const proxy = await startProxy();
  try {
    const r = await curlVia(proxy.port, proxy.caFile, ["--http2", `https://localhost:${origin.port}/h2path`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.body, "h2 /h2path");
    assert.is(r.version, "2");
    assert.is(origin.requests.length, 1);
    assert.is(origin.requests[0]!.httpVersion, "2.0");
    assert.is(origin.requests[0]!.headers[":authority"], `localhost:${origin.port}`);
    await proxy.waitForOutput(/<< HTTP\/2\.0 200 OK/);
    const o = origin.port;
    assert.match(
      proxy.stdout(),
      new RegExp(
        `${PEER}: server connect localhost:${o} \\(127\\.0\\.0\\.1:${o}\\)\\n${PEER}: GET https://localhost:${o}/h2path HTTP/2\\.0\\n     << HTTP/2\\.0 200 OK 10b\\n`,
      ),
    );
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("an h2 server silent on one stream: that request gets a 504 after idle_timeout, the session's next one is answered", async () => {
  const origin = await startH2Origin((req, res) => void (req.url === "/never" || res.end(`ok ${req.url}`)), {
    raw: true,
  });
  const p = await startInProcess([], { idleTimeout: 1 });
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const silent = await h2Get(session, { ":path": "/never" });
    assert.is(silent.status, 504);
    assert.match(silent.body.toString(), /server did not answer within idle_timeout \(1 s\)/);
    const next = await h2Get(session, { ":path": "/after" });
    assert.is(next.status, 200);
    assert.is(next.body.toString(), "ok /after");
    assert.equal(
      origin.requests.map((r) => [r.path, r.httpVersion]),
      [
        ["/never", "2.0"],
        ["/after", "2.0"],
      ],
    );
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("a streamed upload its client pauses past idle_timeout, to an h2 server: the server is not taken for silent", async () => {
  const origin = await startH2Origin((_req, res, body) => res.end(`got ${body.length}`));
  const p = await startInProcess([], { idleTimeout: 1, streamLargeBodies: "10" });
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const stream = session.request(
      { ":method": "POST", ":path": "/up", "content-length": "2000" },
      { endStream: false },
    );
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      stream.on("error", reject);
    });
    stream.write(Buffer.alloc(1000, 97));
    // Two and a half times idle_timeout without a byte from the client, then the rest.
    await sleep(2500);
    stream.end(Buffer.alloc(1000, 98));
    const got = await within(answer, "the answer", WAIT_MS);
    assert.is(got.status, 200);
    assert.is(got.body, "got 2000");
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("Node's http2 client over CONNECT + TLS (ALPN h2) to an h2 origin: h2 negotiated with the proxy, headers and bodies both ways", async () => {
  const origin = await startH2Origin((req, res, body) => {
    res.setHeader("x-got", `${req.method} ${req.headers["x-test"]} ${body.length}`);
    res.end(`echo:${body.toString()}`);
  });
  const p = await startInProcess([]);
  const { session, alpn } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    assert.is(alpn, "h2");
    const get = await h2Get(session, { ":path": "/node", "x-test": "one" });
    assert.is(get.status, 200);
    assert.is(get.headers["x-got"], "GET one 0");
    assert.is(get.body.toString(), "echo:");
    const post = await h2Get(session, { ":method": "POST", ":path": "/node", "x-test": "two" }, "payload");
    assert.is(post.status, 200);
    assert.is(post.headers["x-got"], "POST two 7");
    assert.is(post.body.toString(), "echo:payload");
    assert.equal(
      origin.requests.map((r) => r.httpVersion),
      ["2.0", "2.0"],
    );
    const log = p.lines.join("\n");
    assert.match(
      log,
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/node HTTP/2\\.0\\n     << HTTP/2\\.0 200 OK 5b`),
    );
    assert.match(
      log,
      new RegExp(`${PEER}: POST https://localhost:${origin.port}/node HTTP/2\\.0\\n     << HTTP/2\\.0 200 OK 12b`),
    );
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("curl --http2 to an HTTP/1.1-only https origin (ALPN http/1.1): the client gets the server's choice, http/1.1, and it works", async () => {
  const origin = await startOrigin((req, res) => res.end(`h1 ${req.url} ${req.httpVersion}`), { tls: true });
  const p = await startInProcess([]);
  try {
    const r = await curlVia(p.port, caFile(), ["--http2", `https://localhost:${origin.port}/b`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.body, "h1 /b 1.1");
    assert.is(r.version, "1.1");
    await waitFor(() => p.lines.some((l) => l.includes("client disconnect")), "client disconnect");
    assert.match(
      p.lines.join("\n"),
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/b\\n     << 200 OK 9b\\n`),
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("Node's http2 client to an HTTP/1.1 origin without ALPN: h2 to the client, HTTP/1.1 to the origin (Host from :authority), bodies translated; log `<< HTTP/1.1 200 OK`", async () => {
  const origin = await startH1NoAlpnOrigin((req, res, body) => {
    res.setHeader("X-Host", req.headers.host ?? "");
    res.setHeader("Connection", "keep-alive");
    res.end(`h1:${req.method}:${sha256(body)}`);
  });
  const p = await startInProcess([]);
  const { session, alpn } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    assert.is(alpn, "h2");
    const get = await h2Get(session, { ":path": "/p" });
    assert.is(get.status, 200);
    assert.is(get.headers["x-host"], `localhost:${origin.port}`);
    assert.is(get.body.toString(), `h1:GET:${sha256(Buffer.alloc(0))}`);
    // Connection-specific fields of the HTTP/1 response are not forwarded over HTTP/2.
    assert.is(get.headers.connection, undefined);
    const payload = randomBytes(200_000);
    const post = await h2Get(session, { ":method": "POST", ":path": "/upload" }, payload);
    assert.is(post.status, 200);
    assert.is(post.body.toString(), `h1:POST:${sha256(payload)}`);
    assert.equal(
      origin.requests.map((r) => `${r.method} ${r.url} HTTP/${r.httpVersion}`),
      ["GET /p HTTP/1.1", "POST /upload HTTP/1.1"],
    );
    const log = p.lines.join("\n");
    assert.match(
      log,
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/p HTTP/2\\.0\\n     << HTTP/1\\.1 200 OK 71b\\n`),
    );
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("Node's http2 client (ALPN h2 only) to an origin that only accepts ALPN http/1.1: the origin is offered h2 only and refuses; the client gets a 502 saying so", async () => {
  const origin = await startOrigin((_req, res) => res.end("never"), { tls: true });
  const p = await startInProcess([]);
  const { session, alpn } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    assert.is(alpn, "h2");
    const r = await h2Get(session, { ":path": "/x" });
    assert.is(r.status, 502);
    assert.match(r.body.toString(), /TLS handshake with localhost:\d+ failed: .*no application protocol/);
    assert.is(origin.requests.length, 0);
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("curl --http1.1 to an h2-only origin (allowHTTP1: false): HTTP/1.1 to the client, HTTP/2 to the origin, bodies translated; log `GET … HTTP/1.1` / `<< HTTP/2.0 200 OK`", async () => {
  const origin = await startH2Origin(
    (req, res, body) => res.end(`${req.method} ${req.url} ${req.httpVersion} ${body.toString()}`),
    { allowHTTP1: false },
  );
  const p = await startInProcess([]);
  try {
    const r = await curlVia(p.port, caFile(), ["--http1.1", `https://localhost:${origin.port}/c`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.version, "1.1");
    assert.is(r.body, "GET /c 2.0 ");
    const post = await curlVia(p.port, caFile(), [
      "--http1.1",
      "--data-binary",
      "form=1",
      `https://localhost:${origin.port}/post`,
    ]);
    assert.is(post.code, 0, post.stderr);
    assert.is(post.body, "POST /post 2.0 form=1");
    // A chunked HTTP/1.1 upload becomes DATA frames.
    const chunked = await curlVia(p.port, caFile(), [
      "--http1.1",
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      "chunky",
      `https://localhost:${origin.port}/chunked`,
    ]);
    assert.is(chunked.code, 0, chunked.stderr);
    assert.is(chunked.body, "POST /chunked 2.0 chunky");
    assert.equal(
      origin.requests.map((x) => x.headers[":authority"]),
      [`localhost:${origin.port}`, `localhost:${origin.port}`, `localhost:${origin.port}`],
    );
    await waitFor(
      () => p.lines.filter((l) => l.includes("client disconnect")).length === 3,
      "three client disconnects",
    );
    assert.match(
      p.lines.join("\n"),
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/c HTTP/1\\.1\\n     << HTTP/2\\.0 200 OK 11b\\n`),
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("100 concurrent streams on one client connection, 64 KiB request bodies each, echoed with the origin's SHA-256: every byte intact", async () => {
  const origin = await startH2Origin((_req, res, body) => {
    res.setHeader("x-sha256", sha256(body));
    res.setHeader("x-length", String(body.length));
    res.end(body);
  });
  let originSessions = 0;
  origin.server.on("session", () => originSessions++);
  const p = await startInProcess([]);
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const bodies = Array.from({ length: 100 }, () => randomBytes(64 * 1024));
    const results = await Promise.all(
      bodies.map((b, i) => h2Request(session, { ":method": "POST", ":path": `/echo/${i}` }, b, 30_000)),
    );
    for (let i = 0; i < bodies.length; i++) {
      const o = results[i]!;
      if (o.kind !== "response")
        throw new Error(`stream ${i} was reset (code ${o.rstCode}, status ${o.status}): ${o.error}`);
      const want = sha256(bodies[i]!);
      assert.is(o.res.status, 200, `stream ${i}`);
      assert.is(o.res.headers["x-sha256"], want, `stream ${i}: request body at the origin`);
      assert.is(o.res.headers["x-length"], String(64 * 1024), `stream ${i}`);
      assert.is(sha256(o.res.body), want, `stream ${i}: response body at the client`);
    }
    assert.is(origin.requests.length, 100);
    assert.ok(origin.requests.every((r) => r.httpVersion === "2.0"));
    assert.equal(new Set(origin.requests.map((r) => r.path)).size, 100);
    // One client connection, one server connection: the streams were multiplexed on both sides.
    assert.is(originSessions, 1);
    assert.is(p.lines.filter((l) => / server connect /.test(l)).length, 1);
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("response trailers reach the HTTP/2 client: from an h2 origin, and from a chunked HTTP/1.1 origin", async () => {
  const h2origin = await startH2Origin((_req, res) => {
    res.addTrailers({ "x-checksum": "h2-trailer-value", "grpc-status": "0" });
    res.end("body with trailers");
  });
  const h1origin = await startH1NoAlpnOrigin((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", Trailer: "X-Checksum" });
    res.write("chunked ");
    res.addTrailers({ "X-Checksum": "h1-trailer-value" });
    res.end("body");
  });
  const p = await startInProcess([]);
  const a = await h2ViaProxy(p.port, `localhost:${h2origin.port}`, caPem());
  const b = await h2ViaProxy(p.port, `localhost:${h1origin.port}`, caPem());
  try {
    const r1 = await h2Get(a.session, { ":path": "/t" });
    assert.is(r1.body.toString(), "body with trailers");
    assert.ok(r1.trailers, "trailers from the h2 origin");
    assert.is(r1.trailers["x-checksum"], "h2-trailer-value");
    assert.is(r1.trailers["grpc-status"], "0");
    const r2 = await h2Get(b.session, { ":path": "/t" });
    assert.is(r2.body.toString(), "chunked body");
    assert.ok(r2.trailers, "trailers from the HTTP/1.1 origin");
    assert.is(r2.trailers["x-checksum"], "h1-trailer-value");
  } finally {
    await closeSession(a.session);
    await closeSession(b.session);
    await p.stop();
    await h2origin.close();
    await h1origin.close();
  }
});

test("a stream reset by the origin (RST_STREAM REFUSED_STREAM) errors only that stream: a stream in flight and later streams on the same connection still work", async () => {
  let releaseSlow: () => void = () => {};
  const slowReleased = new Promise<void>((r) => (releaseSlow = r));
  const origin = await startH2Origin(
    (req, res) => {
      if (req.url === "/reset") {
        req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      if (req.url === "/slow") {
        // Answers only once the reset happened, so both streams are open together.
        void slowReleased.then(() => res.end("slow done"));
        return;
      }
      res.end(`ok ${req.url}`);
    },
    { raw: true },
  );
  let originSessions = 0;
  origin.server.on("session", () => originSessions++);
  const p = await startInProcess([]);
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const slow = h2Request(session, { ":path": "/slow" });
    await waitFor(() => origin.requests.some((r) => r.path === "/slow"), "the slow request at the origin");
    const reset = await h2Request(session, { ":path": "/reset" });
    if (reset.kind === "reset") {
      assert.ok(reset.rstCode !== http2.constants.NGHTTP2_NO_ERROR, `rstCode ${reset.rstCode}`);
    } else {
      // Nothing was sent on the client's stream yet: an error response (mitmproxy's behaviour) is also an errored stream.
      assert.is(reset.res.status, 502, reset.res.body.toString());
      assert.match(reset.res.body.toString(), /REFUSED_STREAM/);
    }
    assert.is(session.closed || session.destroyed, false, "the client's connection survives the reset");
    releaseSlow();
    const s = await slow;
    if (s.kind !== "response") throw new Error(`the in-flight stream was reset too (code ${s.rstCode}): ${s.error}`);
    assert.is(s.res.body.toString(), "slow done");
    const after = await h2Get(session, { ":path": "/after" });
    assert.is(after.status, 200);
    assert.is(after.body.toString(), "ok /after");
    assert.is(originSessions, 1, "the server connection survives the reset too");
    const log = p.lines.join("\n");
    assert.match(
      log,
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/reset HTTP/2\\.0\\n << .*REFUSED_STREAM`),
    );
  } finally {
    releaseSlow();
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("a reset by the origin after the response headers were streamed (stream_large_bodies) resets the client's stream; the connection goes on", async () => {
  let partial: http2.ServerHttp2Stream | undefined;
  const origin = await startH2Origin(
    (req, res) => {
      if (req.url === "/partial") {
        // A declared 4 MB body (streamed by the proxy), of which 1.5 MB come; the reset is sent once the client has the headers.
        partial = req.stream;
        res.writeHead(200, { "content-length": String(4 * 1024 * 1024) });
        res.write(randomBytes(1536 * 1024));
        return;
      }
      res.end(`ok ${req.url}`);
    },
    { raw: true },
  );
  const p = await startInProcess([], { streamLargeBodies: "1m" });
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const outcome = await new Promise<{ status?: number; received: number; rstCode?: number; ended: boolean }>(
      (resolve) => {
        const stream = session.request({ ":path": "/partial" });
        let status: number | undefined;
        let received = 0;
        const timer = setTimeout(() => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          resolve({ status, received, rstCode: undefined, ended: false });
        }, 20_000);
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          partial?.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        });
        stream.on("data", (c: Buffer) => (received += c.length));
        stream.on("error", () => {});
        stream.on("close", () => {
          clearTimeout(timer);
          resolve({ status, received, rstCode: stream.rstCode, ended: stream.readableEnded });
        });
      },
    );
    assert.is(outcome.status, 200, "the headers had arrived");
    assert.ok(
      outcome.rstCode !== undefined && outcome.rstCode !== http2.constants.NGHTTP2_NO_ERROR,
      `rstCode ${outcome.rstCode}`,
    );
    assert.ok(outcome.received < 4 * 1024 * 1024, `received ${outcome.received}`);
    const after = await h2Get(session, { ":path": "/after" });
    assert.is(after.body.toString(), "ok /after");
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("a `request` hook answering an HTTP/2 request locally (Response.make): the client gets it over h2, the origin nothing", async () => {
  const origin = await startH2Origin((_req, res) => res.end("from origin"));
  const answer: Addon = {
    name: "answer-locally",
    request(flow: HTTPFlow) {
      if (flow.request.path === "/local")
        flow.response = Response.make(201, "answered by addon", { "Content-Type": "text/plain", "X-Local": "yes" });
    },
  };
  const p = await startInProcess([answer]);
  const { session, alpn } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    assert.is(alpn, "h2");
    const r = await h2Get(session, { ":method": "POST", ":path": "/local" }, "ignored body");
    assert.is(r.status, 201);
    assert.is(r.headers["x-local"], "yes");
    assert.is(r.headers["content-type"], "text/plain");
    assert.is(r.headers["content-length"], "17");
    assert.is(r.body.toString(), "answered by addon");
    const passed = await h2Get(session, { ":path": "/other" });
    assert.is(passed.body.toString(), "from origin");
    assert.equal(
      origin.requests.map((x) => x.path),
      ["/other"],
    );
    // Response.make builds an HTTP/1.1 response (as in mitmproxy): the versions differ, so both are shown.
    assert.match(
      p.lines.join("\n"),
      new RegExp(
        `${PEER}: POST https://localhost:${origin.port}/local HTTP/2\\.0\\n     << HTTP/1\\.1 201 Created 17b`,
      ),
    );
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("h2c prior knowledge in a CONNECT tunnel to an HTTP/1.1 origin: intercepted, HTTP/2 to the client, HTTP/1.1 to the origin", async () => {
  const origin = await startOrigin((req, res) => res.end(`h1c ${req.url} ${req.httpVersion}`));
  const p = await startInProcess([]);
  try {
    const r = await curlVia(p.port, caFile(), [
      "--http2-prior-knowledge",
      "-p",
      `http://localhost:${origin.port}/prior`,
    ]);
    assert.is(r.code, 0, `curl: ${r.stderr}\nlog:\n${p.lines.join("\n")}`);
    assert.is(r.version, "2");
    assert.is(r.body, "h1c /prior 1.1");
    await waitFor(() => p.lines.some((l) => l.includes("client disconnect")), "client disconnect");
    assert.match(
      p.lines.join("\n"),
      new RegExp(`${PEER}: GET http://localhost:${origin.port}/prior HTTP/2\\.0\\n     << HTTP/1\\.1 200 OK 14b\\n`),
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("h2c prior knowledge in a CONNECT tunnel to an h2c origin (http2.createServer): works end to end over HTTP/2", async () => {
  const origin = await startH2Origin((req, res) => res.end(`h2c ${req.url} ${req.httpVersion}`), { tls: false });
  const p = await startInProcess([]);
  try {
    const r = await curlVia(p.port, caFile(), [
      "--http2-prior-knowledge",
      "-p",
      `http://localhost:${origin.port}/prior`,
    ]);
    assert.is(r.code, 0, `curl: ${r.stderr}\nlog:\n${p.lines.join("\n")}`);
    assert.is(r.version, "2");
    assert.is(r.body, "h2c /prior 2.0");
    assert.is(origin.requests.length, 1);
    await waitFor(() => p.lines.some((l) => l.includes("client disconnect")), "client disconnect");
    // An h2c server sends its SETTINGS as soon as it is connected (eager strategy: before the
    // client's preface arrives). As in mitmproxy, a server that speaks first makes the tunnel
    // raw TCP: the bytes are relayed as they are, logged as tcp messages, no request line.
    const log = p.lines.join("\n");
    assert.match(log, new RegExp(`${PEER} <- tcp <- localhost:${origin.port}\\n`));
    assert.match(log, new RegExp(`${PEER} -> tcp -> localhost:${origin.port}\\n`));
    assert.not.match(log, /GET http:\/\//);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("--set http2=false: curl --http2 negotiates http/1.1 with the proxy, the origin is offered http/1.1 only, and it works", async () => {
  const origin = await startH2Origin((req, res) => res.end(`${req.url} ${req.httpVersion}`), { allowHTTP1: true });
  const proxy = await startProxy(["--set", "http2=false"]);
  try {
    const r = await curlVia(proxy.port, proxy.caFile, ["--http2", `https://localhost:${origin.port}/off`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.version, "1.1");
    assert.is(r.body, "/off 1.1");
    assert.is(origin.requests[0]!.httpVersion, "1.1");
    await proxy.waitForOutput(/server disconnect/);
    assert.match(
      proxy.stdout(),
      new RegExp(`${PEER}: GET https://localhost:${origin.port}/off\\n     << 200 OK 8b\\n`),
    );
    assert.not.match(proxy.stdout(), /HTTP\/2\.0/);
  } finally {
    assert.is(await proxy.stop(), 0);
    await origin.close();
  }
});

test("a 20 MB body each way over HTTP/2 with stream_large_bodies=1m: streamed, SHA-256 intact (Node client and curl --http2)", async () => {
  const big = randomBytes(20 * 1024 * 1024);
  const bigSha = sha256(big);
  const origin = await startH2Origin(
    (req, res) => {
      if (req.url === "/download") {
        res.writeHead(200, { "content-length": String(big.length), "content-type": "application/octet-stream" });
        res.end(big);
        return;
      }
      // Upload: hash what arrives without keeping it.
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on("end", () => res.end(`${n} ${h.digest("hex")}`));
    },
    { raw: true },
  );
  const seen: Record<string, number> = {};
  const recorder: Addon = {
    name: "body-sizes",
    request(flow: HTTPFlow) {
      seen[`request:${flow.request.path}:${flow.request.stream}`] = flow.request.body.length;
    },
    response(flow: HTTPFlow) {
      seen[`response:${flow.request.path}:${flow.response!.stream}`] = flow.response!.body.length;
    },
  };
  const p = await startInProcess([recorder], { streamLargeBodies: "1m" });
  const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
  try {
    const down = await h2Get(session, { ":path": "/download" });
    assert.is(down.status, 200);
    assert.is(down.body.length, big.length);
    assert.is(sha256(down.body), bigSha);
    const up = await h2Get(
      session,
      { ":method": "POST", ":path": "/upload", "content-length": String(big.length) },
      big,
    );
    assert.is(up.body.toString(), `${big.length} ${bigSha}`);
    // And without a declared length: the proxy starts buffering, then streams past the limit.
    const up2 = await h2Get(session, { ":method": "POST", ":path": "/upload2" }, big);
    assert.is(up2.body.toString(), `${big.length} ${bigSha}`);
    const c = await curl(
      [
        "-x",
        `http://127.0.0.1:${p.port}`,
        "--cacert",
        caFile(),
        "--http2",
        `https://localhost:${origin.port}/download`,
      ],
      60_000,
    );
    assert.is(c.code, 0, c.stderr);
    assert.is(c.stdout.length, big.length);
    assert.is(sha256(c.stdout), bigSha);
    assert.is(seen["response:/download:true"], 0, JSON.stringify(seen));
    assert.is(seen["request:/upload:true"], 0, JSON.stringify(seen));
    assert.is(seen["request:/upload2:true"], 0, JSON.stringify(seen));
  } finally {
    await closeSession(session);
    await p.stop();
    await origin.close();
  }
});

test("hook order for one intercepted HTTP/2 request (Node's http2 client, h2 origin) is SEMANTICS.md §3's, the same as for an HTTP/1.1 request", async () => {
  const h2origin = await startH2Origin((_req, res) => res.end("hooks"));
  const h1origin = await startOrigin((_req, res) => res.end("hooks"), { tls: true });
  const rec = hookRecorder();
  const p = await startInProcess([rec.addon]);
  try {
    const { session } = await h2ViaProxy(p.port, `localhost:${h2origin.port}`, caPem());
    const r = await h2Get(session, { ":path": "/" });
    assert.is(r.body.toString(), "hooks");
    // A graceful close (GOAWAY): the proxy ends both connections.
    await closeSession(session);
    await waitFor(
      () => rec.calls.includes("clientDisconnect") && rec.calls.includes("serverDisconnect"),
      "both disconnects (h2)",
    );
    const known = new Set(SECTION_3);
    const h2calls = rec.calls.filter((h) => known.has(h));
    assert.equal(h2calls, SECTION_3, `HTTP/2, all hooks: ${rec.calls.join(", ")}`);
    assert.not.ok(rec.calls.includes("error"));
    rec.calls.length = 0;
    const c = await curlVia(p.port, caFile(), ["--http1.1", `https://localhost:${h1origin.port}/`]);
    assert.is(c.code, 0, c.stderr);
    assert.is(c.version, "1.1");
    await waitFor(
      () => rec.calls.includes("clientDisconnect") && rec.calls.includes("serverDisconnect"),
      "both disconnects (HTTP/1.1)",
    );
    assert.equal(
      rec.calls.filter((h) => known.has(h)),
      h2calls,
      `HTTP/1.1, all hooks: ${rec.calls.join(", ")}`,
    );
  } finally {
    await p.stop();
    await h2origin.close();
    await h1origin.close();
  }
});

test("an HTTP/2 client that goes away without GOAWAY (curl --http2 exits; a TLS close): `client disconnect` and `server disconnect` are logged, the hooks fire", async () => {
  const origin = await startH2Origin((_req, res) => res.end("bye"));
  const rec = hookRecorder();
  const p = await startInProcess([rec.addon]);
  try {
    const r = await curlVia(p.port, caFile(), ["--http2", `https://localhost:${origin.port}/`]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.version, "2");
    const disconnects = () => p.lines.filter((l) => / (client|server) disconnect/.test(l)).length;
    await waitFor(
      () => disconnects() === 2,
      `client and server disconnect after curl exited; log:\n${p.lines.join("\n")}`,
    );
    // The same with Node's client closing its TLS socket (close_notify + FIN), no GOAWAY frame.
    const { session, tlsSocket } = await h2ViaProxy(p.port, `localhost:${origin.port}`, caPem());
    assert.is((await h2Get(session, { ":path": "/" })).body.toString(), "bye");
    tlsSocket.end();
    await waitFor(
      () => disconnects() === 4,
      `client and server disconnect after a TLS close; log:\n${p.lines.join("\n")}`,
    );
    session.destroy();
    assert.is(rec.calls.filter((h) => h === "clientDisconnect").length, 2);
    assert.is(rec.calls.filter((h) => h === "serverDisconnect").length, 2);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an HTTP/1.1 client whose h2 origin sent its SETTINGS before the client's first request: still HTTP (translated), not a raw relay of HTTP/2 frames", async () => {
  const origin = await startH2Origin((req, res) => res.end(`${req.url} ${req.httpVersion}`));
  const originSessions: http2.ServerHttp2Session[] = [];
  origin.server.on("session", (s: http2.ServerHttp2Session) => originSessions.push(s));
  const p = await startInProcess([]);
  const tunnel = await openTunnel(p.port, `localhost:${origin.port}`);
  try {
    assert.is(tunnel.status, 200, tunnel.head);
    const t = await tlsOver(tunnel.socket, { servername: "localhost", ca: caPem() });
    assert.is(t.alpnProtocol, "http/1.1");
    // The proxy's server connection is h2 (eager): the origin speaks first, with its SETTINGS frame.
    await waitFor(() => originSessions.length === 1, "the origin's HTTP/2 session");
    // Not a threshold: a head start for the origin's SETTINGS, so the race it could win anyway is always won.
    await sleep(300);
    const c = new WireClient(t);
    c.write(`GET /first HTTP/1.1\r\nHost: localhost:${origin.port}\r\n\r\n`);
    const res = await c.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), "/first 2.0");
    c.destroy();
  } finally {
    tunnel.socket.destroy();
    await p.stop();
    await origin.close();
  }
});

test.run();
