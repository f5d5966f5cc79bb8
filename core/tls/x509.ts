// Builds X.509 v3 certificates: the TBSCertificate is laid out with
// forge.asn1, the signature comes from Node's native crypto. forge's own
// certificate signing is pure-JS RSA (tens of milliseconds a signature);
// OpenSSL signs in about one, and leaf certificates are made per host.
import * as crypto from "node:crypto";
import forge from "node-forge";

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const OID = {
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
} as const;

export const KeyUsage = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

const bin = (b: Buffer): string => b.toString("latin1");
const buf = (s: string): Buffer => Buffer.from(s, "latin1");
const node = (type: number, value: string | Asn1[]): Asn1 =>
  asn1.create(U, type, Array.isArray(value), value);
const oid = (dotted: string): Asn1 => node(T.OID, asn1.oidToDer(dotted).getBytes());

export function toDer(a: Asn1): Buffer {
  return buf(asn1.toDer(a).getBytes());
}

/**
 * Parses DER that is embedded verbatim (a Name, a SubjectPublicKeyInfo), and
 * refuses input forge would not write back byte for byte: an issuer name must
 * match the CA's subject exactly, and a key must stay the key it was.
 */
export function fromDerExact(der: Buffer): Asn1 {
  // decodeBitStrings:false keeps a BIT STRING (the public key) as opaque bytes.
  const parsed = (asn1.fromDer as unknown as (b: string, o: object) => Asn1)(bin(der), {
    strict: true,
    decodeBitStrings: false,
  });
  if (!toDer(parsed).equals(der)) throw new Error("not DER: re-encoding changes the bytes");
  return parsed;
}

/** A Name of a common name and, optionally, an organization. */
export function distinguishedName(fields: { commonName: string; organization?: string }): Asn1 {
  const rdn = (type: string, value: string) =>
    node(T.SET, [node(T.SEQUENCE, [oid(type), node(T.UTF8, forge.util.encodeUtf8(value))])]);
  const rdns: Asn1[] = [];
  if (fields.organization !== undefined) rdns.push(rdn(OID.organizationName, fields.organization));
  rdns.push(rdn(OID.commonName, fields.commonName));
  return node(T.SEQUENCE, rdns);
}

/** A positive INTEGER body of `bytes` random bytes, minimally encoded. */
export function randomSerial(bytes = 16): Buffer {
  const serial = crypto.randomBytes(bytes);
  serial[0]! &= 0x7f;
  if (serial[0] === 0) serial[0] = 0x01;
  return serial;
}

/** RFC 5280 method 1: the SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = fromDerExact(spkiDer).value as Asn1[];
  const bits = buf(spki[1]!.value as string).subarray(1); // past the unused-bits byte
  return crypto.createHash("sha1").update(bits).digest();
}

function time(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? node(T.UTCTIME, asn1.dateToUtcTime(date))
    : node(T.GENERALIZEDTIME, asn1.dateToGeneralizedTime(date));
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(node(T.BOOLEAN, "\xff"));
  parts.push(node(T.OCTETSTRING, asn1.toDer(value).getBytes()));
  return node(T.SEQUENCE, parts);
}

/** A BIT STRING of named bits, trailing zero bits dropped as DER wants. */
function namedBits(bits: readonly number[]): Asn1 {
  const highest = Math.max(...bits);
  const body = Buffer.alloc((highest >> 3) + 1);
  for (const bit of bits) body[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = 7 - (highest & 7);
  return node(T.BITSTRING, String.fromCharCode(unused) + bin(body));
}

export const ext = {
  basicConstraints(ca: boolean): Asn1 {
    return extension(OID.basicConstraints, true, node(T.SEQUENCE, ca ? [node(T.BOOLEAN, "\xff")] : []));
  },
  keyUsage(bits: readonly number[]): Asn1 {
    return extension(OID.keyUsage, true, namedBits(bits));
  },
  serverAuth(): Asn1 {
    return extension(OID.extKeyUsage, false, node(T.SEQUENCE, [oid(OID.serverAuth)]));
  },
  subjectKeyIdentifier(keyId: Buffer): Asn1 {
    return extension(OID.subjectKeyIdentifier, false, node(T.OCTETSTRING, bin(keyId)));
  },
  authorityKeyIdentifier(keyId: Buffer): Asn1 {
    const keyIdentifier = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(keyId));
    return extension(OID.authorityKeyIdentifier, false, node(T.SEQUENCE, [keyIdentifier]));
  },
  subjectAltName(entries: readonly ({ kind: "dns"; name: string } | { kind: "ip"; bytes: Buffer })[]): Asn1 {
    const names = entries.map((e) =>
      e.kind === "dns"
        ? asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, e.name) // dNSName IA5String
        : asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(e.bytes)), // iPAddress
    );
    return extension(OID.subjectAltName, false, node(T.SEQUENCE, names));
  },
};

export interface CertificateFields {
  serial: Buffer;
  issuer: Asn1;
  subject: Asn1;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, e.g. from fromDerExact(key.export({ type: "spki", format: "der" })). */
  subjectPublicKeyInfo: Asn1;
  extensions: Asn1[];
}

function signatureAlgorithm(key: crypto.KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return node(T.SEQUENCE, [oid(OID.sha256WithRSAEncryption), node(T.NULL, "")]);
    case "ec":
      return node(T.SEQUENCE, [oid(OID.ecdsaWithSHA256)]);
    default:
      throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  }
}

/** The DER of a v3 certificate with these fields, signed by `signingKey` (RSA or EC) over SHA-256. */
export function signCertificate(fields: CertificateFields, signingKey: crypto.KeyObject): Buffer {
  const algorithm = signatureAlgorithm(signingKey);
  const tbs = node(T.SEQUENCE, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [node(T.INTEGER, "\x02")]), // v3
    node(T.INTEGER, bin(fields.serial)),
    algorithm,
    fields.issuer,
    node(T.SEQUENCE, [time(fields.notBefore), time(fields.notAfter)]),
    fields.subject,
    fields.subjectPublicKeyInfo,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [node(T.SEQUENCE, fields.extensions)]),
  ]);
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = crypto.sign("sha256", buf(tbsDer), signingKey);
  const certificate =
    asn1.toDer(algorithm).getBytes() + asn1.toDer(node(T.BITSTRING, "\x00" + bin(signature))).getBytes();
  // The TBS is already DER: wrap it by hand rather than parse it back into forge.
  return buf(derHeader(T.SEQUENCE | 0x20, tbsDer.length + certificate.length) + tbsDer + certificate);
}

function derHeader(tag: number, length: number): string {
  if (length < 0x80) return String.fromCharCode(tag, length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return String.fromCharCode(tag, 0x80 | bytes.length, ...bytes);
}

/** The parts of an issuing certificate that its children repeat: its subject Name and its key identifier. */
export function issuerFields(certDer: Buffer): {
  subject: Asn1;
  keyId: Buffer | undefined;
  notBefore: Date;
  notAfter: Date;
} {
  const cert = fromDerExact(certDer);
  const tbs = (cert.value as Asn1[])[0]!.value as Asn1[];
  const offset = tbs[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC && tbs[0]!.type === 0 ? 1 : 0;
  // serial, signature, issuer, validity, subject
  const validity = tbs[offset + 3]!.value as Asn1[];
  const date = (t: Asn1) =>
    t.type === T.UTCTIME ? asn1.utcTimeToDate(t.value as string) : asn1.generalizedTimeToDate(t.value as string);
  const subject = tbs[offset + 4]!;
  let keyId: Buffer | undefined;
  const extensions = tbs.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  for (const e of extensions ? ((extensions.value as Asn1[])[0]!.value as Asn1[]) : []) {
    const parts = e.value as Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== OID.subjectKeyIdentifier) continue;
    const value = asn1.fromDer(parts[parts.length - 1]!.value as string);
    keyId = buf(value.value as string);
  }
  return { subject, keyId, notBefore: date(validity[0]!), notAfter: date(validity[1]!) };
}

export function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
