/**
 * mitmproxy's flow format versions, as its `mitmproxy/io/compat.py` moves
 * between them: a state read from a file is brought up to the newest version
 * (21) one step at a time, and one written for an older mitmproxy is brought
 * down the same steps in reverse. The versions that releases wrote:
 * 17 (mitmproxy 7 and 8, Debian's 8.1.1), 18 (9), 20 (10), 21 (11 to 12.2);
 * 19 was only ever written by development builds.
 *
 * Each step changes only what mitmproxy's step changes, so a file written as
 * version N holds exactly the fields that mitmproxy of that version writes
 * (mitmproxy 10 and later refuse a state with a field too many or too few).
 */
import { Fields, FlowFieldError } from "./fields.ts";
import type { TNetDict, TNetValue } from "./tnetstring.ts";

export const NEWEST_VERSION = 21;
export const OLDEST_VERSION = 17;
/** What mitmproxy 8.1.1 (Debian's mitmdump) reads: the default for writing. */
export const DEFAULT_WRITE_VERSION = 17;
export type FormatVersion = 17 | 18 | 19 | 20 | 21;

export function isFormatVersion(v: unknown): v is FormatVersion {
  return typeof v === "number" && Number.isInteger(v) && v >= OLDEST_VERSION && v <= NEWEST_VERSION;
}

/** A format version this reader cannot read: newer than it knows, older than mitmproxy 7, or not a version. */
export class UnknownVersionError extends Error {
  constructor(readonly version: TNetValue | undefined) {
    super(describeUnknown(version));
    this.name = "UnknownVersionError";
  }
}

function describeUnknown(v: TNetValue | undefined): string {
  if (typeof v === "number" && v > NEWEST_VERSION)
    return `flow format version ${v} is newer than this reader knows (${OLDEST_VERSION} to ${NEWEST_VERSION}: mitmproxy 7 to 12)`;
  if (typeof v === "number" || Array.isArray(v))
    return `flow format version ${JSON.stringify(v)} is older than this reader reads (${OLDEST_VERSION} to ${NEWEST_VERSION}: mitmproxy 7 to 12)`;
  return `the flow has no format version (its "version" field is ${v === undefined ? "missing" : "not an int"})`;
}

/** The state's version, checked. */
export function versionOf(state: TNetDict): FormatVersion {
  const v = state.version;
  if (!isFormatVersion(v)) throw new UnknownVersionError(v);
  return v;
}

/** Brings a state of any readable version to the newest, in place; returns it. */
export function upgrade(state: TNetDict): TNetDict {
  for (let v = versionOf(state); v < NEWEST_VERSION; v++) {
    UP[v as 17 | 18 | 19 | 20](state);
    state.version = v + 1;
  }
  return state;
}

/** Brings a newest-version state down to `target`, in place; returns it. */
export function downgrade(state: TNetDict, target: FormatVersion): TNetDict {
  for (let v = NEWEST_VERSION; v > target; v--) {
    DOWN[v as 18 | 19 | 20 | 21](state);
    state.version = v - 1;
  }
  return state;
}

function conns(state: TNetDict): { client: TNetDict; server: TNetDict } {
  return {
    client: Fields.of(state.client_conn, "client_conn").dict,
    server: Fields.of(state.server_conn, "server_conn").dict,
  };
}

/**
 * Going down to an older version (writing), a field left out is set to `undefined`, which the
 * encoder skips, rather than deleted: `delete` turns the state's objects into slow dictionaries
 * for the encoder that reads them next (bench W).
 */
function moveOut(d: TNetDict, from: string, to: string): void {
  const v = d[from];
  unset(d, from);
  d[to] = v === undefined ? null : v;
}

function unset(d: TNetDict, key: string): void {
  (d as Record<string, unknown>)[key] = undefined;
}

/** Moves `from` to `to` (null when absent). */
function rename(d: TNetDict, from: string, to: string): void {
  const v = d[from];
  delete d[from];
  d[to] = v === undefined ? null : v;
}

/** Older files spelled hosts as bytes; mitmproxy 10 decodes them (invalid UTF-8 backslash-escaped; here replaced). */
function hostAsStr(d: TNetDict, key: string, path: string): void {
  const v = d[key];
  if (v === null || v === undefined) return;
  if (!Array.isArray(v) || v.length < 2) throw new FlowFieldError(`${path}.${key}`, "expected a [host, port] list");
  if (Buffer.isBuffer(v[0])) v[0] = v[0].toString("utf8");
}

const UP: Record<17 | 18 | 19 | 20, (s: TNetDict) => void> = {
  17: (s) => {
    conns(s).client.proxy_mode = "regular";
  },
  18: (s) => {
    const { client, server } = conns(s);
    rename(client, "address", "peername");
    client.timestamp_start ??= 0;
    delete client.tls_extensions;
    rename(server, "ip_address", "peername");
    rename(server, "source_address", "sockname");
    delete server.via;
    rename(server, "via2", "via");
    for (const [conn, path] of [
      [client, "client_conn"],
      [server, "server_conn"],
    ] as const) {
      delete conn.tls_established;
      rename(conn, "cipher_name", "cipher");
      conn.transport_protocol ??= "tcp";
      for (const key of ["peername", "sockname", "address"]) hostAsStr(conn, key, path);
    }
    if (server.sni === true) server.sni = Array.isArray(server.address) ? (server.address[0] ?? null) : null;
  },
  19: (s) => {
    const { client, server } = conns(s);
    delete client.state;
    delete server.state;
  },
  20: (s) => {
    for (const conn of Object.values(conns(s))) if (conn.tls_version === "QUIC") conn.tls_version = "QUICv1";
  },
};

const DOWN: Record<18 | 19 | 20 | 21, (s: TNetDict) => void> = {
  21: (s) => {
    for (const conn of Object.values(conns(s))) if (conn.tls_version === "QUICv1") conn.tls_version = "QUIC";
  },
  // A file holds finished flows: their connections are closed (ConnectionState.CLOSED).
  20: (s) => {
    const { client, server } = conns(s);
    client.state = 0;
    server.state = 0;
    // Before mitmproxy 10, "backup" was written only when there was one.
    if (s.backup === null) unset(s, "backup");
  },
  19: (s) => {
    const { client, server } = conns(s);
    moveOut(client, "peername", "address");
    client.tls_extensions = [];
    // mitmproxy derives "established" from the TLS timestamp; a client that spoke TLS but whose
    // handshake time was not recorded still did establish it.
    client.tls_established = client.timestamp_tls_setup !== null || client.tls === true;
    moveOut(server, "peername", "ip_address");
    moveOut(server, "sockname", "source_address");
    moveOut(server, "via", "via2");
    server.via = null;
    server.tls_established = server.timestamp_tls_setup !== null;
    for (const conn of [client, server]) {
      moveOut(conn, "cipher", "cipher_name");
      unset(conn, "transport_protocol");
    }
  },
  18: (s) => {
    unset(conns(s).client, "proxy_mode");
  },
};
