import type { CaFormat } from "./ca-files.ts";

/** What the page shows: the formats the confdir holds (with their file names) and the fingerprint. */
export interface PageInput {
  formats: Array<{ format: CaFormat; fileName: string }>;
  fingerprint: string | undefined;
  /** The certificate files' name without extension (`interloper-ca-cert` or `mitmproxy-ca-cert`). */
  baseName: string;
}

interface Platform {
  name: string;
  /** The format to download for it. */
  format: CaFormat["id"];
  /** Steps, as HTML (no user data in them). */
  steps: string[];
}

// Written for interloper; menu names follow current versions and vary a little between vendors.
const PLATFORMS: Platform[] = [
  {
    name: "Windows",
    format: "p12",
    steps: [
      "Download the certificate and open the file: the Certificate Import Wizard starts.",
      "Choose <b>Current User</b>, keep the file, leave the password empty.",
      "Choose <b>Place all certificates in the following store</b>, then <b>Trusted Root Certification Authorities</b>.",
      "Finish, and confirm the security warning with <b>Yes</b>.",
      "Or, in an administrator prompt: <code>certutil -addstore root interloper-ca-cert.cer</code>",
    ],
  },
  {
    name: "macOS",
    format: "pem",
    steps: [
      "Download the certificate and open it: Keychain Access adds it to the <b>login</b> keychain.",
      "Double-click the certificate in Keychain Access, open <b>Trust</b>, and set <b>When using this certificate</b> to <b>Always Trust</b>.",
      "Close the window and confirm with your password.",
      "Or in a terminal: <code>sudo security add-trusted-cert -d -p ssl -p basic -k /Library/Keychains/System.keychain interloper-ca-cert.pem</code>",
    ],
  },
  {
    name: "Linux",
    format: "pem",
    steps: [
      "Download the certificate.",
      "Debian, Ubuntu: <code>sudo cp interloper-ca-cert.pem /usr/local/share/ca-certificates/interloper.crt &amp;&amp; sudo update-ca-certificates</code>",
      "Fedora, RHEL, Arch: <code>sudo trust anchor --store interloper-ca-cert.pem</code>",
      "Some programs keep their own list: <code>curl --cacert</code>, <code>NODE_EXTRA_CA_CERTS=interloper-ca-cert.pem</code>, Firefox (below).",
    ],
  },
  {
    name: "iOS",
    format: "pem",
    steps: [
      "Open this page in <b>Safari</b> and download the certificate; allow the configuration profile.",
      "Open <b>Settings &rsaquo; General &rsaquo; VPN &amp; Device Management</b>, tap the interloper profile and <b>Install</b> it.",
      "Open <b>Settings &rsaquo; General &rsaquo; About &rsaquo; Certificate Trust Settings</b> and turn on full trust for the interloper CA.",
    ],
  },
  {
    name: "Android",
    format: "cer",
    steps: [
      "Download the certificate.",
      "Open <b>Settings &rsaquo; Security &rsaquo; Encryption &amp; credentials &rsaquo; Install a certificate &rsaquo; CA certificate</b> (or search Settings for <i>CA certificate</i>) and pick the file.",
      "Browsers trust it now. Apps trust user CAs only if they opt in (Android 7 and later): for other apps the CA must be a system CA (a rooted device or an emulator image).",
    ],
  },
  {
    name: "Firefox",
    format: "pem",
    steps: [
      "Firefox keeps its own list of authorities. Download the certificate.",
      "Open <b>Settings &rsaquo; Privacy &amp; Security &rsaquo; Certificates &rsaquo; View Certificates &rsaquo; Authorities &rsaquo; Import</b> and pick the file.",
      "Tick <b>Trust this CA to identify websites</b> and confirm.",
    ],
  },
];

/** The onboarding page: one self-contained HTML document (styles inline, no scripts, nothing fetched). */
export function renderPage(input: PageInput): string {
  const byId = new Map(input.formats.map((f) => [f.format.id, f]));
  const downloads = input.formats.length
    ? input.formats
        .map(
          ({ format, fileName }) =>
            `<a class="button" href="/cert/${format.id}" download="${escapeHtml(fileName)}">${escapeHtml(fileName)}</a> <span class="muted">${escapeHtml(format.label)}</span>`,
        )
        .join("<br>\n")
    : `<p class="warn">The proxy's confdir holds no CA certificate files yet.</p>`;
  const platforms = PLATFORMS.map((p) => {
    const file = byId.get(p.format);
    const link = file
      ? `<p><a class="button" href="/cert/${p.format}" download="${escapeHtml(file.fileName)}">Get ${escapeHtml(file.fileName)}</a></p>`
      : "";
    // The steps name interloper's files; a mitmproxy CA taken over has files of that name instead.
    const steps = p.steps.map((s) => `<li>${s.replaceAll("interloper-ca-cert", input.baseName)}</li>`).join("");
    return `<details><summary>${p.name}</summary>${link}<ol>${steps}</ol></details>`;
  }).join("\n");
  const fingerprint = input.fingerprint
    ? `<p class="muted">SHA-256 fingerprint, to compare on the device:<br><code class="fp">${escapeHtml(input.fingerprint)}</code></p>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>interloper: install the CA certificate</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Install interloper's CA certificate</h1>
<p>Your traffic goes through <b>interloper</b>, an intercepting proxy. To see HTTPS, this device has to trust
the proxy's certificate authority (CA). Only do this on a device you control: whoever holds the CA's private key
can read the HTTPS traffic of every device that trusts it. Remove the certificate when you are done.</p>
<section>
<h2>Download</h2>
<p>${downloads}</p>
${fingerprint}
</section>
<section>
<h2>Install it</h2>
${platforms}
</section>
<p class="muted">This page is answered by the proxy itself; no request for it leaves the proxy.</p>
</main>
</body>
</html>
`;
}

/** A small page for errors (404, 405), in the same style. */
export function renderMessage(title: string, text: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p><a href="/">Install the CA certificate</a></p></main></body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1d232a; --bg: #f6f7f9; --card: #fff; --line: #d9dde3; --accent: #0b63ce; --muted: #5b6573; }
@media (prefers-color-scheme: dark) { :root { --fg: #e7eaee; --bg: #15181c; --card: #1e2228; --line: #343a42; --accent: #5aa2ff; --muted: #9aa4b1; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 42rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
a { color: var(--accent); }
.button { display: inline-block; margin: 0.25rem 0; padding: 0.6rem 1rem; border-radius: 0.5rem; background: var(--accent); color: #fff; text-decoration: none; font-weight: 600; }
details { background: var(--card); border: 1px solid var(--line); border-radius: 0.6rem; margin: 0.5rem 0; padding: 0 1rem; }
summary { cursor: pointer; padding: 0.8rem 0; font-weight: 600; }
details[open] summary { border-bottom: 1px solid var(--line); margin-bottom: 0.5rem; }
ol { padding-left: 1.25rem; }
li { margin: 0.35rem 0; }
code { font: 0.85em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); border: 1px solid var(--line); border-radius: 0.3rem; padding: 0.05rem 0.3rem; overflow-wrap: anywhere; }
.fp { display: inline-block; margin-top: 0.25rem; }
.muted { color: var(--muted); font-size: 0.9rem; }
.warn { color: #b3261e; }
`;
