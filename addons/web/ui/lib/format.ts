/**
 * How the UI writes sizes, durations and times: short, fixed-width friendly,
 * and never "NaN" for a value that is missing or broken.
 */

const SIZE_UNITS = ["KB", "MB", "GB", "TB", "PB"];

/** Bytes for a column: `0 B`, `812 B`, `1.4 KB`, `23 KB`, `4.1 MB` (1024 per step). Missing or broken: empty. */
export function formatSize(bytes: number | null | undefined): string {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // One decimal below 10 (1.4 KB), none above (23 KB); 1023.6 rounds up into the next unit.
  let shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  if (shown >= 1024 && unit < SIZE_UNITS.length - 1) {
    shown = 1;
    unit++;
  }
  return `${shown} ${SIZE_UNITS[unit]}`;
}

/** A duration given in seconds: `850 µs`, `12 ms`, `1.24 s`, `2 m 05 s`, `3 h 07 m`. Missing, negative or broken: empty. */
export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)} µs`;
  if (seconds < 1) {
    const ms = seconds * 1000;
    return ms < 10 ? `${Math.round(ms * 10) / 10} ms` : `${Math.round(ms)} ms`;
  }
  if (seconds < 60)
    return seconds < 10 ? `${(Math.round(seconds * 100) / 100).toFixed(2)} s` : `${Math.round(seconds * 10) / 10} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${pad2(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad2(Math.floor((whole % 3600) / 60))} m`;
}

/** The time of day of a Unix timestamp in seconds, `HH:MM:SS.mmm` in local time. */
export function formatTime(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return "";
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** A Unix timestamp in seconds as a full local date and time, for tooltips and detail views. */
export function formatDateTime(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatTime(seconds)}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
