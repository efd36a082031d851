// Test support: a real HostProcess with one fake "VM" device whose ioctl binds a VM function
// against a FakeVm, so functions get a real IoctlContext (fd table, fget, installFd), and vCPU
// fds are used through the process's ioctl/mmap/close.
import { HostProcess } from '../../../src/host/process.js';
import type { IoctlContext, KernelFile } from '../../../src/host/kernel-file.js';
import { ResourceType } from '../../../src/rm-rpc/wire/enums.js';
import { isErrnoError, type ErrnoName } from '../../../src/shared/errno.js';
import { GUNYAH_VCPU_RUN, encodeFnVcpuArg } from '../../../src/vm-mgr/uapi/index.js';
import { LinuxVmStatus, type VmFunctionInstance, type VmFunctionType } from '../../../src/vm-mgr/vm-api.js';
import { vcpuFunction, type VcpuInstance } from '../../../src/vcpu/index.js';
import { FakeHyp } from './fake-hyp.js';
import { FakeVm, resource } from './fake-vm.js';
import type { Mapping } from '../../../src/host/process.js';

/** The fake VM device: its next ioctl runs `pending` with the real context. */
class BinderFile implements KernelFile {
  readonly name = 'fake-vm';
  pending: ((ctx: IoctlContext) => Promise<number>) | undefined;
  ioctl(_request: number, _arg: bigint, ctx: IoctlContext): Promise<number> {
    const f = this.pending;
    this.pending = undefined;
    if (f === undefined) throw new Error('no bind pending');
    return f(ctx);
  }
  release(): void {}
}

export class Harness {
  readonly hyp = new FakeHyp();
  readonly vm = new FakeVm(this.hyp);
  readonly #binder = new BinderFile();
  readonly proc = new HostProcess({ devices: new Map([['/dev/fake-vm', () => this.#binder]]) });
  readonly vmFd = this.proc.open('/dev/fake-vm');

  /** ADD_FUNCTION through the process: bind `type` with `arg` and return the instance. */
  async bind(type: VmFunctionType, arg: Uint8Array): Promise<VmFunctionInstance> {
    let inst: VmFunctionInstance | undefined;
    this.#binder.pending = async (ctx) => {
      inst = await type.bind(this.vm, arg, ctx);
      return inst.result;
    };
    await this.proc.ioctl(this.vmFd, 0);
    return inst!;
  }

  /** Bind vCPU `id` (no resource yet). */
  async addVcpu(id: number): Promise<VcpuInstance> {
    return (await this.bind(vcpuFunction, encodeFnVcpuArg({ id }))) as VcpuInstance;
  }

  /** Bind vCPU `id`, give it its resource (wakeup vIRQ `virq`), map its run page, and set the VM RUNNING. */
  async startedVcpu(id = 0, virq = 40): Promise<{ inst: VcpuInstance; fd: number; map: Mapping; capId: bigint }> {
    const inst = await this.addVcpu(id);
    const capId = 0x1000n + BigInt(id);
    this.vm.offer(resource(ResourceType.VCPU, id, capId, virq));
    this.vm.setStatus(LinuxVmStatus.RUNNING);
    const map = this.proc.mmap(inst.result, 4096);
    return { inst, fd: inst.result, map, capId };
  }

  /** GUNYAH_VCPU_RUN on `fd`. */
  run(fd: number): Promise<number> {
    return this.proc.ioctl(fd, GUNYAH_VCPU_RUN);
  }
}

/** Resolve to the errno name a promise rejects with, or 'ok'. */
export async function outcome(p: Promise<unknown>): Promise<ErrnoName | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isErrnoError(e)) return e.code;
    throw e;
  }
}

/** The errno name a synchronous call throws, or 'ok'. */
export function syncOutcome(f: () => unknown): ErrnoName | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (isErrnoError(e)) return e.code;
    throw e;
  }
}

/** Let the event loop turn `n` times (setImmediate), so yields and waits can progress. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** True when `p` has not settled after `n` event-loop turns. */
export async function stillPending(p: Promise<unknown>, n = 5): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await turns(n);
  return !done;
}

/** Bytes from a hex string with spaces/newlines ignored. */
export function bytes(hexText: string): Uint8Array {
  const clean = hexText.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lowercase hex of bytes, for readable comparisons. */
export function hexOf(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

export { FakeHyp, FakeVm };
