// The same Linux-style client drives an RM in another "process": over the msgq socket
// transport to `rm serve` (DESIGN.md: "the same client can drive an external RM").
import { expect, test } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { serveRm } from '../../src/cli/rm-serve.js';
import { connectMsgq } from '../../src/msgq/socket-client.js';
import { createRmClient, RmCalls } from '../../src/rm-rpc/client/index.js';
import { VmStatus } from '../../src/rm-rpc/wire/enums.js';

test('RmCalls over a TCP msgq link to a served RM', async () => {
  const emu = createEmulator();
  const server = await serveRm(emu, { host: '127.0.0.1', port: 0 });
  const ep = await connectMsgq(server.target, 3);
  const client = createRmClient({ transport: ep, timeoutMs: 5000 });
  const rm = new RmCalls(client);
  expect(await rm.getVmid()).toBe(3);
  const vmid = await rm.allocVmid();
  expect(vmid).toBe(0x80);
  expect((await rm.vmGetState(vmid)).vmStatus).toBe(VmStatus.LOAD);
  // A 10 KiB request crosses the socket as 45 frames through a depth-8 queue.
  await expect(client.call(0x5600_0004, new Uint8Array(10240))).rejects.toMatchObject({ rmName: 'MSG_INVALID' });
  await rm.deallocVmid(vmid);
  client.close();
  await ep.close();
  await server.close();
  expect(emu.checkInvariants()).toEqual([]);
  emu.close();
});
