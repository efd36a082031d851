/*
 * sample-vmm: a small VMM in C against the Linux /dev/gunyah UAPI, in either dialect: v17
 * `gunyah_` (the default) or the v14 / Android `gh_` one (`--dialect gh`). It boots a holding-cell
 * VM (vmm-flows.md §2 boot order for v17, §3/§4 and the kernel sample's order for gh_; §6
 * holding-cell protocol), drives a few commands, prints what it sees and tears the VM down. Exit
 * status 0 when every step gave the expected answer.
 *
 * Usage: sample-vmm DTB_FILE [--dialect v17|gh] [--share] [--implicit-start] [--check-extension ID]
 *                            [--register-twice] [--sigbus-child] [--ioeventfd] [--pause] [--irqfd IMAGE LABEL [--no-ring] [--kick]]
 *                            [--mmio-loop N IMAGE]
 *   DTB_FILE  the VM's device tree blob (one vCPU, memory at 0x8000_0000; see src/vmm/vm-dtb.ts)
 *   --dialect gh    speak gh_: guest RAM is this process's own anonymous shared memory
 *                   (mmap MAP_SHARED | MAP_ANONYMOUS) registered with GH_VM_ANDROID_LEND_USER_MEM
 *                   (lent, the default, as crosvm does for a protected VM's RAM) or, with --share,
 *                   GH_VM_SET_USER_MEM_REGION (shared, as the kernel sample and QEMU do). There is
 *                   no boot context: the RM enters the guest at the base of the RAM holding the
 *                   DTB with X0 = the DTB's address, so the image is at offset 0 of the RAM. The
 *                   holding cell needs nothing else at entry (without a boot SP it skips its
 *                   stack touch, docs/guest-images.md). MMIO completion is implicit (no
 *                   resume_action). It prints where its RAM is ("ram: SIZE bytes at ADDR") and asks
 *                   GH_VM_CHECK_EXTENSION(GH_CAP_VCPU_TIMER_WAKEUP = 0), as crosvm does, and prints
 *                   the answer
 *   --check-extension ID  gh_ only: ask capability ID instead of 0
 *   --register-twice  gh_ only: after registering the RAM, register (1) the same region again,
 *                   (2) the RAM's second page alone as region 1 at 0x9000_1000, (3) a range that
 *                   overlaps the RAM and goes one page past it, (4) a page no longer mapped; print
 *                   each answer, then tear down without starting (the preload shim's reuse of
 *                   converted memory and its refusals, docs/running-your-vmm.md)
 *   --share         gh_ only: share the RAM instead of lending it; after the commands the VMM and
 *                   the guest exchange a value through it (a shared page is coherent both ways)
 *   --implicit-start  gh_ only: no GH_VM_START; the first GH_VCPU_RUN starts the VM (Q1)
 *   --sigbus-child  after START, fork a child that touches a lent page of guest memory; report how
 *                   it died (a real SIGBUS is expected on hardware and through the preload shim).
 *                   With --share the page stays the host's and the child exits 0
 *   --ioeventfd     add an ioeventfd at 0x6_0000 (datamatch 0x77) and drive write_io at it
 *   --pause         after the commands, print "paused" and sleep (to be killed mid-run)
 *   --no-ring       with --irqfd: print "sleeping" and RUN with nobody to write the eventfd, so the
 *                   vCPU sleeps in the kernel until the process is killed
 *   --irqfd IMAGE LABEL  boot IMAGE (a guest program: store 1 at 0x6000, wait for the doorbell's
 *                   interrupt, store 2 at 0x6000) instead of the holding cell, with an irqfd on
 *                   doorbell LABEL; another thread writes the eventfd while the vCPU sleeps
 *   --kick          with --irqfd: before the doorbell rings, kick the vCPU as crosvm and QEMU do
 *                   (vmm-flows.md §7 "Kick another vCPU"): another thread sends SIGUSR1 to the
 *                   vCPU thread while its RUN sleeps in wfi, and the handler only sets
 *                   immediate_exit in the run page. The RUN must return EINTR (uapi.md §8.9); the
 *                   VMM prints "kick: RUN returned EINTR after >= 100 ms (immediate_exit 1)",
 *                   clears the flag and goes on as --irqfd does
 *   --mmio-loop N IMAGE  boot IMAGE (a guest program looping on a 64-bit read of 0x6000 and
 *                   checking it reads 0x1122334455667788, bench/lib/vm-boot.ts) instead of the
 *                   holding cell, answer N of its reads and print
 *                   "mmio-loop: N exits in T ns (cpu C ns)" (wall-clock and process CPU time of
 *                   the N exits, CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID), then tear down
 *
 * The UAPI definitions below are written from uapi.md §1–§5 and README.md §Dialects (our own, no
 * kernel header used). Run against the emulator with LD_PRELOAD=native/build/libgunyah-emu-preload.so
 * and GUNYAH_EMU_SOCKET=/path/to/daemon.sock, plus GUNYAH_EMU_DIALECT=gh with --dialect gh
 * (docs/running-your-vmm.md, docs/host-bridge-protocol.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* uapi.md §1: dir 31:30, size 29:16, type 15:8, nr 7:0. Type 'G' (0x47); gh_ adds 'A' (0x41). */
#define G_IO(nr) (0x4700u | (nr))
#define G_IOW(nr, size) (0x40000000u | ((uint32_t)(size) << 16) | 0x4700u | (nr))
#define A_IO(nr) (0x4100u | (nr))
#define A_IOW(nr, size) (0x40000000u | ((uint32_t)(size) << 16) | 0x4100u | (nr))

struct gunyah_create_mem_args { uint64_t flags, size, reserved[6]; };
struct gunyah_vm_dtb_config { uint64_t guest_phys_addr, size; };
struct gunyah_fn_desc { uint32_t type, arg_size; uint64_t arg; };
struct gunyah_fn_vcpu_arg { uint32_t id; };
struct gunyah_map_mem_args { uint64_t guest_addr; uint32_t flags, guest_mem_fd; uint64_t offset, size; };
struct gunyah_vm_boot_context { uint32_t reg, reserved; uint64_t value; };
struct gunyah_vcpu_run {
  uint8_t immediate_exit, padding[7];
  uint32_t exit_reason, pad;
  union {
    struct { uint64_t phys_addr; uint8_t data[8]; uint32_t len; uint8_t is_write, resume_action, pad[2]; } mmio;
    struct { uint32_t status; uint16_t type, padding; uint32_t reason_size; uint8_t reason[8]; } status;
    uint8_t raw[24];
  };
};
_Static_assert(sizeof(struct gunyah_create_mem_args) == 64, "create_mem_args");
_Static_assert(sizeof(struct gunyah_map_mem_args) == 32, "map_mem_args");
_Static_assert(sizeof(struct gunyah_vcpu_run) == 40, "vcpu_run");

#define GUNYAH_CREATE_VM G_IO(0x0)
#define GUNYAH_VM_SET_DTB_CONFIG G_IOW(0x2, sizeof(struct gunyah_vm_dtb_config))
#define GUNYAH_VM_START G_IO(0x3)
#define GUNYAH_VM_ADD_FUNCTION G_IOW(0x4, sizeof(struct gunyah_fn_desc))
#define GUNYAH_VCPU_RUN G_IO(0x5)
#define GUNYAH_VCPU_MMAP_SIZE G_IO(0x6)
#define GUNYAH_VM_REMOVE_FUNCTION G_IOW(0x7, sizeof(struct gunyah_fn_desc))
#define GUNYAH_CREATE_GUEST_MEM G_IOW(0x8, sizeof(struct gunyah_create_mem_args))
#define GUNYAH_VM_MAP_MEM G_IOW(0x9, sizeof(struct gunyah_map_mem_args))
#define GUNYAH_VM_SET_BOOT_CONTEXT G_IOW(0xa, sizeof(struct gunyah_vm_boot_context))

/* gh_ (README.md §Dialects). nr 0x0, 0x2–0x7 are the v17 numbers above under GH_ names. */
struct gh_userspace_memory_region { uint32_t label, flags; uint64_t guest_phys_addr, memory_size, userspace_addr; };
_Static_assert(sizeof(struct gh_userspace_memory_region) == 32, "gh_userspace_memory_region");
#define GH_VM_SET_USER_MEM_REGION G_IOW(0x1, sizeof(struct gh_userspace_memory_region))
#define GH_VM_ANDROID_LEND_USER_MEM A_IOW(0x11, sizeof(struct gh_userspace_memory_region))
#define GH_VM_CHECK_EXTENSION A_IO(0x17)
#define GH_CAP_VCPU_TIMER_WAKEUP 0u
#define GH_MEM_ALLOW_READ 0x1u
#define GH_MEM_ALLOW_WRITE 0x2u
#define GH_MEM_ALLOW_EXEC 0x4u

#define GUNYAH_FN_VCPU 1u
#define GUNYAH_FN_IRQFD 2u
#define GUNYAH_FN_IOEVENTFD 3u
#define GUNYAH_IOEVENTFD_FLAGS_DATAMATCH 0x1u

struct gunyah_fn_irqfd_arg { uint32_t fd, label, flags, padding; };
struct gunyah_fn_ioeventfd_arg { uint64_t datamatch, addr; uint32_t len; int32_t fd; uint32_t flags, padding; };
_Static_assert(sizeof(struct gunyah_fn_ioeventfd_arg) == 32, "ioeventfd_arg");
#define GUNYAH_MEM_FORCE_LEND 0x1u
#define GUNYAH_MEM_ALLOW_RWX 0x70u
#define GUNYAH_VCPU_EXIT_MMIO 1u

#define PAGE 4096u
#define GUEST_BASE 0x80000000ull
#define CMD_REG 0x6000ull
#define EXC_REG 0x7000ull

enum { CMD_OK = 0, CMD_READ_ADDR = 2, CMD_WRITE_ADDR = 3, CMD_LOOPBACK = 4, CMD_MAGIC = 5, CMD_WRITE_IO = 9 };
#define IOE_ADDR 0x60000ull
#define LOOP_VALUE 0x1122334455667788ull

static int vcpu_fd;
static struct gunyah_vcpu_run *run;
static int gh; /* --dialect gh */

/* On failure: the message, then the errno the failed call left (saved first: fprintf may change it). */
#define CHECK(cond, ...) do { if (!(cond)) { int e_ = errno; fprintf(stderr, "sample-vmm: " __VA_ARGS__); fprintf(stderr, " (errno %d %s)\n", e_, strerror(e_)); exit(1); } } while (0)

static uint64_t mmio_data(void) { uint64_t v; memcpy(&v, run->mmio.data, 8); return v; }

/* RUN until an MMIO exit; anything else is a failure. */
static void run_to_mmio(void) {
  for (;;) {
    int r = ioctl(vcpu_fd, GUNYAH_VCPU_RUN, 0);
    if (r < 0 && errno == EINTR) continue;
    CHECK(r == 0, "GUNYAH_VCPU_RUN failed");
    CHECK(run->exit_reason == GUNYAH_VCPU_EXIT_MMIO, "unexpected exit reason %u", run->exit_reason);
    CHECK(run->mmio.phys_addr != EXC_REG, "guest exception reported, ESR 0x%" PRIx64, mmio_data());
    return;
  }
}

/* Answer the pending read of 0x6000 with `v`, then run to the next MMIO exit. */
static void supply(uint64_t v) {
  CHECK(run->mmio.phys_addr == CMD_REG && !run->mmio.is_write && run->mmio.len == 8,
        "expected a read of 0x6000, got %s at 0x%" PRIx64, run->mmio.is_write ? "write" : "read", (uint64_t)run->mmio.phys_addr);
  memcpy(run->mmio.data, &v, 8);
  if (!gh) run->mmio.resume_action = 0; /* v17: HANDLED. gh_: offset 37 is padding, completion is implicit */
  run_to_mmio();
}

/* One holding-cell command (vmm-flows.md §6.5), starting at a pending read of 0x6000. */
static uint64_t command(unsigned id, unsigned nargs, const uint64_t *args) {
  supply((uint64_t)id | ((uint64_t)nargs << 8));
  for (unsigned i = 0; i < nargs; i++) supply(args[i]);
  CHECK(run->mmio.phys_addr == CMD_REG && run->mmio.is_write && run->mmio.len == 8, "expected the result write at 0x6000");
  uint64_t result = mmio_data();
  run_to_mmio(); /* the guest polls for the next command */
  return result;
}

/* --kick: the VMM's kick signal handler. It only sets immediate_exit (async-signal-safe). */
static void on_kick(int sig) {
  (void)sig;
  *(volatile uint8_t *)&run->immediate_exit = 1;
}

/* Sends SIGUSR1 to the vCPU thread after a while, when its RUN sleeps in wfi. */
static void *kick_later(void *p) {
  pthread_t vcpu_thread = *(pthread_t *)p;
  struct timespec ts = { 0, 200 * 1000 * 1000 };
  nanosleep(&ts, NULL);
  int e = pthread_kill(vcpu_thread, SIGUSR1);
  if (e != 0) fprintf(stderr, "sample-vmm: pthread_kill: %s\n", strerror(e));
  return NULL;
}

static long ms_between(const struct timespec *a, const struct timespec *b) {
  return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Writes 1 to the irqfd's eventfd after a while, when the vCPU sleeps in wfi. */
static void *ring_later(void *p) {
  int efd = *(int *)p;
  struct timespec ts = { 0, 200 * 1000 * 1000 };
  nanosleep(&ts, NULL);
  uint64_t one = 1;
  if (write(efd, &one, 8) != 8) perror("sample-vmm: eventfd write");
  return NULL;
}

/* The whole of a DTB or image file, at most MAX_FILE bytes (a larger one is refused, not cut). */
#define MAX_FILE 65536u
static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL, "cannot open %s", path);
  unsigned char *buf = malloc(MAX_FILE + 1);
  CHECK(buf != NULL, "out of memory");
  *len = fread(buf, 1, MAX_FILE + 1, f);
  CHECK(!ferror(f), "cannot read %s", path);
  CHECK(*len <= MAX_FILE, "%s is larger than %u bytes", path, MAX_FILE);
  fclose(f);
  return buf;
}

/* v17 memory (vmm-flows.md §2 steps 3–4): a guest_memfd file, lent at 0x8000_0000. */
static int v17_memory(int dev, int vm, uint64_t mem_size) {
  struct gunyah_create_mem_args cm = { .flags = 0, .size = mem_size };
  int gmem = ioctl(dev, GUNYAH_CREATE_GUEST_MEM, &cm);
  CHECK(gmem >= 0, "GUNYAH_CREATE_GUEST_MEM");
  struct gunyah_map_mem_args mm = { .guest_addr = GUEST_BASE, .flags = GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX,
                                    .guest_mem_fd = (uint32_t)gmem, .offset = 0, .size = mem_size };
  CHECK(ioctl(vm, GUNYAH_VM_MAP_MEM, &mm) == 0, "GUNYAH_VM_MAP_MEM");
  return gmem;
}

/* v17 load (steps 7–11): the image and the DTB written through a temporary mapping; PC and SP
 * through the boot context. */
static void v17_load(int vm, int gmem, const unsigned char *image, size_t image_len, const unsigned char *dtb, size_t dtb_len,
                     uint64_t bin_size, uint64_t dtb_size, uint64_t mem_size) {
  unsigned char *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, 0);
  CHECK(mem != MAP_FAILED, "mmap of guest memory");
  memcpy(mem + bin_size, dtb, dtb_len);
  memcpy(mem, image, image_len);
  CHECK(munmap(mem, mem_size) == 0, "munmap of guest memory");
  const uint64_t dtb_start = GUEST_BASE + bin_size;
  struct gunyah_vm_dtb_config dc = { .guest_phys_addr = dtb_start, .size = dtb_size };
  CHECK(ioctl(vm, GUNYAH_VM_SET_DTB_CONFIG, &dc) == 0, "GUNYAH_VM_SET_DTB_CONFIG");
  struct gunyah_vm_boot_context pc = { .reg = 0x100, .value = GUEST_BASE };
  CHECK(ioctl(vm, GUNYAH_VM_SET_BOOT_CONTEXT, &pc) == 0, "boot context PC");
  struct gunyah_vm_boot_context sp = { .reg = 0x201, .value = dtb_start + 8192 };
  CHECK(ioctl(vm, GUNYAH_VM_SET_BOOT_CONTEXT, &sp) == 0, "boot context SP");
}

/* gh_ memory (vmm-flows.md §3 step 2, §4, the kernel sample): guest RAM is this process's
 * anonymous shared memory, registered by its address. The image goes in before the registration
 * and the DTB after it (gh_load; crosvm builds its DT late), so both ways of filling user memory
 * are exercised. */
/* A gh_ region ioctl; prints "what: ok" or "what: errno N". */
static void try_region(int vm, int share, const char *what, uint32_t label, uint64_t gpa, uint64_t size, const unsigned char *uaddr) {
  struct gh_userspace_memory_region r = { .label = label, .flags = GH_MEM_ALLOW_READ | GH_MEM_ALLOW_WRITE | GH_MEM_ALLOW_EXEC,
                                          .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uint64_t)(uintptr_t)uaddr };
  int rc = ioctl(vm, share ? GH_VM_SET_USER_MEM_REGION : GH_VM_ANDROID_LEND_USER_MEM, &r);
  if (rc == 0) printf("%s: ok\n", what);
  else printf("%s: errno %d\n", what, errno);
}

static unsigned char *gh_memory(int vm, int share, const unsigned char *image, size_t image_len, uint64_t mem_size) {
  unsigned char *ram = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(ram != MAP_FAILED, "mmap of the guest RAM");
  printf("ram: 0x%" PRIx64 " bytes at %p\n", mem_size, (void *)ram);
  memcpy(ram, image, image_len);
  struct gh_userspace_memory_region region = {
    .label = 0, .flags = GH_MEM_ALLOW_READ | GH_MEM_ALLOW_WRITE | GH_MEM_ALLOW_EXEC,
    .guest_phys_addr = GUEST_BASE, .memory_size = mem_size, .userspace_addr = (uint64_t)(uintptr_t)ram,
  };
  if (share) CHECK(ioctl(vm, GH_VM_SET_USER_MEM_REGION, &region) == 0, "GH_VM_SET_USER_MEM_REGION");
  else CHECK(ioctl(vm, GH_VM_ANDROID_LEND_USER_MEM, &region) == 0, "GH_VM_ANDROID_LEND_USER_MEM");
  return ram;
}

/* gh_ load (§3 steps 6–9): the DTB into the RAM, CHECK_EXTENSION, DTB config; no boot context. */
static void gh_load(int vm, unsigned char *ram, const unsigned char *dtb, size_t dtb_len, uint64_t bin_size, uint64_t dtb_size,
                    unsigned long capability) {
  memcpy(ram + bin_size, dtb, dtb_len);
  int cap = ioctl(vm, GH_VM_CHECK_EXTENSION, capability); /* an integer argument, not a pointer */
  CHECK(cap >= 0, "GH_VM_CHECK_EXTENSION");
  printf("check-extension 0x%lx -> %d\n", capability, cap);
  /* The RM enters at the RAM base (the image) with X0 = the DTB: no boot context in gh_. */
  struct gunyah_vm_dtb_config dc = { .guest_phys_addr = GUEST_BASE + bin_size, .size = dtb_size };
  CHECK(ioctl(vm, GUNYAH_VM_SET_DTB_CONFIG, &dc) == 0, "GH_VM_SET_DTB_CONFIG");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: sample-vmm DTB_FILE [--dialect v17|gh] [--share] [--implicit-start] [--check-extension ID] [--register-twice] [--sigbus-child] [--ioeventfd] [--pause] [--irqfd IMAGE LABEL [--no-ring] [--kick]] [--mmio-loop N IMAGE]\n");
    return 2;
  }
  int sigbus_child = 0, use_ioeventfd = 0, pause_after = 0, no_ring = 0, share = 0, implicit_start = 0, register_twice = 0, kick = 0;
  const char *irq_image = NULL, *loop_image = NULL;
  uint32_t irq_label = 0;
  unsigned long long loop_n = 0;
  unsigned long capability = GH_CAP_VCPU_TIMER_WAKEUP;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--sigbus-child") == 0) sigbus_child = 1;
    else if (strcmp(argv[i], "--ioeventfd") == 0) use_ioeventfd = 1;
    else if (strcmp(argv[i], "--pause") == 0) pause_after = 1;
    else if (strcmp(argv[i], "--no-ring") == 0) no_ring = 1;
    else if (strcmp(argv[i], "--kick") == 0) kick = 1;
    else if (strcmp(argv[i], "--share") == 0) share = 1;
    else if (strcmp(argv[i], "--implicit-start") == 0) implicit_start = 1;
    else if (strcmp(argv[i], "--register-twice") == 0) register_twice = 1;
    else if (strcmp(argv[i], "--check-extension") == 0 && i + 1 < argc) { capability = strtoul(argv[i + 1], NULL, 0); i += 1; }
    else if (strcmp(argv[i], "--dialect") == 0 && i + 1 < argc && (strcmp(argv[i + 1], "gh") == 0 || strcmp(argv[i + 1], "v17") == 0)) { gh = strcmp(argv[i + 1], "gh") == 0; i += 1; }
    else if (strcmp(argv[i], "--irqfd") == 0 && i + 2 < argc) { irq_image = argv[i + 1]; irq_label = (uint32_t)strtoul(argv[i + 2], NULL, 0); i += 2; }
    else if (strcmp(argv[i], "--mmio-loop") == 0 && i + 2 < argc) { loop_n = strtoull(argv[i + 1], NULL, 0); loop_image = argv[i + 2]; i += 2; }
    else { fprintf(stderr, "sample-vmm: unknown argument %s\n", argv[i]); return 2; }
  }
  if (kick && (irq_image == NULL || no_ring)) {
    fprintf(stderr, "sample-vmm: --kick needs --irqfd (and no --no-ring)\n");
    return 2;
  }
  if (!gh && (share || implicit_start || register_twice)) {
    fprintf(stderr, "sample-vmm: --share, --implicit-start and --register-twice need --dialect gh\n");
    return 2;
  }
  size_t dtb_len;
  unsigned char *dtb = read_file(argv[1], &dtb_len);

  /* The holding-cell image (docs/guest-images.md): "GEMUHOLD", version 1, length 64, zeros. */
  unsigned char hold[64] = { 'G', 'E', 'M', 'U', 'H', 'O', 'L', 'D', 1, 0, 0, 0, 64, 0, 0, 0 };
  unsigned char *image = hold;
  size_t image_len = sizeof hold;
  if (irq_image) image = read_file(irq_image, &image_len);
  else if (loop_image) image = read_file(loop_image, &image_len);

  int dev = open("/dev/gunyah", O_RDWR | O_CLOEXEC);
  CHECK(dev >= 0, "open /dev/gunyah");
  int vm = ioctl(dev, GUNYAH_CREATE_VM, 0);
  CHECK(vm >= 0, "GUNYAH_CREATE_VM");

  const uint64_t bin_size = (image_len + PAGE - 1) / PAGE * PAGE, dtb_size = (dtb_len + PAGE - 1) / PAGE * PAGE;
  const uint64_t mem_size = bin_size + dtb_size + 1 * PAGE + PAGE; /* image, DTB, one stack page, spare */
  int gmem = -1;
  unsigned char *ram = NULL; /* gh_: the guest RAM in this process */
  if (gh) ram = gh_memory(vm, share, image, image_len, mem_size);
  else gmem = v17_memory(dev, vm, mem_size);
  if (register_twice) {
    try_region(vm, share, "same region again", 0, GUEST_BASE, mem_size, ram);
    try_region(vm, share, "second page as region 1", 1, 0x90001000ull, PAGE, ram + PAGE);
    try_region(vm, share, "overlapping range", 2, 0xa0000000ull, mem_size, ram + PAGE);
    unsigned char *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED && munmap(gone, PAGE) == 0, "mmap and munmap of a page");
    try_region(vm, share, "unmapped range", 3, 0xb0000000ull, PAGE, gone);
    CHECK(close(vm) == 0, "close vm");
    CHECK(munmap(ram, mem_size) == 0, "munmap of the guest RAM");
    CHECK(close(dev) == 0, "close /dev/gunyah");
    printf("teardown ok\n");
    return 0;
  }

  struct gunyah_fn_vcpu_arg va = { .id = 0 };
  struct gunyah_fn_desc fd = { .type = GUNYAH_FN_VCPU, .arg_size = sizeof va, .arg = (uint64_t)(uintptr_t)&va };
  vcpu_fd = ioctl(vm, GUNYAH_VM_ADD_FUNCTION, &fd);
  CHECK(vcpu_fd >= 0, "GUNYAH_VM_ADD_FUNCTION vcpu");
  int run_size = ioctl(vcpu_fd, GUNYAH_VCPU_MMAP_SIZE, 0);
  CHECK(run_size >= (int)sizeof *run, "GUNYAH_VCPU_MMAP_SIZE gave %d", run_size);
  run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
  CHECK(run != MAP_FAILED, "mmap of the run page");

  if (gh) gh_load(vm, ram, dtb, dtb_len, bin_size, dtb_size, capability);
  else v17_load(vm, gmem, image, image_len, dtb, dtb_len, bin_size, dtb_size, mem_size);
  free(dtb);
  if (image != hold) free(image);

  int irq_efd = -1;
  struct gunyah_fn_irqfd_arg ia;
  struct gunyah_fn_desc ifd;
  if (irq_image) {
    irq_efd = eventfd(0, EFD_CLOEXEC);
    CHECK(irq_efd >= 0, "eventfd");
    ia = (struct gunyah_fn_irqfd_arg){ .fd = (uint32_t)irq_efd, .label = irq_label, .flags = 0 };
    ifd = (struct gunyah_fn_desc){ .type = GUNYAH_FN_IRQFD, .arg_size = sizeof ia, .arg = (uint64_t)(uintptr_t)&ia };
    CHECK(ioctl(vm, GUNYAH_VM_ADD_FUNCTION, &ifd) == 0, "GUNYAH_VM_ADD_FUNCTION irqfd");
  }
  /* For --sigbus-child in v17: a mapping made before START and never written by the host (a
   * mapping made after START cannot reclaim the pages the guest owns: EBUSY). In gh_ the child
   * touches the RAM mapping itself. */
  unsigned char *m2 = NULL;
  if (sigbus_child && !gh) {
    m2 = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, 0);
    CHECK(m2 != MAP_FAILED, "mmap of guest memory before START");
  }
  if (implicit_start) {
    printf("start: by the first GH_VCPU_RUN\n");
  } else {
    CHECK(ioctl(vm, GUNYAH_VM_START, 0) == 0, "GUNYAH_VM_START");
    printf("started\n");
  }

  if (irq_image) {
    run_to_mmio();
    CHECK(run->mmio.phys_addr == CMD_REG && run->mmio.is_write, "irqfd guest: expected its first store at 0x6000");
    printf("irqfd guest: store %" PRIu64 "\n", mmio_data());
    if (no_ring) {
      printf("sleeping\n");
      run_to_mmio();
      CHECK(0, "the vCPU woke up with no doorbell rung");
    }
    if (kick) {
      /* No SA_RESTART, as the kick signals of crosvm and QEMU. */
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_kick;
      sigemptyset(&sa.sa_mask);
      CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction SIGUSR1");
      pthread_t self = pthread_self(), kicker;
      CHECK(pthread_create(&kicker, NULL, kick_later, &self) == 0, "pthread_create");
      struct timespec k0, k1;
      clock_gettime(CLOCK_MONOTONIC, &k0);
      int r = ioctl(vcpu_fd, GUNYAH_VCPU_RUN, 0); /* sleeps in wfi until the kick */
      int e = errno;
      clock_gettime(CLOCK_MONOTONIC, &k1);
      pthread_join(kicker, NULL);
      errno = e;
      CHECK(r == -1 && e == EINTR, "kick: expected the sleeping RUN to end with EINTR, it returned %d", r);
      printf("kick: RUN returned EINTR after %s (immediate_exit %u)\n", ms_between(&k0, &k1) >= 100 ? ">= 100 ms" : "< 100 ms", run->immediate_exit);
      run->immediate_exit = 0; /* the kernel never clears it: the VMM does, then runs again */
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, ring_later, &irq_efd) == 0, "pthread_create");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_to_mmio(); /* sleeps in wfi until the doorbell rings */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    long slept_ms = ms_between(&t0, &t1);
    CHECK(run->mmio.phys_addr == CMD_REG && run->mmio.is_write, "irqfd guest: expected its second store at 0x6000");
    printf("irqfd guest: store %" PRIu64 " after the eventfd write (the RUN slept %s)\n", mmio_data(), slept_ms >= 100 ? ">= 100 ms" : "< 100 ms");
    CHECK(ioctl(vm, GUNYAH_VM_REMOVE_FUNCTION, &ifd) == 0, "GUNYAH_VM_REMOVE_FUNCTION irqfd");
    CHECK(close(irq_efd) == 0, "close irqfd eventfd");
    goto teardown;
  }

  if (loop_image) {
    /* Every exit is an 8-byte read of 0x6000; the guest checks the value (a wrong one crashes it,
     * and the next RUN is a STATUS exit, which run_to_mmio refuses). */
    run_to_mmio();
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (unsigned long long i = 0; i < loop_n; i++) supply(LOOP_VALUE);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(run->mmio.phys_addr == CMD_REG && !run->mmio.is_write && run->mmio.len == 8, "mmio loop: expected a read of 0x6000 at the end");
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    long long cpu = (long long)(c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec);
    printf("mmio-loop: %llu exits in %lld ns (cpu %lld ns)\n", loop_n, ns, cpu);
    goto teardown;
  }

  run_to_mmio();
  printf("first exit: mmio %s 0x%" PRIx64 " len %u\n", run->mmio.is_write ? "write" : "read", (uint64_t)run->mmio.phys_addr, run->mmio.len);

  uint64_t a;
  printf("ok -> %" PRId64 "\n", (int64_t)command(CMD_OK, 0, NULL));
  a = 0x12345678abcdull;
  printf("loopback 0x%" PRIx64 " -> 0x%" PRIx64 "\n", a, command(CMD_LOOPBACK, 1, &a));
  a = 0xdeadf00dull;
  printf("magic 0x%" PRIx64 " -> %" PRIu64 "\n", a, command(CMD_MAGIC, 1, &a));
  a = 1;
  printf("magic 0x%" PRIx64 " -> %" PRIu64 "\n", a, command(CMD_MAGIC, 1, &a));

  if (share) {
    /* The last page of the RAM is shared: what the VMM stores the guest loads, and back. */
    const uint64_t off = mem_size - PAGE;
    const uint64_t host_value = 0x0123456789abcdefull, guest_value = 0xfedcba9876543210ull;
    memcpy(ram + off, &host_value, 8);
    uint64_t ra = GUEST_BASE + off;
    printf("shared: guest read_addr -> 0x%" PRIx64 "\n", command(CMD_READ_ADDR, 1, &ra));
    uint64_t wa[2] = { GUEST_BASE + off + 8, guest_value };
    CHECK(command(CMD_WRITE_ADDR, 2, wa) == 0, "write_addr");
    uint64_t seen;
    memcpy(&seen, ram + off + 8, 8);
    printf("shared: host load after the guest's write_addr -> 0x%" PRIx64 "\n", seen);
  }

  if (use_ioeventfd) {
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(efd >= 0, "eventfd");
    struct gunyah_fn_ioeventfd_arg ea = { .datamatch = 0x77, .addr = IOE_ADDR, .len = 8, .fd = efd, .flags = GUNYAH_IOEVENTFD_FLAGS_DATAMATCH };
    struct gunyah_fn_desc efn = { .type = GUNYAH_FN_IOEVENTFD, .arg_size = sizeof ea, .arg = (uint64_t)(uintptr_t)&ea };
    CHECK(ioctl(vm, GUNYAH_VM_ADD_FUNCTION, &efn) == 0, "GUNYAH_VM_ADD_FUNCTION ioeventfd");
    uint64_t cnt = 0;
    CHECK(read(efd, &cnt, 8) < 0 && errno == EAGAIN, "ioeventfd readable before any guest write");
    uint64_t wargs[2] = { IOE_ADDR, 0x77 };
    printf("write_io 0x60000 0x77 -> %" PRIu64 "\n", command(CMD_WRITE_IO, 2, wargs));
    CHECK(read(efd, &cnt, 8) == 8, "ioeventfd not readable after a matching guest write");
    printf("ioeventfd counter %" PRIu64 "\n", cnt);
    CHECK(ioctl(vm, GUNYAH_VM_REMOVE_FUNCTION, &efn) == 0, "GUNYAH_VM_REMOVE_FUNCTION ioeventfd");
    CHECK(close(efd) == 0, "close ioeventfd eventfd");
  }

  if (pause_after) {
    printf("paused\n");
    for (;;) pause();
  }

  if (sigbus_child) {
    /* The image page is lent and the guest runs from it: the host may not touch it. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
      volatile unsigned char x = gh ? ram[0] : m2[0];
      (void)x;
      _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    if (WIFSIGNALED(st)) printf("child touching a %s page: killed by signal %d (%s)\n", share ? "shared" : "lent", WTERMSIG(st), WTERMSIG(st) == SIGBUS ? "SIGBUS" : "other");
    else printf("child touching a %s page: exited %d\n", share ? "shared" : "lent", WEXITSTATUS(st));
    if (m2 != NULL) CHECK(munmap(m2, mem_size) == 0, "munmap of the second guest-memory mapping");
  }

teardown:
  if (m2 != NULL && !sigbus_child) munmap(m2, mem_size);
  CHECK(munmap(run, (size_t)run_size) == 0, "munmap of the run page");
  CHECK(ioctl(vm, GUNYAH_VM_REMOVE_FUNCTION, &fd) == 0, "GUNYAH_VM_REMOVE_FUNCTION vcpu");
  CHECK(close(vcpu_fd) == 0, "close vcpu");
  CHECK(close(vm) == 0, "close vm");
  /* gh_: the VM gave the RAM back when it went; now it is ordinary memory of this process again
   * (a touch of a page still lent would kill this process with SIGBUS). */
  if (ram != NULL) {
    volatile unsigned char first = ram[0], last = ram[mem_size - 1];
    (void)first;
    (void)last;
    printf("ram readable again\n");
    CHECK(munmap(ram, mem_size) == 0, "munmap of the guest RAM");
  }
  if (gmem >= 0) CHECK(close(gmem) == 0, "close guest memory");
  CHECK(close(dev) == 0, "close /dev/gunyah");
  printf("teardown ok\n");
  return 0;
}
