/**
 * Conformance targets: the builtin RM of a fresh emulator, or an RM behind the msgq socket
 * transport (`unix:PATH`, `tcp:HOST:PORT`, as served by `gunyah-emu rm serve`).
 */
import { createEmulator, type Emulator } from '../emulator.js';
import type { AsyncMsgqEndpoint } from '../msgq/async-endpoint.js';
import { asAsyncEndpoint } from '../msgq/async-endpoint.js';
import { connectControl, connectMsgq } from '../msgq/socket-client.js';
import type { RmControl, RmInspection } from '../rm-rpc/server/control.js';
import { isHypError } from '../shared/hyp-errors.js';
import type { RawRmChannel, RmTarget } from './target.js';
import type { RmServerOptions } from '../rm-rpc/server/context.js';

/** A raw channel over any async endpoint: recv waits for the RX vIRQ, with a timeout. */
export function channelOver(ep: AsyncMsgqEndpoint, onClose: () => Promise<void> | void): RawRmChannel {
  let closed = false;
  return {
    async send(frame, opts) {
      return ep.send(frame, opts?.push ?? false);
    },
    async recv(opts) {
      const deadline = Date.now() + (opts?.timeoutMs ?? 2000);
      for (;;) {
        try {
          return await ep.receive();
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_EMPTY') || closed) throw err;
        }
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, left);
          function done(): void {
            clearTimeout(t);
            ep.events.off('rx', done);
            resolve();
          }
          ep.events.on('rx', done);
        });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await onClose();
    },
  };
}

/** The RM of an in-process emulator. */
export function builtinTarget(opts: { rm?: Partial<RmServerOptions>; emulator?: Emulator } = {}): RmTarget & { emulator: Emulator } {
  const emu = opts.emulator ?? createEmulator(opts.rm ? { rm: opts.rm } : {});
  return {
    name: 'builtin',
    emulator: emu,
    async open(vmid) {
      const { endpoint, release } = emu.acquireRmEndpoint(vmid);
      return channelOver(asAsyncEndpoint(endpoint), release);
    },
    control: emu.rm.control,
    async close() {
      if (!opts.emulator) emu.close();
    },
  };
}

/** An RM behind the msgq socket transport; control works when the server offers it. */
export async function socketTarget(target: string): Promise<RmTarget> {
  const control = await connectControl(target).catch(() => undefined);
  const rmControl: RmControl | undefined = control && {
    seedParcel: async (spec) => (await control.call({ op: 'seedParcel', spec })) as number,
    inspect: async () => (await control.call({ op: 'inspect' })) as RmInspection,
    checkInvariants: async () => (await control.call({ op: 'checkInvariants' })) as string[],
  };
  return {
    name: target,
    async open(vmid) {
      const ep = await connectMsgq(target, vmid);
      return channelOver(ep, () => ep.close());
    },
    ...(rmControl ? { control: rmControl } : {}),
    async close() {
      await control?.close();
    },
  };
}

/** Parse `builtin`, `unix:PATH` or `tcp:HOST:PORT` into a target. */
export async function openTarget(spec: string): Promise<RmTarget> {
  return spec === 'builtin' ? builtinTarget() : socketTarget(spec);
}
