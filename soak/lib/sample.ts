// What the proxy holds, read from /proc: RSS (VmRSS, VmHWM), open file
// descriptors, and for a leak report what those descriptors are (sockets by
// TCP state and peer, pipes, others).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { memory } from "../../bench/lib/procs.ts";

export interface Sample {
  /** ms since the epoch */
  at: number;
  rss: number;
  hwm: number;
  fds: number;
}

export function sample(pid: number): Sample {
  const m = memory(pid);
  return { at: Date.now(), rss: m.rss, hwm: m.hwm, fds: fdCount(pid) };
}

export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

interface TcpEntry {
  state: string;
  localPort: number;
  remotePort: number;
}

/** The process's TCP sockets by inode (from its network namespace's /proc tables). */
function tcpTable(pid: number): Map<string, TcpEntry> {
  const out = new Map<string, TcpEntry>();
  for (const file of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (a: string) => parseInt(a.split(":")[1] ?? "0", 16);
      out.set(f[9]!, { state: TCP_STATES[f[3]!] ?? f[3]!, localPort: port(f[1]!), remotePort: port(f[2]!) });
    }
  }
  return out;
}

/**
 * The proxy's descriptors, counted by kind: `tcp ESTABLISHED to origin`,
 * `tcp CLOSE_WAIT from client`, `pipe`, ... `ports` names the ports the
 * harness knows (listeners, origins), so a socket's other end can be told.
 */
export function describeFds(pid: number, ports: { listeners: number[]; origins: number[] }): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return counts;
  }
  const tcp = tcpTable(pid);
  for (const n of names) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${n}`);
    } catch {
      continue;
    }
    const sock = /^socket:\[(\d+)\]$/.exec(target);
    if (!sock) {
      add(
        target.startsWith("pipe:")
          ? "pipe"
          : target.startsWith("anon_inode:")
            ? target
            : target.startsWith("/")
              ? "file"
              : "other",
      );
      continue;
    }
    const e = tcp.get(sock[1]!);
    if (!e) {
      add("socket no longer in the TCP table (its connection is gone, the descriptor is not)");
      continue;
    }
    if (e.state === "LISTEN") add("tcp LISTEN");
    else if (ports.listeners.includes(e.localPort)) add(`tcp ${e.state} from a client`);
    else if (ports.origins.includes(e.remotePort)) add(`tcp ${e.state} to an origin`);
    else add(`tcp ${e.state} to port ${e.remotePort}`);
  }
  return counts;
}

/** Samples a process every `everyMs` and keeps the peaks (for the report). */
export class PeakSampler {
  peakRss = 0;
  peakFds = 0;
  readonly series: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: () => number | undefined,
    private readonly everyMs = 500,
    private readonly keep = false,
  ) {}

  start(): this {
    this.timer = setInterval(() => this.take(), this.everyMs);
    this.timer.unref();
    return this;
  }

  take(): Sample | undefined {
    const pid = this.pid();
    if (pid === undefined) return undefined;
    try {
      const s = sample(pid);
      this.peakRss = Math.max(this.peakRss, s.rss);
      if (Number.isFinite(s.fds)) this.peakFds = Math.max(this.peakFds, s.fds);
      if (this.keep) this.series.push(s);
      return s;
    } catch {
      return undefined; // the process is gone; the caller finds out from its exit
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export const MiB = 2 ** 20;
export const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
