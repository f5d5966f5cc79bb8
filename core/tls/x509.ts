// Builds X.509 v3 certificates: the TBSCertificate is laid out with the
// small DER writer in der.ts, the signature comes from Node's native crypto.
// (forge's certificate signing is pure-JS RSA, tens of milliseconds a
// signature; OpenSSL signs in about one, and leaf certificates are made per
// host. forge itself is not loaded for this: it costs ~10 MB of memory.)
import * as crypto from "node:crypto";
import {
  constructed,
  contextConstructed,
  contextPrimitive,
  decode,
  encode,
  oid,
  oidToString,
  parseTime,
  primitive,
  sequence,
  Tag,
  time,
  type Der,
} from "./der.ts";

/** An ASN.1 value ready to be encoded (see der.ts). */
export type Asn1 = Der;

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

const TRUE = primitive(Tag.BOOLEAN, Buffer.from([0xff]));

export function toDer(a: Asn1): Buffer {
  return encode(a);
}

/**
 * Takes DER that is embedded verbatim (a Name, a SubjectPublicKeyInfo), and
 * refuses input that is not DER in its framing: an issuer name must match the
 * CA's subject exactly, and a key must stay the key it was.
 */
export function fromDerExact(der: Buffer): Asn1 {
  decode(der);
  return { raw: Buffer.from(der) };
}

/** A Name of a common name and, optionally, an organization. */
export function distinguishedName(fields: { commonName: string; organization?: string }): Asn1 {
  const rdn = (type: string, value: string) =>
    constructed(Tag.SET, [sequence([oid(type), primitive(Tag.UTF8_STRING, Buffer.from(value, "utf8"))])]);
  const rdns: Asn1[] = [];
  if (fields.organization !== undefined) rdns.push(rdn(OID.organizationName, fields.organization));
  rdns.push(rdn(OID.commonName, fields.commonName));
  return sequence(rdns);
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
  const spki = decode(spkiDer);
  const bits = spki.children[1];
  if (spki.tag !== Tag.SEQUENCE || bits?.tag !== Tag.BIT_STRING) throw new Error("not a SubjectPublicKeyInfo");
  return crypto.createHash("sha1").update(bits.content.subarray(1)).digest(); // past the unused-bits byte
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(TRUE);
  parts.push(primitive(Tag.OCTET_STRING, encode(value)));
  return sequence(parts);
}

/** A BIT STRING of named bits, trailing zero bits dropped as DER wants. */
function namedBits(bits: readonly number[]): Asn1 {
  const highest = Math.max(...bits);
  const body = Buffer.alloc((highest >> 3) + 2);
  body[0] = 7 - (highest & 7); // unused bits
  for (const bit of bits) body[1 + (bit >> 3)]! |= 0x80 >> (bit & 7);
  return primitive(Tag.BIT_STRING, body);
}

export const ext = {
  basicConstraints(ca: boolean): Asn1 {
    return extension(OID.basicConstraints, true, sequence(ca ? [TRUE] : []));
  },
  keyUsage(bits: readonly number[]): Asn1 {
    return extension(OID.keyUsage, true, namedBits(bits));
  },
  serverAuth(): Asn1 {
    return extension(OID.extKeyUsage, false, sequence([oid(OID.serverAuth)]));
  },
  subjectKeyIdentifier(keyId: Buffer): Asn1 {
    return extension(OID.subjectKeyIdentifier, false, primitive(Tag.OCTET_STRING, keyId));
  },
  authorityKeyIdentifier(keyId: Buffer): Asn1 {
    return extension(OID.authorityKeyIdentifier, false, sequence([contextPrimitive(0, keyId)]));
  },
  subjectAltName(entries: readonly ({ kind: "dns"; name: string } | { kind: "ip"; bytes: Buffer })[]): Asn1 {
    const names = entries.map(
      (e) =>
        e.kind === "dns"
          ? contextPrimitive(2, Buffer.from(e.name, "latin1")) // dNSName IA5String
          : contextPrimitive(7, e.bytes), // iPAddress
    );
    return extension(OID.subjectAltName, false, sequence(names));
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
      return sequence([oid(OID.sha256WithRSAEncryption), primitive(Tag.NULL, Buffer.alloc(0))]);
    case "ec":
      return sequence([oid(OID.ecdsaWithSHA256)]);
    default:
      throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  }
}

/** The DER of a v3 certificate with these fields, signed by `signingKey` (RSA or EC) over SHA-256. */
export function signCertificate(fields: CertificateFields, signingKey: crypto.KeyObject): Buffer {
  const algorithm = signatureAlgorithm(signingKey);
  const tbs = encode(
    sequence([
      contextConstructed(0, [primitive(Tag.INTEGER, Buffer.from([2]))]), // v3
      primitive(Tag.INTEGER, fields.serial),
      algorithm,
      fields.issuer,
      sequence([time(fields.notBefore), time(fields.notAfter)]),
      fields.subject,
      fields.subjectPublicKeyInfo,
      contextConstructed(3, [sequence(fields.extensions)]),
    ]),
  );
  const signature = crypto.sign("sha256", tbs, signingKey);
  return encode(
    sequence([{ raw: tbs }, algorithm, primitive(Tag.BIT_STRING, Buffer.concat([Buffer.from([0]), signature]))]),
  );
}

/** The parts of an issuing certificate that its children repeat: its subject Name and its key identifier. */
export function issuerFields(certDer: Buffer): {
  subject: Asn1;
  keyId: Buffer | undefined;
  notBefore: Date;
  notAfter: Date;
} {
  const tbs = decode(certDer).children[0];
  if (!tbs || tbs.tag !== Tag.SEQUENCE) throw new Error("not a certificate");
  const fields = tbs.children;
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  // serial, signature, issuer, validity, subject
  const validity = fields[offset + 3]?.children ?? [];
  const subject = fields[offset + 4];
  if (validity.length !== 2 || !subject) throw new Error("not a certificate");
  let keyId: Buffer | undefined;
  const extensions = fields.find((f) => f.tag === 0xa3)?.children[0]?.children ?? [];
  for (const e of extensions) {
    const parts = e.children;
    if (parts[0]?.tag !== Tag.OID || oidToString(parts[0].content) !== OID.subjectKeyIdentifier) continue;
    keyId = Buffer.from(decode(parts[parts.length - 1]!.content).content);
  }
  const date = (t: (typeof validity)[number]) => parseTime(t.tag, t.content);
  return {
    subject: { raw: Buffer.from(subject.raw) },
    keyId,
    notBefore: date(validity[0]!),
    notAfter: date(validity[1]!),
  };
}

export function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
