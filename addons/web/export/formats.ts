import type { HTTPFlow } from "@interloper/sdk";
import { curlCommand } from "./curl.ts";
import { harExport } from "./har.ts";
import { httpieCommand } from "./httpie.ts";
import { ExportError } from "./message.ts";
import { rawExchange } from "./raw.ts";
import { utf8OrNull } from "./shell.ts";

export const EXPORT_FORMATS = ["curl", "httpie", "raw", "har"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * One flow in one of the export formats: what `GET /api/flows/:id/export/:format`
 * serves. Throws `ExportError` (one line) for a format or flow it cannot export.
 */
export function exportFlow(flow: HTTPFlow, format: ExportFormat | string): string {
  if (flow.type !== "http") throw new ExportError(`only HTTP flows can be exported, not ${String(flow.type)} flows`);
  switch (format) {
    case "curl":
      return curlCommand(flow.request);
    case "httpie":
      return httpieCommand(flow.request);
    case "raw":
      return rawText(rawExchange(flow.request, flow.response));
    case "har":
      return harExport([flow]);
    default:
      throw new ExportError(`unknown export format '${format}' (one of ${EXPORT_FORMATS.join(", ")})`);
  }
}

/** The raw exchange as text: UTF-8 when it is, else one character per byte (latin1), so no byte is lost. */
function rawText(bytes: Uint8Array): string {
  const text = utf8OrNull(bytes);
  if (text !== null) return text;
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}
