import type * as tls from "node:tls";

/**
 * Waits for a TLS handshake to finish (`secure` on the server side,
 * `secureConnect` on the client side). With `timeoutMs`, a peer that stalls
 * the handshake gets its socket destroyed and the promise rejects.
 */
export function handshake(socket: tls.TLSSocket, event: "secure" | "secureConnect", timeoutMs = 0): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer =
      timeoutMs > 0
        ? setTimeout(() => socket.destroy(new Error(`TLS handshake timed out after ${timeoutMs / 1000} s`)), timeoutMs)
        : undefined;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      socket.off(event, onDone);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onDone = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("connection closed during TLS handshake"));
    };
    socket.once(event, onDone);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}
