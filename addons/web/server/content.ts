// `GET /api/flows/:id/{request|response}/content`: a body, raw or decoded, whole or one
// range, written out a slice at a time with back-pressure (a body on disk is never read
// whole for a range). The answer can never run as a page of the UI: it is sandboxed.
import { decodeContent } from "@interloper/sdk";
import type { FlowStore, StoredFlow } from "../store/flow-store.ts";
import { drained, HttpError } from "./http-io.ts";
import { contentRange, parseRange, type ByteRange } from "./range.ts";
import type { RouteContext } from "./router.ts";

/** Bytes read from the store per write. */
const SLICE = 1024 * 1024;

export async function serveContent(c: RouteContext, store: FlowStore, rec: StoredFlow): Promise<void> {
  const which = c.params.part;
  if (which !== "request" && which !== "response") throw new HttpError(404, `no such part: ${which}`);
  const flow = store.view(rec);
  const message = flow.type === "http" ? (which === "request" ? flow.request : flow.response) : undefined;
  if (!message) throw new HttpError(404, `the flow has no ${which}`);
  const decode = c.url.searchParams.get("decode") !== "false";
  const encoding = message.headers.get("content-encoding");
  const headers: Record<string, string> = {
    "Content-Type": message.headers.get("content-type") ?? "application/octet-stream",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Accept-Ranges": "bytes",
  };
  if (c.url.searchParams.get("download") === "1")
    headers["Content-Disposition"] = `attachment; filename="${flow.id}-${which}.bin"`;
  const needsDecoding = decode && encoding !== null && encoding.trim() !== "" && encoding.trim() !== "identity";
  if (!needsDecoding) {
    const length = store.bodyLength(rec, which);
    const probe = await store.bodyBytes(rec, which, 0, 0);
    if (typeof probe === "string") throw new HttpError(410, gone(probe));
    return sendRanged(c, headers, length ?? 0, (start, end) => store.bodyBytes(rec, which, start, end));
  }
  const raw = await store.bodyBytes(rec, which);
  if (raw === undefined) throw new HttpError(404, `the flow has no ${which}`);
  if (typeof raw === "string") throw new HttpError(410, gone(raw));
  let decoded: Buffer;
  try {
    decoded = decodeContent(raw, encoding);
  } catch (err) {
    throw new HttpError(422, `${(err as Error).message} (ask with decode=false for the raw bytes)`);
  }
  return sendRanged(c, headers, decoded.length, async (start, end) => decoded.subarray(start, end));
}

function gone(why: "streamed" | "dropped"): string {
  return why === "streamed"
    ? "the body was streamed through, not recorded"
    : "the body was too large to keep (or its disk copy failed): only its size is known";
}

type Reader = (start: number, end: number) => Promise<Buffer | string | undefined>;

async function sendRanged(
  c: RouteContext,
  headers: Record<string, string>,
  length: number,
  read: Reader,
): Promise<void> {
  const { res } = c;
  const range = parseRange(c.req.headers.range, length);
  if (range === "unsatisfiable") {
    res.writeHead(
      416,
      Object.assign({}, headers, { "Content-Range": contentRange(range, length), "Content-Length": "0" }),
    );
    return void res.end();
  }
  const span: ByteRange = range ?? { start: 0, end: length - 1 };
  const size = Math.max(0, span.end - span.start + 1);
  const head: Record<string, string> = Object.assign({}, headers, { "Content-Length": String(size) });
  if (range) head["Content-Range"] = contentRange(range, length);
  res.writeHead(range ? 206 : 200, head);
  if (c.req.method === "HEAD" || size === 0) return void res.end();
  for (let at = span.start; at <= span.end; at += SLICE) {
    const bytes = await read(at, Math.min(at + SLICE, span.end + 1));
    if (!Buffer.isBuffer(bytes) || res.destroyed) return void res.destroy();
    if (!res.write(bytes)) await drained(res);
  }
  res.end();
}
