// The password hashes Apache's htpasswd writes, checked with node:crypto
// (apr1 MD5, SHA1, SHA-256/512-crypt) and bcryptjs (bcrypt: Node's crypto has no bcrypt).
import { createHash, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import { parseShaCrypt, SHA_CRYPT_MAX_ROUNDS, shaCrypt } from "./sha-crypt.ts";

/** A hash kind interloper checks. */
export type HashKind = "bcrypt" | "apr1" | "md5-crypt" | "sha1" | "sha-crypt";

const B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The longest password checked against a SHA-crypt hash (SOCKS5 passwords are at most 255 bytes). */
export const SHA_CRYPT_MAX_PASSWORD_BYTES = 256;

/** bcrypt costs htpasswd writes (`-C 4` to `-C 17`): a larger one would let each failed login cost minutes of CPU. */
export const BCRYPT_MAX_COST = 17;

/**
 * The kind of a hash as htpasswd writes it, or a sentence saying why it is
 * refused: bcrypt `$2y$05$…` (`htpasswd -B`), apr1 `$apr1$salt$…` (`-m`, the
 * default), SHA1 `{SHA}…` (`-s`), SHA-256/512-crypt `$5$…`/`$6$…` (`-2`, `-5`),
 * and the MD5-crypt `$1$…` Apache also takes. DES crypt(3) (`-d`) and plain text
 * (`-p`) are refused: they cannot be told apart, and Apache itself takes plain
 * text only on Windows.
 */
export function hashKind(hash: string): HashKind | { refused: string } {
  const bcryptMatch = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
  if (bcryptMatch) {
    const cost = Number(bcryptMatch[1]);
    if (cost < 4 || cost > BCRYPT_MAX_COST) return { refused: `bcrypt cost ${cost} is not 4-${BCRYPT_MAX_COST}` };
    return "bcrypt";
  }
  if (/^\$apr1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/.test(hash)) return "apr1";
  if (/^\$1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/.test(hash)) return "md5-crypt";
  if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash)) return "sha1";
  const sha = parseShaCrypt(hash);
  if (sha) {
    if ((sha.rounds ?? 0) > SHA_CRYPT_MAX_ROUNDS) {
      return { refused: `rounds=${sha.rounds} is more than ${SHA_CRYPT_MAX_ROUNDS} (htpasswd -r)` };
    }
    return "sha-crypt";
  }
  if (/^\$(?:2[aby]|apr1|1|5|6)\$|^\{SHA\}/.test(hash)) return { refused: "a malformed hash" };
  return {
    refused:
      "DES crypt (htpasswd -d) and plain-text (-p) passwords are not supported; use bcrypt (-B), apr1 MD5 (the default), SHA-256/512 (-2, -5) or SHA1 (-s)",
  };
}

/** Whether `password` is the one `hash` was made from; `kind` is what `hashKind` said of it. */
export async function verifyPassword(kind: HashKind, hash: string, password: string): Promise<boolean> {
  switch (kind) {
    case "bcrypt":
      return bcrypt.compare(password, hash);
    case "apr1":
      return sameText(md5Crypt(password, hash.split("$")[2]!, "$apr1$"), hash);
    case "md5-crypt":
      return sameText(md5Crypt(password, hash.split("$")[2]!, "$1$"), hash);
    case "sha1":
      return sameText(`{SHA}${createHash("sha1").update(password, "utf8").digest("base64")}`, hash);
    case "sha-crypt": {
      // The scheme hashes the password as many times as it is long, and again in every round: a
      // client's 60 KB password would cost gigabytes of hashing. htpasswd's are far shorter.
      if (Buffer.byteLength(password) > SHA_CRYPT_MAX_PASSWORD_BYTES) return false;
      const { algorithm, rounds, salt } = parseShaCrypt(hash)!;
      return sameText(shaCrypt(algorithm, password, salt, rounds), hash);
    }
  }
}

/** Apache's apr1 MD5 crypt: `$apr1$salt$hash`. The salt is up to 8 characters; the password is UTF-8. */
export function apr1(password: string, salt: string): string {
  return md5Crypt(password, salt, "$apr1$");
}

/** The MD5-crypt scheme, with the magic `$1$` (crypt(3)) or `$apr1$` (Apache's). */
function md5Crypt(password: string, salt: string, magicText: string): string {
  const pw = Buffer.from(password, "utf8");
  const s = Buffer.from(salt.split("$", 1)[0]!.slice(0, 8), "utf8");
  const magic = Buffer.from(magicText);
  let final = md5(pw, s, pw);
  const ctx = createHash("md5").update(pw).update(magic).update(s);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(final.subarray(0, Math.min(left, 16)));
  // md5crypt's odd step: for each bit of the length, a NUL byte or the password's first byte.
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : pw.subarray(0, 1));
  final = ctx.digest();
  // 1000 rounds to slow guessing down.
  for (let i = 0; i < 1000; i++) {
    const round = createHash("md5").update(i & 1 ? pw : final);
    if (i % 3) round.update(s);
    if (i % 7) round.update(pw);
    final = round.update(i & 1 ? final : pw).digest();
  }
  const b = final;
  const text =
    to64((b[0]! << 16) | (b[6]! << 8) | b[12]!, 4) +
    to64((b[1]! << 16) | (b[7]! << 8) | b[13]!, 4) +
    to64((b[2]! << 16) | (b[8]! << 8) | b[14]!, 4) +
    to64((b[3]! << 16) | (b[9]! << 8) | b[15]!, 4) +
    to64((b[4]! << 16) | (b[10]! << 8) | b[5]!, 4) +
    to64(b[11]!, 2);
  return `${magicText}${s.toString("utf8")}$${text}`;
}

function md5(...parts: Buffer[]): Buffer {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `n` characters of crypt's base64, least significant six bits first. */
function to64(value: number, n: number): string {
  let out = "";
  for (let v = value; n > 0; n--, v >>= 6) out += B64[v & 0x3f];
  return out;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
