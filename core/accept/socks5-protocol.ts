import { isIPv6 } from "node:net";
import type { Address } from "@interloper/sdk";

/** SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929): pure parsing of what clients send. */

export const METHOD_NO_AUTH = 0x00;
export const METHOD_USER_PASS = 0x02;
export const METHOD_NONE_ACCEPTABLE = 0xff;

export const REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

export type Parse<T> =
  { status: "more" } | { status: "error"; reason: string; reply?: number } | ({ status: "ok"; length: number } & T);

/** The greeting: version 5 and the authentication methods the client offers. */
export function parseGreeting(b: Buffer): Parse<{ methods: number[] }> {
  if (b.length < 1) return { status: "more" };
  if (b[0] !== 5)
    return { status: "error", reason: `not a SOCKS5 greeting (version byte 0x${b[0]!.toString(16).padStart(2, "0")})` };
  if (b.length < 2) return { status: "more" };
  const n = b[1]!;
  if (n === 0) return { status: "error", reason: "SOCKS5 greeting offers no authentication method" };
  if (b.length < 2 + n) return { status: "more" };
  return { status: "ok", length: 2 + n, methods: [...b.subarray(2, 2 + n)] };
}

/** RFC 1929: version 1, username, password. */
export function parseUserPass(b: Buffer): Parse<{ username: string; password: string }> {
  if (b.length < 1) return { status: "more" };
  if (b[0] !== 1) return { status: "error", reason: `bad username/password version 0x${b[0]!.toString(16)}` };
  if (b.length < 2) return { status: "more" };
  const ulen = b[1]!;
  if (b.length < 2 + ulen + 1) return { status: "more" };
  const plen = b[2 + ulen]!;
  const end = 3 + ulen + plen;
  if (b.length < end) return { status: "more" };
  return {
    status: "ok",
    length: end,
    username: b.toString("utf8", 2, 2 + ulen),
    password: b.toString("utf8", 3 + ulen, end),
  };
}

/** The request: only CONNECT is served; the target as sent (IPv4, IPv6, or a name). */
export function parseRequest(b: Buffer): Parse<{ command: number; target: Address }> {
  if (b.length < 1) return { status: "more" };
  if (b[0] !== 5)
    return {
      status: "error",
      reason: `bad SOCKS5 request version 0x${b[0]!.toString(16)}`,
      reply: REPLY.generalFailure,
    };
  if (b.length < 4) return { status: "more" };
  const command = b[1]!;
  const atyp = b[3]!;
  let host: string;
  let offset: number;
  if (atyp === 0x01) {
    if (b.length < 10) return { status: "more" };
    host = [...b.subarray(4, 8)].join(".");
    offset = 8;
  } else if (atyp === 0x03) {
    if (b.length < 5) return { status: "more" };
    const len = b[4]!;
    if (len === 0) return { status: "error", reason: "empty SOCKS5 domain name", reply: REPLY.generalFailure };
    if (b.length < 5 + len + 2) return { status: "more" };
    host = b.toString("latin1", 5, 5 + len);
    if (!/^[\x21-\x7e]+$/.test(host))
      return { status: "error", reason: "SOCKS5 domain name with invalid characters", reply: REPLY.generalFailure };
    offset = 5 + len;
  } else if (atyp === 0x04) {
    if (b.length < 22) return { status: "more" };
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(4 + i * 2).toString(16));
    host = compressIPv6(groups);
    offset = 20;
  } else {
    return {
      status: "error",
      reason: `unknown SOCKS5 address type 0x${atyp.toString(16)}`,
      reply: REPLY.addressTypeNotSupported,
    };
  }
  const port = b.readUInt16BE(offset);
  if (command !== 0x01) {
    const name = command === 0x02 ? "BIND" : command === 0x03 ? "UDP ASSOCIATE" : `0x${command.toString(16)}`;
    return { status: "error", reason: `unsupported SOCKS5 command ${name}`, reply: REPLY.commandNotSupported };
  }
  if (port === 0) return { status: "error", reason: "SOCKS5 target port 0", reply: REPLY.generalFailure };
  return { status: "ok", length: offset + 2, command, target: { host, port } };
}

function compressIPv6(groups: string[]): string {
  // The canonical short form (RFC 5952), as Node prints addresses.
  const text = groups.join(":");
  const parsed = isIPv6(text) ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text;
  return parsed;
}

/** A reply: `REP` plus a zero bound address (clients ignore it for CONNECT). */
export function reply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** The reply code for a failed connection to the target. */
export function replyForError(err: unknown): number {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ECONNREFUSED":
      return REPLY.connectionRefused;
    case "EHOSTUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return REPLY.hostUnreachable;
    case "ENETUNREACH":
      return REPLY.networkUnreachable;
    case "ETIMEDOUT":
      return REPLY.ttlExpired;
    default:
      return REPLY.generalFailure;
  }
}
