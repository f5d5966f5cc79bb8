// `PUT /api/flows/:id`: a user's edit of a flow (API.md). Everything is checked before
// anything changes, so a refused edit leaves the flow as it was.
import { encodeContent, Headers, Response, type HTTPFlow } from "@interloper/sdk";
import { HttpError } from "./http-io.ts";

interface MessageEdit {
  headers?: [string, string][];
  content?: Buffer;
  /** `content` is text to encode again with the message's Content-Encoding; else raw bytes. */
  contentIsText: boolean;
  httpVersion?: string;
}

interface RequestEdit extends MessageEdit {
  method?: string;
  url?: string;
}

interface ResponseEdit extends MessageEdit {
  status?: number;
  reason?: string;
}

export interface FlowEdit {
  request?: RequestEdit;
  response?: ResponseEdit;
  marked?: string;
  comment?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[^\r\n\0]*$/;
const VERSION = /^HTTP\/\d(\.\d)?$/;

/** Reads an edit from a JSON body; throws HttpError 400 naming what is wrong. */
export function parseEdit(body: Record<string, unknown>): FlowEdit {
  const edit: FlowEdit = {};
  if (body.request !== undefined) edit.request = parseRequestEdit(objectAt(body, "request"));
  if (body.response !== undefined) edit.response = parseResponseEdit(objectAt(body, "response"));
  if (body.marked !== undefined) edit.marked = stringAt(body, "marked");
  if (body.comment !== undefined) edit.comment = stringAt(body, "comment");
  return edit;
}

/** Applies a parsed edit. A response edit on a flow without one makes the response (answered locally when resumed). */
export function applyEdit(flow: HTTPFlow, edit: FlowEdit): void {
  const r = edit.request;
  const s = edit.response;
  // Bodies are encoded before anything changes: an encoding that cannot be written refuses the whole edit.
  const requestBody = r ? encodedBody(flow.request.headers, r, "request") : undefined;
  const responseBody = s ? encodedBody(flow.response?.headers, s, "response") : undefined;
  if (edit.marked !== undefined) flow.marked = edit.marked;
  if (edit.comment !== undefined) flow.comment = edit.comment;
  if (r) {
    if (r.method !== undefined) flow.request.method = r.method;
    if (r.url !== undefined) flow.request.url = r.url;
    applyMessage(flow.request, r, requestBody);
  }
  if (s) {
    const response = (flow.response ??= new Response({ status: s.status ?? 200 }));
    if (s.status !== undefined) response.status = s.status;
    if (s.reason !== undefined) response.reason = s.reason;
    applyMessage(response, s, responseBody);
  }
}

/** The bytes to put on the wire for an edit's content, under the Content-Encoding the message will have. */
function encodedBody(current: Headers | undefined, edit: MessageEdit, where: string): Buffer | undefined {
  if (edit.content === undefined || !edit.contentIsText) return edit.content;
  const headers = edit.headers !== undefined ? new Headers(edit.headers) : current;
  try {
    return encodeContent(edit.content, headers?.get("content-encoding") ?? null);
  } catch (err) {
    throw new HttpError(400, `${where}.content: ${(err as Error).message}`);
  }
}

function applyMessage(message: HTTPFlow["request"] | Response, edit: MessageEdit, body: Buffer | undefined): void {
  if (edit.httpVersion !== undefined) message.httpVersion = edit.httpVersion;
  if (edit.headers !== undefined) message.headers = new Headers(edit.headers);
  if (body !== undefined) message.setBody(body);
}

function parseRequestEdit(o: Record<string, unknown>): RequestEdit {
  const edit: RequestEdit = parseMessageEdit(o, "request");
  if (o.method !== undefined) {
    const method = stringAt(o, "method");
    if (!TOKEN.test(method)) throw new HttpError(400, `request.method is not a method: ${JSON.stringify(method)}`);
    edit.method = method;
  }
  if (o.url !== undefined) {
    const url = stringAt(o, "url");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new HttpError(400, `request.url is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new HttpError(400, `request.url must be http or https: ${JSON.stringify(url)}`);
    edit.url = url;
  }
  return edit;
}

function parseResponseEdit(o: Record<string, unknown>): ResponseEdit {
  const edit: ResponseEdit = parseMessageEdit(o, "response");
  if (o.status !== undefined) {
    const status = o.status;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 999)
      throw new HttpError(400, `response.status must be a whole number from 100 to 999, not ${JSON.stringify(status)}`);
    edit.status = status;
  }
  if (o.reason !== undefined) {
    const reason = stringAt(o, "reason");
    if (!FIELD_VALUE.test(reason)) throw new HttpError(400, "response.reason may not hold line breaks or NUL");
    edit.reason = reason;
  }
  return edit;
}

function parseMessageEdit(o: Record<string, unknown>, where: string): MessageEdit {
  const edit: MessageEdit = { contentIsText: false };
  if (o.httpVersion !== undefined) {
    const v = stringAt(o, "httpVersion");
    if (!VERSION.test(v)) throw new HttpError(400, `${where}.httpVersion is not an HTTP version: ${JSON.stringify(v)}`);
    edit.httpVersion = v;
  }
  if (o.headers !== undefined) edit.headers = parseHeaders(o.headers, where);
  if (o.content !== undefined && o.contentBase64 !== undefined)
    throw new HttpError(400, `${where}: give content or contentBase64, not both`);
  if (o.content !== undefined) {
    edit.content = Buffer.from(stringAt(o, "content"), "utf8");
    edit.contentIsText = true;
  } else if (o.contentBase64 !== undefined) {
    const b64 = stringAt(o, "contentBase64");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64.replace(/\s+/g, "")))
      throw new HttpError(400, `${where}.contentBase64 is not base64`);
    edit.content = Buffer.from(b64, "base64");
  }
  return edit;
}

function parseHeaders(value: unknown, where: string): [string, string][] {
  if (!Array.isArray(value)) throw new HttpError(400, `${where}.headers must be a list of [name, value] pairs`);
  return value.map((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string")
      throw new HttpError(400, `${where}.headers[${i}] must be [name, value] (two strings)`);
    const [name, v] = pair as [string, string];
    if (!TOKEN.test(name))
      throw new HttpError(400, `${where}.headers[${i}]: not a field name: ${JSON.stringify(name)}`);
    if (!FIELD_VALUE.test(v))
      throw new HttpError(400, `${where}.headers[${i}] (${name}): the value may not hold line breaks or NUL`);
    return [name, v];
  });
}

function objectAt(o: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = o[name];
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new HttpError(400, `'${name}' must be an object`);
  return v as Record<string, unknown>;
}

function stringAt(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== "string") throw new HttpError(400, `'${name}' must be a string`);
  return v;
}
