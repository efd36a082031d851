/**
 * Every golden vector family in one place, for the coverage test and for the invalid-bytes
 * file (which derives "one byte short / one byte long" frames from hand-typed valid frames).
 * Provenance: see each family file.
 */
import type { FragmentedVector, GoldenVector } from './golden-types.js';
import { FRAGMENTED_VECTORS, RM_HEADER_VECTORS } from './rm-header.vectors.js';
import { VM_MGMT_VECTORS } from './vm-mgmt.vectors.js';
import { VM_CREATION_VECTORS } from './vm-creation.vectors.js';
import { MEM_VECTORS } from './mem.vectors.js';
import { IRQ_VECTORS } from './irq.vectors.js';
import { CONSOLE_VECTORS } from './console.vectors.js';
import { IPA_FIRMWARE_VECTORS } from './ipa-firmware.vectors.js';
import { NOTIFICATIONS_VECTORS } from './notifications.vectors.js';

/** Single-frame vectors of every family. */
export const ALL_SINGLE_FRAME: readonly GoldenVector[] = [
  ...RM_HEADER_VECTORS,
  ...VM_MGMT_VECTORS,
  ...VM_CREATION_VECTORS,
  ...MEM_VECTORS,
  ...IRQ_VECTORS,
  ...CONSOLE_VECTORS,
  ...IPA_FIRMWARE_VECTORS,
  ...NOTIFICATIONS_VECTORS,
];

/** Multi-frame vectors. */
export const ALL_FRAGMENTED: readonly FragmentedVector[] = FRAGMENTED_VECTORS;

/** The single-frame vector with this exact name (throws if there is none: a typo in a table). */
export function goldenByName(name: string): GoldenVector {
  const v = ALL_SINGLE_FRAME.find((x) => x.name === name);
  if (v === undefined) throw new Error(`no golden vector named ${JSON.stringify(name)}`);
  return v;
}
