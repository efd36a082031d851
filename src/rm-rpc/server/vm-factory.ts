/**
 * A fresh RM VM record with every field at its initial value (VM_ALLOCATE creates one in LOAD).
 */
import type { RmVm } from './vm-record.js';
import type { VmStatusValue } from './vm-state.js';

export function newVmRecord(vmid: number, owner: number, state: VmStatusValue, guid: Uint8Array): RmVm {
  return {
    vmid,
    owner,
    state,
    osStatus: 0,
    appStatus: 0,
    peers: new Set(),
    image: undefined,
    dt: undefined,
    bootImage: undefined,
    objects: [],
    resources: [],
    virqs: [],
    link: undefined,
    console: undefined,
    crashMsg: undefined,
    exitCount: 0,
    name: '',
    uri: '',
    guid,
    bootContext: new Map(),
    demandPaging: undefined,
    addressLayout: new Map(),
    timeBase: undefined,
    firmwareMem: undefined,
    resetting: false,
    noShutdown: false,
    crashFatal: false,
    noReset: false,
  };
}
