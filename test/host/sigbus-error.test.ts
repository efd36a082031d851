// SigbusError (src/shared/sigbus-error.ts): the faulting address, the name, the guard.
import { describe, it, expect } from 'vitest';
import { SigbusError, isSigbusError } from '../../src/shared/sigbus-error.js';
import { ErrnoError } from '../../src/shared/errno.js';

describe('SigbusError', () => {
  it('carries the faulting address and an optional detail', () => {
    const e = new SigbusError(0x7f00_0000_1000n, 'page lent to VM 45');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('SigbusError');
    expect(e.address).toBe(0x7f00_0000_1000n);
    expect(e.detail).toBe('page lent to VM 45');
    expect(e.message).toBe('SIGBUS at 0x7f0000001000: page lent to VM 45');
    expect(new SigbusError(0x10n).message).toBe('SIGBUS at 0x10');
  });

  it('isSigbusError accepts only SigbusErrors', () => {
    expect(isSigbusError(new SigbusError(1n))).toBe(true);
    expect(isSigbusError(new ErrnoError('EFAULT'))).toBe(false);
    expect(isSigbusError({ name: 'SigbusError', address: 1n })).toBe(false);
  });
});
