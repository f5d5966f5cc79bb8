/**
 * Flow files: mitmproxy's native format (tnetstring flows; read: format
 * versions 17 to 21, i.e. mitmproxy 7 to 12; written: 17 by default, which
 * Debian's mitmproxy 8.1.1 reads) and HAR 1.2, read as streams of sdk flows
 * and written one flow at a time.
 */
export {
  encodeTNet,
  decodeTNet,
  decodeTNetPrefix,
  TNetFloat,
  TNetstringError,
  type TNetDict,
  type TNetValue,
} from "./tnetstring.ts";
export {
  DEFAULT_WRITE_VERSION as DEFAULT_FLOW_FORMAT,
  NEWEST_VERSION as NEWEST_FLOW_FORMAT,
  OLDEST_VERSION as OLDEST_FLOW_FORMAT,
  UnknownVersionError as UnknownFlowFormatError,
  downgrade as downgradeFlowState,
  upgrade as upgradeFlowState,
  type FormatVersion as FlowFormatVersion,
} from "./compat.ts";
export { FlowFieldError } from "./fields.ts";
export { flowToState } from "./state-write.ts";
export { flowFromState, UnsupportedFlowType } from "./state-read.ts";
export {
  DEFAULT_MAX_FLOW_BYTES,
  FlowReadError,
  flowFileFormat,
  readFlowFile,
  readFlows,
  type FlowFileFormat,
  type ReadOptions as FlowReadOptions,
} from "./reader.ts";
export { encodeFlow, FlowWriter, writeFlowFile, type WriteOptions as FlowWriteOptions } from "./writer.ts";
export { harDocument, harEntry, HarWriter, type HarEntry, type HarOptions } from "./har-write.ts";
export { HarFormatError, harToFlows } from "./har-read.ts";
