// Builders of valid protocol units for the fuzzer and the flood probes:
// HTTP/2 frames (with a minimal HPACK encoder: literals and static-table
// indexes only), WebSocket client frames, SOCKS5 greetings and requests.
import type { Rng } from "./prng.ts";

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const H2 = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export function h2frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
function hpackInt(value: number, prefix: number, first: number): Buffer {
  const max = (1 << prefix) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, "latin1");
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** A header block: literal fields without indexing (new names), so that every byte is plain. */
export function hpack(fields: Array<[string, string]>): Buffer {
  return Buffer.concat(fields.flatMap(([k, v]) => [Buffer.from([0x00]), hpackString(k), hpackString(v)]));
}

export function h2Headers(
  stream: number,
  authority: string,
  path: string,
  opts: { method?: string; endStream?: boolean; extra?: Array<[string, string]> } = {},
): Buffer {
  const block = hpack([
    [":method", opts.method ?? "GET"],
    [":scheme", "http"],
    [":authority", authority],
    [":path", path],
    ...(opts.extra ?? []),
  ]);
  return h2frame(H2.HEADERS, FLAG.END_HEADERS | (opts.endStream === false ? 0 : FLAG.END_STREAM), stream, block);
}

export function h2Settings(pairs: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return h2frame(H2.SETTINGS, 0, 0, p);
}

export function h2Ping(data: Buffer, ack = false): Buffer {
  return h2frame(H2.PING, ack ? FLAG.ACK : 0, 0, data);
}

export function h2Rst(stream: number, code = 8): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return h2frame(H2.RST_STREAM, 0, stream, p);
}

export function h2WindowUpdate(stream: number, inc: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(inc & 0x7fffffff);
  return h2frame(H2.WINDOW_UPDATE, 0, stream, p);
}

/** A valid client frame of a random kind on stream `stream` (odd, new). */
export function h2RandomFrame(rng: Rng, stream: number, authority: string): Buffer {
  switch (rng.int(9)) {
    case 0:
    case 1:
      return h2Headers(stream, authority, `/h2/${rng.int(1000)}`);
    case 2:
      return Buffer.concat([
        h2Headers(stream, authority, "/h2/post", { method: "POST", endStream: false }),
        h2frame(H2.DATA, FLAG.END_STREAM, stream, rng.bytes(rng.int(64))),
      ]);
    case 3:
      return h2Settings([[rng.pick([1, 2, 3, 4, 5, 6, 8, 9]), rng.u32() % 70000]]);
    case 4:
      return h2WindowUpdate(rng.chance(0.5) ? 0 : stream, 1 + rng.int(65535));
    case 5:
      return h2frame(H2.PRIORITY, 0, stream, Buffer.from([0, 0, 0, 0, rng.int(256)]));
    case 6:
      return Buffer.concat([h2Headers(stream, authority, "/h2/rst", { endStream: false }), h2Rst(stream)]);
    case 7: {
      // HEADERS split into HEADERS + CONTINUATION.
      const block = hpack([
        [":method", "GET"],
        [":scheme", "http"],
        [":authority", authority],
        [":path", "/h2/cont"],
        ["x-a", "b"],
      ]);
      const cut = 1 + rng.int(block.length - 1);
      return Buffer.concat([
        h2frame(H2.HEADERS, FLAG.END_STREAM, stream, block.subarray(0, cut)),
        h2frame(H2.CONTINUATION, FLAG.END_HEADERS, stream, block.subarray(cut)),
      ]);
    }
    default:
      return h2Ping(rng.bytes(8));
  }
}

export const WS_OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A client WebSocket frame (masked, as RFC 6455 §5.1 requires). */
export function wsFrame(
  opcode: number,
  payload: Buffer,
  opts: { fin?: boolean; rsv?: number; mask?: Buffer; masked?: boolean } = {},
): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.masked ?? true;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode];
  const m = masked ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = opts.mask ?? Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A valid client frame (or a fragmented message) of a random kind. */
export function wsRandomFrame(rng: Rng): Buffer {
  const mask = rng.bytes(4);
  switch (rng.int(6)) {
    case 0:
      return wsFrame(WS_OP.text, Buffer.from(`text ${rng.int(1e6)}`), { mask });
    case 1:
      return wsFrame(WS_OP.binary, rng.bytes(rng.pick([0, 1, 125, 126, 200, 70_000])), { mask });
    case 2:
      return wsFrame(WS_OP.ping, rng.bytes(rng.int(20)), { mask });
    case 3:
      return wsFrame(WS_OP.pong, rng.bytes(rng.int(20)), { mask });
    case 4:
      return Buffer.concat([
        wsFrame(WS_OP.text, Buffer.from("frag-"), { fin: false, mask }),
        wsFrame(WS_OP.continuation, Buffer.from("ment"), { mask }),
      ]);
    default:
      return Buffer.concat([
        wsFrame(WS_OP.binary, rng.bytes(10), { fin: false, mask }),
        wsFrame(WS_OP.ping, Buffer.from("mid"), { mask }),
        wsFrame(WS_OP.continuation, rng.bytes(10), { mask }),
      ]);
  }
}

/** A SOCKS5 greeting (no-auth offered) and CONNECT request for 127.0.0.1:port, or by name `localhost`. */
export function socksHello(port: number, byName: boolean): Buffer {
  const p = [port >> 8, port & 0xff];
  const req = byName ? [5, 1, 0, 3, 9, ...Buffer.from("localhost"), ...p] : [5, 1, 0, 1, 127, 0, 0, 1, ...p];
  return Buffer.from([5, 1, 0, ...req]);
}
