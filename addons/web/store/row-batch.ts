// A batch of rows for the live updates (`flows/rows`, RowBatch in api-types.ts): what the rows
// share is written once. Times become whole milliseconds after the batch's base (small
// integers, which JSON writes and reads fastest) when they are whole milliseconds, as the
// proxy's own are (Date.now() ÷ 1000); the client adds the base back and divides, which gives
// the very same number. Connections are listed once and named by their index.
import type { ClientConnection, ServerConnection } from "@interloper/sdk";
import type { BodyState, RowBatch, RowConnection, RowTime, SummaryRow } from "../api-types.ts";
import { BODY_STATES } from "../ui/lib/summary-row.ts";

export class RowBatchWriter implements RowBatch {
  base = Number.NaN;
  readonly conns: RowConnection[] = [];
  readonly rows: SummaryRow[] = [];
  /** The connection objects behind `conns`, client and server by turns (a batch has a few). */
  private readonly connObjects: (ClientConnection | ServerConnection)[] = [];

  /**
   * `t` (seconds since the epoch) as the batch carries it. A time that is not finite goes as
   * null, as JSON writes it in `/api/flows`. Milliseconds and their offset from the base must
   * be safe integers for the client's sum to come back exact (a damaged file's 1e300 must not
   * become the base of its neighbours' times).
   */
  time(t: number): RowTime | null {
    if (!Number.isFinite(t)) return null;
    const ms = Math.round(t * 1000);
    if (!Number.isSafeInteger(ms) || ms / 1000 !== t) return String(t);
    if (Number.isNaN(this.base)) this.base = ms;
    const offset = ms - this.base;
    return Number.isSafeInteger(offset) ? offset : String(t);
  }

  /** The index of the connection pair in `conns`. */
  connection(client: ClientConnection, server: ServerConnection): number {
    const objects = this.connObjects;
    for (let i = 0; i < objects.length; i += 2) if (objects[i] === client && objects[i + 1] === server) return i / 2;
    objects.push(client, server);
    const { host: clientHost, port: clientPort } = client.peername;
    const { host: serverHost, port: serverPort } = server.address;
    this.conns.push([client.tlsEstablished, client.sni ?? null, clientHost, clientPort, serverHost, serverPort]);
    return this.conns.length - 1;
  }

  toJSON(): RowBatch {
    return { base: Number.isNaN(this.base) ? 0 : this.base, conns: this.conns, rows: this.rows };
  }
}

/** A body state's index in BODY_STATES. */
export function bodyStateIndex(state: BodyState): number {
  return BODY_STATES.indexOf(state);
}
