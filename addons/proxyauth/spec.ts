import { homedir } from "node:os";
import { OptionError, logText } from "@interloper/sdk";

/** What a `proxyauth` value asks for. */
export type ProxyAuthSpec =
  { kind: "off" } | { kind: "any" } | { kind: "user"; user: string; pass: string } | { kind: "htpasswd"; path: string };

/**
 * Reads a `proxyauth` value: `user:pass`, `any`, or `@path` to an htpasswd
 * file (`~` is the home folder). mitmproxy's `ldap:`/`ldaps:` specs are
 * refused: interloper has no LDAP client. (They used to be taken as a user
 * called "ldap", letting anyone in who sent that name and the rest as password.)
 */
export function parseProxyAuth(value: string | undefined): ProxyAuthSpec {
  if (value === undefined || value === "") return { kind: "off" };
  if (value === "any") return { kind: "any" };
  if (/^ldaps?:/i.test(value)) {
    // The spec holds the LDAP bind password: not repeated into the log.
    throw new OptionError(
      "invalid value for proxyauth: LDAP (ldap:…, ldaps:…) is not supported; use user:pass, any, or @path to an htpasswd file",
    );
  }
  if (value.startsWith("@")) {
    const path = value.slice(1);
    if (path === "") throw new OptionError(`invalid value for proxyauth: '@' (expected @path to an htpasswd file)`);
    return { kind: "htpasswd", path: path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path };
  }
  const colon = value.indexOf(":");
  if (colon <= 0) {
    throw new OptionError(`invalid value for proxyauth: '${logText(value)}' (expected user:pass, any or @path)`);
  }
  return { kind: "user", user: value.slice(0, colon), pass: value.slice(colon + 1) };
}
