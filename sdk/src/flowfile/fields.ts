/**
 * Typed access to a decoded flow state with errors that name the field:
 * `client_conn.peername: expected a [host, port] list, got bytes`. A flow
 * file is input like any other: every field is checked before it is used.
 */
import { TNetFloat, type TNetDict, type TNetValue } from "./tnetstring.ts";
import type { Address } from "../flow.ts";

/** A flow whose framing was sound but whose fields are not what mitmproxy writes. */
export class FlowFieldError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "FlowFieldError";
  }
}

/** The tnetstring type of a value, in mitmproxy's words. */
export function typeName(value: TNetValue | undefined): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return "int";
  if (typeof value === "bigint") return "an int beyond 2^53";
  if (value instanceof TNetFloat) return "float";
  if (typeof value === "string") return "str";
  if (Buffer.isBuffer(value)) return "bytes";
  return Array.isArray(value) ? "list" : "dict";
}

export function isDict(value: TNetValue | undefined): value is TNetDict {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof TNetFloat)
  );
}

/** One dict of a flow state and where it sits (`server_conn`, `request`, ...). */
export class Fields {
  constructor(
    readonly dict: TNetDict,
    readonly path: string,
  ) {}

  /** The dict at `path` in `value`, or an error naming what was found instead. */
  static of(value: TNetValue | undefined, path: string): Fields {
    if (!isDict(value)) throw new FlowFieldError(path, `expected a dict, got ${typeName(value)}`);
    return new Fields(value, path);
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.dict, key);
  }

  raw(key: string): TNetValue | undefined {
    return this.has(key) ? this.dict[key] : undefined;
  }

  fail(key: string, expected: string): never {
    throw new FlowFieldError(this.at(key), `expected ${expected}, got ${typeName(this.raw(key))}`);
  }

  sub(key: string): Fields {
    return Fields.of(this.raw(key), this.at(key));
  }

  optSub(key: string): Fields | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : Fields.of(v, this.at(key));
  }

  /** Text: a str, or bytes read as UTF-8 (older writers used bytes where newer ones use str). */
  str(key: string): string {
    const v = this.raw(key);
    if (typeof v === "string") return v;
    if (Buffer.isBuffer(v)) return v.toString("utf8");
    return this.fail(key, "a str");
  }

  optStr(key: string): string | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.str(key);
  }

  /** Bytes: bytes, or a str as UTF-8 (mitmproxy converts those the same way). */
  bytes(key: string): Buffer {
    const v = this.raw(key);
    if (Buffer.isBuffer(v)) return v;
    if (typeof v === "string") return Buffer.from(v, "utf8");
    return this.fail(key, "bytes");
  }

  optBytes(key: string): Buffer | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.bytes(key);
  }

  int(key: string): number {
    const v = this.raw(key);
    if (typeof v === "number") return v;
    return this.fail(key, "an int");
  }

  optInt(key: string): number | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.int(key);
  }

  /** A float; an int is taken too (mitmproxy accepts either for its float fields). */
  float(key: string): number {
    const v = this.raw(key);
    if (v instanceof TNetFloat) return v.value;
    if (typeof v === "number") return v;
    return this.fail(key, "a float");
  }

  optFloat(key: string): number | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.float(key);
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v === "boolean") return v;
    return this.fail(key, "a bool");
  }

  list(key: string): TNetValue[] {
    const v = this.raw(key);
    if (Array.isArray(v)) return v;
    return this.fail(key, "a list");
  }

  optList(key: string): TNetValue[] | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.list(key);
  }

  /** A `[host, port]` list (IPv6 addresses may carry flow info and scope: ignored). */
  address(key: string): Address {
    const v = this.raw(key);
    if (!Array.isArray(v) || v.length < 2) return this.fail(key, "a [host, port] list");
    const [host, port] = v;
    if (typeof host !== "string" && !Buffer.isBuffer(host))
      return this.fail(key, "a [host, port] list with a str host");
    if (typeof port !== "number") return this.fail(key, "a [host, port] list with an int port");
    return { host: typeof host === "string" ? host : host.toString("utf8"), port };
  }

  optAddress(key: string): Address | undefined {
    const v = this.raw(key);
    return v === null || v === undefined ? undefined : this.address(key);
  }

  /** A list of bytes (certificates, ALPN offers) as strings, one byte per character. */
  byteStrings(key: string): string[] {
    return this.list(key).map((item, i) => {
      if (Buffer.isBuffer(item)) return item.toString("latin1");
      if (typeof item === "string") return item;
      throw new FlowFieldError(`${this.at(key)}[${i}]`, `expected bytes, got ${typeName(item)}`);
    });
  }
}
