/**
 * HTTP header fields with the methods of Fetch's `Headers` (`get`, `set`,
 * `append`, `delete`, `has`, case-insensitive names) that also keep what a
 * proxy must not lose: the wire order, the spelling of each name and every
 * repeated field.
 *
 * Iteration yields `[name, value]` pairs in wire order with the names as they
 * were sent (unlike Fetch, which sorts and lowercases), one pair per field.
 */
export class Headers implements Iterable<[string, string]> {
  /** The fields in wire order, names spelled as sent. */
  readonly fields: Array<[name: string, value: string]>;

  constructor(init?: HeadersInit) {
    this.fields = [];
    if (init === undefined) return;
    if (init instanceof Headers) {
      for (const [k, v] of init.fields) this.fields.push([k, v]);
    } else if (Array.isArray(init)) {
      if (init.length > 0 && typeof init[0] === "string") {
        const flat = init as unknown as string[];
        if (flat.length % 2 !== 0) throw new TypeError("a flat header list needs an even number of entries");
        for (let i = 0; i < flat.length; i += 2) this.append(flat[i]!, flat[i + 1]!);
      } else {
        for (const pair of init) this.append(pair[0], pair[1]);
      }
    } else {
      for (const [k, v] of Object.entries(init)) {
        if (Array.isArray(v)) for (const item of v) this.append(k, item);
        else if (v !== undefined) this.append(k, String(v));
      }
    }
  }

  /** Builds headers from Node's `rawHeaders` list (`[name, value, name, value, ...]`). */
  static fromRaw(raw: readonly string[]): Headers {
    const h = new Headers();
    for (let i = 0; i + 1 < raw.length; i += 2) h.fields.push([raw[i]!, raw[i + 1]!]);
    return h;
  }

  /** The fields as a flat `[name, value, ...]` list, the form Node's `http` accepts for raw headers. */
  toRaw(): string[] {
    const out = new Array<string>(this.fields.length * 2);
    let i = 0;
    for (const [k, v] of this.fields) {
      out[i++] = k;
      out[i++] = v;
    }
    return out;
  }

  /** All values of `name` joined with `", "` (Fetch's rule), or `null` when absent. */
  get(name: string): string | null {
    const lower = name.toLowerCase();
    let found: string | null = null;
    for (const [k, v] of this.fields) {
      if (k.toLowerCase() === lower) found = found === null ? v : `${found}, ${v}`;
    }
    return found;
  }

  /** Each value of `name` on its own, in wire order (e.g. every `Set-Cookie`). */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (const [k, v] of this.fields) if (k.toLowerCase() === lower) out.push(v);
    return out;
  }

  /** Fetch's name for `getAll("set-cookie")`. */
  getSetCookie(): string[] {
    return this.getAll("set-cookie");
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.fields.some(([k]) => k.toLowerCase() === lower);
  }

  /**
   * Sets `name` to `value`. The first existing field keeps its place and
   * spelling; further fields of the same name are removed. A new name is
   * appended.
   */
  set(name: string, value: string): void {
    checkField(name, value);
    const lower = name.toLowerCase();
    let done = false;
    for (let i = 0; i < this.fields.length; i++) {
      const field = this.fields[i]!;
      if (field[0].toLowerCase() !== lower) continue;
      if (!done) {
        field[1] = value;
        done = true;
      } else {
        this.fields.splice(i--, 1);
      }
    }
    if (!done) this.fields.push([name, value]);
  }

  append(name: string, value: string): void {
    checkField(name, value);
    this.fields.push([name, value]);
  }

  delete(name: string): void {
    const lower = name.toLowerCase();
    for (let i = this.fields.length - 1; i >= 0; i--) {
      if (this.fields[i]![0].toLowerCase() === lower) this.fields.splice(i, 1);
    }
  }

  get size(): number {
    return this.fields.length;
  }

  forEach(fn: (value: string, name: string, headers: Headers) => void): void {
    for (const [k, v] of this.fields) fn(v, k, this);
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.fields) yield k;
  }

  *values(): IterableIterator<string> {
    for (const [, v] of this.fields) yield v;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const [k, v] of this.fields) yield [k, v];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A plain object with lowercased names; repeated fields are joined with `", "`. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.fields) {
      const lower = k.toLowerCase();
      out[lower] = lower in out ? `${out[lower]}, ${v}` : v;
    }
    return out;
  }
}

export type HeadersInit =
  Headers | Array<[string, string]> | readonly string[] | Record<string, string | string[] | number | undefined>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkField(name: string, value: string): void {
  if (!TOKEN.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value for header ${name}: it contains CR, LF or NUL`);
}
