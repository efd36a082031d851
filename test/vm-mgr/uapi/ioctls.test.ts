// Golden ioctl numbers: the values of uapi.md §2's table, typed by hand, against the _IOC
// encoding of §1 as ioctls.ts builds it. Provenance: uapi.md (Linux v17 include/uapi/linux/gunyah.h).
import { describe, it, expect } from 'vitest';
import {
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_CREATE_VM,
  GUNYAH_IOCTL_TYPE,
  GUNYAH_VCPU_MMAP_SIZE,
  GUNYAH_VCPU_RUN,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_REMOVE_FUNCTION,
  GUNYAH_VM_SET_BOOT_CONTEXT,
  GUNYAH_VM_SET_DTB_CONFIG,
  GUNYAH_VM_START,
  GunyahIoctl,
  _IO,
  _IOC,
  _IOR,
  _IOW,
  _IOWR,
  decodeIoctl,
  gunyahIoctlName,
} from '../../../src/vm-mgr/uapi/index.js';

// [name, value from the sheet, dir, size, nr]
const TABLE: Array<[keyof typeof GunyahIoctl, number, number, number, number]> = [
  ['GUNYAH_CREATE_VM', 0x0000_4700, 0, 0, 0x0],
  ['GUNYAH_VM_SET_DTB_CONFIG', 0x4010_4702, 1, 16, 0x2],
  ['GUNYAH_VM_START', 0x0000_4703, 0, 0, 0x3],
  ['GUNYAH_VM_ADD_FUNCTION', 0x4010_4704, 1, 16, 0x4],
  ['GUNYAH_VCPU_RUN', 0x0000_4705, 0, 0, 0x5],
  ['GUNYAH_VCPU_MMAP_SIZE', 0x0000_4706, 0, 0, 0x6],
  ['GUNYAH_VM_REMOVE_FUNCTION', 0x4010_4707, 1, 16, 0x7],
  ['GUNYAH_CREATE_GUEST_MEM', 0x4040_4708, 1, 64, 0x8],
  ['GUNYAH_VM_MAP_MEM', 0x4020_4709, 1, 32, 0x9],
  ['GUNYAH_VM_SET_BOOT_CONTEXT', 0x4010_470a, 1, 16, 0xa],
];

describe('ioctl numbers (uapi.md §2)', () => {
  it.each(TABLE)('%s', (name, value, dir, size, nr) => {
    expect(GunyahIoctl[name]).toBe(value);
    expect(gunyahIoctlName(value)).toBe(name);
    expect(decodeIoctl(value)).toEqual({ dir, size, type: 0x47, nr });
  });

  it('the named exports equal the table', () => {
    expect([
      GUNYAH_CREATE_VM,
      GUNYAH_VM_SET_DTB_CONFIG,
      GUNYAH_VM_START,
      GUNYAH_VM_ADD_FUNCTION,
      GUNYAH_VCPU_RUN,
      GUNYAH_VCPU_MMAP_SIZE,
      GUNYAH_VM_REMOVE_FUNCTION,
      GUNYAH_CREATE_GUEST_MEM,
      GUNYAH_VM_MAP_MEM,
      GUNYAH_VM_SET_BOOT_CONTEXT,
    ]).toEqual(TABLE.map(([, v]) => v));
    expect(Object.keys(GunyahIoctl)).toEqual(TABLE.map(([n]) => n));
  });

  it('nr 0x1 is unused in v17; unknown numbers have no name', () => {
    expect(gunyahIoctlName(0x4701)).toBeUndefined();
    expect(gunyahIoctlName(0x4020_4701)).toBeUndefined();
    expect(gunyahIoctlName(0)).toBeUndefined();
  });
});

describe('_IOC encoding (uapi.md §1)', () => {
  it('builds and splits numbers as asm-generic does', () => {
    expect(GUNYAH_IOCTL_TYPE).toBe(0x47);
    expect(_IO(0x47, 0x3)).toBe(0x4703);
    expect(_IOW(0x47, 0x9, 32)).toBe(0x4020_4709);
    expect(_IOR(0xae, 0x01, 8)).toBe(0x8008_ae01);
    expect(_IOWR(0xae, 0x02, 0x3fff)).toBe(0xffff_ae02);
    expect(_IOC(3, 0xff, 0xff, 0x3fff)).toBe(0xffff_ffff);
    expect(decodeIoctl(0xc008_ae05)).toEqual({ dir: 3, size: 8, type: 0xae, nr: 5 });
    expect(decodeIoctl(0xc008_ae05 | 0)).toEqual({ dir: 3, size: 8, type: 0xae, nr: 5 });
  });

  it('rejects fields that do not fit', () => {
    expect(() => _IOW(0x47, 0x100, 4)).toThrow(RangeError);
    expect(() => _IOW(0x100, 1, 4)).toThrow(RangeError);
    expect(() => _IOW(0x47, 1, 0x4000)).toThrow(RangeError);
    expect(() => _IOC(4, 0x47, 1, 0)).toThrow(RangeError);
  });
});
