// The type checker's thread: the TypeScript compiler, kept between checks so each reload
// re-checks only what changed (a builder program over the previous one, and parsed files
// cached by modification time: the standard library is parsed once).
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, sep } from "node:path";
import { parentPort } from "node:worker_threads";
import type * as TS from "typescript";
import type { CheckRequest, CheckResponse, TypeProblem } from "./typecheck-protocol.ts";

type BuilderProgram = TS.SemanticDiagnosticsBuilderProgram;

let ts: typeof TS | undefined;
let loadedFrom: string | undefined;
const programs = new Map<string, BuilderProgram>();
const parsed = new Map<string, { stamp: string; file: TS.SourceFile }>();

/** Most problems reported per check: the first ones say what is wrong; hundreds would flood the log. */
const MAX_PROBLEMS = 50;

parentPort?.on("message", (req: CheckRequest) => {
  let res: CheckResponse;
  try {
    res = check(req);
  } catch (err) {
    res = { id: req.id, error: (err as Error)?.message ?? String(err) };
  }
  parentPort?.postMessage(res);
});

function check(req: CheckRequest): CheckResponse {
  const started = performance.now();
  const compiler = load(req.typescript);
  const options = compilerOptions(compiler, req);
  const host = cachingHost(compiler, options);
  const program = compiler.createSemanticDiagnosticsBuilderProgram([req.entry], options, host, programs.get(req.entry));
  programs.set(req.entry, program);
  const sdkFiles = new Set(Object.values(req.paths).map((p) => dirname(p) + sep));
  const own = program.getSourceFiles().filter((f) => isUsers(f.fileName, sdkFiles));
  const diagnostics: TS.Diagnostic[] = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
  ];
  for (const file of own) {
    diagnostics.push(...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file));
  }
  const problems = diagnostics
    .filter((d) => d.category === compiler.DiagnosticCategory.Error)
    .slice(0, MAX_PROBLEMS)
    .map((d) => describe(compiler, d, req.entry));
  return { id: req.id, problems, files: own.length, ms: Math.round(performance.now() - started) };
}

function load(path: string): typeof TS {
  if (!ts || loadedFrom !== path) {
    ts = createRequire(import.meta.url)(path) as typeof TS;
    loadedFrom = path;
    programs.clear();
    parsed.clear();
  }
  return ts;
}

/** A file of the user's: not a dependency's, not the standard library, not the sdk's. */
function isUsers(file: string, sdkDirs: Set<string>): boolean {
  if (file.includes("/node_modules/") || /\/lib\.[\w.]*d\.ts$/.test(file)) return false;
  for (const dir of sdkDirs) if (file.startsWith(dir)) return false;
  return true;
}

/**
 * The script's own tsconfig.json when it has one (the nearest above it), else what fits a script
 * bundled by esbuild; never emitting, and with `@interloper/sdk` as the proxy's own.
 */
function compilerOptions(compiler: typeof TS, req: CheckRequest): TS.CompilerOptions {
  let options: TS.CompilerOptions | undefined;
  const config = compiler.findConfigFile(dirname(req.entry), (f) => compiler.sys.fileExists(f));
  if (config && !config.includes("/node_modules/")) {
    const host: TS.ParseConfigFileHost = Object.assign({}, compiler.sys, {
      onUnRecoverableConfigFileDiagnostic: () => undefined,
    });
    options = compiler.getParsedCommandLineOfConfigFile(config, {}, host)?.options;
  }
  options ??= {
    target: compiler.ScriptTarget.ES2022,
    module: compiler.ModuleKind.ESNext,
    moduleResolution: compiler.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts"],
    strict: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    esModuleInterop: true,
    types: req.typeRoots === undefined ? [] : ["node"],
    ...(req.typeRoots ? { typeRoots: req.typeRoots } : {}),
  };
  const paths: Record<string, string[]> = { ...options.paths };
  for (const [name, file] of Object.entries(req.paths)) paths[name] = [file];
  return Object.assign({}, options, {
    paths,
    noEmit: true,
    incremental: false,
    composite: false,
    declaration: false,
    emitDeclarationOnly: false,
  });
}

/** A compiler host whose parsed files outlive one check, as long as the file did not change. */
function cachingHost(compiler: typeof TS, options: TS.CompilerOptions): TS.CompilerHost {
  const host = compiler.createIncrementalCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const st = statSync(fileName, { throwIfNoEntry: false });
    if (!st) return undefined;
    const stamp = `${st.mtimeMs}:${st.size}:${JSON.stringify(languageVersion)}`;
    const hit = parsed.get(fileName);
    if (hit && hit.stamp === stamp) return hit.file;
    const file = read(fileName, languageVersion, onError, shouldCreate);
    if (file) parsed.set(fileName, { stamp, file });
    return file;
  };
  return host;
}

function describe(compiler: typeof TS, d: TS.Diagnostic, entry: string): TypeProblem {
  const message = compiler.flattenDiagnosticMessageText(d.messageText, " ").replace(/\s+/g, " ");
  if (!d.file || d.start === undefined) return { file: entry, line: 1, column: 1, code: d.code, message };
  const pos = d.file.getLineAndCharacterOfPosition(d.start);
  return { file: d.file.fileName, line: pos.line + 1, column: pos.character + 1, code: d.code, message };
}
