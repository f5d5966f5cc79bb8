import type { Headers } from "../headers.ts";
import type { Request, Response, TCPMessage, WebSocketMessage } from "../flow.ts";

/**
 * What one evaluation has already worked out from the flow, so a body is
 * decoded (and a header block joined) at most once however many operators
 * read it. Made fresh for each evaluation of a filter that reads bodies or
 * header blocks; never made for the others.
 *
 * Bodies, header blocks and messages are "byte strings": latin1 strings with
 * one character per byte, what the bytes operators' regexes search.
 */
export class Memo {
  requestBody: string | null | undefined = undefined;
  responseBody: string | null | undefined = undefined;
  requestHead: string | undefined = undefined;
  responseHead: string | undefined = undefined;
  messages: (string | undefined)[] | undefined = undefined;
}

/** The decoded body as bytes, or `null` when the body was streamed (mitmproxy's `None` content). */
function decodedBody(message: Request | Response): string | null {
  if (message.stream) return null;
  let bytes: Buffer;
  try {
    bytes = message.content;
  } catch {
    // A body that does not decode is searched as it came (mitmproxy's get_content(strict=False)).
    bytes = message.body;
  }
  return bytes.toString("latin1");
}

export function requestBody(request: Request, memo: Memo): string | null {
  if (memo.requestBody === undefined) memo.requestBody = decodedBody(request);
  return memo.requestBody;
}

export function responseBody(response: Response, memo: Memo): string | null {
  if (memo.responseBody === undefined) memo.responseBody = decodedBody(response);
  return memo.responseBody;
}

/** mitmproxy's `bytes(headers)`: `name: value\r\n` per field, wire order and spelling. */
function headerBlock(headers: Headers): string {
  let block = "";
  for (const [name, value] of headers.fields) block += `${name}: ${value}\r\n`;
  return block;
}

export function requestHead(request: Request, memo: Memo): string {
  return (memo.requestHead ??= headerBlock(request.headers));
}

export function responseHead(response: Response, memo: Memo): string {
  return (memo.responseHead ??= headerBlock(response.headers));
}

/** The content of message `i` (WebSocket or TCP) as bytes. */
export function messageText(messages: readonly (WebSocketMessage | TCPMessage)[], i: number, memo: Memo): string {
  const texts = (memo.messages ??= []);
  return (texts[i] ??= messages[i]!.content.toString("latin1"));
}
