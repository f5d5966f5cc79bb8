// mitmproxy's rewrite options, in mitmproxy's chain order: map_remote, map_local, modify_body, modify_headers.
export { MapRemote } from "./map-remote.ts";
export { MapLocal } from "./map-local.ts";
export { ModifyBody } from "./modify-body.ts";
export { ModifyHeaders } from "./modify-headers.ts";
