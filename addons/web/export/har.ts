import { harDocument, type HTTPFlow } from "@interloper/sdk";

/**
 * A HAR 1.2 document of the given HTTP flows, as the sdk's HAR writer makes it
 * (the same entries `hardump` writes), pretty-printed for reading and saving.
 */
export function harExport(flows: Iterable<HTTPFlow>): string {
  return `${JSON.stringify(harDocument(flows), null, 2)}\n`;
}
