// Regressions from the hostile-input probe (issue 11): clients that leave
// early, connections that never finish, servers that never answer, pipelined
// requests, HTTP/2 streams over a closing HTTP/1 server, hundreds of header
// fields, and aborted uploads. Every wait is bounded and tied to an event.
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Addon } from "@interloper/sdk";
import { openTunnel, proxyCaPem, WireClient } from "../helpers/clients.ts";
import { h2Request, h2ViaProxy, startH1NoAlpnOrigin } from "../helpers/h2.ts";
import {
  curl,
  ROOT,
  startInProcess,
  startOrigin,
  testConfdir,
  waitFor,
  type InProcessProxy,
} from "../helpers/harness.ts";

const WAIT = 30_000;
const FIXTURES = join(ROOT, "test/fixtures/clienthello");
const HELLO = readFileSync(join(FIXTURES, readdirSync(FIXTURES).sort()[0]!));

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  return s;
}

/** Resolves once the socket is closed (bounded). */
function closed(s: net.Socket, what: string): Promise<void> {
  if (s.destroyed && s.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: the proxy did not close the connection`)), WAIT);
    s.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    s.resume();
  });
}

/** The proxy's `client disconnect` line for the client on `localPort`. */
function disconnectLogged(p: InProcessProxy, localPort: number): Promise<unknown> {
  const line = `127.0.0.1:${localPort}: client disconnect`;
  return waitFor(() => p.logs.some((e) => e.message === line), `'${line}' in the log`, WAIT);
}

/** A TCP server that accepts and reads but never says anything. */
async function silentServer(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test("clients that leave early are disconnected and logged, whatever stage they left at", async () => {
  const silent = await silentServer();
  const p = await startInProcess([]);
  try {
    const cases: Array<[string, (s: net.Socket) => Promise<void>]> = [
      ["closes without a byte", async (s) => void s.end()],
      [
        "closes after CONNECT",
        async (s) => {
          s.write(`CONNECT 127.0.0.1:${silent.port} HTTP/1.1\r\n\r\n`);
          await new Promise((r) => s.once("data", r));
          s.end();
        },
      ],
      [
        "closes after part of a ClientHello",
        async (s) => {
          s.write(`CONNECT 127.0.0.1:${silent.port} HTTP/1.1\r\n\r\n`);
          await new Promise((r) => s.once("data", r));
          s.end(HELLO.subarray(0, 40));
        },
      ],
      [
        "goes away while the server's TLS handshake hangs",
        async (s) => {
          s.write(`CONNECT localhost:${silent.port} HTTP/1.1\r\n\r\n`);
          await new Promise((r) => s.once("data", r));
          s.write(HELLO);
          // The proxy is now stuck in its handshake with the silent server.
          await waitFor(
            () => p.logs.some((e) => e.message.includes(`server connect localhost:${silent.port}`)),
            "server connect",
            WAIT,
          );
          s.destroy();
        },
      ],
    ];
    for (const [name, act] of cases) {
      const s = await connect(p.port);
      const port = s.localPort!;
      await act(s);
      await disconnectLogged(p, port).catch((err: Error) => {
        throw new Error(`client that ${name}: ${err.message}`);
      });
      s.destroy();
    }
  } finally {
    await p.stop();
    silent.close();
  }
});

test("connections that never finish their set-up are closed after idle_timeout, while others are served", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1, mode: ["regular", "socks5@0"] });
  const socksPort = p.proxy.listening.find((l) => l.mode.name === "socks5")!.address.port;
  try {
    const quiet = await connect(p.port);
    const trickling = await connect(p.port);
    // A request head that never ends (slowloris): a byte every 100 ms.
    const head = `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n` + "X-Pad: a\r\n".repeat(2000);
    let i = 0;
    const drip = setInterval(() => {
      if (!trickling.destroyed) trickling.write(head[i++ % head.length]!);
    }, 100);
    const socks = await connect(socksPort);
    socks.write(Buffer.from([5, 2])); // a greeting that never lists its methods
    const tunnel = await connect(p.port);
    tunnel.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\n\r\n`);
    try {
      // Meanwhile a normal client is served.
      const r = await curl(["-x", `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${origin.port}/`]);
      assert.is(r.stdout.toString(), "ok");
      await closed(quiet, "a client that sends nothing");
      await closed(trickling, "a client that trickles its request head");
      await closed(socks, "a SOCKS5 client that stops mid-greeting");
      await closed(tunnel, "a CONNECT tunnel that carries nothing");
    } finally {
      clearInterval(drip);
    }
    assert.ok(
      p.logs.some((e) => /not finished within idle_timeout/.test(e.message)),
      "the set-up timeout is logged",
    );
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a server that never answers gets the client a 504 after idle_timeout", async () => {
  const silent = await silentServer();
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const r = await curl(["-i", "-x", `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${silent.port}/never`]);
    assert.match(r.stdout.toString(), /^HTTP\/1\.1 504 /);
    assert.match(r.stdout.toString(), /did not answer within idle_timeout/);
  } finally {
    await p.stop();
    silent.close();
  }
});

/**
 * A listener that takes no connection: its process blocks its event loop, so once the accept
 * queue (backlog 1) is full the kernel drops further SYNs and connecting to it hangs.
 */
async function fullServer(): Promise<{ port: number; close(): void }> {
  const code = `const s = require("net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
    process.stdout.write(s.address().port + "\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
  });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("exit", () => reject(new Error("the full server's process ended")));
  });
  // Fill the queue: these complete in the kernel and are never accepted.
  const fillers = Array.from({ length: 4 }, () => net.connect(port, "127.0.0.1").on("error", () => {}));
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      child.kill("SIGKILL");
    },
  };
}

test("a CONNECT to a server that never takes the connection is answered 502 after idle_timeout, not dropped", async () => {
  const full = await fullServer();
  const p = await startInProcess([], { idleTimeout: 1 });
  const c = await connect(p.port);
  try {
    const got: Buffer[] = [];
    c.on("data", (d: Buffer) => got.push(d));
    c.write(`CONNECT 127.0.0.1:${full.port} HTTP/1.1\r\nHost: 127.0.0.1:${full.port}\r\n\r\n`);
    await closed(c, "the CONNECT");
    const answer = Buffer.concat(got).toString("latin1");
    assert.match(answer, /^HTTP\/1\.1 502 /, `got ${JSON.stringify(answer)}`);
    assert.match(answer, /error establishing server connection: Connection timed out/, answer);
  } finally {
    c.destroy();
    await p.stop();
    full.close();
  }
});

test("a server whose TLS handshake never finishes: the client is closed or answered 502, in bounded time", async () => {
  const silent = await silentServer();
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const r = await curl(
      [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        join(testConfdir(), "interloper-ca-cert.pem"),
        "-x",
        `http://127.0.0.1:${p.port}`,
        `https://localhost:${silent.port}/`,
      ],
      WAIT,
    );
    assert.ok(r.code !== null, "curl ended");
    assert.ok(["502", "000"].includes(r.stdout.toString()), `got ${r.stdout.toString()}`);
  } finally {
    await p.stop();
    silent.close();
  }
});

test("pipelined requests reach the server in their order, even when an earlier one's hooks take longer", async () => {
  let value = "old";
  const seen: string[] = [];
  const origin = await startOrigin((req, res, body) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === "PUT") value = body.toString();
    res.end(req.method === "PUT" ? "stored" : value);
  });
  const slowPut: Addon = {
    name: "slow-put",
    async request(flow) {
      if (flow.request.method === "PUT") await new Promise((r) => setTimeout(r, 300));
    },
  };
  const p = await startInProcess([slowPut]);
  try {
    const c = await WireClient.connect(p.port);
    const url = `http://127.0.0.1:${origin.port}/k`;
    c.write(
      `PUT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nnewGET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    const first = await c.readResponse({ timeoutMs: WAIT });
    const second = await c.readResponse({ timeoutMs: WAIT });
    assert.is(first.body.toString(), "stored");
    assert.is(second.body.toString(), "new");
    assert.equal(seen, ["PUT /k", "GET /k"]);
    c.destroy();
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("HTTP/2 streams to an HTTP/1 server that closes after each response all get their responses", async () => {
  const origin = await startH1NoAlpnOrigin((req, res) => {
    res.setHeader("Connection", "close");
    res.end(`answer ${req.url}`);
  });
  const p = await startInProcess([]);
  try {
    const { session } = await h2ViaProxy(p.port, `localhost:${origin.port}`, proxyCaPem(testConfdir()));
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h2Request(
          session,
          { ":method": "GET", ":path": `/${i}`, ":authority": `localhost:${origin.port}` },
          undefined,
          WAIT,
        ),
      ),
    );
    outcomes.forEach((o, i) => {
      assert.is(o.kind, "response", `stream ${i}: ${JSON.stringify(o)}`);
      if (o.kind === "response") {
        assert.is(o.res.status, 200, `stream ${i}: ${o.res.body.toString()}`);
        assert.is(o.res.body.toString(), `answer /${i}`);
      }
    });
    session.destroy();
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("thousands of header fields are all forwarded, the last one included", async () => {
  let received: string[] = [];
  // Node's own server would refuse (16 KiB) or cut (2,000 fields) such a head: this one takes it all.
  const origin = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    received = req.rawHeaders;
    res.end(String(req.rawHeaders.length / 2));
  });
  origin.maxHeadersCount = 0;
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  const originPort = (origin.address() as net.AddressInfo).port;
  const p = await startInProcess([]);
  try {
    const c = await WireClient.connect(p.port);
    const fields = Array.from({ length: 2500 }, (_, i) => `X-F${i}: ${i}\r\n`).join("");
    c.write(
      `GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n${fields}Authorization: Bearer last\r\n\r\n`,
    );
    const r = await c.readResponse({ timeoutMs: WAIT });
    assert.is(r.status, 200);
    assert.is(r.body.toString(), "2502");
    assert.is(received[received.length - 1], "Bearer last");
    c.destroy();
  } finally {
    await p.stop();
    origin.closeAllConnections();
    origin.close();
  }
});

test("a client that aborts its upload is one info line, not an internal error", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([]);
  try {
    const s = await connect(p.port);
    const port = s.localPort!;
    s.write(
      `POST http://127.0.0.1:${origin.port}/up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789`,
    );
    await waitFor(
      () => p.logs.some((e) => e.message.startsWith(`127.0.0.1:${port}: client connect`)),
      "client connect",
      WAIT,
    );
    s.destroy();
    await disconnectLogged(p, port);
    await waitFor(
      () => p.logs.some((e) => /before its request body was complete/.test(e.message)),
      "the abort line",
      WAIT,
    );
    const internal = p.logs.filter((e) => /internal error/.test(e.message));
    assert.equal(
      internal.map((e) => e.message),
      [],
    );
    assert.is(origin.requests.length, 0);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a CONNECT target that is no host name (a wildcard) is never minted into a certificate", async () => {
  const p = await startInProcess([], { connectionStrategy: "lazy" });
  try {
    const tunnel = await openTunnel(p.port, "*.localhost:443");
    assert.is(tunnel.status, 200);
    // No SNI: the only name the proxy could use is the CONNECT target.
    const t = tls.connect({ socket: tunnel.socket, servername: "", rejectUnauthorized: false });
    const got = await new Promise<string>((resolve) => {
      t.once("secureConnect", () =>
        resolve(`certificate for ${JSON.stringify(t.getPeerCertificate().subjectaltname)}`),
      );
      t.once("error", () => resolve("refused"));
      t.once("close", () => resolve("refused"));
    });
    t.destroy();
    assert.is(got, "refused");
    assert.ok(
      p.logs.some((e) => /no host name to issue a certificate for \('\*\.localhost' is not one/.test(e.message)),
    );
  } finally {
    await p.stop();
  }
});

test("framing an addon sets is made true for the client: Content-Length beside Transfer-Encoding goes, a last coding gets chunked", async () => {
  const origin = await startOrigin((req, res) => res.end(`body of ${req.url}`));
  const recode: Addon = {
    name: "recode",
    response(flow) {
      if (flow.request.path !== "/coded") return;
      flow.response!.headers.set("Transfer-Encoding", "gzip");
      flow.response!.headers.set("Content-Length", "999");
    },
  };
  const p = await startInProcess([recode]);
  try {
    const c = await WireClient.connect(p.port);
    const base = `http://127.0.0.1:${origin.port}`;
    c.write(
      `GET ${base}/coded HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET ${base}/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    const first = await c.readResponse({ timeoutMs: WAIT });
    const second = await c.readResponse({ timeoutMs: WAIT });
    assert.is(first.header("transfer-encoding"), "gzip, chunked");
    assert.is(first.header("content-length"), undefined);
    assert.is(first.body.toString(), "body of /coded");
    assert.is(second.body.toString(), "body of /next");
    c.destroy();
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a declined upgrade's chunked answer reaches the client framed by its length", async () => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(400, { "Content-Type": "text/plain" });
    res.write("no ");
    res.end("upgrade");
  });
  const p = await startInProcess([]);
  try {
    const c = await WireClient.connect(p.port);
    c.write(
      `GET http://127.0.0.1:${origin.port}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    const r = await c.readResponse({ timeoutMs: WAIT });
    assert.is(r.status, 400);
    assert.is(r.header("transfer-encoding"), undefined);
    assert.is(r.header("content-length"), "10");
    assert.is(r.body.toString(), "no upgrade");
    c.destroy();
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("a hook that never settles holds only its own flow; its client is let go after idle_timeout", async () => {
  const origin = await startOrigin((req, res) => res.end(`answer ${req.url}`));
  const holder: Addon = {
    name: "holder",
    request: (flow) => (flow.request.path === "/held" ? new Promise<void>(() => {}) : undefined),
  };
  const p = await startInProcess([holder], { idleTimeout: 1 });
  try {
    const base = `http://127.0.0.1:${origin.port}`;
    const held = curl(["-x", `http://127.0.0.1:${p.port}`, `${base}/held`], WAIT);
    const other = await curl(["-x", `http://127.0.0.1:${p.port}`, `${base}/other`]);
    assert.is(other.stdout.toString(), "answer /other");
    const r = await held;
    assert.is(r.code, 52, `curl: ${r.stderr}`); // empty reply: the connection was closed
    assert.ok(
      p.logs.some((e) =>
        /addons held the flow in request longer than idle_timeout \(1 s\): closing the client connection \(GET .*\/held\)/.test(
          e.message,
        ),
      ),
    );
    assert.is(origin.requests.filter((q) => q.url === "/held").length, 0);
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an idle HTTP/2 connection (h2c in a tunnel) is closed after idle_timeout", async () => {
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const s = await connect(p.port);
    s.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\n\r\n`);
    await new Promise((r) => s.once("data", r));
    // The connection preface and an empty SETTINGS frame, then silence.
    s.write(
      Buffer.concat([
        Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
        Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
      ]),
    );
    await closed(s, "an idle HTTP/2 client");
  } finally {
    await p.stop();
    await origin.close();
  }
});

test("an Upgrade request: a held hook lets the client go after idle_timeout; a silent server gets it a 504", async () => {
  const silent = await silentServer();
  const origin = await startOrigin((_req, res) => res.end("no"));
  const holder: Addon = {
    name: "holder",
    request: (f) => (f.request.path === "/held" ? new Promise<void>(() => {}) : undefined),
  };
  const p = await startInProcess([holder], { idleTimeout: 1 });
  const upgrade = (port: number, path: string) =>
    `GET http://127.0.0.1:${port}${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
  try {
    const held = await WireClient.connect(p.port);
    held.write(upgrade(origin.port, "/held"));
    await held.waitClosed(WAIT);
    assert.ok(p.logs.some((e) => /addons held the flow in request longer than idle_timeout/.test(e.message)));
    const quiet = await WireClient.connect(p.port);
    quiet.write(upgrade(silent.port, "/ws"));
    const r = await quiet.readResponse({ timeoutMs: WAIT });
    assert.is(r.status, 504);
    assert.match(r.body.toString(), /did not answer within idle_timeout/);
  } finally {
    await p.stop();
    await origin.close();
    silent.close();
  }
});

test("a body that stops coming is bounded by idle_timeout: a stalled upload closes the client, a stalled response gets a 502", async () => {
  // An origin that sends its head and part of a body, then nothing.
  const stalling = net.createServer((sock) => {
    sock.on("error", () => {});
    sock.once("data", () => sock.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"));
  });
  await new Promise<void>((r) => stalling.listen(0, "127.0.0.1", r));
  const stallPort = (stalling.address() as net.AddressInfo).port;
  const origin = await startOrigin((_req, res) => res.end("ok"));
  const p = await startInProcess([], { idleTimeout: 1 });
  try {
    const up = await WireClient.connect(p.port);
    up.write(
      `POST http://127.0.0.1:${origin.port}/up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789`,
    );
    await up.waitClosed(WAIT);
    assert.ok(
      p.logs.some((e) =>
        /client sent no more of its request body: no body bytes for idle_timeout \(1 s\)/.test(e.message),
      ),
    );
    assert.is(origin.requests.length, 0);
    const down = await WireClient.connect(p.port);
    down.write(`GET http://127.0.0.1:${stallPort}/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const r = await down.readResponse({ timeoutMs: WAIT });
    assert.is(r.status, 502);
    assert.match(r.body.toString(), /no body bytes for idle_timeout/);
  } finally {
    await p.stop();
    await origin.close();
    stalling.close();
  }
});

test.run();
