/**
 * GH_VM_ADD_FUNCTION and GH_VM_REMOVE_FUNCTION of the gh_ driver: the v17 function types (vCPU,
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
 * matches → none: ENOENT.
 *
 * Reference: uapi.md §3 (`gunyah_fn_desc` and the argument structs; same in gh_), §6.2
 * (ADD/REMOVE rows), §8.1 (all matches removed); README.md §Dialects ("ioeventfd REMOVE match
 * key"), vmm-flows.md Q18 (crosvm removes an ioeventfd with only addr set), §3 (crosvm removes
 * an irqfd with only the label set). The v14 keys: the public v14 series / Android common
 * kernel android14-6.1 (docs/gh-dialect.md).
 */
import type { IoctlContext } from '../../host/kernel-file.js';
import { view } from '../../shared/bytes.js';
import { ErrnoError } from '../../shared/errno.js';
import { GUNYAH_FN_IOEVENTFD, GUNYAH_FN_IRQFD, GUNYAH_FN_MAX_ARG_SIZE, GUNYAH_FN_VCPU } from '../uapi/constants.js';
import { decodeFnDesc } from '../uapi/structs.js';
import type { VmFunctionInstance } from '../vm-api.js';
import { GH_SIZEOF_FN_DESC } from './gh-uapi.js';
import type { GhVm } from './gh-vm.js';

/** Above this, the kernel's allocation for REMOVE_FUNCTION's copy fails (ENOMEM), as in v17. */
const KMALLOC_MAX = 4 * 1024 * 1024;

/**
 * The v14 compare of an instance added with `added` against a REMOVE argument `arg` of the
 * type's exact size.
 */
export function ghFunctionMatches(type: number, inst: VmFunctionInstance, added: Uint8Array, arg: Uint8Array): boolean {
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

export async function ghAddFunction(vm: GhVm, arg: bigint, ctx: IoctlContext): Promise<number> {
  const { type, argSize, arg: argPtr } = decodeFnDesc(ctx.user.copyFromUser(arg, GH_SIZEOF_FN_DESC));
  if (argSize > GUNYAH_FN_MAX_ARG_SIZE) throw new ErrnoError('EINVAL', `arg_size ${argSize} > ${GUNYAH_FN_MAX_ARG_SIZE}`);
  const fnArg = argSize === 0 ? new Uint8Array(0) : ctx.user.copyFromUser(argPtr, argSize);
  return vm.fnLock.add(async () => {
    const ft = vm.k.functionTypes.get(type);
    if (!ft) throw new ErrnoError('ENOENT', `function type ${type} is not registered`);
    const inst = await ft.bind(vm, fnArg, ctx);
    vm.functions.push({ inst, arg: fnArg.slice() });
    vm.k.trace?.emit({ kind: 'kernel.function-added', vm: vm.id, type, result: inst.result });
    return inst.result;
  });
}

export async function ghRemoveFunction(vm: GhVm, arg: bigint, ctx: IoctlContext): Promise<number> {
  const { type, argSize, arg: argPtr } = decodeFnDesc(ctx.user.copyFromUser(arg, GH_SIZEOF_FN_DESC));
  if (argSize === 0) return 0;
  if (argSize > KMALLOC_MAX) throw new ErrnoError('ENOMEM', `arg_size ${argSize}`);
  const fnArg = ctx.user.copyFromUser(argPtr, argSize);
  return vm.fnLock.add(async () => {
    const ft = vm.k.functionTypes.get(type);
    const hits = vm.functions.filter(
      (f) => f.inst.type === type && ft !== undefined && fnArg.length === ft.argSize && f.arg.length === ft.argSize && ghFunctionMatches(type, f.inst, f.arg, fnArg),
    );
    if (hits.length === 0) throw new ErrnoError('ENOENT', `no function of type ${type} matches`);
    for (const f of hits) {
      vm.functions.splice(vm.functions.indexOf(f), 1);
      await f.inst.unbind();
    }
    vm.k.trace?.emit({ kind: 'kernel.function-removed', vm: vm.id, type, count: hits.length });
    return 0;
  });
}
