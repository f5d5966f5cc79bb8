// One HTTP request and its answer, phase by phase: the request hooks and
// body, a local answer or the round trip to the server (send, await the
// head, read or stream the body), and the delivery to the client. The
// protocol of each side stays behind its interface: the client's behind a
// ClientResponder, the server's behind an UpstreamRoute.
import type { Readable } from "node:stream";
import { Headers, Response, formatSize, type HTTPFlow, type LogLevel } from "@interloper/sdk";
import type { AddonHost } from "@interloper/sdk/host";
import type { CoreSettings, ProxyContext } from "../../engine/context.ts";
import { describeNetError } from "../../connection/net-errors.ts";
import { BodyStalled, hasNoBody, streamBody } from "../body.ts";
import type { BufferBudget } from "../buffer-budget.ts";
import { BodyBuffering, type Buffering } from "./body-buffering.ts";
import type { UpstreamExchange, UpstreamResponse } from "../upstream.ts";
import { forwardHeaders } from "./forward-headers.ts";
import type { ClientResponder } from "./responder.ts";
import { errorText, type UpstreamRoute } from "./server-route.ts";
import { spliceBody } from "./splice-body.ts";
import { NoAnswer } from "../no-answer.ts";
import { clientWaits, type ClientHook } from "./waits.ts";

/** What an exchange needs of the proxy around it. */
export interface ExchangeEnv {
  readonly host: Pick<AddonHost, "trigger">;
  readonly settings: Pick<CoreSettings, "streamLargeBodies" | "bodySizeLimit" | "idleTimeoutMs">;
  /** The client connection's event log. */
  log(level: LogLevel, message: string): void;
  readonly bufferBudget: BufferBudget;
}

/** The env of exchanges run for `context`, logging through `log` (settings read when used: a change applies at once). */
export function exchangeEnv(
  context: Pick<ProxyContext, "host" | "settings" | "bufferBudget">,
  log: (level: LogLevel, message: string) => void,
): ExchangeEnv {
  return new ContextEnv(context, log);
}

// A class, not an object literal with a getter: V8 builds such literals on a slow path
// (about 1 µs each, once per request in the profile of bench A).
class ContextEnv implements ExchangeEnv {
  readonly host: Pick<AddonHost, "trigger">;
  readonly bufferBudget: BufferBudget;

  constructor(
    private readonly context: Pick<ProxyContext, "host" | "settings" | "bufferBudget">,
    readonly log: (level: LogLevel, message: string) => void,
  ) {
    this.host = context.host;
    this.bufferBudget = context.bufferBudget;
  }

  get settings(): CoreSettings {
    return this.context.settings;
  }
}

type Outcome = "ok" | "error";

/** A phase's result, or a promise of it only when the phase had to wait (a held hook, a body, a connect). */
type Soon<T> = T | Promise<T>;

// Most requests wait on nothing but the server: the phases below return plain values then. Each
// async function awaited costs a promise and a trip through the microtask queue (~0.3 µs a
// request each in the profile of bench A).

export class HttpExchange {
  private upstream: UpstreamExchange | undefined;
  /** A streamed upload's first chunks, read before it turned out too large to buffer. */
  private uploadStart: Buffer[] = [];
  /** Made when a body is read (most requests have none). */
  private bufferingMade: BodyBuffering | undefined;
  /** The buffered answer on its way to the client; the budget is given back once it is out. */
  private answering: Promise<void> | undefined;

  constructor(
    private readonly env: ExchangeEnv,
    readonly flow: HTTPFlow,
    /** The client's request body. */
    private readonly body: Readable,
    private readonly client: ClientResponder,
    /** The route the request arrived on; the hooks may point the request elsewhere (`reroute`). */
    private route: UpstreamRoute,
  ) {}

  private get buffering(): BodyBuffering {
    const env = this.env;
    return (this.bufferingMade ??= new BodyBuffering(
      () => env.settings,
      env.bufferBudget,
      (l, m) => env.log(l, m),
    ));
  }

  /** What the flow's `kill()` does: the request to the server and the client's side go. */
  kill(): void {
    this.upstream?.destroy();
    this.client.kill();
  }

  async run(): Promise<void> {
    const { flow } = this;
    try {
      const read = this.readRequest();
      if (!(read instanceof Promise ? await read : read)) return;
      if (flow.response) return await this.answerLocally();
      const routed = this.reroute();
      if (routed !== true) return void (await routed);
      const outcome = await this.route.inTurn(() => this.roundTrip());
      if (outcome === "error") await this.env.host.trigger("error", flow);
    } catch (err) {
      // A bug, not a network failure: keep its stack, end this exchange only.
      const { method, prettyUrl } = flow.request;
      this.env.log("error", `internal error handling ${method} ${prettyUrl}: ${(err as Error).stack ?? err}`);
      this.upstream?.destroy();
      if (!this.client.headersSent) this.client.sendError(502, "interloper internal error", true);
      else this.client.abort();
    } finally {
      const buffering = this.bufferingMade;
      if (buffering && this.answering) void this.answering.finally(() => buffering.release());
      else buffering?.release();
    }
  }

  /** The request hooks and body. False when the exchange ended here (answered, refused or killed). */
  private readRequest(): Soon<boolean> {
    const held = this.waitFor("requestheaders");
    return held ? held.then(() => this.readRequestBody()) : this.readRequestBody();
  }

  private readRequestBody(): Soon<boolean> {
    const { flow, env } = this;
    const request = flow.request;
    if (flow.killed) return this.ended();
    const limit = env.settings.streamLargeBodies;
    const declared = Number(request.headers.get("content-length") ?? NaN);
    if (limit !== undefined && declared > limit) request.stream = true;
    // Most requests (GETs) declare no body (RFC 9112 §6.3): nothing to read or wait for.
    if (!flow.response && !request.stream && !hasNoBody(this.body))
      return this.bufferUpload().then((ok) => ok && this.requestRead());
    return this.requestRead();
  }

  /** The `request` hook, once the body is read (or known to stream). */
  private requestRead(): Soon<boolean> {
    const { flow } = this;
    flow.request.timestampEnd = flow.request.stream ? undefined : Date.now() / 1000;
    const held = flow.response ? undefined : this.waitFor("request");
    if (held) return held.then(() => (flow.killed ? this.ended() : true));
    return flow.killed ? this.ended() : true;
  }

  /**
   * The request goes where the hooks left it pointing (its url, host, port or scheme), on the
   * route to that server; `flow.server` follows. False when no server can be reached there.
   */
  private reroute(): true | Promise<false> {
    const { flow } = this;
    const route = this.route.forRequest(flow.request);
    if (typeof route === "string") return this.unreachable(route);
    this.route = route;
    flow.server = route.server;
    return true;
  }

  /** The flow's error line says why (an addon's mistake: the request is not sent anywhere). */
  private async unreachable(why: string): Promise<false> {
    this.body.resume();
    this.fail(why, 502, false);
    await this.env.host.trigger("error", this.flow);
    return false;
  }

  /** Reads the whole upload, or its start when it turns out to stream. False when the exchange ended. */
  private async bufferUpload(): Promise<boolean> {
    const { flow, env } = this;
    const request = flow.request;
    const read = await this.buffering
      .read(this.body, request.headers, "request", request)
      .catch((err: unknown) => err as Error);
    if (read instanceof Error) {
      // The client's doing (it went away, went quiet, or its framing broke: Node's parser answered 400 then).
      const msg =
        read instanceof BodyStalled
          ? `client sent no more of its request body: ${read.message}`
          : `client closed the connection before its request body was complete (${describeNetError(read)})`;
      env.log("info", `${msg}: ${request.method} ${request.prettyUrl}`);
      flow.error = { msg, timestamp: Date.now() / 1000 };
      this.client.abort();
      return this.ended();
    }
    if (read.kind === "whole") {
      request.body = read.body;
    } else if (read.kind === "stream") {
      request.stream = true;
      this.uploadStart = read.chunks;
    } else {
      env.log("warn", `request body larger than body_size_limit: ${request.method} ${request.prettyUrl}`);
      this.client.sendError(413, `request body larger than body_size_limit (${this.bodySizeLimit()})`, true);
      return false;
    }
    return true;
  }

  /** Answered by an addon: the server is never contacted. */
  private async answerLocally(): Promise<void> {
    const { flow } = this;
    this.body.resume();
    await this.waitFor("responseheaders");
    await this.waitFor("response");
    if (flow.killed) return void (await this.ended());
    this.answering = this.client.sendBuffered(flow.response!, flow.request.method);
  }

  private async roundTrip(): Promise<Outcome> {
    const failure = this.route.failure();
    if (failure !== undefined) return this.fail(failure, 502, false);
    if (this.clientGone()) return "error";
    try {
      const preparing = this.route.prepare();
      if (preparing) await preparing;
    } catch (err) {
      return this.fail(errorText(err), 502, false);
    }
    // A client gone meanwhile (an HTTP/2 stream reset while it waited its turn) is not sent upstream.
    if (this.clientGone()) return "error";
    const sending = this.sendRequest();
    const sent = sending instanceof Promise ? await sending : sending;
    if (sent !== undefined) return sent;
    let upRes: UpstreamResponse;
    try {
      // Bounded by idle_timeout: the request went out with it (UpstreamRoute.send).
      upRes = await this.upstream!.response;
    } catch (err) {
      return this.noHead(err);
    }
    const reading = this.readResponse(upRes);
    const firstChunks = reading instanceof Promise ? await reading : reading;
    if (firstChunks === "error") return firstChunks;
    return this.deliver(upRes, firstChunks);
  }

  /** The request head and body to the server. An outcome when that failed already. */
  private sendRequest(): Soon<Outcome | undefined> {
    const request = this.flow.request;
    let sending: UpstreamExchange | Promise<UpstreamExchange>;
    try {
      sending = this.route.send(request, forwardHeaders(request.headers), this.env.settings.idleTimeoutMs);
    } catch (err) {
      return this.fail(errorText(err), 502, false);
    }
    if (!(sending instanceof Promise)) return this.sendBody(sending);
    return sending.then(
      (upstream) => this.sendBody(upstream),
      (err: unknown) => this.fail(errorText(err), 502, false),
    );
  }

  private sendBody(upstream: UpstreamExchange): Soon<Outcome | undefined> {
    const request = this.flow.request;
    this.upstream = upstream;
    // A client that goes away takes the server request with it.
    this.client.onClose(() => {
      if (!this.client.finished) upstream.destroy();
    });
    if (!request.stream) {
      upstream.end(request.body);
      return undefined;
    }
    return this.streamUpload(upstream);
  }

  /**
   * A streamed upload, raced against the server's answer: a server may answer before it has the whole
   * body (a 413, a redirect). Then the answer goes to the client, the upload is abandoned, and both
   * connections end.
   */
  private async streamUpload(upstream: UpstreamExchange): Promise<Outcome | undefined> {
    let uploaded = false;
    const sending = streamBody(this.uploadStart, this.body, upstream.stream()).then(
      () => void (uploaded = true),
      (err: unknown) => err ?? new Error("upload failed"),
    );
    const first = await Promise.race([
      sending.then((err) => ({ sent: true as const, err })),
      upstream.response.then(
        () => ({ sent: false as const, answered: true, why: undefined }),
        (why: unknown) => ({ sent: false as const, answered: false, why }),
      ),
    ]);
    // A server that stopped taking the upload and never answered is a silent server (504).
    if (!first.sent && !first.answered && first.why instanceof NoAnswer) return this.noHead(first.why);
    // When the response failed first, the upload's own outcome says best what went wrong, if it did.
    const err = first.sent ? first.err : first.answered ? undefined : await sending;
    if (err instanceof NoAnswer) return this.noHead(err);
    if (err) return this.fail(`error sending request: ${errorText(err)}`, 502, true);
    if (!first.sent && first.answered) {
      this.client.onAnswered(() => {
        // The upload ended meanwhile after all: both connections go on as usual.
        if (uploaded) return;
        // What is left of the upload is never read: neither connection can carry another request.
        upstream.destroy();
        this.client.closeAfterAnswer();
      });
    }
    return undefined;
  }

  /** The server sent no response head: why, to the client. */
  private noHead(err: unknown): "error" {
    if (this.client.destroyed) return this.fail("client disconnected", 502, true);
    if (err instanceof NoAnswer) {
      this.upstream!.destroy();
      return this.fail(err.message, 504, false);
    }
    return this.fail(errorText(err), 502, false);
  }

  /** The response hooks and body: the chunks read so far when it streams, or "error". */
  private readResponse(upRes: UpstreamResponse): Soon<Buffer[] | "error"> {
    const response = new Response({
      status: upRes.status,
      reason: upRes.reason,
      headers: Headers.fromRaw(upRes.rawHeaders),
      httpVersion: upRes.httpVersion,
    });
    this.flow.response = response;
    const held = this.waitFor("responseheaders");
    return held ? held.then(() => this.readResponseBody(upRes, response)) : this.readResponseBody(upRes, response);
  }

  private readResponseBody(upRes: UpstreamResponse, response: Response): Soon<Buffer[] | "error"> {
    const { flow, env } = this;
    if (flow.killed) return "error";
    const limit = env.settings.streamLargeBodies;
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (limit !== undefined && declared > limit) response.stream = true;
    if (response.stream) return [];
    const max = limit ?? env.settings.bodySizeLimit ?? Infinity;
    // Most small responses came whole with their head (h1-client.ts): nothing to read.
    if (upRes.complete !== undefined && upRes.complete.length <= max)
      return this.responseRead(upRes, response, { kind: "whole", body: upRes.complete });
    return this.bufferResponse(upRes, response);
  }

  private async bufferResponse(upRes: UpstreamResponse, response: Response): Promise<Buffer[] | "error"> {
    const { flow } = this;
    let read: Buffering;
    try {
      read = await this.buffering.read(upRes.body, response.headers, "response", flow.request);
    } catch (err) {
      flow.response = undefined;
      return this.fail(`server connection failed while reading the response: ${errorText(err)}`, 502, true);
    }
    return this.responseRead(upRes, response, read);
  }

  private responseRead(upRes: UpstreamResponse, response: Response, read: Buffering): Buffer[] | "error" {
    if (read.kind === "whole") {
      response.body = read.body;
      const trailers = upRes.trailers();
      if (trailers) response.trailers = Headers.fromRaw(trailers);
      return [];
    }
    if (read.kind === "stream") {
      response.stream = true;
      return read.chunks;
    }
    this.upstream!.destroy();
    this.flow.response = undefined;
    return this.fail(`response body larger than body_size_limit (${this.bodySizeLimit()})`, 502, false);
  }

  /** The response to the client: whole, or streamed (spliced in the kernel where it can be). */
  private deliver(upRes: UpstreamResponse, firstChunks: Buffer[]): Soon<Outcome> {
    const response = this.flow.response!;
    if (response.stream) return this.deliverStream(upRes, firstChunks, response);
    response.timestampEnd = Date.now() / 1000;
    const held = this.waitFor("response");
    return held ? held.then(() => this.answer(response)) : this.answer(response);
  }

  /** The whole response to the client, as the `response` hook left it. */
  private answer(response: Response): Outcome {
    const { flow } = this;
    if (flow.killed) return "error";
    this.answering = this.client.sendBuffered(flow.response ?? response, flow.request.method);
    return "ok";
  }

  private async deliverStream(upRes: UpstreamResponse, firstChunks: Buffer[], response: Response): Promise<Outcome> {
    const { flow, client } = this;
    client.writeHead(response);
    // The method the client sent decides whether a body follows (an addon may have changed the flow's).
    const inKernel = await spliceBody(client, client.method, response, upRes, firstChunks);
    try {
      if (inKernel === undefined) await this.streamResponse(upRes, firstChunks);
      else if (inKernel !== "ok") throw inKernel.error;
    } catch (err) {
      client.abort();
      flow.error = { msg: `stream interrupted: ${errorText(err)}`, timestamp: Date.now() / 1000 };
      return "error";
    }
    response.timestampEnd = Date.now() / 1000;
    await this.env.host.trigger("response", flow);
    return "ok";
  }

  private streamResponse(upRes: UpstreamResponse, firstChunks: Buffer[]): Promise<void> {
    const response = this.flow.response!;
    return streamBody(firstChunks, upRes.body, this.client.body, undefined, () => {
      const trailers = upRes.trailers();
      if (!trailers) return;
      response.trailers = Headers.fromRaw(trailers);
      this.client.addTrailers(response.trailers);
    });
  }

  private clientGone(): boolean {
    if (!this.client.destroyed) return false;
    this.flow.error = { msg: "client disconnected before the request was sent", timestamp: Date.now() / 1000 };
    return true;
  }

  private fail(msg: string, status: number, closeClient: boolean): "error" {
    this.flow.error = { msg, timestamp: Date.now() / 1000 };
    if (!this.client.headersSent) this.client.sendError(status, msg, closeClient);
    else this.client.abort();
    return "error";
  }

  /** The flow ended before its round trip (killed, or the client left): addons get `error`. */
  private async ended(): Promise<false> {
    await this.env.host.trigger("error", this.flow);
    return false;
  }

  private waitFor(hook: ClientHook): void | Promise<void> {
    const { env } = this;
    return clientWaits(env.host, env.settings.idleTimeoutMs, (l, m) => env.log(l, m), hook, this.flow);
  }

  private bodySizeLimit(): string {
    return formatSize(this.env.settings.bodySizeLimit!);
  }
}
