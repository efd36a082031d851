/**
 * Shared look-ups of the RM handlers: find the target VM of a request and apply the caller
 * rules of rm-rpc.md §11 (the error for a non-owner differs per message).
 */
import type { RmErrorName } from '../../wire/errors.js';
import type { RmContext } from '../context.js';
import { RmRefusal } from './refusal.js';
import type { RmVm } from '../vm-record.js';

/** The VM `vmid`, or a refusal with `err`. */
export function vmOr(ctx: RmContext, vmid: number, err: RmErrorName): RmVm {
  const vm = ctx.vms.get(vmid);
  if (!vm) throw new RmRefusal(err, `VM ${vmid} does not exist`);
  return vm;
}

/** `vm`, if `caller` owns it; otherwise a refusal with `err`. */
export function ownedOr(vm: RmVm, caller: number, err: RmErrorName): RmVm {
  if (vm.owner !== caller) throw new RmRefusal(err, `VM ${caller} does not own VM ${vm.vmid}`);
  return vm;
}
