import type * as net from "node:net";

const EMPTY = Buffer.alloc(0);

/**
 * Collects the first bytes of a connection from both sides (the server may
 * speak first) until the core knows what to do with it. Nothing is forwarded
 * meanwhile; `release` hands the bytes back.
 *
 * It reads in paused mode ('readable' + read()): once its listeners are gone
 * the streams are neither flowing nor paused, so whoever reads next (Node's
 * HTTP parser, a TLS socket, a pipe) starts them as if fresh.
 */
export class FirstBytes {
  clientData: Buffer;
  serverData: Buffer = EMPTY;
  clientEnded = false;
  serverEnded = false;
  private wake: (() => void) | undefined;
  private readonly listeners: Array<[net.Socket, string, (...a: never[]) => void]> = [];

  constructor(
    private readonly client: net.Socket,
    private readonly server: net.Socket | undefined,
    initial: Buffer = EMPTY,
  ) {
    this.clientData = initial;
    this.listen(client, "readable", () => {
      let chunk: Buffer | null;
      while ((chunk = client.read() as Buffer | null) !== null) {
        this.clientData = this.clientData.length === 0 ? chunk : Buffer.concat([this.clientData, chunk]);
      }
      this.notify();
    });
    const clientEnd = () => {
      this.clientEnded = true;
      this.notify();
    };
    this.listen(client, "end", clientEnd);
    this.listen(client, "close", clientEnd);
    if (server) {
      this.listen(server, "readable", () => {
        let chunk: Buffer | null;
        while ((chunk = server.read() as Buffer | null) !== null) {
          this.serverData = this.serverData.length === 0 ? chunk : Buffer.concat([this.serverData, chunk]);
        }
        this.notify();
      });
      const serverEnd = () => {
        this.serverEnded = true;
        this.notify();
      };
      this.listen(server, "end", serverEnd);
      this.listen(server, "close", serverEnd);
    }
  }

  private listen<A extends never[]>(socket: net.Socket, event: string, fn: (...a: A) => void): void {
    socket.on(event, fn as (...a: unknown[]) => void);
    this.listeners.push([socket, event, fn as (...a: never[]) => void]);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for more bytes from either side, or an end. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /**
   * Waits for `work` while still collecting: `{ done: false }` when the
   * client ended or closed first. (A socket nobody reads never reports that
   * its peer left: without this, a client gone during a slow server
   * handshake would hold its socket forever.)
   */
  async during<T>(work: Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
    const finished = work.then((value) => ({ done: true as const, value }));
    for (;;) {
      if (this.clientEnded) return { done: false };
      const r = await Promise.race([finished, this.next().then(() => undefined)]);
      if (r) return r;
    }
  }

  /** Stops collecting; the bytes stay in `clientData` / `serverData` for the caller to forward. */
  stop(): void {
    for (const [socket, event, fn] of this.listeners) socket.off(event, fn as (...a: unknown[]) => void);
    this.listeners.length = 0;
  }

  /** Stops and puts the collected bytes back into the sockets for the next reader. */
  release(): void {
    this.stop();
    if (this.clientData.length > 0 && !this.client.destroyed && !this.client.readableEnded)
      this.client.unshift(this.clientData);
    if (this.server && this.serverData.length > 0 && !this.server.destroyed && !this.server.readableEnded) {
      this.server.unshift(this.serverData);
    }
    this.clientData = EMPTY;
    this.serverData = EMPTY;
  }
}
