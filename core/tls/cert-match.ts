// Which of the user's own certificates (the `certs` option) a connection is
// shown, matched as mitmproxy's CertStore matches: each entry is registered
// under the spec's domain, its certificate's common name and its SANs; a
// connection's names are tried in order, each as itself and then as its
// "asterisk forms" (www.example.com, *.example.com, *.com), and "*" last.
// So `*.example.com` also covers a.b.example.com, unlike a TLS wildcard.
import { sanEntry } from "./names.ts";

/** One `certs` value, `[domain=]path`: the domain is "*" when none is given. */
export interface CertSpec {
  domain: string;
  path: string;
}

/** Splits a `certs` value at its first `=` (as mitmproxy does); a message for what cannot be used. */
export function parseCertSpec(spec: string): CertSpec | { error: string } {
  const eq = spec.indexOf("=");
  const domain = eq === -1 ? "*" : spec.slice(0, eq).trim();
  const path = eq === -1 ? spec : spec.slice(eq + 1);
  if (domain === "") return { error: "the domain before '=' is empty" };
  if (path.trim() === "") return { error: "no file is given" };
  if (/[\s\x00-\x1f\x7f]/.test(domain)) return { error: "the domain holds spaces or control characters" };
  return { domain: matchKey(domain), path };
}

/**
 * The spelling names are compared in: lower case, no trailing dot, IPv6 in
 * its short form (what a certificate carries and what a client sends differ
 * in these only).
 */
export function matchKey(name: string): string {
  try {
    return sanEntry(name).name;
  } catch {
    return name.trim().toLowerCase();
  }
}

/**
 * www.example.com → [www.example.com, *.example.com, *.com]; "*" alone is
 * left out (it is tried last of all). An IP address has no other form.
 */
export function asteriskForms(name: string): string[] {
  const key = matchKey(name);
  if (sanEntryKind(key) === "ip") return [key];
  const labels = key.split(".");
  const forms = [key];
  for (let i = 1; i < labels.length; i++) forms.push(`*.${labels.slice(i).join(".")}`);
  return forms;
}

function sanEntryKind(name: string): "ip" | "dns" | undefined {
  try {
    return sanEntry(name).kind;
  } catch {
    return undefined;
  }
}

/** The user's certificates by the names they were registered under; a later registration of a name wins. */
export class CertMatcher<T> {
  readonly #byName = new Map<string, T>();

  get size(): number {
    return this.#byName.size;
  }

  /** Registers `entry` under each of `names` (a spec's domain, the certificate's CN and SANs). */
  add(entry: T, names: readonly string[]): void {
    for (const name of names) this.#byName.set(matchKey(name), entry);
  }

  /** The entry for the first of `names` (in order, each with its asterisk forms) registered, else the one for "*". */
  find(names: readonly string[]): T | undefined {
    if (this.#byName.size === 0) return undefined;
    for (const name of names) {
      for (const form of asteriskForms(name)) {
        const hit = this.#byName.get(form);
        if (hit !== undefined) return hit;
      }
    }
    return this.#byName.get("*");
  }
}
