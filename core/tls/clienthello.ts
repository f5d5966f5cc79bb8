// Parses the TLS ClientHello a client sends first on a connection, from the
// bytes as they arrive. It runs on every intercepted connection, often several
// times while the hello trickles in, and on whatever a hostile client sends, so:
// no regexes; no allocation while a single-record hello is incomplete (a hello
// split over records is laid end to end once per call) and one copy when it is
// complete; every length bounds-checked; no loop that does not advance.
//
// Prefix discipline: every check that can be made on the bytes present is made
// before reporting "incomplete". A length field is compared with the length
// that encloses it (known from the headers) before asking whether the bytes
// have arrived, so garbage is reported as soon as it shows, and once a prefix
// is "invalid" every longer input is too.
//
// Policy, where the RFCs leave it to the receiver:
// - Structure is strict, as a TLS server would be: a length that does not add
//   up, an empty cipher suite or compression list, a duplicated extension
//   (RFC 8446 4.2), a malformed server_name / ALPN / supported_versions
//   extension, or bytes after the hello inside its last record make the whole
//   thing "invalid": the server would answer with a decode_error alert anyway.
// - A well-formed server_name extension whose host name is not a plausible DNS
//   name (control or non-ASCII bytes, spaces, empty labels, a trailing dot,
//   over 253 characters) leaves `sni` unset instead: the hello itself is fine,
//   but the name must not become a host to match, log or mint a certificate
//   for. Its bytes stay in `extensions`. IP literals (forbidden by RFC 6066,
//   sent anyway by a few clients) are passed on as sent.
// - The handshake body is capped at 64 KiB (real hellos, post-quantum key
//   shares and tickets included, stay under a few KiB), so a client cannot
//   keep us buffering by announcing a huge one.
import type { ClientHello } from "../../sdk/src/addon.ts";

export type ClientHelloParse =
  | { status: "complete"; hello: ClientHello; /** bytes of data that the hello's TLS records occupy */ length: number }
  | { status: "incomplete" } // a valid prefix of a ClientHello: more bytes are needed
  | { status: "invalid"; reason: string }; // not a ClientHello (garbage, other protocol, malformed)

const RECORD_HEADER = 5;
const HANDSHAKE_RECORD = 0x16;
/** RFC 5246 6.2.3: a record's fragment is at most 2^14 + 2048 bytes. */
const MAX_RECORD = 16384 + 2048;
const HANDSHAKE_HEADER = 4;
const CLIENT_HELLO = 1;
const MAX_BODY = 64 * 1024;
/** version, random, session id length, one cipher suite, one compression method. */
const MIN_BODY = 2 + 32 + 1 + 2 + 2 + 1 + 1;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;

const INCOMPLETE: ClientHelloParse = Object.freeze({ status: "incomplete" as const });

function invalid(reason: string): ClientHelloParse {
  return { status: "invalid", reason };
}

/**
 * Cheap check on the first bytes: could this be the start of a TLS handshake
 * record? (0x16, 0x03, 0x00..0x04) true for a 1- or 2-byte prefix that still
 * could be; false for no bytes at all, which are no evidence either way.
 */
export function looksLikeTlsStart(data: Uint8Array): boolean {
  const n = data.length;
  if (n === 0 || data[0] !== HANDSHAKE_RECORD) return false;
  if (n >= 2 && data[1] !== 3) return false;
  if (n >= 3 && data[2]! > 4) return false;
  return true;
}

/** Parses the ClientHello at the start of `data`. Never throws. */
export function parseClientHello(data: Uint8Array): ClientHelloParse {
  const n = data.length;
  let pos = 0; // start of the next record
  let records = 0;
  let declared = 0; // handshake bytes the records so far announce
  let present = 0; // how many of them are in data
  let header = 0; // the handshake header's first bytes, big-endian
  let total = -1; // handshake message length (header + body) once known

  // Every record is at least 6 bytes, so this loop ends within n / 6 turns.
  for (;;) {
    const k = n - pos < RECORD_HEADER ? n - pos : RECORD_HEADER;
    const bad = recordHeaderError(data, pos, k, records);
    if (bad !== null) return invalid(bad);
    if (k < RECORD_HEADER) break;
    const length = (data[pos + 3]! << 8) | data[pos + 4]!;
    const start = pos + RECORD_HEADER;
    const avail = n - start < length ? n - start : length;
    for (let i = 0; i < avail && declared + i < HANDSHAKE_HEADER; i++) header = header * 256 + data[start + i]!;
    records++;
    declared += length;
    present += avail;
    if (total < 0) {
      const got = present < HANDSHAKE_HEADER ? present : HANDSHAKE_HEADER;
      const err = handshakeHeaderError(header, got);
      if (err !== null) return invalid(err);
      if (got === HANDSHAKE_HEADER) total = HANDSHAKE_HEADER + (header % 0x1000000);
    }
    // A ClientHello is alone in its flight: nothing may share its last record.
    if (total >= 0 && declared > total) return invalid("the ClientHello's last record carries bytes after it");
    if (avail < length) break;
    pos = start + length;
    if (declared === total) return complete(data, pos, records, total);
  }

  if (total < 0 || present <= HANDSHAKE_HEADER) return INCOMPLETE;
  const prefix = records === 1 ? data.subarray(RECORD_HEADER, RECORD_HEADER + present) : reassemble(data, present);
  // Running out of bytes is the only way a prefix can end; anything else is a verdict.
  return parseBody(prefix, total, null) ?? INCOMPLETE;
}

/** Why the (first k ≤ 5 bytes of the) record header at pos cannot start a hello record, or null. */
function recordHeaderError(data: Uint8Array, pos: number, k: number, records: number): string | null {
  if (k >= 1 && data[pos] !== HANDSHAKE_RECORD) {
    return records === 0
      ? `not a TLS handshake record (first byte 0x${hex(data[pos]!, 2)})`
      : `a record of content type ${data[pos]} before the ClientHello was complete`;
  }
  if (k >= 2 && data[pos + 1] !== 3) return `record version major byte 0x${hex(data[pos + 1]!, 2)} is not 3`;
  if (k >= 3 && data[pos + 2]! > 4) return `record version 0x03${hex(data[pos + 2]!, 2)} is not 0x0300..0x0304`;
  if (k >= 4 && data[pos + 3]! << 8 > MAX_RECORD) return "record longer than 2^14 + 2048 bytes";
  if (k >= 5) {
    const length = (data[pos + 3]! << 8) | data[pos + 4]!;
    if (length === 0) return "empty handshake record";
    if (length > MAX_RECORD) return "record longer than 2^14 + 2048 bytes";
  }
  return null;
}

/** Why the first `got` bytes of a handshake header (in `header`) cannot start a ClientHello, or null. */
function handshakeHeaderError(header: number, got: number): string | null {
  if (got === 0) return null;
  // Bounds of the 4-byte header whatever the missing bytes turn out to be.
  const scale = 256 ** (HANDSHAKE_HEADER - got);
  const low = header * scale;
  const type = Math.floor(low / 0x1000000);
  if (type !== CLIENT_HELLO) return `handshake message type ${type} is not client_hello (1)`;
  const minLength = low % 0x1000000;
  const maxLength = minLength + scale - 1;
  if (minLength > MAX_BODY)
    return `ClientHello length ${got === HANDSHAKE_HEADER ? minLength : `≥ ${minLength}`} is over the ${MAX_BODY}-byte limit`;
  if (maxLength < MIN_BODY) return `ClientHello length ${maxLength} is too short`;
  return null;
}

/** The handshake bytes of the records at the start of data, laid end to end (up to `count` of them). */
function reassemble(data: Uint8Array, count: number): Buffer {
  const out = Buffer.allocUnsafe(count);
  let pos = 0;
  for (let off = 0; off < count;) {
    const length = (data[pos + 3]! << 8) | data[pos + 4]!;
    const take = count - off < length ? count - off : length;
    out.set(data.subarray(pos + RECORD_HEADER, pos + RECORD_HEADER + take), off);
    off += take;
    pos += RECORD_HEADER + length;
  }
  return out;
}

function complete(data: Uint8Array, end: number, records: number, total: number): ClientHelloParse {
  // One owned copy: the hello outlives the caller's buffer, and its fields are views of it.
  const raw =
    records === 1 ? Buffer.from(data.subarray(RECORD_HEADER, RECORD_HEADER + total)) : reassemble(data, total);
  const result = parseBody(raw, total, raw);
  if (result === null) return invalid("ClientHello parse ended early"); // unreachable: a whole body gets a verdict
  if (result.status === "complete") result.length = end;
  return result;
}

// Extension types seen in the current parseBody call, by generation stamp, so
// that duplicate detection costs neither an allocation nor a clear per call.
// Safe as module state: parsing is synchronous and never re-entered.
const seen = new Uint32Array(65536);
let generation = 0;

/**
 * Checks the handshake message in b (its first b.length of `total` bytes) and,
 * when `raw` is given (then b === raw and b holds all of it), builds the hello.
 * Returns the verdict, or INCOMPLETE/null when a prefix ran out of bytes.
 */
function parseBody(b: Uint8Array, total: number, raw: Buffer | null): ClientHelloParse | null {
  const end = total;
  const avail = b.length;
  let r: ClientHelloParse | null;
  let p = HANDSHAKE_HEADER;

  if ((r = need(p + 2, end, avail, "legacy_version"))) return r;
  if (b[p] !== 3) return invalid(`legacy_version 0x${hex((b[p]! << 8) | b[p + 1]!, 4)} is not 3.x`);
  const legacyVersion = (b[p]! << 8) | b[p + 1]!;
  p += 2;

  if ((r = need(p + 32, end, avail, "random"))) return r;
  const randomAt = p;
  p += 32;

  if ((r = need(p + 1, end, avail, "session_id length"))) return r;
  const sessionIdLength = b[p]!;
  p += 1;
  if (sessionIdLength > 32) return invalid(`session_id of ${sessionIdLength} bytes (at most 32)`);
  if ((r = need(p + sessionIdLength, end, avail, "session_id"))) return r;
  const sessionIdAt = p;
  p += sessionIdLength;

  if ((r = need(p + 2, end, avail, "cipher_suites length"))) return r;
  const suitesLength = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (suitesLength === 0 || suitesLength % 2 !== 0)
    return invalid(`cipher_suites length ${suitesLength} is not a positive even number`);
  if ((r = need(p + suitesLength, end, avail, "cipher_suites"))) return r;
  const suitesAt = p;
  p += suitesLength;

  if ((r = need(p + 1, end, avail, "compression_methods length"))) return r;
  const compressionLength = b[p]!;
  p += 1;
  if (compressionLength === 0) return invalid("no compression methods");
  if ((r = need(p + compressionLength, end, avail, "compression_methods"))) return r;
  p += compressionLength;

  let hello: ClientHello | null = null;
  if (raw !== null) {
    const cipherSuites: number[] = [];
    for (let i = suitesAt; i < suitesAt + suitesLength; i += 2) cipherSuites.push((raw[i]! << 8) | raw[i + 1]!);
    hello = {
      alpnProtocols: [],
      legacyVersion,
      supportedVersions: [],
      cipherSuites,
      extensions: [],
      sessionId: raw.subarray(sessionIdAt, sessionIdAt + sessionIdLength),
      random: raw.subarray(randomAt, randomAt + 32),
      raw,
    };
  }
  // SSLv3 and some TLS 1.0 clients send no extensions block at all.
  if (p === end) return hello && { status: "complete", hello, length: 0 };

  if ((r = need(p + 2, end, avail, "extensions length"))) return r;
  const extensionsLength = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (p + extensionsLength !== end) {
    return invalid(`extensions length ${extensionsLength} does not match the ${end - p} bytes left in the ClientHello`);
  }

  if (++generation === 0xffffffff) {
    seen.fill(0);
    generation = 1;
  }
  while (p < end) {
    if ((r = need(p + 4, end, avail, "extension header"))) return r;
    const type = (b[p]! << 8) | b[p + 1]!;
    const length = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (seen[type] === generation) return invalid(`extension ${type} appears twice`);
    seen[type] = generation;
    if ((r = need(p + length, end, avail, `extension ${type}`))) return r;
    let err: string | null = null;
    if (type === EXT_SERVER_NAME) err = serverName(b, p, p + length, hello);
    else if (type === EXT_ALPN) err = alpn(b, p, p + length, hello);
    else if (type === EXT_SUPPORTED_VERSIONS) err = supportedVersions(b, p, p + length, hello);
    if (err !== null) return invalid(err);
    if (hello !== null) hello.extensions.push({ type, data: raw!.subarray(p, p + length) });
    p += length;
  }
  return hello && { status: "complete", hello, length: 0 };
}

/** The field ending at `fieldEnd` must fit the hello (else invalid) and have arrived (else incomplete). */
function need(fieldEnd: number, end: number, avail: number, what: string): ClientHelloParse | null {
  if (fieldEnd > end) return invalid(`${what} runs past the end of the ClientHello`);
  if (fieldEnd > avail) return INCOMPLETE;
  return null;
}

/** RFC 6066 3: a list of (name_type, length-prefixed name); at most one host_name. */
function serverName(b: Uint8Array, s: number, e: number, hello: ClientHello | null): string | null {
  if (e - s < 2) return "server_name extension too short";
  const listLength = (b[s]! << 8) | b[s + 1]!;
  if (listLength === 0 || listLength !== e - s - 2) return "server_name list length does not match the extension";
  let hostAt = -1;
  let hostLength = 0;
  for (let q = s + 2; q < e;) {
    if (q + 3 > e) return "server_name entry runs past the extension";
    const nameType = b[q]!;
    const length = (b[q + 1]! << 8) | b[q + 2]!;
    q += 3;
    if (q + length > e) return "server_name entry runs past the extension";
    if (nameType === 0) {
      if (hostAt >= 0) return "two host names in server_name";
      if (length === 0) return "empty host name in server_name";
      hostAt = q;
      hostLength = length;
    }
    q += length;
  }
  if (hello !== null && hostAt >= 0 && isHostName(b, hostAt, hostLength)) {
    hello.sni = (b as Buffer).toString("latin1", hostAt, hostAt + hostLength);
  }
  return null;
}

/** A DNS name as SNI carries it: [A-Za-z0-9_-] labels of 1..63, dot-separated, no trailing dot, ≤ 253. */
function isHostName(b: Uint8Array, at: number, length: number): boolean {
  if (length > 253) return false;
  let label = 0;
  for (let i = at; i < at + length; i++) {
    const c = b[i]!;
    if (c === 0x2e) {
      if (label === 0) return false;
      label = 0;
      continue;
    }
    const ok =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

/** RFC 7301 3.1: a non-empty list of non-empty, length-prefixed protocol names. */
function alpn(b: Uint8Array, s: number, e: number, hello: ClientHello | null): string | null {
  if (e - s < 2) return "ALPN extension too short";
  const listLength = (b[s]! << 8) | b[s + 1]!;
  if (listLength < 2 || listLength !== e - s - 2) return "ALPN list length does not match the extension";
  for (let q = s + 2; q < e;) {
    const length = b[q]!;
    q += 1;
    if (length === 0) return "empty ALPN protocol name";
    if (q + length > e) return "ALPN protocol name runs past the extension";
    // Protocol ids are opaque bytes; latin1 maps each to one character, losslessly.
    if (hello !== null) hello.alpnProtocols.push((b as Buffer).toString("latin1", q, q + length));
    q += length;
  }
  return null;
}

/** RFC 8446 4.2.1: in a ClientHello, a 1-byte-length list of 2-byte versions, 2..254 bytes. */
function supportedVersions(b: Uint8Array, s: number, e: number, hello: ClientHello | null): string | null {
  if (e - s < 1) return "supported_versions extension is empty";
  const length = b[s]!;
  if (length < 2 || length % 2 !== 0 || length !== e - s - 1)
    return "supported_versions list length does not match the extension";
  if (hello !== null) for (let q = s + 1; q < e; q += 2) hello.supportedVersions.push((b[q]! << 8) | b[q + 1]!);
  return null;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}
