// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, with
// positions in dist/cli.js mapped back to the TypeScript sources through the
// bundle's source map.
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { ROOT } from "./procs.ts";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hotspot {
  name: string;
  where: string;
  ms: number;
  share: number;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decoded source map: for each generated line, segments [genCol, sourceIdx, srcLine, srcCol]. */
class SourceMap {
  private readonly lines: number[][][] = [];
  private readonly sources: string[];
  constructor(file: string) {
    const map = JSON.parse(readFileSync(file, "utf8")) as { sources: string[]; mappings: string; sourceRoot?: string };
    this.sources = map.sources.map((s) => relative(ROOT, new URL(s, `file://${file}`).pathname));
    let src = 0;
    let srcLine = 0;
    let srcCol = 0;
    for (const line of map.mappings.split(";")) {
      let genCol = 0;
      const segs: number[][] = [];
      for (const seg of line.split(",")) {
        if (!seg) continue;
        const v = decodeVlq(seg);
        genCol += v[0]!;
        if (v.length >= 4) {
          src += v[1]!;
          srcLine += v[2]!;
          srcCol += v[3]!;
          segs.push([genCol, src, srcLine, srcCol]);
        }
      }
      this.lines.push(segs);
    }
  }
  /** 0-based generated line and column to "file:line" (1-based). */
  lookup(line: number, col: number): string | undefined {
    const segs = this.lines[line];
    if (!segs?.length) return undefined;
    let best = segs[0]!;
    for (const s of segs) {
      if (s[0]! <= col) best = s;
      else break;
    }
    return `${this.sources[best[1]!]}:${best[2]! + 1}`;
  }
}

function decodeVlq(s: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of s) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  idleMs: number;
  gcMs: number;
  top: Hotspot[];
  /** Self time grouped by source file (or node internals / native). */
  byFile: Hotspot[];
}

export function summarise(file: string, topN = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const mapFile = `${ROOT}/dist/cli.js.map`;
  const map = existsSync(mapFile) ? new SourceMap(mapFile) : undefined;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0));
  }
  const fns = new Map<string, Hotspot>();
  const files = new Map<string, Hotspot>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const ms = us / 1000;
    total += ms;
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    if (functionName === "(idle)") {
      idle += ms;
      continue;
    }
    if (functionName === "(garbage collector)") gc += ms;
    let where: string;
    let fileKey: string;
    if (url.endsWith("dist/cli.js") && map) {
      where = map.lookup(lineNumber, columnNumber) ?? `dist/cli.js:${lineNumber + 1}`;
      fileKey = where.replace(/:\d+$/, "");
    } else if (url.startsWith("node:")) {
      where = `${url}:${lineNumber + 1}`;
      fileKey = "node internals (node:*)";
    } else if (url) {
      where = `${url.replace(`file://${ROOT}/`, "")}:${lineNumber + 1}`;
      fileKey = where.replace(/:\d+$/, "");
    } else {
      where = "(native)";
      fileKey = functionName.startsWith("(") ? functionName : "native (V8 builtins, C++)";
    }
    const name = functionName || "(anonymous)";
    const key = `${name}@${where}`;
    const h = fns.get(key) ?? { name, where, ms: 0, share: 0 };
    h.ms += ms;
    fns.set(key, h);
    const f = files.get(fileKey) ?? { name: fileKey, where: "", ms: 0, share: 0 };
    f.ms += ms;
    files.set(fileKey, f);
  }
  const busy = total - idle;
  const rank = (m: Map<string, Hotspot>, k: number) =>
    [...m.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, k)
      .map((h) => ({ ...h, share: busy > 0 ? h.ms / busy : 0 }));
  return { totalMs: total, busyMs: busy, idleMs: idle, gcMs: gc, top: rank(fns, topN), byFile: rank(files, 12) };
}
