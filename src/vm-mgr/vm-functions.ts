/**
 * ADD_FUNCTION and REMOVE_FUNCTION on the VM fd, the part both dialects share: the copies and
 * their checks in the kernel's order, the type lookup and bind under the function lock, the
 * removal of every match, and the trace records. What differs is handed in: how REMOVE compares
 * an instance with the user's argument, and (gh_) that arg_size 0 removes nothing.
 *
 *   ADD:    fn_desc copy (EFAULT) → arg_size > 256 (EINVAL) → arg copy (EFAULT) → [fn lock]
 *           type registered? (ENOENT) → the type's bind (its own errnos) → recorded
 *   REMOVE: fn_desc copy (EFAULT) → [gh_: arg_size 0 → 0] → arg_size > 4 MiB (ENOMEM) → arg copy
 *           (EFAULT) → [fn lock] every instance of the type whose compare matches is unbound;
 *           none → ENOENT
 *   teardown: [fn lock] every instance unbound, newest first; a failing unbind is only logged
 *
 * Reference: uapi.md §3 (`gunyah_fn_desc`, 16 bytes, the same in gh_), §6.2 (ADD/REMOVE rows:
 * the 256-byte limit is ADD's only; REMOVE's copy fails with ENOMEM when the kernel cannot
 * allocate it), §8.1 (bind under the function lock; REMOVE removes every match); README.md
 * §Dialects. The compares: vm-file.ts (v17, the instance's own `matches`) and
 * gh/gh-functions.ts (the v14 keys).
 */
import type { IoctlContext } from '../host/kernel-file.js';
import { ErrnoError } from '../shared/errno.js';
import type { Logger } from '../shared/log.js';
import { GUNYAH_FN_MAX_ARG_SIZE } from './uapi/constants.js';
import { SIZEOF, decodeFnDesc } from './uapi/structs.js';
import type { VmFunctionInstance, VmFunctionType } from './vm-api.js';
import type { VmCore } from './vm-core.js';

/** Above this, the kernel's allocation for REMOVE_FUNCTION's copy fails (ENOMEM). */
const KMALLOC_MAX = 4 * 1024 * 1024;

/** How a dialect's REMOVE_FUNCTION decides what to remove. */
export interface RemoveRules {
  /** gh_: arg_size 0 returns 0 before the argument is copied, removing nothing. */
  readonly emptyArgRemovesNothing: boolean;
  /**
   * Whether `inst` (of the type `ft`, added with `added`) matches the user's argument `arg`.
   * Called only when `arg` has the type's struct size.
   */
  matches(ft: VmFunctionType, inst: VmFunctionInstance, added: Uint8Array, arg: Uint8Array): boolean;
}

/**
 * GUNYAH_VM_ADD_FUNCTION / GH_VM_ADD_FUNCTION.
 * @returns the bind's result (a vCPU fd, or 0)
 * @throws ErrnoError EFAULT, EINVAL, ENOENT, or the type's bind errno
 */
export async function addFunction(vm: VmCore, arg: bigint, ctx: IoctlContext): Promise<number> {
  const { type, argSize, arg: argPtr } = decodeFnDesc(ctx.user.copyFromUser(arg, SIZEOF.gunyah_fn_desc));
  if (argSize > GUNYAH_FN_MAX_ARG_SIZE) throw new ErrnoError('EINVAL', `arg_size ${argSize} > ${GUNYAH_FN_MAX_ARG_SIZE}`);
  const fnArg = argSize === 0 ? new Uint8Array(0) : ctx.user.copyFromUser(argPtr, argSize);
  return vm.fnLock.add(async () => {
    const ft = vm.k.functionTypes.get(type);
    if (!ft) throw new ErrnoError('ENOENT', `function type ${type} is not registered`);
    const inst = await ft.bind(vm, fnArg, ctx);
    vm.functions.push(inst);
    vm.addedArgs.set(inst, fnArg.slice());
    vm.k.trace?.emit({ kind: 'kernel.function-added', vm: vm.id, type, result: inst.result });
    return inst.result;
  });
}

/**
 * GUNYAH_VM_REMOVE_FUNCTION / GH_VM_REMOVE_FUNCTION: every matching instance is unbound.
 * @returns 0
 * @throws ErrnoError EFAULT, ENOMEM, ENOENT (nothing matched)
 */
export async function removeFunction(vm: VmCore, arg: bigint, ctx: IoctlContext, rules: RemoveRules): Promise<number> {
  const { type, argSize, arg: argPtr } = decodeFnDesc(ctx.user.copyFromUser(arg, SIZEOF.gunyah_fn_desc));
  if (argSize === 0 && rules.emptyArgRemovesNothing) return 0;
  if (argSize > KMALLOC_MAX) throw new ErrnoError('ENOMEM', `arg_size ${argSize}`);
  const fnArg = argSize === 0 ? new Uint8Array(0) : ctx.user.copyFromUser(argPtr, argSize);
  return vm.fnLock.add(async () => {
    const ft = vm.k.functionTypes.get(type);
    const hits =
      ft === undefined || fnArg.length !== ft.argSize
        ? []
        : vm.functions.filter((f) => f.type === type && rules.matches(ft, f, vm.addedArgs.get(f) ?? new Uint8Array(0), fnArg));
    if (hits.length === 0) throw new ErrnoError('ENOENT', `no function of type ${type} matches`);
    for (const f of hits) {
      vm.functions.splice(vm.functions.indexOf(f), 1);
      await f.unbind();
    }
    vm.k.trace?.emit({ kind: 'kernel.function-removed', vm: vm.id, type, count: hits.length });
    return 0;
  });
}

/** Teardown (uapi.md §8.3 step 3): unbind every instance, newest first; failures are logged. */
export async function unbindAllFunctions(vm: VmCore, log: Logger): Promise<void> {
  await vm.fnLock.add(async () => {
    while (vm.functions.length > 0) {
      const f = vm.functions.pop()!;
      try {
        await f.unbind();
      } catch (err) {
        log.warn({ err }, 'function unbind failed during teardown');
      }
    }
  });
}
