import { logText } from "@interloper/sdk";
import { hashKind, verifyPassword, type HashKind } from "./password-hash.ts";

/** What is wrong with an htpasswd file, and on which line (1-based). */
export class HtpasswdError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = "HtpasswdError";
  }
}

/**
 * The users of an Apache htpasswd file (`user:hash` a line; blank lines and
 * `#` comments skipped; fields after the hash ignored, as Apache does). A
 * user listed twice counts with the first line, as in Apache. Every line
 * must hold a hash kind interloper checks: a file with one it cannot is
 * refused whole (naming the line), rather than that user silently locked out.
 */
export class Htpasswd {
  private constructor(private readonly users: ReadonlyMap<string, { kind: HashKind; hash: string }>) {}

  static parse(text: string): Htpasswd {
    const users = new Map<string, { kind: HashKind; hash: string }>();
    const lines = text.replace(/^\ufeff/, "").split(/\r?\n/);
    lines.forEach((raw, index) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new HtpasswdError(index + 1, "expected user:hash");
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1).split(":", 1)[0]!;
      const kind = hashKind(hash);
      if (typeof kind !== "string") throw new HtpasswdError(index + 1, `user '${logText(user)}': ${kind.refused}`);
      if (!users.has(user)) users.set(user, { kind, hash });
    });
    return new Htpasswd(users);
  }

  /** How many users the file holds. */
  get size(): number {
    return this.users.size;
  }

  /** Whether `user` is in the file with `password`. */
  async check(user: string, password: string): Promise<boolean> {
    const entry = this.users.get(user);
    return entry ? verifyPassword(entry.kind, entry.hash, password) : false;
  }
}
