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
