/**
 * rewrite-json: adds `"intercepted": true` to the JSON objects that responses
 * under a URL path carry (the top-level object, or each object of a top-level
 * array), e.g. to see in an app's UI which data came through the proxy.
 *
 *   interloper -s examples/rewrite-json.ts --set rewrite_json_path=/api/
 *
 * `flow.response.json()` decodes gzip / deflate / br and `setJson()` encodes
 * the new body the same way and fixes Content-Length, so compressed responses
 * need no special code here.
 */
import { defineAddon, type HTTPFlow, type Loader, type Logger, type OptionsView } from "@interloper/sdk";

/** `application/json`, `application/problem+json`, `text/json; charset=utf-8`, … */
const JSON_TYPE = /^[\w.+-]+\/([\w.-]+\+)?json\s*(;|$)/i;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export default defineAddon({
  name: "rewrite-json",
  path: "/api/",
  log: undefined as Logger | undefined,

  load(loader: Loader) {
    loader.addOption<string>({
      name: "rewriteJsonPath",
      type: "string",
      default: "/api/",
      help: "Path prefix of the requests whose JSON responses are rewritten.",
    });
    this.log = loader.log;
  },

  configure(_updated: ReadonlySet<string>, options: OptionsView) {
    this.path = options.get<string>("rewriteJsonPath");
  },

  response(flow: HTTPFlow) {
    const res = flow.response;
    // A streamed body has already gone to the client; an empty one has nothing to rewrite.
    if (!res || res.stream || res.body.length === 0) return;
    if (!flow.request.path.startsWith(this.path) || !JSON_TYPE.test(res.headers.get("content-type") ?? "")) return;

    let data: unknown;
    try {
      data = res.json();
    } catch (err) {
      // Not JSON after all, or an encoding we cannot decode: pass the bytes on untouched.
      this.log?.warn(`not rewriting ${flow.request.prettyUrl}: ${(err as Error).message}`);
      return;
    }
    const objects = Array.isArray(data) ? data.filter(isPlainObject) : isPlainObject(data) ? [data] : [];
    if (objects.length === 0) return;
    for (const o of objects) o.intercepted = true;
    res.setJson(data);
  },
});
