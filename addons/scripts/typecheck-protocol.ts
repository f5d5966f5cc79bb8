/** Messages between the script loader (addons/scripts/typecheck.ts) and its type-check worker. */

/** Check one script and the local files it imports. */
export interface CheckRequest {
  id: number;
  entry: string;
  /** The TypeScript compiler to use (its `lib/typescript.js`). */
  typescript: string;
  /** Module names resolved to these files: the proxy's own sdk, which is what a script runs against. */
  paths: Record<string, string>;
  /** Where `@types/node` lives when the script's folder has none (undefined: check without Node's types). */
  typeRoots: string[] | undefined;
}

/** One diagnostic in a file of the user's (1-based line and column). */
export interface TypeProblem {
  file: string;
  line: number;
  column: number;
  code: number;
  message: string;
}

export type CheckResponse =
  { id: number; problems: TypeProblem[]; files: number; ms: number } | { id: number; error: string };
