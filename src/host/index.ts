/**
 * The host process model: fd table, user memory, mappings and eventfds, over the kernel-file
 * contract. Reference: DESIGN.md "Public contracts" (HostProcess).
 */
export { HostProcess, FIRST_FD } from './process.js';
export type { HostProcessOptions, Mapping, MappingInfo, OpenFdInfo } from './process.js';
export { EventFdFile, isEventFd, EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC } from './eventfd.js';
export { ProcessMemory, HOST_PAGE_SIZE, USER_BASE, MAX_ALLOCATION, pageAlignUp } from './user-memory.js';
export type { IoctlContext, KernelFile, MappingBackend, UserMemory } from './kernel-file.js';
