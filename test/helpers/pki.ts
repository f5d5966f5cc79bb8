// Certificates for the certs, client_certs and TLS option suites, made by the
// `openssl` command as a user would make them: a root CA (optionally with an
// intermediate that signs the leaves), server and client leaf certificates
// with the names and purposes asked for, and the PEM files the options take
// (chain and key in one file, the key encrypted when a passphrase is given).
import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { tempDir } from "./harness.ts";

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

export interface IssuedCert {
  /** The leaf alone (PEM). */
  certPem: string;
  /** The leaf's key, unencrypted (PEM). */
  keyPem: string;
  /** What the options take: leaf, the intermediate (if any), then the key (encrypted with `passphrase`). */
  pemFile: string;
  /** SHA-256 fingerprint as Node prints it (AA:BB:…). */
  fingerprint: string;
}

export interface TestPki {
  /** The root certificate (PEM): what a client that trusts this PKI is given. */
  rootPem: string;
  rootFile: string;
  issue(opts: {
    cn: string;
    dns?: string[];
    ips?: string[];
    /** The extended key usage: a TLS server or a TLS client. */
    purpose: "server" | "client";
    /** Encrypts the key in `pemFile` (PKCS#8, AES-256). */
    passphrase?: string;
  }): Promise<IssuedCert>;
}

/**
 * A root CA named `name`; with `intermediate`, leaves are signed by an
 * intermediate CA under it (so a client that trusts the root only verifies a
 * leaf when it is also sent the intermediate).
 */
export async function makePki(name: string, opts: { intermediate?: boolean } = {}): Promise<TestPki> {
  const dir = tempDir("interloper-pki-");
  const caExt = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
  writeFileSync(join(dir, "ca.ext"), caExt);
  await openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
      .concat(["-keyout", "root.key", "-out", "root.pem", "-days", "30", "-subj", `/CN=${name}`])
      .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
    dir,
  );
  let signer = { cert: "root.pem", key: "root.key" };
  let chainPem = "";
  if (opts.intermediate) {
    await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "int.key"], dir);
    await openssl(["req", "-new", "-key", "int.key", "-subj", `/CN=${name} intermediate`, "-out", "int.csr"], dir);
    await openssl(
      ["x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", serial()].concat([
        "-days",
        "30",
        "-extfile",
        "ca.ext",
        "-out",
        "int.pem",
      ]),
      dir,
    );
    signer = { cert: "int.pem", key: "int.key" };
    chainPem = readFileSync(join(dir, "int.pem"), "utf8");
  }
  let count = 0;
  return {
    rootPem: readFileSync(join(dir, "root.pem"), "utf8"),
    rootFile: join(dir, "root.pem"),
    async issue({ cn, dns = [], ips = [], purpose, passphrase }) {
      const id = `leaf${++count}`;
      const sans = [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)];
      const ext = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        `extendedKeyUsage=${purpose === "server" ? "serverAuth" : "clientAuth"}`,
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
      ];
      writeFileSync(join(dir, `${id}.ext`), `${ext.join("\n")}\n`);
      await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${id}.key`], dir);
      await openssl(["req", "-new", "-key", `${id}.key`, "-subj", `/CN=${cn}`, "-out", `${id}.csr`], dir);
      await openssl(
        ["x509", "-req", "-in", `${id}.csr`, "-CA", signer.cert, "-CAkey", signer.key, "-set_serial", serial()].concat([
          "-days",
          "30",
          "-extfile",
          `${id}.ext`,
          "-out",
          `${id}.pem`,
        ]),
        dir,
      );
      let keyFile = `${id}.key`;
      if (passphrase !== undefined) {
        keyFile = `${id}.enc.key`;
        await openssl(["pkey", "-in", `${id}.key`, "-aes256", "-passout", `pass:${passphrase}`, "-out", keyFile], dir);
      }
      const certPem = readFileSync(join(dir, `${id}.pem`), "utf8");
      const keyPem = readFileSync(join(dir, `${id}.key`), "utf8");
      const pemFile = join(dir, `${id}-bundle.pem`);
      writeFileSync(pemFile, certPem + chainPem + readFileSync(join(dir, keyFile), "utf8"));
      return { certPem, keyPem, pemFile, fingerprint: new X509Certificate(certPem).fingerprint256 };
    },
  };
}

function serial(): string {
  return `0x${randomBytes(8).toString("hex")}`;
}
