/*
 * gunyah-preload: an LD_PRELOAD library that makes /dev/gunyah appear in an unmodified VMM process
 * by forwarding the calls on emulated fds to a gunyah-emu daemon (`gunyah-emu serve --socket PATH`)
 * over the host bridge protocol, version 2, dialect v17 or gh.
 *
 * Reference: docs/host-bridge-protocol.md (records, fd translation, backing files, run page,
 * notices, MMAP_ANON); uapi.md §1 (ioctl size bits), §3 (struct layouts), §5 (run page);
 * README.md §Dialects (the gh_ user-memory ioctls). The TypeScript client
 * src/bridge/bridge-client.ts does the same job in process and is the model followed here.
 *
 * Environment: GUNYAH_EMU_SOCKET=/path/of/the/daemon/socket. Without it every call goes to libc.
 * GUNYAH_EMU_DIALECT=v17 (default) or gh: the UAPI the VMM speaks, sent in the HELLO.
 *
 * gh_ user memory (docs/running-your-vmm.md "Running a gh_ VMM"): GH_VM_SET_USER_MEM_REGION and
 * GH_VM_ANDROID_LEND_USER_MEM name memory of this process by address. The first time a range is
 * registered, the library asks the daemon for an anonymous mapping of its size (MMAP_ANON),
 * copies the range's bytes into the mapping's backing file, maps that file over the range
 * (MAP_FIXED | MAP_SHARED, same address: the VMM's pointers stay valid) and sends the ioctl with
 * userspace_addr rewritten to the emulated address. From then on the range is a bridged mapping
 * like guest memory in v17: synced at every request, its lent pages a real SIGBUS.
 *
 * Kicks (crosvm, QEMU: a signal whose handler sets immediate_exit in the run page, vmm-flows.md §7):
 * the run page is a private copy that travels with RUN, so a flag set while a RUN sleeps in the
 * daemon would never reach it. While RUNs are away, a watcher thread looks at byte 0 of their run
 * pages every KICK_POLL_NS; when the VMM has set it since the RUN left, the watcher marks that
 * RUN and wakes its thread, which sends one KICK (after its RUN on the wire, before its next
 * request) and the daemon ends the RUN with EINTR. The RUN's own wait stays an untimed condition
 * wait (a timed one costs a timer per RUN on the MMIO fast path). The signal handler only writes
 * the byte; nothing here needs it to do more. A reply never clears byte 0 (the VMM's).
 *
 * Replies are not trusted: every length taken from one is checked against the record in 64-bit
 * arithmetic before a byte is read, a reply shorter than its fixed layout is EIO, and a daemon fd
 * that cannot be given a number of this process is closed again (test/bridge/native-wire.test.ts).
 *
 * Only libc and pthread. Calls on fds this library did not make go to libc through
 * dlsym(RTLD_NEXT) untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define RUN_BYTES 40u
#define MAX_FDS 4096
#define MAX_MAPS 256
/* How often the kick watcher looks at immediate_exit of the RUNs away: the latency bound of a kick
 * (docs/running-your-vmm.md "Kicks"). */
#define KICK_POLL_NS 2000000L

/* Record types (docs/host-bridge-protocol.md "Records"). */
enum {
  T_OPEN = 0x01, T_CLOSE = 0x02, T_DUP = 0x03, T_FCNTL = 0x04, T_IOCTL = 0x05, T_RUN = 0x06,
  T_MMAP = 0x07, T_MUNMAP = 0x08, T_FALLOCATE = 0x09, T_EFD_REG = 0x0A, T_EFD_SIGNAL = 0x0B,
  T_EFD_UNREG = 0x0C, T_MMAP_ANON = 0x0D, T_KICK = 0x0E, T_FIRE = 0x40, T_REVOKED = 0x41, T_RESTORED = 0x42, T_ERROR = 0x7F,
};
#define PROTOCOL_VERSION 2
enum { DIALECT_V17 = 1, DIALECT_GH = 2 };
/* Mapping kinds (MMAP_R / MMAP_ANON_R kind byte). */
enum { MAP_KIND_FILE = 1, MAP_KIND_PRIVATE = 2, MAP_KIND_ANON = 3 };

/* v17 requests this file looks inside (uapi.md §2). */
#define REQ_VCPU_RUN 0x00004705u
#define REQ_ADD_FUNCTION 0x40104704u
#define REQ_REMOVE_FUNCTION 0x40104707u
#define REQ_MAP_MEM 0x40204709u
/* gh_ requests whose struct names user memory (README.md §Dialects): 32 bytes, userspace_addr @24. */
#define REQ_GH_SET_USER_MEM_REGION 0x40204701u
#define REQ_GH_ANDROID_LEND_USER_MEM 0x40204111u
#define FN_IRQFD 2u
#define FN_IOEVENTFD 3u
#define ROLE_SOURCE 1u
#define ROLE_SINK 2u

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*fcntl_fn)(int, int, ...);

/* An entry of the fd table, indexed by the process's real fd number. */
enum fd_kind { FD_NONE = 0, FD_REMOTE, FD_EVENTFD };
struct fd_ent {
  int kind;
  int rfd;          /* FD_REMOTE: daemon fd. FD_EVENTFD: stand-in fd */
  int newfd_kind;   /* 3: guest memory */
  char *gmem_path;  /* backing file of a guest-memory fd */
  uint32_t efd_id;  /* FD_EVENTFD */
  uint32_t roles;
  pthread_t watcher;
  volatile int stop;
  int has_watcher;
};

struct mapping {
  int used;
  uint32_t id;
  int kind;          /* MAP_KIND_FILE, MAP_KIND_PRIVATE, MAP_KIND_ANON (converted user memory) */
  unsigned char *addr;
  size_t length;
  int prot;
  uint64_t file_offset;
  char *path;
  int rfd;           /* daemon fd it maps (-1 for ANON) */
  uint64_t emu_addr; /* ANON: the mapping's address in the daemon's process */
};

/* Access notice that arrived before its MMAP_R was taken in. */
struct early { int used; uint32_t id; int type; uint32_t count; uint64_t *ranges; };

struct waiter {
  uint32_t tag; int done; unsigned char *body; uint32_t len; struct waiter *next;
  /* A RUN that may be kicked: its run page (byte 0 was 0 when it left), set once its record is
   * written (armed), and kick_due once the watcher saw the flag. */
  const unsigned char *kick_flag; int armed, kick_due;
};

struct shim {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_mutex_t wlock;
  pthread_mutex_t conv_lock; /* one user-memory conversion at a time */
  int inited, sock, dead, empty_fd, dialect;
  /* The kick watcher: started at the first RUN that may be kicked; sleeps on wcond while no such
   * RUN is away (runs_away counts the armed waiters). */
  pthread_cond_t wcond;
  int watcher_started, watcher_idle, runs_away;
  uint32_t next_tag;
  struct waiter *waiters;
  struct fd_ent fds[MAX_FDS];
  struct mapping maps[MAX_MAPS];
  struct early early[64];
  pthread_t reader;
  open_fn r_open; openat_fn r_openat; ioctl_fn r_ioctl; mmap_fn r_mmap; munmap_fn r_munmap;
  close_fn r_close; dup_fn r_dup; fcntl_fn r_fcntl;
};

static struct shim S = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .wcond = PTHREAD_COND_INITIALIZER,
                         .wlock = PTHREAD_MUTEX_INITIALIZER, .conv_lock = PTHREAD_MUTEX_INITIALIZER,
                         .sock = -1, .empty_fd = -1, .next_tag = 1, .dialect = DIALECT_V17 };

static void resolve(void) {
  if (S.r_open) return;
  S.r_openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
  S.r_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
  S.r_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
  S.r_munmap = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
  S.r_close = (close_fn)dlsym(RTLD_NEXT, "close");
  S.r_dup = (dup_fn)dlsym(RTLD_NEXT, "dup");
  S.r_fcntl = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl");
  S.r_open = (open_fn)dlsym(RTLD_NEXT, "open");
}

__attribute__((constructor)) static void shim_ctor(void) { resolve(); }

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) return -1;
    p += r; n -= (size_t)r;
  }
  return 0;
}

/* ── mappings and access notices ─────────────────────────────────────────────────────────── */

static void apply_access(struct mapping *m, int type, uint32_t count, const uint64_t *ranges) {
  for (uint32_t i = 0; i < count; i++) {
    uint64_t off = ranges[2 * i], len = ranges[2 * i + 1];
    if (off >= m->length) continue;
    if (off + len > m->length) len = m->length - off;
    if (m->kind == MAP_KIND_PRIVATE || len == 0) continue;
    if (type == T_REVOKED) {
      /* An empty file mapped over the range: every touch is past EOF, a real SIGBUS. */
      S.r_mmap(m->addr + off, len, m->prot, MAP_SHARED | MAP_FIXED, S.empty_fd, 0);
    } else {
      int f = S.r_open(m->path, O_RDWR | O_CLOEXEC);
      if (f >= 0) {
        S.r_mmap(m->addr + off, len, m->prot, MAP_SHARED | MAP_FIXED, f, (off_t)(m->file_offset + off));
        S.r_close(f);
      }
    }
  }
}

/* Called with S.lock held. */
static void on_access(int type, const unsigned char *b, uint32_t len) {
  if (len < 8) return;
  uint32_t id = get32(b), count = get32(b + 4);
  if (8 + (uint64_t)count * 16 > len) return;
  uint64_t *r = malloc((size_t)count * 16 + 1);
  if (!r) return;
  for (uint32_t i = 0; i < 2 * count; i++) r[i] = get64(b + 8 + 8 * i);
  for (int i = 0; i < MAX_MAPS; i++) {
    if (S.maps[i].used && S.maps[i].id == id) { apply_access(&S.maps[i], type, count, r); free(r); return; }
  }
  for (int i = 0; i < 64; i++) {
    if (!S.early[i].used) { S.early[i] = (struct early){ 1, id, type, count, r }; return; }
  }
  free(r);
}

/* ── the reader thread ───────────────────────────────────────────────────────────────────── */

static void *reader_main(void *arg) {
  (void)arg;
  for (;;) {
    unsigned char hdr[12];
    if (read_all(S.sock, hdr, 12) < 0) break;
    uint32_t len = get32(hdr);
    if (len < 8 || len > (1u << 20)) break;
    uint32_t blen = len - 8;
    unsigned char *body = malloc(blen + 1);
    if (!body) break;
    if (blen && read_all(S.sock, body, blen) < 0) { free(body); break; }
    int type = hdr[4];
    uint32_t tag = get32(hdr + 8);
    if (type & 0x80) {
      pthread_mutex_lock(&S.lock);
      for (struct waiter *w = S.waiters; w; w = w->next) {
        if (w->tag == tag && !w->done) { w->done = 1; w->body = body; w->len = blen; body = NULL; break; }
      }
      pthread_cond_broadcast(&S.cond);
      pthread_mutex_unlock(&S.lock);
      free(body);
      continue;
    }
    if (type == T_FIRE && blen >= 16) {
      uint32_t id = get32(body);
      uint64_t value = get64(body + 8);
      int target = -1;
      pthread_mutex_lock(&S.lock);
      for (int i = 0; i < MAX_FDS; i++) if (S.fds[i].kind == FD_EVENTFD && S.fds[i].efd_id == id) { target = i; break; }
      pthread_mutex_unlock(&S.lock);
      if (target >= 0) { ssize_t w = write(target, &value, 8); (void)w; }
    } else if (type == T_REVOKED || type == T_RESTORED) {
      pthread_mutex_lock(&S.lock);
      on_access(type, body, blen);
      pthread_mutex_unlock(&S.lock);
    } else if (type == T_ERROR) {
      fprintf(stderr, "gunyah-preload: daemon error: %.*s\n", (int)blen, (const char *)body);
    }
    free(body);
  }
  pthread_mutex_lock(&S.lock);
  S.dead = 1;
  pthread_cond_broadcast(&S.cond);
  pthread_cond_broadcast(&S.wcond);
  pthread_mutex_unlock(&S.lock);
  return NULL;
}

/* Connect and shake hands, once. Returns 0, or -1 with errno set. */
static int ensure_connected(void) {
  resolve();
  pthread_mutex_lock(&S.lock);
  if (S.inited) { int ok = S.sock >= 0 && !S.dead; pthread_mutex_unlock(&S.lock); if (!ok) errno = EIO; return ok ? 0 : -1; }
  S.inited = 1;
  const char *path = getenv("GUNYAH_EMU_SOCKET");
  const char *dialect = getenv("GUNYAH_EMU_DIALECT");
  int s = -1;
  if (!dialect || !*dialect || strcmp(dialect, "v17") == 0) S.dialect = DIALECT_V17;
  else if (strcmp(dialect, "gh") == 0) S.dialect = DIALECT_GH;
  else {
    fprintf(stderr, "gunyah-preload: GUNYAH_EMU_DIALECT=%s is not a dialect (v17 or gh)\n", dialect);
    goto fail;
  }
  if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) goto fail;
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) goto fail;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, path);
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
  unsigned char hello[16] = { 'G', 'H', 'B', 'R', PROTOCOL_VERSION, 0, (unsigned char)S.dialect, 0 };
  put32(hello + 8, (uint32_t)getpid());
  if (write_all(s, hello, 16) < 0) goto fail;
  unsigned char wel[16];
  if (read_all(s, wel, 16) < 0) goto fail;
  uint16_t n = (uint16_t)(wel[12] | (wel[13] << 8));
  if (memcmp(wel, "GHBR", 4) != 0 || wel[6] != 0) {
    char reason[1024] = { 0 };
    if (n > 0 && n < sizeof reason) read_all(s, reason, n);
    fprintf(stderr, "gunyah-preload: the daemon refused the connection: %s\n", reason);
    goto fail;
  }
  S.empty_fd = (int)syscall(SYS_memfd_create, "gunyah-emu-revoked", 1u /* MFD_CLOEXEC */);
  S.sock = s;
  if (pthread_create(&S.reader, NULL, reader_main, NULL) != 0) goto fail;
  pthread_detach(S.reader);
  pthread_mutex_unlock(&S.lock);
  return 0;
fail:
  if (s >= 0) S.r_close(s);
  S.sock = -1;
  pthread_mutex_unlock(&S.lock);
  errno = ENODEV;
  return -1;
}

/* The kick watcher: every KICK_POLL_NS while RUNs are away, marks those whose immediate_exit the
 * VMM set (kick_due) and wakes their threads; they send the KICK. Idle while no RUN is away. */
static void *kick_watcher_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&S.lock);
  for (;;) {
    while (S.runs_away == 0 && !S.dead) {
      S.watcher_idle = 1;
      pthread_cond_wait(&S.wcond, &S.lock);
      S.watcher_idle = 0;
    }
    if (S.dead) break;
    pthread_mutex_unlock(&S.lock);
    struct timespec ts = { 0, KICK_POLL_NS };
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&S.lock);
    int wake = 0;
    for (struct waiter *w = S.waiters; w; w = w->next) {
      if (!w->armed || w->done || w->kick_due || __atomic_load_n(w->kick_flag, __ATOMIC_RELAXED) == 0) continue;
      w->kick_due = 1;
      wake = 1;
    }
    if (wake) pthread_cond_broadcast(&S.cond);
  }
  pthread_mutex_unlock(&S.lock);
  return NULL;
}

/* Start the kick watcher once, with every signal blocked (the VMM's signals are for its own
 * threads). Called with S.lock held. */
static void start_kick_watcher(void) {
  if (S.watcher_started) return;
  S.watcher_started = 1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  if (pthread_create(&t, NULL, kick_watcher_main, NULL) == 0) pthread_detach(t);
  else fprintf(stderr, "gunyah-preload: cannot start the kick watcher thread; kicks of sleeping RUNs are lost\n");
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static unsigned char *transact(int type, const unsigned char *body, uint32_t blen, int want_reply, uint32_t *rlen);

/* KICK of daemon vCPU fd `rfd` (no reply). */
static void send_kick(int rfd) {
  unsigned char b[4];
  put32(b, (uint32_t)rfd);
  transact(T_KICK, b, 4, 0, NULL);
}

/*
 * Send one record; with want_reply, wait for the reply and return its body (caller frees). With
 * `kick_flag` (a RUN's run page, byte 0 = immediate_exit, 0 when the RUN left), the RUN is armed
 * for the kick watcher once its record is written, and the wait sends one KICK for `kick_rfd`
 * when the watcher marks it.
 */
static unsigned char *transact_watch(int type, const unsigned char *body, uint32_t blen, int want_reply, uint32_t *rlen,
                                     const unsigned char *kick_flag, int kick_rfd) {
  unsigned char *rec = malloc(12 + (size_t)blen);
  if (!rec) { errno = ENOMEM; return NULL; }
  struct waiter w = { 0 };
  pthread_mutex_lock(&S.lock);
  if (S.dead || S.sock < 0) { pthread_mutex_unlock(&S.lock); free(rec); errno = EIO; return NULL; }
  uint32_t tag = want_reply ? S.next_tag++ : 0;
  if (want_reply) { w.tag = tag; w.kick_flag = kick_flag; w.next = S.waiters; S.waiters = &w; }
  pthread_mutex_unlock(&S.lock);
  put32(rec, blen + 8);
  rec[4] = (unsigned char)type; rec[5] = rec[6] = rec[7] = 0;
  put32(rec + 8, tag);
  if (blen) memcpy(rec + 12, body, blen);
  pthread_mutex_lock(&S.wlock);
  int wr = write_all(S.sock, rec, 12 + (size_t)blen);
  pthread_mutex_unlock(&S.wlock);
  free(rec);
  if (!want_reply) return wr < 0 ? NULL : (unsigned char *)1;
  pthread_mutex_lock(&S.lock);
  if (kick_flag != NULL && wr == 0 && !w.done && !S.dead) {
    /* The RUN is on the wire (a KICK sent from now on follows it) and its reply has not come. */
    w.armed = 1;
    S.runs_away++;
    start_kick_watcher();
    if (S.watcher_idle) pthread_cond_signal(&S.wcond);
  }
  int kicked = 0; /* once per RUN */
  while (!w.done && !S.dead && wr == 0) {
    if (w.kick_due && !kicked) {
      kicked = 1;
      pthread_mutex_unlock(&S.lock);
      send_kick(kick_rfd);
      pthread_mutex_lock(&S.lock);
      continue; /* the reply may have come meanwhile: looked at before waiting again */
    }
    pthread_cond_wait(&S.cond, &S.lock);
  }
  if (w.armed) S.runs_away--;
  for (struct waiter **pp = &S.waiters; *pp; pp = &(*pp)->next) if (*pp == &w) { *pp = w.next; break; }
  pthread_mutex_unlock(&S.lock);
  if (!w.done) { errno = EIO; return NULL; }
  *rlen = w.len;
  return w.body;
}

static unsigned char *transact(int type, const unsigned char *body, uint32_t blen, int want_reply, uint32_t *rlen) {
  return transact_watch(type, body, blen, want_reply, rlen, NULL, -1);
}

/* A reply's leading errno: 0, or sets errno and returns -1. Frees nothing. */
static int reply_errno(const unsigned char *r, uint32_t rlen) {
  if (rlen < 4) { errno = EIO; return -1; }
  uint32_t e = get32(r);
  if (e) { errno = (int)e; return -1; }
  return 0;
}

/* A reply shorter than its fixed layout: EIO. Returns 0 when `rlen` holds `need` bytes. */
static int reply_short(uint32_t rlen, uint32_t need) {
  if (rlen >= need) return 0;
  errno = EIO;
  return -1;
}

static int is_remote(int fd) {
  if (fd < 0 || fd >= MAX_FDS) return 0;
  pthread_mutex_lock(&S.lock);
  int k = S.fds[fd].kind == FD_REMOTE;
  pthread_mutex_unlock(&S.lock);
  return k;
}

/* CLOSE of a daemon fd, the reply dropped (a clean-up after a failure). errno is kept. */
static void drop_remote_fd(int rfd) {
  int e = errno;
  unsigned char b[4];
  uint32_t rlen;
  put32(b, (uint32_t)rfd);
  free(transact(T_CLOSE, b, 4, 1, &rlen));
  errno = e;
}

/* Reserve a real fd number standing for a daemon fd. When no number can be had (EMFILE, or
 * the table is full) the daemon fd is closed again, so the object it holds (a VM, a vCPU) does
 * not outlive the failed call in the daemon. */
static int install_remote(int rfd, int newfd_kind, const char *gmem_path, int cloexec) {
  int lfd = S.r_open("/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0));
  if (lfd < 0) { drop_remote_fd(rfd); return -1; }
  if (lfd >= MAX_FDS) { S.r_close(lfd); errno = EMFILE; drop_remote_fd(rfd); return -1; }
  pthread_mutex_lock(&S.lock);
  struct fd_ent *e = &S.fds[lfd];
  memset(e, 0, sizeof *e);
  e->kind = FD_REMOTE;
  e->rfd = rfd;
  e->newfd_kind = newfd_kind;
  e->gmem_path = gmem_path ? strdup(gmem_path) : NULL;
  pthread_mutex_unlock(&S.lock);
  return lfd;
}

/* ── eventfds ────────────────────────────────────────────────────────────────────────────── */

struct watch_arg { int fd; uint32_t id; };

/* SOURCE eventfds: the VMM writes its eventfd, this thread carries the count to the daemon. */
static void *watcher_main(void *p) {
  struct watch_arg a = *(struct watch_arg *)p;
  free(p);
  for (;;) {
    pthread_mutex_lock(&S.lock);
    int stop = S.fds[a.fd].stop || S.dead;
    pthread_mutex_unlock(&S.lock);
    if (stop) break;
    struct pollfd pf = { .fd = a.fd, .events = POLLIN };
    int r = poll(&pf, 1, 50);
    if (r <= 0 || !(pf.revents & POLLIN)) continue;
    uint64_t v;
    if (read(a.fd, &v, 8) != 8) continue;
    unsigned char b[16];
    put32(b, a.id); put32(b + 4, 0); put64(b + 8, v);
    transact(T_EFD_SIGNAL, b, 16, 0, NULL);
  }
  return NULL;
}

/* The wire value of an fd field inside a v17 struct (docs "Fds"). */
static int32_t fd_field(int fd, uint32_t roles) {
  if (fd < 0 || fd >= MAX_FDS) return -1;
  pthread_mutex_lock(&S.lock);
  struct fd_ent e = S.fds[fd];
  pthread_mutex_unlock(&S.lock);
  if (e.kind == FD_REMOTE || e.kind == FD_EVENTFD) return e.rfd;
  /* Is it an eventfd of this process? Register it on first use. */
  char link[64], target[128];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return -1;
  target[n] = 0;
  if (strstr(target, "eventfd") == NULL) return -1;
  unsigned char b[8];
  put32(b, (uint32_t)fd); put32(b + 4, roles);
  uint32_t rlen;
  unsigned char *r = transact(T_EFD_REG, b, 8, 1, &rlen);
  if (!r) return -1;
  if (reply_errno(r, rlen) < 0 || rlen < 12) { free(r); return -1; }
  uint32_t id = get32(r + 4);
  int32_t rfd = (int32_t)get32(r + 8);
  free(r);
  pthread_mutex_lock(&S.lock);
  struct fd_ent *x = &S.fds[fd];
  memset(x, 0, sizeof *x);
  x->kind = FD_EVENTFD; x->rfd = rfd; x->efd_id = id; x->roles = roles;
  pthread_mutex_unlock(&S.lock);
  if (roles & ROLE_SOURCE) {
    struct watch_arg *a = malloc(sizeof *a);
    if (a) {
      a->fd = fd; a->id = id;
      pthread_t t;
      if (pthread_create(&t, NULL, watcher_main, a) == 0) {
        pthread_mutex_lock(&S.lock);
        x->watcher = t;
        x->has_watcher = 1;
        pthread_mutex_unlock(&S.lock);
      } else {
        free(a);
      }
    }
  }
  return rfd;
}

/* ── interposed calls ────────────────────────────────────────────────────────────────────── */

static int is_gunyah_path(const char *p) { return p && strcmp(p, "/dev/gunyah") == 0 && getenv("GUNYAH_EMU_SOCKET"); }

static int bridge_open(const char *path, int flags) {
  if (ensure_connected() < 0) return -1;
  size_t pl = strlen(path);
  unsigned char b[8 + 4096];
  put32(b, (uint32_t)flags); put32(b + 4, (uint32_t)pl);
  memcpy(b + 8, path, pl);
  uint32_t rlen;
  unsigned char *r = transact(T_OPEN, b, (uint32_t)(8 + pl), 1, &rlen);
  if (!r) return -1;
  if (reply_errno(r, rlen) < 0 || reply_short(rlen, 8) < 0) { free(r); return -1; }
  int rfd = (int32_t)get32(r + 4);
  free(r);
  return install_remote(rfd, 0, NULL, flags & O_CLOEXEC);
}

int open(const char *path, int flags, ...) {
  resolve();
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
  if (is_gunyah_path(path)) return bridge_open(path, flags);
  return S.r_open(path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open(path, flags); }

int openat(int dirfd, const char *path, int flags, ...) {
  resolve();
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
  if (is_gunyah_path(path)) return bridge_open(path, flags);
  return S.r_openat(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }

static struct mapping *run_page_of(int rfd) {
  for (int i = 0; i < MAX_MAPS; i++) if (S.maps[i].used && S.maps[i].kind == MAP_KIND_PRIVATE && S.maps[i].rfd == rfd) return &S.maps[i];
  return NULL;
}

static int bridge_run(int rfd) {
  pthread_mutex_lock(&S.lock);
  struct mapping *m = run_page_of(rfd);
  unsigned char *page = m ? m->addr : NULL;
  pthread_mutex_unlock(&S.lock);
  unsigned char b[8 + RUN_BYTES];
  uint32_t n = page ? RUN_BYTES : 0;
  put32(b, (uint32_t)rfd); put32(b + 4, n);
  if (n) memcpy(b + 8, page, n);
  uint32_t rlen;
  /* A flag set before the RUN goes with its page; one set while it is away goes as a KICK. */
  unsigned char *r = transact_watch(T_RUN, b, 8 + n, 1, &rlen, n && b[8] == 0 ? page : NULL, rfd);
  if (!r) return -1;
  if (rlen < 12) { free(r); errno = EIO; return -1; }
  uint32_t mlen = get32(r + 8);
  /* INVARIANT: m bytes follow the 12-byte head (64-bit sum: m comes from the wire). */
  if (page && mlen > 0 && 12 + (uint64_t)mlen <= rlen) {
    uint32_t k = mlen < RUN_BYTES ? mlen : RUN_BYTES;
    /* immediate_exit (byte 0) is the VMM's: a reply sets it, never clears it. A zero there while
     * the page holds a flag means a signal handler set it while the RUN was away (its KICK came
     * after the RUN ended): on the kernel's shared page it would still be set. */
    if (k > 1) memcpy(page + 1, r + 13, k - 1);
    if (r[12] != 0) __atomic_store_n(page, r[12], __ATOMIC_RELAXED);
  }
  int res = (int32_t)get32(r + 4);
  int rc = reply_errno(r, rlen) < 0 ? -1 : res;
  free(r);
  return rc;
}

/* Record a live mapping and apply the access notices that came before its id was known.
 * Called with S.lock held. Returns 0, or -1 when the table is full. */
static int add_mapping(struct mapping m) {
  for (int i = 0; i < MAX_MAPS; i++) {
    if (S.maps[i].used) continue;
    S.maps[i] = m;
    S.maps[i].used = 1;
    for (int k = 0; k < 64; k++) {
      if (S.early[k].used && S.early[k].id == m.id) {
        apply_access(&S.maps[i], S.early[k].type, S.early[k].count, S.early[k].ranges);
        free(S.early[k].ranges);
        S.early[k].used = 0;
      }
    }
    return 0;
  }
  return -1;
}

/* MUNMAP of a daemon mapping id, the reply dropped (a clean-up after a failure). */
static void drop_remote_mapping(uint32_t id) {
  unsigned char u[4];
  uint32_t rlen;
  put32(u, id);
  unsigned char *x = transact(T_MUNMAP, u, 4, 1, &rlen);
  free(x);
}

/*
 * gh_ user memory: the emulated address standing for [uaddr, uaddr + size) of this process
 * (page aligned, size > 0). A range inside one already converted reuses it; otherwise the range
 * becomes a bridged anonymous mapping (MMAP_ANON; the current bytes copied into its backing file;
 * the file mapped MAP_FIXED | MAP_SHARED over the range). Returns 0, or -1 with errno: EFAULT
 * (not mapped in this process), EINVAL (it overlaps a converted range without lying inside it),
 * or the daemon's errno.
 */
static int convert_user_range(uint64_t uaddr, uint64_t size, uint64_t *emu) {
  pthread_mutex_lock(&S.conv_lock);
  int found = 0, overlap = 0;
  pthread_mutex_lock(&S.lock);
  for (int i = 0; i < MAX_MAPS && !found; i++) {
    struct mapping *m = &S.maps[i];
    if (!m->used || m->kind != MAP_KIND_ANON) continue;
    uint64_t a = (uint64_t)(uintptr_t)m->addr, e = a + m->length;
    if (uaddr >= a && uaddr + size <= e) { *emu = m->emu_addr + (uaddr - a); found = 1; }
    else if (uaddr < e && uaddr + size > a) overlap = 1;
  }
  pthread_mutex_unlock(&S.lock);
  if (found || overlap) {
    pthread_mutex_unlock(&S.conv_lock);
    if (found) return 0;
    errno = EINVAL;
    return -1;
  }
  /* Every page must be mapped in this process (the kernel's pin would fault otherwise). */
  size_t pages = (size_t)(size / PAGE);
  unsigned char *vec = malloc(pages ? pages : 1);
  if (!vec) { pthread_mutex_unlock(&S.conv_lock); errno = ENOMEM; return -1; }
  int mapped = mincore((void *)(uintptr_t)uaddr, (size_t)size, vec) == 0;
  free(vec);
  if (!mapped) { pthread_mutex_unlock(&S.conv_lock); errno = EFAULT; return -1; }
  unsigned char b[16];
  put64(b, size); put32(b + 8, PROT_READ | PROT_WRITE); put32(b + 12, 0);
  uint32_t rlen;
  unsigned char *r = transact(T_MMAP_ANON, b, 16, 1, &rlen);
  if (!r) { pthread_mutex_unlock(&S.conv_lock); return -1; }
  if (reply_errno(r, rlen) < 0 || rlen < 32) { free(r); pthread_mutex_unlock(&S.conv_lock); return -1; }
  uint32_t id = get32(r + 4);
  uint64_t mlen = get64(r + 12), eaddr = get64(r + 20);
  uint32_t plen = get32(r + 28);
  char *path = (32 + (uint64_t)plen <= rlen) ? strndup((const char *)r + 32, plen) : NULL;
  free(r);
  int err = 0;
  int f = -1;
  if (!path || mlen < size) err = EIO; /* no path inside the reply, or a mapping too short */
  else if ((f = S.r_open(path, O_RDWR | O_CLOEXEC)) < 0) err = errno;
  /* The VMM's bytes go into the file: the daemon pulls them into the emulator at the next request. */
  for (uint64_t done = 0; !err && done < size;) {
    ssize_t w = pwrite(f, (const unsigned char *)(uintptr_t)uaddr + done, (size_t)(size - done), (off_t)done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { err = w < 0 ? errno : EIO; break; }
    done += (uint64_t)w;
  }
  if (!err && S.r_mmap((void *)(uintptr_t)uaddr, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0) == MAP_FAILED) err = errno;
  if (f >= 0) S.r_close(f);
  if (!err) {
    pthread_mutex_lock(&S.lock);
    struct mapping m = { .id = id, .kind = MAP_KIND_ANON, .addr = (unsigned char *)(uintptr_t)uaddr, .length = (size_t)size,
                         .prot = PROT_READ | PROT_WRITE, .file_offset = 0, .path = path, .rfd = -1, .emu_addr = eaddr };
    if (add_mapping(m) < 0) err = ENOMEM;
    pthread_mutex_unlock(&S.lock);
  }
  if (err) {
    /* The range keeps whatever it holds now (its own pages, or the file's with the same bytes). */
    drop_remote_mapping(id);
    free(path);
    pthread_mutex_unlock(&S.conv_lock);
    errno = err;
    return -1;
  }
  *emu = eaddr;
  pthread_mutex_unlock(&S.conv_lock);
  return 0;
}

static int bridge_ioctl(int fd, unsigned long request, void *argp) {
  pthread_mutex_lock(&S.lock);
  int rfd = S.fds[fd].rfd;
  pthread_mutex_unlock(&S.lock);
  uint32_t req = (uint32_t)request;
  if (req == REQ_VCPU_RUN) return bridge_run(rfd);
  uint32_t size = (req >> 16) & 0x3fff;
  int is_read = (req >> 31) & 1;
  uintptr_t argv = (uintptr_t)argp;
  unsigned char st[0x4000];
  unsigned char blob[256 + 16];
  uint32_t nblobs = 0, bloblen = 0;
  if (size > 0) {
    if (argp == NULL) { errno = EFAULT; return -1; }
    memcpy(st, argp, size);
    if (S.dialect == DIALECT_GH && (req == REQ_GH_SET_USER_MEM_REGION || req == REQ_GH_ANDROID_LEND_USER_MEM) && size == 32) {
      /* userspace_addr @24, memory_size @16. Not page aligned or empty: sent as is (EINVAL). */
      uint64_t msize = get64(st + 16), ua = get64(st + 24), emu;
      if (ua % PAGE == 0 && msize % PAGE == 0 && msize > 0 && ua + msize > ua) {
        if (convert_user_range(ua, msize, &emu) < 0) return -1;
        put64(st + 24, emu);
      }
    } else if (S.dialect == DIALECT_V17 && req == REQ_MAP_MEM && size >= 16) {
      int32_t v = fd_field((int)get32(st + 12), 0);
      put32(st + 12, (uint32_t)v);
    } else if ((req == REQ_ADD_FUNCTION || req == REQ_REMOVE_FUNCTION) && size >= 16) {
      uint32_t type = get32(st), asz = get32(st + 4);
      uint64_t ptr = get64(st + 8);
      if (asz > 0 && ptr != 0) {
        if (asz > 256) { errno = EINVAL; return -1; }
        unsigned char *bb = blob + 16;
        memcpy(bb, (const void *)(uintptr_t)ptr, asz);
        if (type == FN_IRQFD && asz >= 4) put32(bb, (uint32_t)fd_field((int)get32(bb), ROLE_SOURCE));
        if (type == FN_IOEVENTFD && asz >= 24) put32(bb + 20, (uint32_t)fd_field((int32_t)get32(bb + 20), ROLE_SINK));
        put64(blob, ptr); put32(blob + 8, asz); put32(blob + 12, 0);
        nblobs = 1; bloblen = 16 + asz;
      }
    }
  }
  uint32_t blen = 24 + size + bloblen;
  unsigned char *b = malloc(blen);
  if (!b) { errno = ENOMEM; return -1; }
  put32(b, (uint32_t)rfd); put32(b + 4, req);
  put64(b + 8, size > 0 ? (uint64_t)argv : (uint64_t)argv);
  b[16] = size > 0 ? 1 : 0; b[17] = 0;
  b[18] = (unsigned char)nblobs; b[19] = 0;
  put32(b + 20, size);
  if (size) memcpy(b + 24, st, size);
  if (bloblen) memcpy(b + 24 + size, blob, bloblen);
  uint32_t rlen;
  unsigned char *r = transact(T_IOCTL, b, blen, 1, &rlen);
  free(b);
  if (!r) return -1;
  if (reply_errno(r, rlen) < 0 || rlen < 28) { free(r); return -1; }
  int result = (int32_t)get32(r + 4);
  int nk = r[8];
  uint32_t out_len = get32(r + 12), path_len = get32(r + 24);
  /* INVARIANT: out and path lie inside the reply; the sums are 64-bit (both lengths come from
   * the wire, and a 32-bit sum could wrap past the check). */
  uint64_t out_end = 28 + (uint64_t)out_len, path_end = out_end + path_len;
  if (size > 0 && is_read && out_len == size && out_end <= rlen) memcpy(argp, r + 28, size);
  if (nk != 0) {
    char path[4097] = { 0 };
    int have_path = path_len > 0 && path_len < sizeof path && path_end <= rlen;
    if (have_path) memcpy(path, r + out_end, path_len);
    int lfd = install_remote(result, nk, have_path ? path : NULL, 1);
    free(r);
    return lfd;
  }
  free(r);
  return result;
}

int ioctl(int fd, unsigned long request, ...) {
  resolve();
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (is_remote(fd)) return bridge_ioctl(fd, request, arg);
  return S.r_ioctl(fd, request, arg);
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  resolve();
  if (!is_remote(fd)) return S.r_mmap(addr, length, prot, flags, fd, offset);
  pthread_mutex_lock(&S.lock);
  int rfd = S.fds[fd].rfd;
  pthread_mutex_unlock(&S.lock);
  unsigned char b[24];
  put32(b, (uint32_t)rfd); put32(b + 4, (uint32_t)prot);
  put64(b + 8, (uint64_t)offset); put64(b + 16, (uint64_t)length);
  uint32_t rlen;
  unsigned char *r = transact(T_MMAP, b, 24, 1, &rlen);
  if (!r) return MAP_FAILED;
  if (reply_errno(r, rlen) < 0 || rlen < 32) { free(r); return MAP_FAILED; }
  uint32_t id = get32(r + 4);
  int kind = r[8];
  uint64_t mlen = get64(r + 12), foff = get64(r + 20);
  uint32_t dlen = get32(r + 28);
  /* INVARIANT: data_len bytes follow the 32-byte head (64-bit sum: data_len is from the wire). */
  if (32 + (uint64_t)dlen > rlen) dlen = 0;
  if (kind != MAP_KIND_FILE && kind != MAP_KIND_PRIVATE) {
    /* Not an answer MMAP can have (ANON is MMAP_ANON's): give the mapping back, EIO. */
    free(r);
    unsigned char u[4]; put32(u, id);
    free(transact(T_MUNMAP, u, 4, 1, &rlen));
    errno = EIO;
    return MAP_FAILED;
  }
  int fixed = flags & MAP_FIXED;
  unsigned char *p = MAP_FAILED;
  char *path = NULL;
  if (kind == MAP_KIND_FILE) {
    path = strndup((const char *)r + 32, dlen);
    int f = path ? S.r_open(path, O_RDWR | O_CLOEXEC) : -1;
    if (f >= 0) {
      p = S.r_mmap(addr, mlen, prot, MAP_SHARED | fixed, f, (off_t)foff);
      S.r_close(f);
    }
  } else {
    p = S.r_mmap(addr, mlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    if (p != MAP_FAILED) memcpy(p, r + 32, dlen < mlen ? dlen : mlen);
  }
  free(r);
  if (p == MAP_FAILED) {
    int e = errno;
    unsigned char u[4]; put32(u, id);
    unsigned char *x = transact(T_MUNMAP, u, 4, 1, &rlen);
    free(x == (unsigned char *)1 ? NULL : x);
    free(path);
    errno = e ? e : ENOMEM;
    return MAP_FAILED;
  }
  pthread_mutex_lock(&S.lock);
  struct mapping m = { .id = id, .kind = kind, .addr = p, .length = (size_t)mlen, .prot = prot, .file_offset = foff,
                       .path = path, .rfd = rfd, .emu_addr = 0 };
  if (add_mapping(m) < 0) free(path);
  pthread_mutex_unlock(&S.lock);
  return p;
}
void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) __attribute__((alias("mmap")));

/* Converted user memory (gh_) that [addr, addr + length) touches: each one is dropped in the
 * daemon (MUNMAP); the real munmap is the caller's. */
static void drop_converted(uintptr_t a, size_t length) {
  for (;;) {
    uint32_t id = 0;
    int hit = 0;
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < MAX_MAPS; i++) {
      struct mapping *m = &S.maps[i];
      if (!m->used || m->kind != MAP_KIND_ANON) continue;
      uintptr_t s0 = (uintptr_t)m->addr;
      if (a < s0 + m->length && a + length > s0) {
        id = m->id;
        free(m->path);
        memset(m, 0, sizeof *m);
        hit = 1;
        break;
      }
    }
    pthread_mutex_unlock(&S.lock);
    if (!hit) return;
    drop_remote_mapping(id);
  }
}

int munmap(void *addr, size_t length) {
  resolve();
  int found = -1;
  uint32_t id = 0;
  drop_converted((uintptr_t)addr, length);
  pthread_mutex_lock(&S.lock);
  for (int i = 0; i < MAX_MAPS; i++) {
    if (S.maps[i].used && S.maps[i].kind != MAP_KIND_ANON && S.maps[i].addr == addr) { found = i; id = S.maps[i].id; break; }
  }
  pthread_mutex_unlock(&S.lock);
  if (found < 0) return S.r_munmap(addr, length);
  unsigned char u[4];
  put32(u, id);
  uint32_t rlen;
  unsigned char *r = transact(T_MUNMAP, u, 4, 1, &rlen);
  pthread_mutex_lock(&S.lock);
  size_t mlen = S.maps[found].length;
  free(S.maps[found].path);
  memset(&S.maps[found], 0, sizeof S.maps[found]);
  pthread_mutex_unlock(&S.lock);
  S.r_munmap(addr, length > mlen ? length : mlen);
  if (!r) return -1;
  int rc = reply_errno(r, rlen);
  free(r);
  return rc;
}

int close(int fd) {
  resolve();
  if (fd < 0 || fd >= MAX_FDS) return S.r_close(fd);
  pthread_mutex_lock(&S.lock);
  struct fd_ent e = S.fds[fd];
  if (e.kind != FD_NONE) S.fds[fd].stop = 1;
  pthread_mutex_unlock(&S.lock);
  if (e.kind == FD_NONE) return S.r_close(fd);
  if (e.has_watcher) pthread_join(e.watcher, NULL);
  pthread_mutex_lock(&S.lock);
  memset(&S.fds[fd], 0, sizeof S.fds[fd]);
  pthread_mutex_unlock(&S.lock);
  free(e.gmem_path);
  unsigned char b[4];
  uint32_t rlen;
  unsigned char *r;
  if (e.kind == FD_EVENTFD) {
    put32(b, e.efd_id);
    r = transact(T_EFD_UNREG, b, 4, 1, &rlen);
    free(r);
    return S.r_close(fd);
  }
  put32(b, (uint32_t)e.rfd);
  r = transact(T_CLOSE, b, 4, 1, &rlen);
  S.r_close(fd);
  if (!r) return -1;
  int rc = reply_errno(r, rlen);
  free(r);
  return rc;
}

static int bridge_dup(int fd, int cloexec) {
  pthread_mutex_lock(&S.lock);
  int rfd = S.fds[fd].rfd, nk = S.fds[fd].newfd_kind;
  char *gp = S.fds[fd].gmem_path ? strdup(S.fds[fd].gmem_path) : NULL;
  pthread_mutex_unlock(&S.lock);
  unsigned char b[4];
  put32(b, (uint32_t)rfd);
  uint32_t rlen;
  unsigned char *r = transact(T_DUP, b, 4, 1, &rlen);
  if (!r) { free(gp); return -1; }
  if (reply_errno(r, rlen) < 0 || reply_short(rlen, 8) < 0) { free(r); free(gp); return -1; }
  int nfd = (int32_t)get32(r + 4);
  free(r);
  int lfd = install_remote(nfd, nk, gp, cloexec);
  free(gp);
  return lfd;
}

int dup(int fd) {
  resolve();
  if (is_remote(fd)) return bridge_dup(fd, 0);
  return S.r_dup(fd);
}

int fcntl(int fd, int cmd, ...) {
  resolve();
  va_list ap;
  va_start(ap, cmd);
  uint64_t arg = va_arg(ap, uint64_t);
  va_end(ap);
  if (!is_remote(fd)) return S.r_fcntl(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return bridge_dup(fd, cmd == F_DUPFD_CLOEXEC);
  pthread_mutex_lock(&S.lock);
  int rfd = S.fds[fd].rfd;
  pthread_mutex_unlock(&S.lock);
  if (cmd == F_SETFD) S.r_fcntl(fd, cmd, arg);
  unsigned char b[16];
  put32(b, (uint32_t)rfd); put32(b + 4, (uint32_t)cmd); put64(b + 8, arg);
  uint32_t rlen;
  unsigned char *r = transact(T_FCNTL, b, 16, 1, &rlen);
  if (!r) return -1;
  if (reply_errno(r, rlen) < 0 || rlen < 8) { free(r); return -1; }
  int res = (int32_t)get32(r + 4);
  free(r);
  return res;
}
int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
