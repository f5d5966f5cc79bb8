// The HTTP exchange against a fake client responder and a fake server route:
// every phase (hooks, buffering, streaming, local answers, failures) without
// a socket, as mitmproxy tests its layers.
import { PassThrough, Readable, Writable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Headers } from "@interloper/sdk";
import { HTTPFlow, Request, Response, type Addon, type ServerConnection } from "@interloper/sdk";
import { AddonHost } from "@interloper/sdk/host";
import { HttpExchange, type ExchangeEnv } from "../../core/http/exchange/exchange.ts";
import type { ClientResponder } from "../../core/http/exchange/responder.ts";
import type { UpstreamRoute } from "../../core/http/exchange/server-route.ts";
import { BufferBudget } from "../../core/http/buffer-budget.ts";
import { NoAnswer } from "../../core/http/no-answer.ts";
import type { UpstreamExchange, UpstreamResponse } from "../../core/http/upstream.ts";

const SETTINGS: ExchangeEnv["settings"] = {
  streamLargeBodies: undefined,
  bodySizeLimit: undefined,
  idleTimeoutMs: 30_000,
};

/** A client side that records what the exchange answers. */
class FakeClient implements ClientResponder {
  readonly method: string;
  readonly orderKey = undefined;
  readonly multiplexed = false;
  headersSent = false;
  destroyed = false;
  finished = false;
  head: { status: number; fields: Array<[string, string]> } | undefined;
  buffered: Response | undefined;
  error: { status: number; message: string; close: boolean } | undefined;
  aborted = false;
  killed = false;
  closedAfter = false;
  trailers: Headers | undefined;
  readonly chunks: Buffer[] = [];
  readonly body: Writable;
  private readonly answered: Array<() => void> = [];
  private readonly closing: Array<() => void> = [];
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(method = "GET") {
    this.method = method;
    this.done = new Promise((r) => (this.markDone = r));
    this.body = new Writable({
      write: (c: Buffer, _e, cb) => {
        this.chunks.push(c);
        cb();
      },
      final: (cb) => {
        this.finish();
        cb();
      },
    });
  }
  writeHead(response: Response): void {
    this.headersSent = true;
    this.head = { status: response.status, fields: response.headers.fields.map(([n, v]) => [n, v]) };
  }
  addTrailers(trailers: Headers): void {
    this.trailers = trailers;
  }
  sendBuffered(response: Response): Promise<void> {
    this.headersSent = true;
    this.buffered = response;
    this.finish();
    return Promise.resolve();
  }
  sendError(status: number, message: string, close: boolean): void {
    this.headersSent = true;
    this.error = { status, message, close };
    this.finish();
  }
  abort(): void {
    this.aborted = true;
    this.destroyed = true;
  }
  kill(): void {
    this.killed = true;
    this.destroyed = true;
  }
  onAnswered(listener: () => void): void {
    this.answered.push(listener);
  }
  onClose(listener: () => void): void {
    this.closing.push(listener);
  }
  closeAfterAnswer(): void {
    this.closedAfter = true;
  }
  spliceTarget(): undefined {
    return undefined;
  }
  end(): void {
    this.finish();
  }
  private finish(): void {
    this.finished = true;
    for (const l of this.answered.splice(0)) l();
    this.markDone();
  }
}

interface ServerScript {
  /** The answer, or a function of what was sent; undefined: the server never answers. */
  answer?: (
    sent: { head: Request; headers: Headers; body: Buffer },
    route: FakeRoute,
  ) => UpstreamResponse | Promise<UpstreamResponse>;
  failure?: string;
  prepareError?: Error;
  /** The route's bound runs out (UpstreamRoute.send): the response fails with NoAnswer. */
  silent?: boolean;
  /** The route the request takes after its hooks (another FakeRoute, or why none); this one when undefined. */
  reroute?: (request: Request) => FakeRoute | string | undefined;
}

/** A server side that records what was sent and answers as scripted. */
class FakeRoute implements UpstreamRoute {
  sends = 0;
  destroyed = false;
  sentHeaders: Headers | undefined;
  sentBody: Buffer | undefined;
  streamed = new PassThrough();
  readonly uploaded: Buffer[] = [];
  /** Resolves when the streamed upload was ended by the exchange. */
  uploadDone: Promise<void> | undefined;
  readonly server: ServerConnection;
  constructor(
    private readonly script: ServerScript,
    host = "origin.test",
  ) {
    this.server = { id: host, address: { host, port: 80 }, tls: false, tlsEstablished: false };
  }
  forRequest(request: Request): FakeRoute | string {
    return this.script.reroute?.(request) ?? this;
  }
  failure(): string | undefined {
    return this.script.failure;
  }
  async prepare(): Promise<void> {
    if (this.script.prepareError) throw this.script.prepareError;
  }
  /** The bound the exchange sent the request with. */
  answerWithinMs: number | undefined;
  async send(request: Request, headers: Headers, answerWithinMs: number): Promise<UpstreamExchange> {
    this.sends++;
    this.sentHeaders = headers;
    this.answerWithinMs = answerWithinMs;
    let settle!: (body: Buffer) => void;
    const bodySent = new Promise<Buffer>((r) => (settle = r));
    const response = bodySent.then((body) => {
      if (this.script.silent) throw new NoAnswer(answerWithinMs);
      if (!this.script.answer) return new Promise<never>(() => {});
      return this.script.answer({ head: request, headers, body }, this);
    });
    response.catch(() => {});
    return {
      end: (body) => {
        this.sentBody = body;
        settle(body);
      },
      stream: () => {
        // A streamed upload: the script answers once the first bytes arrived.
        this.streamed.on("data", (c: Buffer) => this.uploaded.push(c));
        this.uploadDone = new Promise((r) => this.streamed.once("finish", r));
        this.streamed.once("data", () => settle(Buffer.alloc(0)));
        return this.streamed;
      },
      response,
      destroy: () => void (this.destroyed = true),
    };
  }
  inTurn<T>(step: () => Promise<T>): Promise<T> {
    return step();
  }
}

function serverResponse(status: number, body: string | Buffer, fields: string[] = []): UpstreamResponse {
  const bytes = Buffer.from(body);
  return {
    status,
    reason: "R",
    rawHeaders: ["Content-Length", String(bytes.length), ...fields],
    httpVersion: "HTTP/1.1",
    body: Readable.from(bytes.length ? [bytes] : []),
    trailers: () => undefined,
  };
}

async function run(opts: {
  request?: Request;
  body?: Readable;
  addons?: Addon[];
  server: ServerScript;
  settings?: Partial<typeof SETTINGS>;
  method?: string;
  budget?: BufferBudget;
}): Promise<{ client: FakeClient; route: FakeRoute; flow: HTTPFlow; hooks: string[]; logs: string[] }> {
  const host = new AddonHost();
  const hooks: string[] = [];
  const record: Addon = { name: "recorder" };
  for (const h of ["requestheaders", "request", "responseheaders", "response", "error"] as const)
    (record as Record<string, unknown>)[h] = () => void hooks.push(h);
  await host.add(record);
  for (const a of opts.addons ?? []) await host.add(a);
  const logs: string[] = [];
  const env: ExchangeEnv = {
    host,
    settings: { ...SETTINGS, ...opts.settings },
    bufferBudget: opts.budget ?? new BufferBudget(1e9),
    log: (level, m) => void logs.push(`${level}: ${m}`),
  };
  const request = opts.request ?? new Request({ host: "origin.test", path: "/p", headers: [["Host", "origin.test"]] });
  const client = new FakeClient(opts.method ?? request.method);
  const route = new FakeRoute(opts.server);
  let exchange: HttpExchange | undefined;
  const conn = { id: "c", peername: { host: "127.0.0.1", port: 1 }, sockname: { host: "127.0.0.1", port: 2 } };
  const flow = new HTTPFlow(
    { ...conn, mode: "regular", tlsEstablished: false, timestampStart: 0 },
    { id: "s", address: { host: "origin.test", port: 80 }, tls: false, tlsEstablished: false },
    request,
    () => exchange?.kill(),
  );
  exchange = new HttpExchange(env, flow, opts.body ?? Readable.from([]), client, route);
  await exchange.run();
  return { client, route, flow, hooks, logs };
}

test("a buffered round trip: hooks in order, hop-by-hop fields dropped, the answer whole to the client", async () => {
  const request = new Request({
    host: "origin.test",
    path: "/p",
    headers: [
      ["Host", "origin.test"],
      ["Connection", "x-private, close"],
      ["X-Private", "1"],
      ["Proxy-Authorization", "Basic eA=="],
      ["Accept", "*/*"],
    ],
  });
  const { client, route, flow, hooks } = await run({
    request,
    server: { answer: () => serverResponse(200, "hello", ["X-Up", "1"]) },
  });
  assert.equal(hooks, ["requestheaders", "request", "responseheaders", "response"]);
  assert.equal(route.sentHeaders!.fields, [
    ["Host", "origin.test"],
    ["Connection", "x-private, close"],
    ["Accept", "*/*"],
  ]);
  assert.is(client.buffered?.status, 200);
  assert.is(client.buffered?.body.toString(), "hello");
  assert.is(client.buffered?.headers.get("x-up"), "1");
  assert.is(flow.response?.body.toString(), "hello");
  assert.ok(flow.request.timestampEnd !== undefined && flow.response?.timestampEnd !== undefined);
});

test("a request body is read whole and sent with the request; the request hook sees it", async () => {
  let seen = "";
  const { route } = await run({
    request: new Request({ method: "POST", host: "o", headers: [["Content-Length", "6"]] }),
    body: Readable.from([Buffer.from("abc"), Buffer.from("def")]),
    addons: [{ name: "a", request: (f) => void (seen = f.request.body.toString()) }],
    server: { answer: ({ body }) => serverResponse(200, body) },
  });
  assert.is(seen, "abcdef");
  assert.is(route.sentBody?.toString(), "abcdef");
});

test("an addon's answer in request: the server is never asked, the response hooks still run", async () => {
  const { client, route, hooks } = await run({
    addons: [{ name: "a", request: (f) => void (f.response = Response.make(418, "tea")) }],
    server: { answer: () => serverResponse(200, "no") },
  });
  assert.is(route.sends, 0);
  assert.is(client.buffered?.status, 418);
  assert.is(client.buffered?.body.toString(), "tea");
  assert.equal(hooks, ["requestheaders", "request", "responseheaders", "response"]);
});

test("an addon's answer in requestheaders: no request hook, no server", async () => {
  const { client, route, hooks } = await run({
    addons: [{ name: "a", requestheaders: (f) => void (f.response = Response.make(204)) }],
    server: { answer: () => serverResponse(200, "no") },
  });
  assert.is(route.sends, 0);
  assert.is(client.buffered?.status, 204);
  assert.equal(hooks, ["requestheaders", "responseheaders", "response"]);
});

test("killed in requestheaders: the client is dropped, addons get error, the server is never asked", async () => {
  const { client, route, hooks, flow } = await run({
    addons: [{ name: "a", requestheaders: (f) => f.kill() }],
    server: { answer: () => serverResponse(200, "no") },
  });
  assert.ok(client.killed);
  assert.is(route.sends, 0);
  assert.equal(hooks, ["requestheaders", "error"]);
  assert.is(flow.error?.msg, "Connection killed.");
});

test("killed in responseheaders: the server request and the client go", async () => {
  const { client, route, hooks } = await run({
    addons: [{ name: "a", responseheaders: (f) => f.kill() }],
    server: { answer: () => serverResponse(200, "no") },
  });
  assert.ok(client.killed && route.destroyed);
  assert.is(client.buffered, undefined);
  assert.equal(hooks, ["requestheaders", "request", "responseheaders", "error"]);
});

test("a tunnel whose server never came up: 502 with the reason, addons get error", async () => {
  const { client, route, hooks, flow } = await run({ server: { failure: "connection refused" } });
  assert.equal(client.error, { status: 502, message: "connection refused", close: false });
  assert.is(route.sends, 0);
  assert.is(flow.error?.msg, "connection refused");
  assert.equal(hooks, ["requestheaders", "request", "error"]);
});

test("the way to the server fails (TLS): 502 with the reason", async () => {
  const { client } = await run({ server: { prepareError: new Error("certificate has expired") } });
  assert.is(client.error?.status, 502);
  assert.match(client.error!.message, /certificate has expired/);
});

test("a silent server (the route's bound ran out): 504 with the reason, its request destroyed", async () => {
  const { client, route, flow } = await run({ server: { silent: true }, settings: { idleTimeoutMs: 50 } });
  assert.is(route.answerWithinMs, 50, "the request goes out bounded by idle_timeout");
  assert.is(client.error?.status, 504);
  assert.match(client.error!.message, /server did not answer within idle_timeout \(0\.05 s\)/);
  assert.ok(route.destroyed);
  assert.match(flow.error!.msg, /idle_timeout/);
});

test("a flow paused in request (intercept) outlasts idle_timeout; resumed, it goes to the server", async () => {
  let waited = false;
  const pauser: Addon = {
    name: "pauser",
    request(flow) {
      flow.intercept();
      // Long past idle_timeout (20 ms): its timer fires first whatever the machine's load.
      setTimeout(() => {
        waited = true;
        flow.resume();
      }, 150);
    },
  };
  const { client, route, flow } = await run({
    addons: [pauser],
    server: { answer: () => serverResponse(200, "after the pause") },
    settings: { idleTimeoutMs: 20 },
  });
  assert.ok(waited);
  assert.is(flow.killed, false);
  assert.is(client.error, undefined);
  assert.is(route.sends, 1);
  assert.is(client.buffered?.body.toString(), "after the pause");
});

test("a server that fails before its head: 502", async () => {
  const err = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  const { client } = await run({ server: { answer: () => Promise.reject(err) } });
  assert.is(client.error?.status, 502);
});

test("a response body over body_size_limit: 502, the server request destroyed, no response on the flow", async () => {
  const { client, route, flow, hooks } = await run({
    server: { answer: () => serverResponse(200, Buffer.alloc(100)) },
    settings: { bodySizeLimit: 10 },
  });
  assert.equal(client.error, { status: 502, message: "response body larger than body_size_limit (10b)", close: false });
  assert.ok(route.destroyed);
  assert.is(flow.response, undefined);
  assert.equal(hooks, ["requestheaders", "request", "responseheaders", "error"]);
});

test("a request body over body_size_limit: 413 and the connection closes; the server is never asked", async () => {
  const { client, route } = await run({
    request: new Request({ method: "POST", host: "o", headers: [["Content-Length", "100"]] }),
    body: Readable.from([Buffer.alloc(100)]),
    server: { answer: () => serverResponse(200, "") },
    settings: { bodySizeLimit: 10 },
  });
  assert.equal(client.error, { status: 413, message: "request body larger than body_size_limit (10b)", close: true });
  assert.is(route.sends, 0);
});

test("a client that stops sending its body: the exchange ends with one info line and error", async () => {
  const body = new PassThrough();
  body.write("partial");
  const { client, route, hooks, logs } = await run({
    request: new Request({ method: "POST", host: "o", headers: [["Content-Length", "100"]] }),
    body,
    server: { answer: () => serverResponse(200, "") },
    settings: { idleTimeoutMs: 50 },
  });
  assert.ok(client.aborted);
  assert.is(route.sends, 0);
  assert.equal(hooks, ["requestheaders", "error"]);
  assert.is(logs.length, 1);
  assert.match(logs[0]!, /^info: client sent no more of its request body/);
});

test("stream_large_bodies: a large response streams to the client; response runs after, with an empty body", async () => {
  const chunks = [Buffer.alloc(40, 1), Buffer.alloc(40, 2)];
  let seenLength = -1;
  const { client, flow, hooks } = await run({
    addons: [{ name: "a", response: (f) => void (seenLength = f.response!.body.length) }],
    server: {
      answer: () => ({
        ...serverResponse(200, ""),
        rawHeaders: ["Content-Length", "80"],
        body: Readable.from(chunks),
      }),
    },
    settings: { streamLargeBodies: 50 },
  });
  assert.is(client.head?.status, 200);
  assert.equal(Buffer.concat(client.chunks), Buffer.concat(chunks));
  assert.ok(flow.response!.stream);
  assert.is(seenLength, 0);
  assert.equal(hooks, ["requestheaders", "request", "responseheaders", "response"]);
});

test("stream_large_bodies: a response without a length turns to streaming when it passes the limit, nothing lost", async () => {
  const chunks = [Buffer.alloc(30, 1), Buffer.alloc(30, 2), Buffer.alloc(30, 3)];
  const { client, flow } = await run({
    server: {
      answer: () => ({ ...serverResponse(200, ""), rawHeaders: [], body: Readable.from(chunks) }),
    },
    settings: { streamLargeBodies: 50 },
  });
  assert.ok(flow.response!.stream);
  assert.equal(Buffer.concat(client.chunks), Buffer.concat(chunks));
});

test("a streamed upload the server answers early: the answer goes out, then both connections end", async () => {
  const body = new PassThrough();
  body.write(Buffer.alloc(80));
  const { client, route } = await run({
    request: new Request({ method: "PUT", host: "o", headers: [["Content-Length", "1000000"]] }),
    body,
    server: { answer: () => serverResponse(413, "too big") },
    settings: { streamLargeBodies: 50 },
  });
  await client.done;
  assert.is(client.buffered?.status, 413);
  assert.ok(client.closedAfter, "the client's connection cannot carry another request");
  assert.ok(route.destroyed, "what is left of the upload is never read");
});

test("a streamed upload to a server that went silent (the route's bound ran out): 504, not an upload error", async () => {
  const body = new PassThrough();
  body.write(Buffer.alloc(80));
  const { client, route } = await run({
    request: new Request({ method: "PUT", host: "o", headers: [["Content-Length", "1000000"]] }),
    body,
    server: { silent: true },
    settings: { streamLargeBodies: 50, idleTimeoutMs: 50 },
  });
  assert.is(client.error?.status, 504);
  assert.match(client.error!.message, /server did not answer within idle_timeout \(0\.05 s\)/);
  assert.ok(route.destroyed);
});

test("a streamed upload that completes: everything reaches the server in order", async () => {
  const parts = [Buffer.alloc(60, 1), Buffer.alloc(60, 2)];
  const { client, route } = await run({
    request: new Request({ method: "PUT", host: "o", headers: [["Content-Length", "120"]] }),
    body: Readable.from(parts),
    server: {
      answer: async (_sent, r) => {
        await r.uploadDone;
        return serverResponse(201, "stored");
      },
    },
    settings: { streamLargeBodies: 50 },
  });
  assert.equal(Buffer.concat(route.uploaded), Buffer.concat(parts));
  assert.is(client.buffered?.status, 201);
  assert.not.ok(client.closedAfter);
  assert.not.ok(route.destroyed);
});

test("an addon's new response body reaches the client; the flow keeps the server's status", async () => {
  const { client } = await run({
    addons: [{ name: "a", response: (f) => f.response!.setText("changed") }],
    server: { answer: () => serverResponse(200, "original") },
  });
  assert.is(client.buffered?.body.toString(), "changed");
  assert.is(client.buffered?.headers.get("content-length"), "7");
});

test("buffer_budget: a declared body the budget cannot take streams instead, one info line; the budget is given back", async () => {
  const budget = new BufferBudget(100);
  const chunks = [Buffer.alloc(100, 1), Buffer.alloc(100, 2)];
  const { client, flow, logs } = await run({
    server: {
      answer: () => ({
        ...serverResponse(200, ""),
        rawHeaders: ["Content-Length", "200"],
        body: Readable.from(chunks),
      }),
    },
    budget,
  });
  await client.done;
  assert.ok(flow.response!.stream);
  assert.equal(Buffer.concat(client.chunks), Buffer.concat(chunks));
  assert.equal(logs, [
    "info: buffer_budget (100b) is taken by other bodies: streaming the response body (200b) of GET http://origin.test/p",
  ]);
  assert.is(budget.inUse, 0);
});

test("buffer_budget: a body of unknown length that passes the budget midway streams on with what was read", async () => {
  const budget = new BufferBudget(150);
  const chunks = [Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 3)];
  const { client, flow, logs } = await run({
    server: { answer: () => ({ ...serverResponse(200, ""), rawHeaders: [], body: Readable.from(chunks) }) },
    budget,
  });
  await client.done;
  assert.ok(flow.response!.stream);
  assert.equal(Buffer.concat(client.chunks), Buffer.concat(chunks));
  assert.is(logs.length, 1);
  assert.match(logs[0]!, /streaming the response body of GET http:\/\/origin\.test\/p$/);
  assert.is(budget.inUse, 0);
});

test("buffer_budget: what fits is buffered and held until the answer is out", async () => {
  const budget = new BufferBudget(1000);
  let during = -1;
  const { client, flow } = await run({
    addons: [{ name: "a", response: () => void (during = budget.inUse) }],
    server: { answer: () => serverResponse(200, Buffer.alloc(300)) },
    budget,
  });
  assert.not.ok(flow.response!.stream);
  assert.is(client.buffered?.body.length, 300);
  assert.is(during, 300);
  assert.is(budget.inUse, 0);
});

test("buffer_budget: an upload the budget cannot take goes to the server streamed, every byte", async () => {
  const parts = [Buffer.alloc(80, 7), Buffer.alloc(80, 8)];
  const budget = new BufferBudget(100);
  const { client, route, flow } = await run({
    request: new Request({ method: "PUT", host: "o", headers: [["Content-Length", "160"]] }),
    body: Readable.from(parts),
    server: {
      answer: async (_s, r) => {
        await r.uploadDone;
        return serverResponse(201, "ok");
      },
    },
    budget,
  });
  assert.ok(flow.request.stream);
  assert.equal(Buffer.concat(route.uploaded), Buffer.concat(parts));
  assert.is(client.buffered?.status, 201);
  assert.is(budget.inUse, 0);
});

test("buffer_budget does not lift body_size_limit: 413 still", async () => {
  const { client } = await run({
    request: new Request({ method: "POST", host: "o", headers: [["Content-Length", "100"]] }),
    body: Readable.from([Buffer.alloc(100)]),
    server: { answer: () => serverResponse(200, "") },
    settings: { bodySizeLimit: 10 },
    budget: new BufferBudget(1e9),
  });
  assert.is(client.error?.status, 413);
});

test("reroute: a request an addon pointed elsewhere goes out on the other route; flow.server follows", async () => {
  const other = new FakeRoute({ answer: () => serverResponse(200, "from other") }, "other.test");
  const seen: string[] = [];
  const { client, route, flow } = await run({
    addons: [
      { name: "a", request: (f) => void (f.request.host = "other.test") },
      { name: "b", response: (f) => void seen.push(f.server.address.host) },
    ],
    server: {
      answer: () => serverResponse(200, "from origin"),
      reroute: (request) => (request.host === "other.test" ? other : undefined),
    },
  });
  assert.is(route.sends, 0);
  assert.is(other.sends, 1);
  assert.is(client.buffered?.body.toString(), "from other");
  assert.is(flow.server, other.server);
  assert.equal(seen, ["other.test"]);
});

test("reroute: a request left pointing where it arrived stays on its route", async () => {
  const other = new FakeRoute({ answer: () => serverResponse(200, "from other") }, "other.test");
  const { client, route, flow } = await run({
    addons: [{ name: "a", request: (f) => void f.request.headers.set("Host", "other.test") }],
    server: {
      answer: () => serverResponse(200, "from origin"),
      reroute: (request) => (request.host === "other.test" ? other : undefined),
    },
  });
  assert.is(route.sends, 1);
  assert.is(other.sends, 0);
  assert.is(client.buffered?.body.toString(), "from origin");
  assert.is(flow.server, route.server);
});

test("reroute: a destination that cannot be reached is a 502 with the reason, the error hook, nothing sent", async () => {
  const { client, route, flow, hooks } = await run({
    addons: [{ name: "a", request: (f) => void (f.request.port = 0) }],
    server: { answer: () => serverResponse(200, "no"), reroute: () => "request.port 0 is not a port number" },
  });
  assert.is(route.sends, 0);
  assert.is(client.error?.status, 502);
  assert.is(client.error?.message, "request.port 0 is not a port number");
  assert.is(flow.error?.msg, "request.port 0 is not a port number");
  assert.equal(hooks, ["requestheaders", "request", "error"]);
});

test("reroute: a streamed upload goes whole to the new route", async () => {
  const other = new FakeRoute(
    {
      answer: async (_sent, r) => {
        await r.uploadDone;
        return serverResponse(201, "stored");
      },
    },
    "other.test",
  );
  const { client, route } = await run({
    request: new Request({ method: "POST", host: "origin.test", headers: [["Content-Length", "6"]] }),
    body: Readable.from([Buffer.from("abc"), Buffer.from("def")]),
    addons: [
      {
        name: "a",
        requestheaders: (f) => {
          f.request.stream = true;
          f.request.host = "other.test";
        },
      },
    ],
    server: { reroute: (request) => (request.host === "other.test" ? other : undefined) },
  });
  assert.is(route.sends, 0);
  assert.is(Buffer.concat(other.uploaded).toString(), "abcdef");
  assert.is(client.buffered?.status, 201);
});

test("reroute: an addon's local answer never asks for a route", async () => {
  let asked = 0;
  const { client } = await run({
    addons: [
      {
        name: "a",
        request: (f) => {
          f.request.host = "other.test";
          f.response = Response.make(200, "local");
        },
      },
    ],
    server: { reroute: () => void asked++ },
  });
  assert.is(asked, 0);
  assert.is(client.buffered?.body.toString(), "local");
});

test.run();
