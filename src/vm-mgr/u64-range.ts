/**
 * Guest-address arithmetic the VM ioctls check before they store a range: whether
 * `start + size` goes past the last u64 address (the kernel's `check_add_overflow` on a u64),
 * and a size rounded up to whole 4 KiB pages. 64-bit values are bigint end to end.
 *
 * Reference: uapi.md §6.2 (SET_DTB_CONFIG's overflow row, QUIRK K1 where v17 never fires it);
 * README.md §Dialects and docs/gh-dialect.md (gh_: SET_DTB_CONFIG and the region ioctls return
 * EOVERFLOW).
 */
import { PAGE_SIZE } from './page-allocator.js';

const U64_LIMIT = 1n << 64n;
const PAGE = BigInt(PAGE_SIZE);

/** True when `[start, start + size)` does not fit below 2^64 (an end of exactly 2^64 wraps too). */
export function endBeyondU64(start: bigint, size: bigint): boolean {
  return start + size > U64_LIMIT - 1n;
}

/** `size` rounded up to a multiple of the 4 KiB page. */
export function roundUpToPage(size: bigint): bigint {
  return ((size + PAGE - 1n) / PAGE) * PAGE;
}

/** True when `v` is a multiple of the 4 KiB page. */
export function pageAligned(v: bigint): boolean {
  return v % PAGE === 0n;
}
