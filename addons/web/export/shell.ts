/**
 * POSIX shell quoting for the exported commands. Everything here writes text
 * that `sh`, `bash` and `zsh` read back as the same bytes, so an exported
 * command runs as it is pasted.
 */

/** Characters that need no quoting in any POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word: left bare when that is safe, else single-quoted (`'` written as `'\''`). */
export function shellQuote(word: string): string {
  if (word.length > 0 && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Words joined into one command line. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}

/**
 * Whether `bytes` can be pasted inside single quotes as they are: valid UTF-8
 * whose only control characters are tab and newline. A carriage return, NUL or
 * other control byte would be lost or mangled by a terminal's paste, and bytes
 * that are not UTF-8 by the terminal's encoding.
 */
export function isPastableText(bytes: Uint8Array): boolean {
  const text = utf8OrNull(bytes);
  if (text === null) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return false;
  }
  return true;
}

/** The bytes decoded as UTF-8, or `null` when they are not UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A `printf` that writes exactly `bytes` to its standard output, for bodies
 * that cannot be pasted as text (NUL bytes included, which no shell string can
 * hold). `%b` with octal escapes (`\0ooo`) is POSIX, so `dash` runs it as
 * `bash` does; printable ASCII stays readable.
 */
export function printfBytes(bytes: Uint8Array): string {
  let escaped = "";
  for (const b of bytes) {
    if (b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x27) escaped += String.fromCharCode(b);
    else escaped += `\\0${b.toString(8).padStart(3, "0")}`;
  }
  return `printf '%b' '${escaped}'`;
}

/**
 * A header field's text for a command line. The sdk keeps field bytes one
 * character per byte (latin1); a UTF-8 value is written as the characters it
 * encodes, so the shell (which writes UTF-8) sends the same bytes again.
 */
export function fieldText(wire: string): string {
  let high = false;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    if (c > 0xff) return wire;
    if (c >= 0x80) high = true;
  }
  if (!high) return wire;
  const bytes = Uint8Array.from(wire, (ch) => ch.charCodeAt(0));
  return utf8OrNull(bytes) ?? wire;
}
