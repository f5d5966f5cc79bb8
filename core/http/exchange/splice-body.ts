import type { Response } from "@interloper/sdk";
import { spliceBytes, TransferError } from "../../platform/splice.ts";
import type { UpstreamResponse } from "../upstream.ts";
import type { ClientResponder } from "./responder.ts";
import { bodyLength } from "./response-head.ts";

/**
 * A streamed HTTP/1 body with a Content-Length, between two plain TCP
 * sockets, is moved by the splice worker thread fd to fd instead of chunk by
 * chunk through JS streams: "ok" when it did, `{ error }` when that failed
 * (the server connection is closed; the caller closes the client's),
 * undefined when it could not be tried (the caller streams it). The head
 * must have been written.
 */
export async function spliceBody(
  client: ClientResponder,
  method: string,
  response: Response,
  upRes: UpstreamResponse,
  firstChunks: Buffer[],
): Promise<"ok" | { error: unknown } | undefined> {
  if (!upRes.takeBody) return undefined;
  // No body goes to the client for HEAD, 1xx, 204 and 304 (an addon may have changed the method or the
  // status): Node's response drops what is written, which only the JS path goes through.
  if (bodyLength(response, method) === undefined) return undefined;
  const target = client.spliceTarget();
  if (!target) return undefined;
  // The client must be told the same framing: the server's bytes go out as they came. (An addon that
  // dropped the Content-Length gets Node's chunked framing, which only the JS path writes.)
  const declared = response.headers.getAll("content-length");
  if (declared.length !== 1 || response.headers.has("transfer-encoding")) return undefined;
  const taken = upRes.takeBody();
  if (!taken) return undefined;
  let length = taken.length;
  for (const c of firstChunks) length += c.length;
  if (declared[0]!.trim() !== String(length)) {
    taken.giveBack();
    return undefined;
  }
  target.flushHead();
  const moving = spliceBytes(
    taken.socket,
    target.socket,
    length,
    firstChunks.length > 0 ? [...firstChunks, ...taken.first] : taken.first,
  );
  if (!moving) {
    taken.giveBack();
    return undefined;
  }
  try {
    await moving;
  } catch (error) {
    taken.done(false);
    return { error: asServerError(error) };
  }
  taken.done(true);
  client.end();
  return "ok";
}

/** Says it as the JS path does: the user reads about the server, not about the mechanism. */
function asServerError(error: unknown): unknown {
  const e = error as NodeJS.ErrnoException;
  if (e.code) return e;
  if (e instanceof TransferError && e.srcEnded)
    return new Error("server closed the connection before the body was complete");
  return new Error(
    e.message
      .replace(/^spliceBytes: /, "")
      .replace(/\bsrc\b/g, "server")
      .replace(/\bdst\b/g, "client"),
  );
}
