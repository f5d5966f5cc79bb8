/** Short, user-facing text for a socket or DNS error. */
export function describeNetError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { hostname?: string };
  switch (e?.code) {
    case "ECONNREFUSED":
      return "Connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return `Name or service not known (${e.hostname ?? "?"})`;
    case "ETIMEDOUT":
      return "Connection timed out";
    case "EHOSTUNREACH":
      return "No route to host";
    case "ENETUNREACH":
      return "Network is unreachable";
    case "ECONNRESET":
      return "Connection reset by peer";
    case "EPIPE":
      return "Broken pipe";
    case "EADDRNOTAVAIL":
      return "Cannot assign requested address";
    default:
      return e?.message ?? String(err);
  }
}
