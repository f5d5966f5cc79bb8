// Set-Cookie values read as the sticky cookie jar needs them: the name, the
// value as sent (quotes kept, so it goes back exactly), the attributes, and
// when the cookie expires. Pure functions: no flows, no clocks.

/** One cookie a response set. */
export interface SetCookie {
  readonly name: string;
  /** The value as the server sent it (a quoted value keeps its quotes: it is sent back so). */
  readonly value: string;
  /** Attributes by lower-cased name (the last of a repeated one wins); flags map to `""`. */
  readonly attributes: ReadonlyMap<string, string>;
}

/**
 * The cookies of one Set-Cookie field. Like mitmproxy, a field may hold
 * several cookies separated by commas (old servers and some folded headers
 * do that); a comma right after the weekday of an `Expires` date is part of
 * the date. A cookie without `=` in its first pair, or with an empty name, is
 * left out (RFC 6265 §5.2).
 */
export function parseSetCookie(field: string): SetCookie[] {
  const cookies: SetCookie[] = [];
  let pairs: Array<[string, string | undefined]> = [];
  let i = 0;
  const end = () => {
    const cookie = toCookie(pairs);
    if (cookie) cookies.push(cookie);
    pairs = [];
  };
  while (i < field.length) {
    const key = readUntil(field, i, ";=,");
    i = key.next;
    let value: string | undefined;
    if (field[i] === "=") {
      const read = readValue(field, i + 1, key.text);
      value = read.text;
      i = read.next;
    }
    if (key.text.trim() !== "" || value !== undefined) pairs.push([key.text.trim(), value?.trim()]);
    if (field[i] === ",") end();
    i++;
  }
  end();
  return cookies;
}

function toCookie(pairs: Array<[string, string | undefined]>): SetCookie | undefined {
  const first = pairs[0];
  if (!first || first[1] === undefined || first[0] === "") return undefined;
  const attributes = new Map<string, string>();
  for (const [k, v] of pairs.slice(1)) attributes.set(k.toLowerCase(), v ?? "");
  return { name: first[0], value: first[1], attributes };
}

function readUntil(s: string, start: number, stops: string): { text: string; next: number } {
  let i = start;
  while (i < s.length && !stops.includes(s[i]!)) i++;
  return { text: s.slice(start, i), next: i };
}

/** A value: a quoted string read to its closing quote, else up to `;` or `,` (an Expires weekday's comma kept). */
function readValue(s: string, start: number, key: string): { text: string; next: number } {
  let i = start;
  while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1);
    const stop = close === -1 ? s.length : close + 1;
    const rest = readUntil(s, stop, ";,");
    return { text: s.slice(start, rest.next), next: rest.next };
  }
  let read = readUntil(s, start, ";,");
  if (s[read.next] === "," && key.trim().toLowerCase() === "expires" && /^\s*[a-z]{3,9}\s*$/i.test(read.text)) {
    const tail = readUntil(s, read.next + 1, ";,");
    read = { text: s.slice(start, tail.next), next: tail.next };
  }
  return read;
}

/**
 * When the cookie expires, in milliseconds since the epoch: `Max-Age` wins
 * over `Expires` (RFC 6265 §5.3; `Max-Age=0` or less is already expired);
 * `undefined` for a session cookie (neither, or neither readable).
 */
export function expiryOf(cookie: SetCookie, nowMs: number): number | undefined {
  const maxAge = cookie.attributes.get("max-age");
  if (maxAge !== undefined && /^-?\d+$/.test(maxAge)) {
    const seconds = Number(maxAge);
    return seconds <= 0 ? -Infinity : nowMs + Math.min(seconds, MAX_AGE_CAP) * 1000;
  }
  const expires = cookie.attributes.get("expires");
  return expires === undefined ? undefined : parseCookieDate(expires);
}

/** 400 days: what RFC 6265bis caps a cookie's life at; also keeps the sum finite. */
const MAX_AGE_CAP = 400 * 24 * 3600;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
// RFC 6265 §5.1.1: the characters that separate a cookie date's tokens.
const DELIMITERS = /[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+/;

/**
 * A cookie date read by RFC 6265 §5.1.1, the algorithm browsers use: it takes
 * `Wed, 21 Oct 2015 07:28:00 GMT`, `Wednesday, 21-Oct-15 07:28:00 GMT`,
 * `Wed Oct 21 07:28:00 2015` and the like. Milliseconds since the epoch, or
 * `undefined` when it is no date.
 */
export function parseCookieDate(text: string): number | undefined {
  let time: number[] | undefined;
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  for (const token of text.split(DELIMITERS)) {
    if (token === "") continue;
    let m: RegExpExecArray | null;
    if (time === undefined && (m = /^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D|$)/.exec(token))) {
      time = [Number(m[1]), Number(m[2]), Number(m[3])];
    } else if (day === undefined && (m = /^(\d{1,2})(?:\D|$)/.exec(token))) {
      day = Number(m[1]);
    } else if (month === undefined && MONTHS.includes(token.slice(0, 3).toLowerCase())) {
      month = MONTHS.indexOf(token.slice(0, 3).toLowerCase());
    } else if (year === undefined && (m = /^(\d{2,4})(?:\D|$)/.exec(token))) {
      year = Number(m[1]);
      if (year >= 70 && year <= 99) year += 1900;
      else if (year < 70) year += 2000;
    }
  }
  if (!time || day === undefined || month === undefined || year === undefined) return undefined;
  const [h, min, s] = time as [number, number, number];
  if (day < 1 || day > 31 || year < 1601 || h > 23 || min > 59 || s > 59) return undefined;
  const ms = Date.UTC(year, month, day, h, min, s);
  // 31 February is no date: Date.UTC would roll it over into March.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}
