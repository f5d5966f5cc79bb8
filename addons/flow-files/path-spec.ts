import { homedir } from "node:os";

/** `+path` appends (mitmproxy's save_stream_file syntax); `~` is the home folder. */
export function pathSpec(spec: string): { path: string; append: boolean } {
  const append = spec.startsWith("+");
  const raw = append ? spec.slice(1) : spec;
  const path = raw === "~" ? homedir() : raw.startsWith("~/") ? `${homedir()}${raw.slice(1)}` : raw;
  return { path, append };
}

/**
 * The strftime fields mitmproxy's save_stream_file allows in the path (a new
 * file whenever the formatted path changes: `flows-%Y-%m-%d.mitm` rotates daily).
 */
export function formatPathTime(path: string, now: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const fields: Record<string, string> = {
    Y: String(now.getFullYear()),
    m: two(now.getMonth() + 1),
    d: two(now.getDate()),
    H: two(now.getHours()),
    M: two(now.getMinutes()),
    S: two(now.getSeconds()),
    "%": "%",
  };
  return path.replace(/%([YmdHMS%])/g, (_, f: string) => fields[f]!);
}
