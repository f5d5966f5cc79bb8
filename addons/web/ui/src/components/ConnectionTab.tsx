import { formatDateTime } from "../../lib/format.ts";
import type { Address, Certificate, FlowDetail } from "../types.ts";

/** Client and server connection facts: addresses, TLS version, SNI, ALPN, cipher, the server's certificate chain. */
export function ConnectionTab({ detail }: { detail: FlowDetail }) {
  const c = detail.client;
  const s = detail.server;
  return (
    <div class="pad facts">
      <h4>Client connection</h4>
      <Facts
        rows={[
          ["Address", addr(c.peername)],
          ["Listener", `${addr(c.sockname)} (${c.mode})`],
          ["TLS", c.tlsEstablished ? (c.tlsVersion ?? "yes") : "no"],
          ["SNI", c.sni],
          ["ALPN", c.alpn],
          ["ALPN offered", c.alpnOffers?.join(", ")],
          ["Cipher", c.cipher],
          ["Connected", formatDateTime(c.timestampStart)],
        ]}
      />
      <h4>Server connection</h4>
      {s ? (
        <>
          <Facts
            rows={[
              ["Address", addr(s.address)],
              ["Resolved", s.peername ? addr(s.peername) : null],
              ["Local", s.sockname ? addr(s.sockname) : null],
              ["TLS", s.tls ? (s.tlsEstablished ? (s.tlsVersion ?? "yes") : "not established") : "no"],
              ["SNI", s.sni],
              ["ALPN", s.alpn],
              ["ALPN offered", s.alpnOffers?.join(", ")],
              ["Cipher", s.cipher],
              ["Connected", formatDateTime(s.timestampStart)],
              ["Error", s.error],
            ]}
          />
          {s.certificates.length > 0 ? (
            <>
              <h4>Certificate chain</h4>
              <div class="certs" data-testid="cert-chain">
                {s.certificates.map((cert, i) => (
                  <CertificateCard key={i} cert={cert} index={i} />
                ))}
              </div>
            </>
          ) : null}
        </>
      ) : (
        <div class="muted">none (answered by the proxy or an addon)</div>
      )}
    </div>
  );
}

function CertificateCard({ cert, index }: { cert: Certificate; index: number }) {
  return (
    <details class="cert" open={index === 0}>
      <summary>
        <span class="muted">{index === 0 ? "leaf" : `#${index}`}</span> {oneLine(cert.subject)}
      </summary>
      <Facts
        rows={[
          ["Subject", oneLine(cert.subject)],
          ["Issuer", oneLine(cert.issuer)],
          ["Valid from", cert.validFrom],
          ["Valid to", cert.validTo],
          ["Names", cert.subjectAltNames.join(", ")],
          ["Serial", cert.serialNumber],
          ["SHA-256", cert.fingerprint256],
        ]}
      />
    </details>
  );
}

/** Node writes a distinguished name one attribute a line. */
function oneLine(dn: string): string {
  return dn.split("\n").filter(Boolean).join(", ");
}

function addr(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function Facts({ rows }: { rows: Array<[string, string | null | undefined]> }) {
  return (
    <table class="kv">
      <tbody>
        {rows
          .filter(([, v]) => v !== null && v !== undefined && v !== "")
          .map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}
