// The DER writer and reader behind certificate building (core/tls/der.ts):
// what it writes is canonical DER (node-forge, which used to write these
// certificates, reads it back to the same bytes; OpenSSL parses it), and what
// it refuses to embed verbatim is exactly what is not DER in its framing.
import * as crypto from "node:crypto";
import forge from "node-forge";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decode, encode, oid, oidToString, parseTime, primitive, sequence, Tag, time } from "../../core/tls/der.ts";
import {
  distinguishedName,
  ext,
  fromDerExact,
  issuerFields,
  keyIdentifier,
  KeyUsage,
  randomSerial,
  signCertificate,
} from "../../core/tls/x509.ts";

function forgeRoundTrip(der: Buffer): Buffer {
  const parsed = (forge.asn1.fromDer as unknown as (b: string, o: object) => forge.asn1.Asn1)(der.toString("latin1"), {
    strict: true,
    decodeBitStrings: false,
  });
  return Buffer.from(forge.asn1.toDer(parsed).getBytes(), "latin1");
}

function certificate(notBefore: Date, notAfter: Date, signer: crypto.KeyObject, commonName: string): Buffer {
  const subject = crypto
    .generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    .publicKey.export({ type: "spki", format: "der" });
  const issuer = distinguishedName({ commonName: "issuer ü", organization: "org" });
  return signCertificate(
    {
      serial: randomSerial(),
      issuer,
      subject: distinguishedName({ commonName }),
      notBefore,
      notAfter,
      subjectPublicKeyInfo: fromDerExact(subject),
      extensions: [
        ext.basicConstraints(true),
        ext.keyUsage([KeyUsage.digitalSignature, KeyUsage.keyEncipherment, KeyUsage.keyCertSign, KeyUsage.cRLSign]),
        ext.serverAuth(),
        ext.subjectKeyIdentifier(keyIdentifier(subject)),
        ext.authorityKeyIdentifier(Buffer.alloc(20, 7)),
        ext.subjectAltName([
          { kind: "dns", name: "a.example" },
          { kind: "ip", bytes: Buffer.from([127, 0, 0, 1]) },
          { kind: "dns", name: `${"x".repeat(300)}.test` }, // long: multi-byte lengths
        ]),
      ],
    },
    signer,
  );
}

test("certificates are canonical DER: forge reads them back to the same bytes, OpenSSL parses every field", () => {
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  const cases: [Date, Date, crypto.KeyObject][] = [
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), new Date(Date.UTC(2034, 11, 31, 23, 59, 59)), rsa],
    [new Date(Date.UTC(1949, 11, 31, 23, 59, 59)), new Date(Date.UTC(2050, 0, 1, 0, 0, 0)), ec], // GeneralizedTime on both sides
  ];
  for (const [notBefore, notAfter, key] of cases) {
    const der = certificate(notBefore, notAfter, key, "host.test");
    assert.ok(forgeRoundTrip(der).equals(der), "forge re-encodes the same bytes");
    const x509 = new crypto.X509Certificate(der);
    assert.is(x509.subject, "CN=host.test");
    assert.is(x509.issuer, "O=org\nCN=issuer ü");
    assert.is(Date.parse(x509.validFrom), notBefore.getTime());
    assert.is(Date.parse(x509.validTo), notAfter.getTime());
    assert.is(x509.subjectAltName, `DNS:a.example, IP Address:127.0.0.1, DNS:${"x".repeat(300)}.test`);
    assert.equal(x509.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.ok(x509.ca);
    const fields = issuerFields(der);
    assert.is(fields.notBefore.getTime(), notBefore.getTime());
    assert.is(fields.notAfter.getTime(), notAfter.getTime());
    assert.ok(encode(fields.subject).equals(encode(distinguishedName({ commonName: "host.test" }))));
    assert.ok(fields.keyId && fields.keyId.length === 20);
  }
});

test("an RSA signature over the same fields gives the same certificate twice", () => {
  // PKCS#1 v1.5 is deterministic: the encoding alone decides the bytes.
  const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const spki = crypto
    .generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    .publicKey.export({ type: "spki", format: "der" });
  const fields = {
    serial: randomSerial(),
    issuer: distinguishedName({ commonName: "ca" }),
    subject: distinguishedName({ commonName: "leaf" }),
    notBefore: new Date(Date.UTC(2025, 5, 6)),
    notAfter: new Date(Date.UTC(2026, 5, 6)),
    subjectPublicKeyInfo: fromDerExact(spki),
    extensions: [ext.basicConstraints(false)],
  };
  assert.ok(signCertificate(fields, key).equals(signCertificate(fields, key)));
});

test("decode refuses what is not DER in its framing", () => {
  const ok = encode(sequence([primitive(Tag.INTEGER, Buffer.from([1])), primitive(Tag.NULL, Buffer.alloc(0))]));
  assert.equal([...ok], [0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00]);
  assert.is(decode(ok).children.length, 2);
  const bad: [string, number[], RegExp][] = [
    ["indefinite length", [0x30, 0x80, 0x05, 0x00, 0x00, 0x00], /indefinite/],
    ["long form for a short length", [0x04, 0x81, 0x01, 0xaa], /minimally/],
    ["leading zero in a long length", [0x04, 0x82, 0x00, 0x81, ...new Array<number>(0x81).fill(0)], /minimally/],
    ["trailing bytes", [0x05, 0x00, 0x00], /after the value/],
    ["truncated content", [0x04, 0x05, 0x01], /truncated/],
    ["a child longer than its parent", [0x30, 0x03, 0x04, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05], /truncated/],
    ["a high tag number", [0x1f, 0x81, 0x00, 0x00], /high tag/],
    ["empty input", [], /truncated/],
  ];
  for (const [label, bytes, why] of bad) {
    assert.throws(() => decode(Buffer.from(bytes)), why, label);
    assert.throws(() => fromDerExact(Buffer.from(bytes)), why, label);
  }
  // BIT and OCTET STRING contents stay bytes, even when they look like DER.
  const wrapped = encode(primitive(Tag.OCTET_STRING, encode(primitive(Tag.NULL, Buffer.alloc(0)))));
  assert.equal(decode(wrapped).children, []);
});

test("OIDs and times", () => {
  for (const dotted of ["2.5.4.3", "1.2.840.113549.1.1.11", "1.3.6.1.5.5.7.3.1", "2.999.3", "0.39"]) {
    const der = oid(dotted);
    assert.ok(
      encode(der).equals(
        Buffer.from(
          forge.asn1.toDer(forge.asn1.create(0, 6, false, forge.asn1.oidToDer(dotted).getBytes())).getBytes(),
          "latin1",
        ),
      ),
      dotted,
    );
    assert.is(oidToString(decode(encode(der)).content), dotted);
  }
  const t = (tag: number, s: string) => parseTime(tag, Buffer.from(s, "latin1")).toISOString();
  assert.is(t(Tag.UTC_TIME, "491231235959Z"), "2049-12-31T23:59:59.000Z");
  assert.is(t(Tag.UTC_TIME, "500101000000Z"), "1950-01-01T00:00:00.000Z");
  assert.is(t(Tag.UTC_TIME, "2401020304Z"), "2024-01-02T03:04:00.000Z");
  assert.is(t(Tag.UTC_TIME, "240102030405+0130"), "2024-01-02T01:34:05.000Z");
  assert.is(t(Tag.GENERALIZED_TIME, "20500101000000Z"), "2050-01-01T00:00:00.000Z");
  assert.is(t(Tag.GENERALIZED_TIME, "19491231235959.5-0100"), "1950-01-01T00:59:59.000Z");
  assert.throws(() => t(Tag.UTC_TIME, "2401"), /bad time/);
  assert.is(encode(time(new Date(Date.UTC(2049, 0, 1)))).toString("latin1", 2), "490101000000Z");
  assert.is(encode(time(new Date(Date.UTC(2050, 0, 1)))).toString("latin1", 2), "20500101000000Z");
  assert.is(encode(time(new Date(Date.UTC(1949, 0, 1)))).toString("latin1", 2), "19490101000000Z");
});

test.run();
