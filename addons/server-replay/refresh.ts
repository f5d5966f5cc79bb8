// A recorded response made current for replay (server_replay_refresh): its
// dates move forward by the time since it was recorded, so caches and
// cookies treat it as they treated the original.
import type { Response } from "@interloper/sdk";

const DATE_FIELDS = ["date", "expires", "last-modified"];

/** Shifts Date, Expires, Last-Modified and cookie expiry dates by `deltaSeconds` (unparsable dates stay). */
export function refreshResponse(response: Response, deltaSeconds: number): void {
  for (const name of DATE_FIELDS) {
    const value = response.headers.get(name);
    if (value === null) continue;
    const moved = shiftHttpDate(value, deltaSeconds);
    if (moved !== undefined) response.headers.set(name, moved);
  }
  const fields = response.headers.fields;
  for (const field of fields) {
    if (field[0].toLowerCase() === "set-cookie") field[1] = refreshSetCookie(field[1], deltaSeconds);
  }
}

/** An HTTP date moved by `deltaSeconds`, in IMF-fixdate form; undefined when it is no date. */
export function shiftHttpDate(value: string, deltaSeconds: number): string | undefined {
  const ms = parseHttpDate(value);
  if (ms === undefined) return undefined;
  const moved = new Date(ms + deltaSeconds * 1000);
  return Number.isNaN(moved.getTime()) ? undefined : moved.toUTCString();
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * The three forms of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850, asctime), and
 * cookie dates that use dashes; nothing else (JavaScript's Date.parse takes
 * "0" for the year 2000).
 */
export function parseHttpDate(value: string): number | undefined {
  const v = value.trim();
  const fix = /^[a-z]{3,9},\s+(\d{1,2})[\s-]([a-z]{3})[\s-](\d{2,4})\s+(\d{2}):(\d{2}):(\d{2})\s+GMT$/i.exec(v);
  const asc = /^[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/i.exec(v);
  let parts: [day: string, month: string, year: string, h: string, m: string, s: string] | undefined;
  if (fix) parts = [fix[1]!, fix[2]!, fix[3]!, fix[4]!, fix[5]!, fix[6]!];
  else if (asc) parts = [asc[2]!, asc[1]!, asc[6]!, asc[3]!, asc[4]!, asc[5]!];
  if (!parts) return undefined;
  const month = MONTHS.indexOf(parts[1].toLowerCase());
  if (month === -1) return undefined;
  let year = Number(parts[2]);
  // RFC 850's two-digit years (RFC 9110: more than 50 years ahead means the past century).
  if (parts[2].length === 2) year += year < 70 ? 2000 : 1900;
  const ms = Date.UTC(year, month, Number(parts[0]), Number(parts[3]), Number(parts[4]), Number(parts[5]));
  return Number.isNaN(ms) ? undefined : ms;
}

/** A Set-Cookie value whose Expires attribute moved by `deltaSeconds`; the rest as it was. */
export function refreshSetCookie(value: string, deltaSeconds: number): string {
  return value.replace(/(;\s*expires\s*=\s*)([^;]*)/i, (whole, prefix: string, date: string) => {
    const moved = shiftHttpDate(date.trim(), deltaSeconds);
    return moved === undefined ? whole : `${prefix}${moved}`;
  });
}
