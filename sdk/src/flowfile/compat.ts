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
import { TNetRaw, type TNetDict, type TNetValue } from "./tnetstring.ts";

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

/**
 * Brings a newest-version state down to `target`, in place; returns it. A connection that is
 * already bytes (`TNetRaw`: brought down and encoded by `downgradeConn`) is left as it is.
 */
export function downgrade(state: TNetDict, target: FormatVersion): TNetDict {
  const client = connDict(state, "client_conn");
  const server = connDict(state, "server_conn");
  for (let v = NEWEST_VERSION; v > target; v--) {
    const step = DOWN[v as 18 | 19 | 20 | 21];
    if (client) step.client?.(client);
    if (server) step.server?.(server);
    step.flow?.(state);
    state.version = v - 1;
  }
  return state;
}

/** Brings a newest-version client or server connection state down to `target`, in place; returns it. */
export function downgradeConn(conn: TNetDict, side: "client" | "server", target: FormatVersion): TNetDict {
  for (let v = NEWEST_VERSION; v > target; v--) DOWN[v as 18 | 19 | 20 | 21][side]?.(conn);
  return conn;
}

/** A connection's state to bring down, or undefined when it is already encoded. */
function connDict(state: TNetDict, key: "client_conn" | "server_conn"): TNetDict | undefined {
  const conn = state[key];
  return conn instanceof TNetRaw ? undefined : Fields.of(conn, key).dict;
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

/**
 * The steps down, each split by what it changes: the client connection, the server connection,
 * the rest of the flow. Split so that a writer can bring a connection down on its own, once for
 * all the flows of that connection (see conn-cache.ts).
 */
interface DownStep {
  client?: (c: TNetDict) => void;
  server?: (s: TNetDict) => void;
  flow?: (s: TNetDict) => void;
}

const DOWN: Record<18 | 19 | 20 | 21, DownStep> = {
  21: {
    client: quicDown,
    server: quicDown,
  },
  // A file holds finished flows: their connections are closed (ConnectionState.CLOSED).
  20: {
    client: (c) => void (c.state = 0),
    server: (s) => void (s.state = 0),
    // Before mitmproxy 10, "backup" was written only when there was one.
    flow: (s) => {
      if (s.backup === null) unset(s, "backup");
    },
  },
  19: {
    client: (c) => {
      moveOut(c, "peername", "address");
      c.tls_extensions = [];
      // mitmproxy derives "established" from the TLS timestamp; a client that spoke TLS but whose
      // handshake time was not recorded still did establish it.
      c.tls_established = c.timestamp_tls_setup !== null || c.tls === true;
      connDown19(c);
    },
    server: (s) => {
      moveOut(s, "peername", "ip_address");
      moveOut(s, "sockname", "source_address");
      moveOut(s, "via", "via2");
      s.via = null;
      s.tls_established = s.timestamp_tls_setup !== null;
      connDown19(s);
    },
  },
  18: {
    client: (c) => unset(c, "proxy_mode"),
  },
};

function quicDown(conn: TNetDict): void {
  if (conn.tls_version === "QUICv1") conn.tls_version = "QUIC";
}

function connDown19(conn: TNetDict): void {
  moveOut(conn, "cipher", "cipher_name");
  unset(conn, "transport_protocol");
}
