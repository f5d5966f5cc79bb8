import type * as net from "node:net";

/**
 * Closes `socket` if it stays idle for `ms` (0: never). Returns the disarm
 * function, which takes the timer and its listener off again: a connection
 * held open for hours must not keep either.
 */
export function armIdleTimeout(socket: net.Socket, ms: number): () => void {
  if (ms <= 0) return () => void socket.setTimeout(0);
  const onIdle = () => socket.destroy();
  socket.setTimeout(ms, onIdle);
  // setTimeout(0) alone stops the timer but leaves the listener on the socket.
  return () => void socket.setTimeout(0, onIdle);
}

/**
 * Calls `onIdle` once, when `touch` has not been called for `ms` (0: never).
 * A relay touches it for every chunk either side sends, so it fires only when
 * neither side has said anything (pings included) for that long.
 */
export class IdleWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(ms: number, onIdle: () => void) {
    if (ms <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      onIdle();
    }, ms);
    // The relay's sockets keep the process alive, not this timer.
    this.timer.unref();
  }

  touch(): void {
    this.timer?.refresh();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
