/**
 * The little of Node's `Buffer` that the sdk's filter compiler uses when it
 * runs in the browser: `Buffer.from(text, "utf8").toString("latin1")` (a
 * regex over bytes is translated to one over latin1 characters) and
 * `Buffer.byteLength(text)`. esbuild injects it as the global `Buffer` of the
 * UI bundle. Anything else throws, so a new use shows up at once.
 */

class BrowserBuffer {
  private constructor(private readonly bytes: Uint8Array) {}

  static from(value: string, encoding?: string): BrowserBuffer {
    if (typeof value !== "string" || (encoding !== undefined && encoding !== "utf8" && encoding !== "utf-8"))
      throw new TypeError("the UI's Buffer shim only makes buffers from UTF-8 text");
    return new BrowserBuffer(new TextEncoder().encode(value));
  }

  static byteLength(value: string): number {
    return new TextEncoder().encode(value).length;
  }

  static isBuffer(value: unknown): boolean {
    return value instanceof BrowserBuffer;
  }

  get length(): number {
    return this.bytes.length;
  }

  toString(encoding?: string): string {
    if (encoding === "latin1" || encoding === "binary") {
      let s = "";
      for (const b of this.bytes) s += String.fromCharCode(b);
      return s;
    }
    return new TextDecoder().decode(this.bytes);
  }
}

export { BrowserBuffer as Buffer };
