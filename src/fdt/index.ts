/**
 * Flattened device tree (DTB) layer: reader, writer and tree queries.
 *
 * Reference: Devicetree Specification v0.4, chapter 5. A bottom layer like src/shared: it
 * imports only from src/shared and knows nothing of Gunyah; the RM's reading of a VM's DT
 * lives in src/rm-rpc/server/vm-dt-config.ts.
 */
export {
  FDT_MAGIC,
  FDT_HEADER_SIZE,
  FDT_V16_HEADER_SIZE,
  FDT_VERSION,
  FDT_LAST_COMP_VERSION,
  FDT_MAX_DEPTH,
  FDT_RESERVE_ENTRY_SIZE,
  FdtHeaderOffset,
  FdtToken,
  fdtNode,
} from './format.js';
export type { FdtNode, FdtTree, FdtHeader, FdtReserveEntry, FdtTokenName, FdtTokenValue } from './format.js';
export { parseFdt } from './reader.js';
export {
  findNode,
  lookupPath,
  findChild,
  nodeNameMatches,
  walkFdt,
  hasProp,
  getU32,
  getU64,
  getCells,
  getNumber,
  readCellsBE,
  getString,
  getStringList,
  decodeUtf8,
} from './query.js';
export { FdtBuilder, serializeFdt } from './writer.js';
export type { FdtFinishOptions } from './writer.js';
