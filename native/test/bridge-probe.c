/*
 * bridge-probe: a stand-in VMM for the tests of native/gunyah-preload.c that play the daemon
 * themselves (test/bridge/native-wire.test.ts). It makes the calls named on its command line, in
 * order, through the preload library, and prints one line per call: "STEP ok" or
 * "STEP -1 ERRNO" (and for `run`, the run page's first 40 bytes in hex). It exits 0 when every
 * step ran, whatever the steps answered; a crash or a sanitizer report is what the tests look for.
 *
 * Steps (each uses what the earlier ones made):
 *   open        open("/dev/gunyah")                      create-vm   ioctl(dev, CREATE_VM, 0)
 *   add-vcpu    ioctl(vm, ADD_FUNCTION, vCPU 0)          map-run     mmap of the vCPU fd, 4096
 *   run         ioctl(vcpu, VCPU_RUN)                    dup-vm      dup(vm)
 *   region      gh_: one page of MAP_SHARED | MAP_ANONYMOUS memory registered with
 *               GH_VM_SET_USER_MEM_REGION (label 0, RWX, guest 0x8000_0000)
 *   limit-fds   RLIMIT_NOFILE lowered so that no new fd can be opened; unlimit-fds undoes it
 *   kick-in-100ms  arm a one-shot 100 ms timer (setitimer, SIGALRM to whichever thread takes it)
 *               whose handler only sets immediate_exit (byte 0 of the run page), as a VMM's kick
 *               does; the next `run` is then away when it fires
 *   clear-flag  immediate_exit = 0, as a VMM does after the EINTR of a kick
 *   pause       print "paused" and wait to be killed
 *
 * Request numbers and structs: uapi.md §1–§3 and README.md §Dialects, written out here (no
 * kernel header).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#define CREATE_VM 0x00004700u
#define ADD_FUNCTION 0x40104704u
#define VCPU_RUN 0x00004705u
#define GH_VM_SET_USER_MEM_REGION 0x40204701u

struct fn_desc { uint32_t type, arg_size; uint64_t arg; };
struct gh_region { uint32_t label, flags; uint64_t guest_phys_addr, memory_size, userspace_addr; };

static volatile unsigned char *kick_page;

/* The kick: only the byte (async-signal-safe). */
static void on_alarm(int sig) {
  (void)sig;
  if (kick_page) kick_page[0] = 1;
}

static void report(const char *step, long rc) {
  if (rc < 0) printf("%s -1 %d\n", step, errno);
  else printf("%s ok\n", step);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int dev = -1, vm = -1, vcpu = -1;
  unsigned char *run = MAP_FAILED;
  struct rlimit saved;
  getrlimit(RLIMIT_NOFILE, &saved);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (strcmp(s, "open") == 0) {
      dev = open("/dev/gunyah", O_RDWR | O_CLOEXEC);
      report(s, dev);
    } else if (strcmp(s, "create-vm") == 0) {
      vm = ioctl(dev, CREATE_VM, 0);
      report(s, vm);
    } else if (strcmp(s, "add-vcpu") == 0) {
      uint32_t id = 0;
      struct fn_desc d = { .type = 1, .arg_size = sizeof id, .arg = (uint64_t)(uintptr_t)&id };
      vcpu = ioctl(vm, ADD_FUNCTION, &d);
      report(s, vcpu);
    } else if (strcmp(s, "map-run") == 0) {
      run = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
      report(s, run == MAP_FAILED ? -1 : 0);
    } else if (strcmp(s, "run") == 0) {
      int r = ioctl(vcpu, VCPU_RUN, 0);
      int e = errno;
      char hex[81] = { 0 };
      for (int k = 0; run != MAP_FAILED && k < 40; k++) snprintf(hex + 2 * k, 3, "%02x", run[k]);
      errno = e;
      if (r < 0) printf("run -1 %d %s\n", errno, hex);
      else printf("run %d %s\n", r, hex);
    } else if (strcmp(s, "dup-vm") == 0) {
      report(s, dup(vm));
    } else if (strcmp(s, "region") == 0) {
      unsigned char *ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (ram == MAP_FAILED) { report("region-mmap", -1); continue; }
      struct gh_region r = { .label = 0, .flags = 7, .guest_phys_addr = 0x80000000ull, .memory_size = 4096,
                             .userspace_addr = (uint64_t)(uintptr_t)ram };
      report(s, ioctl(vm, GH_VM_SET_USER_MEM_REGION, &r));
    } else if (strcmp(s, "limit-fds") == 0) {
      /* The lowest free fd number becomes the limit: every new fd is refused with EMFILE. */
      int lowest = dup(2);
      if (lowest < 0) { report(s, -1); continue; }
      close(lowest);
      struct rlimit l = { .rlim_cur = (rlim_t)lowest, .rlim_max = saved.rlim_max };
      report(s, setrlimit(RLIMIT_NOFILE, &l));
    } else if (strcmp(s, "unlimit-fds") == 0) {
      report(s, setrlimit(RLIMIT_NOFILE, &saved));
    } else if (strcmp(s, "kick-in-100ms") == 0) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_alarm;
      sigemptyset(&sa.sa_mask);
      kick_page = run == MAP_FAILED ? NULL : run;
      struct itimerval it = { .it_interval = { 0, 0 }, .it_value = { 0, 100 * 1000 } };
      report(s, sigaction(SIGALRM, &sa, NULL) < 0 ? -1 : setitimer(ITIMER_REAL, &it, NULL));
    } else if (strcmp(s, "clear-flag") == 0) {
      if (run != MAP_FAILED) run[0] = 0;
      report(s, run == MAP_FAILED ? -1 : 0);
    } else if (strcmp(s, "pause") == 0) {
      printf("paused\n");
      for (;;) pause();
    } else {
      fprintf(stderr, "bridge-probe: unknown step %s\n", s);
      return 2;
    }
  }
  return 0;
}
