/**
 * Exports of a flow as text a user runs or keeps: a curl or HTTPie command,
 * the raw HTTP, a HAR document. Pure functions of the sdk's request and
 * response (the narrow shapes in message.ts); the web UI's server serves them.
 */
export { curlCommand } from "./curl.ts";
export { httpieCommand } from "./httpie.ts";
export { rawExchange, rawRequest, rawResponse } from "./raw.ts";
export { harExport } from "./har.ts";
export { ExportError, type ExportRequest, type ExportResponse } from "./message.ts";
export { exportFlow, EXPORT_FORMATS, type ExportFormat } from "./formats.ts";
