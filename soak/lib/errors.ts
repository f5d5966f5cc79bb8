// The proxy's error lines during a family: an "internal error" (an exception
// the core did not expect) is a finding; other error lines are counted in a note.
import { addFinding, repro, type Ctx, type FamilyResult } from "./family.ts";
import type { ProxyUnderTest } from "./proxy.ts";

/** The message without the client's address and numbers, so that the same error groups together. */
export function normalise(line: string): string {
  return line
    .replace(/^\S+:\d+: /, "")
    .replace(/\b\d+\b/g, "N")
    .slice(0, 160);
}

export function collectErrors(ctx: Ctx, r: FamilyResult, proxy: ProxyUnderTest, since: number): void {
  const other = new Map<string, number>();
  for (const e of proxy.errorsSince(since)) {
    const first = e.text.split("\n")[0]!;
    if (/internal error|uncaught|unhandled/i.test(first)) {
      const files = e.files ?? [];
      addFinding(r, {
        kind: "internal-error",
        title: `${proxy.opts.name.replace(/-\d+$/, "")}: ${normalise(first)}`,
        detail: `The proxy logged an exception it did not expect:\n${"```"}\n${e.text.slice(0, 1500)}\n${"```"}`,
        figure: "logged by the proxy",
        repro: repro(ctx, r.id),
        files,
      });
      continue;
    }
    const k = normalise(first);
    other.set(k, (other.get(k) ?? 0) + 1);
  }
  const top = [...other.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (top.length)
    r.notes.push(
      `Error lines the proxy (${proxy.opts.name}) printed: ${top.map(([k, v]) => `${v} × \`${k.replace(/`/g, "'")}\``).join("; ")}.`,
    );
}
