// SHA-256-crypt and SHA-512-crypt (`$5$`, `$6$`: Ulrich Drepper's scheme, what `htpasswd -2` and
// `-5` write), with node:crypto. Checked against the real htpasswd in test/unit/htpasswd.test.ts.
import { createHash } from "node:crypto";

const B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The scheme's default number of rounds, used when the hash names none. */
const DEFAULT_ROUNDS = 5000;
/**
 * Rounds interloper runs at most: each check runs on the main thread, and the scheme allows up to
 * 999,999,999 (minutes of CPU per failed login). htpasswd writes 5000 unless told (`-r`).
 */
export const SHA_CRYPT_MAX_ROUNDS = 100_000;

/** The bytes of the digest in the order the scheme encodes them, three at a time (the last group shorter). */
const ORDER = {
  sha256: [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
    [31, 30],
  ],
  sha512: [
    [0, 21, 42],
    [22, 43, 1],
    [44, 2, 23],
    [3, 24, 45],
    [25, 46, 4],
    [47, 5, 26],
    [6, 27, 48],
    [28, 49, 7],
    [50, 8, 29],
    [9, 30, 51],
    [31, 52, 10],
    [53, 11, 32],
    [12, 33, 54],
    [34, 55, 13],
    [56, 14, 35],
    [15, 36, 57],
    [37, 58, 16],
    [59, 17, 38],
    [18, 39, 60],
    [40, 61, 19],
    [62, 20, 41],
    [63],
  ],
} as const;

export type ShaCryptAlgorithm = keyof typeof ORDER;

/** The parts of a `$5$[rounds=N$]salt$hash` or `$6$…` string, or undefined when it is not one. */
export function parseShaCrypt(
  hash: string,
): { algorithm: ShaCryptAlgorithm; rounds: number | undefined; salt: string } | undefined {
  const m = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$]{0,16})\$([./A-Za-z0-9]+)$/.exec(hash);
  if (!m) return undefined;
  const algorithm = m[1] === "5" ? "sha256" : "sha512";
  if (m[4]!.length !== (algorithm === "sha256" ? 43 : 86)) return undefined;
  return { algorithm, rounds: m[2] === undefined ? undefined : Number(m[2]), salt: m[3]! };
}

/** `$5$…` or `$6$…` for `password` with this salt and rounds (undefined: the default, not written out). */
export function shaCrypt(algorithm: ShaCryptAlgorithm, password: string, salt: string, rounds?: number): string {
  const h = (...parts: Buffer[]) => {
    const hash = createHash(algorithm);
    for (const p of parts) hash.update(p);
    return hash.digest();
  };
  const pw = Buffer.from(password, "utf8");
  const s = Buffer.from(salt, "utf8").subarray(0, 16);
  // The scheme clamps the rounds to 1000..999,999,999.
  const n = rounds === undefined ? DEFAULT_ROUNDS : Math.min(Math.max(rounds, 1000), 999_999_999);
  const b = h(pw, s, pw);
  const a = createHash(algorithm).update(pw).update(s);
  let left = pw.length;
  for (; left > b.length; left -= b.length) a.update(b);
  a.update(b.subarray(0, left));
  for (let i = pw.length; i > 0; i >>= 1) a.update(i & 1 ? b : pw);
  let c = a.digest();
  const p = repeatTo(h(...Array<Buffer>(pw.length).fill(pw)), pw.length);
  const sp = repeatTo(h(...Array<Buffer>(16 + c[0]!).fill(s)), s.length);
  for (let i = 0; i < n; i++) {
    const round = createHash(algorithm).update(i & 1 ? p : c);
    if (i % 3) round.update(sp);
    if (i % 7) round.update(p);
    c = round.update(i & 1 ? c : p).digest();
  }
  const magic = algorithm === "sha256" ? "$5$" : "$6$";
  const roundsPart = rounds === undefined ? "" : `rounds=${n}$`;
  return `${magic}${roundsPart}${s.toString("utf8")}$${encode(c, ORDER[algorithm])}`;
}

/** `digest` repeated to exactly `length` bytes. */
function repeatTo(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += digest.length) digest.copy(out, at, 0, Math.min(digest.length, length - at));
  return out;
}

function encode(digest: Buffer, order: readonly (readonly number[])[]): string {
  let out = "";
  for (const group of order) {
    // Three bytes give four characters; the last group has one or two bytes and gives two or three.
    const bytes = group.map((i) => digest[i]!);
    const value =
      bytes.length === 3
        ? (bytes[0]! << 16) | (bytes[1]! << 8) | bytes[2]!
        : bytes.length === 2
          ? (bytes[0]! << 8) | bytes[1]!
          : bytes[0]!;
    let chars = bytes.length + 1;
    for (let v = value; chars > 0; chars--, v >>= 6) out += B64[v & 0x3f];
  }
  return out;
}
