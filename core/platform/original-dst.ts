import { createRequire } from "node:module";
import type * as net from "node:net";
import type { Address } from "@interloper/sdk";
import { socketFd } from "./node-internals.ts";

/**
 * The original destination of a connection redirected by iptables/nftables
 * (REDIRECT / DNAT): `getsockopt(SO_ORIGINAL_DST)` for IPv4,
 * `getsockopt(IP6T_SO_ORIGINAL_DST)` for IPv6, called through koffi (a
 * foreign function interface that ships prebuilt binaries in its package).
 */
const SOL_IP = 0;
const SOL_IPV6 = 41;
const SO_ORIGINAL_DST = 80;
const IP6T_SO_ORIGINAL_DST = 80;

type GetSockOpt = (fd: number, level: number, name: number, out: Buffer, len: number[]) => number;
let getsockopt: GetSockOpt | undefined;
let unavailable: string | undefined;

/** Why the lookup cannot work on this platform, or undefined when it can. */
export function originalDstUnavailable(): string | undefined {
  if (getsockopt || unavailable) return unavailable;
  if (process.platform !== "linux") {
    unavailable = `transparent mode needs Linux (SO_ORIGINAL_DST); this is ${process.platform}`;
    return unavailable;
  }
  try {
    const require = createRequire(import.meta.url);
    const koffi = require("koffi") as { load(lib: string): { func(sig: string): GetSockOpt } };
    const libc = koffi.load("libc.so.6");
    getsockopt = libc.func(
      "int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)",
    );
  } catch (err) {
    unavailable = `transparent mode cannot read original destinations here: ${(err as Error).message}`;
  }
  return unavailable;
}

/** The address a redirected client originally connected to, or undefined when the socket was not redirected. */
export function originalDst(socket: net.Socket): Address | undefined {
  if (originalDstUnavailable()) return undefined;
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const remote = socket.remoteAddress ?? "";
  const v4 = !remote.includes(":") || remote.toLowerCase().startsWith("::ffff:");
  if (v4) {
    const buf = Buffer.alloc(16);
    const len = [16];
    if (getsockopt!(fd, SOL_IP, SO_ORIGINAL_DST, buf, len) === 0) {
      return { host: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2) };
    }
    return undefined;
  }
  const buf = Buffer.alloc(28);
  const len = [28];
  if (getsockopt!(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, buf, len) !== 0) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(8 + i * 2).toString(16));
  return { host: new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1), port: buf.readUInt16BE(2) };
}
