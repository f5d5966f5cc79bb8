import type { Writable } from "node:stream";

/** Writes `bytes` and resolves once `dst` can take more (drained) or is gone: back-pressure for hand-driven relays. */
export function writeWithBackpressure(dst: Writable, bytes: Buffer): Promise<void> {
  if (dst.destroyed || !dst.writable) return Promise.resolve();
  if (dst.write(bytes)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      dst.off("drain", done);
      dst.off("close", done);
      resolve();
    };
    dst.once("drain", done);
    dst.once("close", done);
  });
}
