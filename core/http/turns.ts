/**
 * Takes turns per key: each caller waits until the one before it on the same
 * key has released its turn. Used where HTTP/1 needs order: the requests
 * pipelined on one client connection, and the requests of an HTTP/2 client's
 * streams that share one HTTP/1 server connection.
 */
export class Turns<K extends object> {
  private readonly last = new WeakMap<K, Promise<void>>();

  /**
   * `wait` (when someone is ahead) resolves when it is this caller's turn;
   * `release` must be called exactly once, when the caller is done.
   */
  take(key: K): { wait: Promise<void> | undefined; release: () => void } {
    const before = this.last.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.last.set(key, mine);
    return {
      wait: before,
      release: () => {
        if (this.last.get(key) === mine) this.last.delete(key);
        release();
      },
    };
  }
}
