import * as zlib from "node:zlib";

/** Content encodings the flow model can decode and encode. */
export const SUPPORTED_ENCODINGS = ["identity", "gzip", "x-gzip", "deflate", "br"] as const;

/**
 * Decodes `body` by the comma-separated `Content-Encoding` value, last coding
 * first. Throws an Error naming the coding when it is unknown or the bytes are
 * not valid for it.
 */
export function decodeContent(body: Uint8Array, contentEncoding: string | null): Buffer {
  let out = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const coding of codings(contentEncoding).reverse()) {
    try {
      out = decodeOne(out, coding);
    } catch (err) {
      throw new Error(`cannot decode ${coding} body: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/** Encodes `body` by the `Content-Encoding` value, first coding first. */
export function encodeContent(body: Uint8Array, contentEncoding: string | null): Buffer {
  let out = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const coding of codings(contentEncoding)) out = encodeOne(out, coding);
  return out;
}

function codings(value: string | null): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
}

function decodeOne(body: Buffer, coding: string): Buffer {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.gunzipSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case "deflate":
      // Servers send both zlib-wrapped and raw deflate under this name.
      try {
        return zlib.inflateSync(body);
      } catch {
        return zlib.inflateRawSync(body);
      }
    case "br":
      return zlib.brotliDecompressSync(body);
    default:
      throw new Error("unsupported content encoding");
  }
}

function encodeOne(body: Buffer, coding: string): Buffer {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.gzipSync(body);
    case "deflate":
      return zlib.deflateSync(body);
    case "br":
      return zlib.brotliCompressSync(body);
    default:
      throw new Error(`cannot encode body: unsupported content encoding ${coding}`);
  }
}
