/**
 * GH_VM_REMOVE_FUNCTION of the gh_ driver (GH_VM_ADD_FUNCTION is v17's, ../vm-functions.ts): the v17 function types (vCPU,
 * irqfd, ioeventfd, and the emulator's own such as SCMI) bound through the same VmHandle, with
 * the v14 REMOVE rules. Each instance keeps the argument bytes it was added with, because the
 * v14 compare keys differ from v17's for the three upstream types:
 *
 *   type          v14 key (this file)            v17 key (VmFunctionInstance.matches)
 *   1 vCPU        id        (u32 @0)             id
 *   2 irqfd       label     (u32 @4)             label
 *   3 ioeventfd   addr      (u64 @8)             addr, len, flags (+ datamatch)
 *   other         the instance's `matches`
 *
 * ADD: fn_desc copy (EFAULT) → arg_size > 256 (EINVAL) → arg copy (EFAULT) → type (ENOENT) →
 * bind (the type's errnos). REMOVE: fn_desc copy (EFAULT) → arg_size 0 returns 0 and removes
 * nothing → arg copy (EFAULT; over 4 MiB ENOMEM, as v17) → every instance of the type whose
 * compare matches is unbound, an argument of another size than the type's struct never
 * matches → none: ENOENT. The copies, the lock and the bookkeeping are ../vm-functions.ts,
 * shared with v17; this file holds the v14 rules.
 *
 * Reference: uapi.md §3 (`gunyah_fn_desc` and the argument structs; same in gh_), §6.2
 * (ADD/REMOVE rows), §8.1 (all matches removed); README.md §Dialects ("ioeventfd REMOVE match
 * key"), vmm-flows.md Q18 (crosvm removes an ioeventfd with only addr set), §3 (crosvm removes
 * an irqfd with only the label set). The v14 keys: the public v14 series / Android common
 * kernel android14-6.1 (docs/gh-dialect.md).
 */
import type { IoctlContext } from '../../host/kernel-file.js';
import { view } from '../../shared/bytes.js';
import { GUNYAH_FN_IOEVENTFD, GUNYAH_FN_IRQFD, GUNYAH_FN_VCPU } from '../uapi/constants.js';
import type { VmFunctionInstance } from '../vm-api.js';
import { removeFunction, type RemoveRules } from '../vm-functions.js';
import type { GhVm } from './gh-vm.js';

/**
 * The v14 compare of an instance added with `added` against a REMOVE argument `arg` of the
 * type's exact size.
 */
function ghFunctionMatches(type: number, inst: VmFunctionInstance, added: Uint8Array, arg: Uint8Array): boolean {
  switch (type) {
    case GUNYAH_FN_VCPU:
      return view(added).getUint32(0, true) === view(arg).getUint32(0, true);
    case GUNYAH_FN_IRQFD:
      return view(added).getUint32(4, true) === view(arg).getUint32(4, true);
    case GUNYAH_FN_IOEVENTFD:
      return view(added).getBigUint64(8, true) === view(arg).getBigUint64(8, true);
    default:
      return inst.matches(arg);
  }
}

/** gh_ REMOVE_FUNCTION: arg_size 0 removes nothing; the v14 keys, on arguments of the struct's size. */
const GH_REMOVE: RemoveRules = {
  emptyArgRemovesNothing: true,
  matches: (ft, inst, added, arg) => added.length === ft.argSize && ghFunctionMatches(ft.type, inst, added, arg),
};

/** GH_VM_REMOVE_FUNCTION with the v14 rules. */
export function ghRemoveFunction(vm: GhVm, arg: bigint, ctx: IoctlContext): Promise<number> {
  return removeFunction(vm, arg, ctx, GH_REMOVE);
}
