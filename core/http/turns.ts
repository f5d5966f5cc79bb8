/**
 * Takes turns per key: each caller waits until the one before it on the same
 * key has released its turn. Used where HTTP/1 needs order: the requests
 * pipelined on one client connection, and the requests of an HTTP/2 client's
 * streams that share one HTTP/1 server connection. A caller with nobody
 * ahead costs no Promise (this runs once per HTTP/1 request).
 */
export class Turns<K extends object> {
  /** Per busy key, the callers waiting behind the current one, in order. */
  private readonly queues = new WeakMap<K, Array<() => void>>();

  /**
   * `wait` (when someone is ahead) resolves when it is this caller's turn;
   * `release` must be called exactly once, when the caller is done.
   */
  take(key: K): { wait: Promise<void> | undefined; release: () => void } {
    const release = () => this.next(key);
    const queue = this.queues.get(key);
    if (!queue) {
      this.queues.set(key, []);
      return { wait: undefined, release };
    }
    return { wait: new Promise<void>((resolve) => queue.push(resolve)), release };
  }

  private next(key: K): void {
    const queue = this.queues.get(key);
    const first = queue?.shift();
    if (first) first();
    else this.queues.delete(key);
  }
}
