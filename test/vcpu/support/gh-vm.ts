// Test support: a FakeVm of the gh_ dialect (README.md §Dialects) whose ensureStarted follows
// the VmHandle contract (vm-api.ts): the first caller while the VM is in LOAD runs the scripted
// start and gets its errno; callers during that attempt wait for it and resolve; later callers,
// and callers for a VM no longer in LOAD, resolve at once.
// A Harness around it, so gh_ vCPU fds are used through a real HostProcess.
import { ResourceType } from '../../../src/rm-rpc/wire/enums.js';
import { ErrnoError, type ErrnoName } from '../../../src/shared/errno.js';
import { LinuxVmStatus } from '../../../src/vm-mgr/vm-api.js';
import type { Mapping } from '../../../src/host/process.js';
import type { VcpuInstance } from '../../../src/vcpu/index.js';
import { FakeHyp } from './fake-hyp.js';
import { FakeVm, resource } from './fake-vm.js';
import { Harness } from './harness.js';

/** What a scripted start does (it may be async). */
export type StartScript = (vm: GhFakeVm) => void | Promise<void>;

export class GhFakeVm extends FakeVm {
  readonly dialect = 'gh' as const;
  /** Every ensureStarted call. */
  ensureStartedCalls = 0;
  /** How many times the start itself ran. */
  starts = 0;
  /** The start: by default the VM becomes RUNNING. */
  start: StartScript = (vm) => vm.setStatus(LinuxVmStatus.RUNNING);
  #attempt: Promise<void> | undefined;

  constructor(hyp = new FakeHyp()) {
    super(hyp);
    this.setStatus(LinuxVmStatus.LOAD); // the v14 kernel's status before start
  }

  ensureStarted(): Promise<void> {
    this.ensureStartedCalls++;
    if (this.#attempt !== undefined) {
      return this.#attempt.then(
        () => undefined,
        () => undefined,
      );
    }
    if (this.status !== LinuxVmStatus.LOAD) return Promise.resolve(); // started by other means
    this.starts++;
    this.#attempt = (async () => {
      await Promise.resolve(); // the start takes at least one turn (RM calls)
      await this.start(this);
    })();
    return this.#attempt;
  }
}

/** A start that fails with `errno`, leaving the VM in `status`. */
export function failingStart(errno: ErrnoName, status: number = LinuxVmStatus.INIT_FAILED): StartScript {
  return (vm) => {
    vm.setStatus(status);
    throw new ErrnoError(errno, 'scripted start failure');
  };
}

/** A start that hands out vCPU resources (label = id, capId 0x1000 + id, vIRQ 40 + id) and runs the VM. */
export function startWithVcpus(...ids: number[]): StartScript {
  return (vm) => {
    for (const id of ids) vm.offer(resource(ResourceType.VCPU, id, 0x1000n + BigInt(id), 40 + id));
    vm.setStatus(LinuxVmStatus.RUNNING);
  };
}

/** Harness with a gh_ VM. */
export class GhHarness extends Harness {
  override readonly vm: GhFakeVm = new GhFakeVm(this.hyp);

  /** Bind vCPU `id` and map its run page; the VM is not started (status LOAD). */
  async unstartedVcpu(id = 0): Promise<{ inst: VcpuInstance; fd: number; map: Mapping }> {
    const inst = await this.addVcpu(id);
    const map = this.proc.mmap(inst.result, 4096);
    return { inst, fd: inst.result, map };
  }
}

/** A FakeVm of dialect gh_ without ensureStarted (the VmHandle member is optional). */
export class GhVmWithoutStart extends FakeVm {
  readonly dialect = 'gh' as const;
}

/** Harness with a gh_ VM that has no ensureStarted. */
export class GhNoStartHarness extends Harness {
  override readonly vm: GhVmWithoutStart = new GhVmWithoutStart(this.hyp);
}
