// Compile-time tests of compilePythonRegex's types, checked by `npm run typecheck`
// (never run): a text pattern works on strings, a bytes pattern on Buffers, and
// mixing them does not compile.
import { compilePythonRegex, type PythonMatch, type PythonRegex, type PythonTemplate } from "@interloper/sdk";

export function text(url: string): string {
  const rx: PythonRegex<string> = compilePythonRegex("//(?P<host>[^/]+)/", { ignoreCase: true });
  const m: PythonMatch<string> | null = rx.search(url);
  const host: string | undefined = m?.group("host");
  const template: PythonTemplate = rx.template("//\\g<host>.test/");
  void host;
  // @ts-expect-error a text pattern takes no bytes
  rx.sub(Buffer.from("x"), url);
  return rx.sub(
    template,
    rx.sub((match) => match.group(0) ?? "", url),
  );
}

export function bytes(body: Buffer): Buffer {
  const rx: PythonRegex<Buffer> = compilePythonRegex(Buffer.from("secret"), { dotall: true });
  const first: Buffer | undefined = rx.search(body)?.group();
  void first;
  // @ts-expect-error a bytes pattern takes no text subject
  rx.sub(Buffer.from("x"), "text");
  return rx.sub(Buffer.from("***"), body, 1);
}
