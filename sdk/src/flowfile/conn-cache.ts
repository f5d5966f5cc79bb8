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

export function snapshot(conn: Record<string, unknown>): Seen | undefined {
  const keys = Object.keys(conn);
  const values: unknown[] = [];
  for (const key of keys) {
    const v = conn[key];
    if (isLeaf(v)) values.push(v);
    else if (Array.isArray(v) && v.every(isLeaf)) values.push(v.slice());
    else if (!Array.isArray(v) && isPlain(v as object) && Object.values(v as object).every(isLeaf))
      values.push({ ...(v as object) });
    else return undefined;
  }
  return { keys, values };
}

export function unchanged(conn: Record<string, unknown>, seen: Seen): boolean {
  let count = 0;
  for (const key in conn) if (Object.hasOwn(conn, key)) count++;
  if (count !== seen.keys.length) return false;
  for (let i = 0; i < seen.keys.length; i++) {
    const key = seen.keys[i]!;
    const now = conn[key];
    const then = seen.values[i];
    // A key that is gone reads undefined: only then is it worth asking whether it is still there.
    if (now === then) {
      if (then !== undefined || Object.hasOwn(conn, key)) continue;
      return false;
    }
    if (isLeaf(now) || isLeaf(then)) return false;
    if (Array.isArray(then)) {
      if (!Array.isArray(now) || !sameItems(now, then)) return false;
    } else if (Array.isArray(now) || !sameFields(now as Record<string, unknown>, then as Record<string, unknown>)) {
      return false;
    }
  }
  return true;
}

function sameItems(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameFields(now: Record<string, unknown>, then: Record<string, unknown>): boolean {
  let count = 0;
  for (const key in now) {
    if (!Object.hasOwn(now, key)) continue;
    if (now[key] !== then[key] || !Object.hasOwn(then, key)) return false;
    count++;
  }
  return count === Object.keys(then).length;
}
