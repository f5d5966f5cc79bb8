/**
 * A writer's encoded connection states. Every flow of a keep-alive connection carries the same
 * client_conn and server_conn (about 40 of a live HTTP flow's 150 values), so each is built,
 * brought down to the version written and encoded once, then reused for as long as the
 * connection's fields stay as they were: they are compared (one level deep) at every use, and a
 * TLS handshake or a close that changed them makes the next flow encode them again.
 * bench W: about 3 µs of the ~10 a flow took to encode.
 */
import type { ClientConnection, ServerConnection } from "../flow.ts";
import { downgradeConn, type FormatVersion } from "./compat.ts";
import { clientToState, serverToState } from "./state-write.ts";
import { encodeTNet, TNetRaw } from "./tnetstring.ts";

/** A connection's fields when it was encoded: arrays and plain objects copied, the rest as they were. */
interface Seen {
  keys: string[];
  values: unknown[];
}

interface Entry {
  seen: Seen;
  raw: TNetRaw;
}

export class ConnStateCache {
  private readonly entries = new WeakMap<object, Entry>();

  constructor(private readonly version: FormatVersion) {}

  readonly client = (c: ClientConnection): TNetRaw | undefined => this.get(c, "client");
  readonly server = (s: ServerConnection): TNetRaw | undefined => this.get(s, "server");

  private get(conn: ClientConnection | ServerConnection, side: "client" | "server"): TNetRaw | undefined {
    const hit = this.entries.get(conn);
    if (hit && unchanged(conn as unknown as Record<string, unknown>, hit.seen)) return hit.raw;
    const seen = snapshot(conn as unknown as Record<string, unknown>);
    // Something the comparison cannot follow (a nested object of objects): built every time.
    if (!seen) return undefined;
    const state =
      side === "client"
        ? clientToState(conn as ClientConnection, undefined)
        : serverToState(conn as ServerConnection, undefined);
    const raw = new TNetRaw(encodeTNet(downgradeConn(state, side, this.version)));
    this.entries.set(conn, { seen, raw });
    return raw;
  }
}

function isLeaf(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Keys in for-in order, so that `unchanged` walks the object once and reads each field by the
 * loop's own key (V8 then loads it straight from the object's layout, as it would a named field).
 */
export function snapshot(conn: Record<string, unknown>): Seen | undefined {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const key in conn) {
    const v = conn[key];
    keys.push(key);
    if (isLeaf(v)) values.push(v);
    else if (Array.isArray(v) && v.every(isLeaf)) values.push(v.slice());
    else if (!Array.isArray(v) && isPlain(v as object)) {
      const inner = snapshot(v as Record<string, unknown>);
      if (!inner || !inner.values.every(isLeaf)) return undefined;
      values.push(inner);
    } else return undefined;
  }
  return { keys, values };
}

/** Whether `conn` has the same keys, in the same order, with the same values (one level down) as when seen. */
export function unchanged(conn: Record<string, unknown>, seen: Seen): boolean {
  const { keys, values } = seen;
  let i = 0;
  for (const key in conn) {
    if (key !== keys[i]) return false;
    const now = conn[key];
    const then = values[i++];
    if (now === then) continue;
    if (isLeaf(now) || isLeaf(then)) return false;
    if (Array.isArray(then)) {
      if (!Array.isArray(now) || !sameItems(now, then)) return false;
    } else if (Array.isArray(now) || !sameLeaves(now as Record<string, unknown>, then as Seen)) {
      return false;
    }
  }
  return i === keys.length;
}

function sameItems(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameLeaves(now: Record<string, unknown>, then: Seen): boolean {
  let i = 0;
  for (const key in now) {
    if (key !== then.keys[i] || now[key] !== then.values[i]) return false;
    i++;
  }
  return i === then.keys.length;
}
