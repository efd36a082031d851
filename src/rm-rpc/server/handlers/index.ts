/**
 * Registration of every RM request handler, one file per message family, in the real RM's
 * handler order (rm-rpc.md §8.1): console → VM management → memparcel → resources → IRQ →
 * VM creation → IPA → firmware. An ID with no handler is answered UNIMPLEMENTED by the server.
 */
import type { Register, RmContext } from '../context.js';
import { registerConsoleHandlers } from './console.js';
import { registerVmMgmtHandlers } from './vm-mgmt.js';
import { registerMemparcelHandlers } from './memparcel.js';
import { registerResourceHandlers } from './resources.js';
import { registerIrqHandlers } from './irq.js';
import { registerVmCreationHandlers } from './vm-creation.js';
import { registerIpaHandlers } from './ipa.js';
import { registerFirmwareHandlers } from './firmware.js';

export type { Register };

export function registerAllHandlers(ctx: RmContext, reg: Register): void {
  registerConsoleHandlers(ctx, reg);
  registerVmMgmtHandlers(ctx, reg);
  registerMemparcelHandlers(ctx, reg);
  registerResourceHandlers(ctx, reg);
  registerIrqHandlers(ctx, reg);
  registerVmCreationHandlers(ctx, reg);
  registerIpaHandlers(ctx, reg);
  registerFirmwareHandlers(ctx, reg);
}
