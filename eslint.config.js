// ESLint for the whole repository, type-aware (the TypeScript project service finds each file's
// tsconfig: tsconfig.json, soak/tsconfig.json). `npm run lint`; part of `npm test`.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: ["dist/", "sdk/dist/", "node_modules/", "bench/results/", "tmp/", "test/fixtures/"],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // The few plain-JavaScript files (build and test scripts, this config) are outside every
          // tsconfig: they get a default project of their own.
          allowDefaultProject: ["*.js", "scripts/*.mjs", "scripts/*.cjs"],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // A default branch is the deliberate answer for the other members (error codes, key types).
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/consistent-type-imports": "error",
      // Passing on a caught error (typed any or unknown) is fine; making a non-Error reason is not.
      "@typescript-eslint/prefer-promise-reject-errors": [
        "error",
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // A `let` that a closure made before its one assignment reads stays a let (const would be in its TDZ).
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // Augmenting Node's own types (`declare global { namespace NodeJS … }`) is the one use of namespaces.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // Off: the parsers and log sanitizing match control bytes (NUL, CR, LF, ESC) on purpose.
      "no-control-regex": "off",
      // Off: tests match the log's indentation ("     << 200 OK") spelled out as it prints.
      "no-regex-spaces": "off",
      // Off: an async function without await is how a hook or callback says it returns a promise.
      "@typescript-eslint/require-await": "off",
      // Off: logs and test messages stringify unknown errors, Buffers and arrays on purpose (no-base-to-string still catches [object Object]).
      "@typescript-eslint/restrict-template-expressions": "off",
      // Off: `string | "incomplete"` names a sentinel value in the sdk's documented types on purpose.
      "@typescript-eslint/no-redundant-type-constituents": "off",
    },
  },
  {
    // The proxy and the sdk (what runs per request and per flow): on Node 20 (V8 11.3) an object
    // literal with a property after a spread, `{ ...a, b: 1 }`, takes a slow path of about 1 µs per
    // property (measured; 5.6 µs for five). One in buildRequest cost bench A 10% of its CPU.
    files: ["core/**/*.ts", "sdk/src/**/*.ts", "addons/**/*.ts"],
    ignores: ["addons/web/ui/**"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "ObjectExpression > SpreadElement ~ Property",
          message:
            "A property after a spread is a slow path on Node 20 (about 1 µs per property): write the fields out, or use Object.assign.",
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    // TypeScript knows Node's globals from @types/node; plain JavaScript is told the few it uses.
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
      },
    },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
    // Off: a CommonJS shim whose point is a lazy require() on first call.
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
