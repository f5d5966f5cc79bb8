import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { ProxyContext } from "../../engine/context.ts";
import type { HttpContext } from "../frontend.ts";
import { Turns } from "../turns.ts";
import { HttpExchange, exchangeEnv } from "./exchange.ts";
import { openFlow } from "./open-flow.ts";
import { responderFor } from "./responder.ts";

/** The requests of one HTTP/1 client connection, in their order. */
const pipelined = new Turns<object>();

/**
 * One HTTP request from a client (HTTP/1 or a stream of HTTP/2). Pipelined
 * requests are handled one after the other: a buffered PUT whose hooks take
 * longer must still reach the server before the GET that followed it on the
 * same connection.
 */
export async function handleRequest(
  proxy: ProxyContext,
  ctx: HttpContext,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): Promise<void> {
  const client = responderFor(req, res);
  const turn = client.orderKey && pipelined.take(client.orderKey);
  if (turn && turn.wait) await turn.wait;
  try {
    let exchange: HttpExchange | undefined;
    const opened = openFlow(proxy, ctx, req, client.multiplexed, () => exchange?.kill());
    if (typeof opened === "string") return client.sendError(400, opened, true);
    const { session } = ctx;
    const env = exchangeEnv(proxy, (level, message) => session.log(level, message));
    exchange = new HttpExchange(env, opened.flow, req, client, opened.route);
    await exchange.run();
  } finally {
    turn?.release();
  }
}
