/**
 * Takes turns per key: each caller waits until the one before it on the same
 * key has released its turn. Used where HTTP/1 needs order: the requests
 * pipelined on one client connection, and the requests of an HTTP/2 client's
 * streams that share one HTTP/1 server connection. A caller with nobody
 * ahead allocates nothing (this runs once per HTTP/1 request).
 */
export class Turns<K extends object> {
  /** Per key (kept while the key lives): whether a caller has the turn, and who waits behind it. */
  private readonly lanes = new WeakMap<K, { busy: boolean; waiting: Array<() => void> }>();

  /**
   * Undefined when the turn is the caller's now, else a promise that resolves
   * when it is. `release(key)` must follow exactly once, when the caller is done.
   */
  take(key: K): Promise<void> | undefined {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { busy: false, waiting: [] };
      this.lanes.set(key, lane);
    }
    if (!lane.busy) {
      lane.busy = true;
      return undefined;
    }
    const waiting = lane.waiting;
    return new Promise<void>((resolve) => waiting.push(resolve));
  }

  /** The caller holding the key's turn is done: the next one waiting gets it. */
  release(key: K): void {
    const lane = this.lanes.get(key);
    if (!lane) return;
    const next = lane.waiting.shift();
    if (next) next();
    else lane.busy = false;
  }
}
