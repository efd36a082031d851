/*
 * gunyah-preload: an LD_PRELOAD library that makes /dev/gunyah appear in an unmodified VMM process
 * by forwarding the calls on emulated fds to a gunyah-emu daemon (`gunyah-emu serve --socket PATH`)
 * over the host bridge protocol, version 1, dialect v17.
 *
 * Reference: docs/host-bridge-protocol.md (records, fd translation, backing files, run page,
 * notices); uapi.md §1 (ioctl size bits), §3 (struct layouts), §5 (run page). The TypeScript
 * client src/bridge/bridge-client.ts does the same job in process and is the model followed here.
 *
 * Environment: GUNYAH_EMU_SOCKET=/path/of/the/daemon/socket. Without it every call goes to libc.
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define PAGE 4096u
#define RUN_BYTES 40u
#define MAX_FDS 4096
#define MAX_MAPS 256

/* Record types (docs/host-bridge-protocol.md "Records"). */
enum {
  T_OPEN = 0x01, T_CLOSE = 0x02, T_DUP = 0x03, T_FCNTL = 0x04, T_IOCTL = 0x05, T_RUN = 0x06,
  T_MMAP = 0x07, T_MUNMAP = 0x08, T_FALLOCATE = 0x09, T_EFD_REG = 0x0A, T_EFD_SIGNAL = 0x0B,
  T_EFD_UNREG = 0x0C, T_FIRE = 0x40, T_REVOKED = 0x41, T_RESTORED = 0x42, T_ERROR = 0x7F,
};

/* v17 requests this file looks inside (uapi.md §2). */
#define REQ_VCPU_RUN 0x00004705u
#define REQ_ADD_FUNCTION 0x40104704u
#define REQ_REMOVE_FUNCTION 0x40104707u
#define REQ_MAP_MEM 0x40204709u
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
  int kind;          /* 1 FILE, 2 PRIVATE */
  unsigned char *addr;
  size_t length;
  int prot;
  uint64_t file_offset;
  char *path;
  int rfd;           /* daemon fd it maps */
};

/* Access notice that arrived before its MMAP_R was taken in. */
struct early { int used; uint32_t id; int type; uint32_t count; uint64_t *ranges; };

struct waiter { uint32_t tag; int done; unsigned char *body; uint32_t len; struct waiter *next; };

struct shim {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_mutex_t wlock;
  int inited, sock, dead, empty_fd;
  uint32_t next_tag;
  struct waiter *waiters;
  struct fd_ent fds[MAX_FDS];
  struct mapping maps[MAX_MAPS];
  struct early early[64];
  pthread_t reader;
  open_fn r_open; openat_fn r_openat; ioctl_fn r_ioctl; mmap_fn r_mmap; munmap_fn r_munmap;
  close_fn r_close; dup_fn r_dup; fcntl_fn r_fcntl;
};

static struct shim S = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
                         .wlock = PTHREAD_MUTEX_INITIALIZER, .sock = -1, .empty_fd = -1, .next_tag = 1 };

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
    if (m->kind != 1 || len == 0) continue;
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
  int s = -1;
  if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) goto fail;
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) goto fail;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, path);
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
  unsigned char hello[16] = { 'G', 'H', 'B', 'R', 1, 0, 1, 0 };
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

/* Send one record; with want_reply, wait for the reply and return its body (caller frees). */
static unsigned char *transact(int type, const unsigned char *body, uint32_t blen, int want_reply, uint32_t *rlen) {
  unsigned char *rec = malloc(12 + (size_t)blen);
  if (!rec) { errno = ENOMEM; return NULL; }
  struct waiter w = { 0 };
  pthread_mutex_lock(&S.lock);
  if (S.dead || S.sock < 0) { pthread_mutex_unlock(&S.lock); free(rec); errno = EIO; return NULL; }
  uint32_t tag = want_reply ? S.next_tag++ : 0;
  if (want_reply) { w.tag = tag; w.next = S.waiters; S.waiters = &w; }
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
  while (!w.done && !S.dead && wr == 0) pthread_cond_wait(&S.cond, &S.lock);
  for (struct waiter **pp = &S.waiters; *pp; pp = &(*pp)->next) if (*pp == &w) { *pp = w.next; break; }
  pthread_mutex_unlock(&S.lock);
  if (!w.done) { errno = EIO; return NULL; }
  *rlen = w.len;
  return w.body;
}

/* A reply's leading errno: 0, or sets errno and returns -1. Frees nothing. */
static int reply_errno(const unsigned char *r, uint32_t rlen) {
  if (rlen < 4) { errno = EIO; return -1; }
  uint32_t e = get32(r);
  if (e) { errno = (int)e; return -1; }
  return 0;
}

static int is_remote(int fd) {
  if (fd < 0 || fd >= MAX_FDS) return 0;
  pthread_mutex_lock(&S.lock);
  int k = S.fds[fd].kind == FD_REMOTE;
  pthread_mutex_unlock(&S.lock);
  return k;
}

/* Reserve a real fd number standing for a daemon fd. */
static int install_remote(int rfd, int newfd_kind, const char *gmem_path, int cloexec) {
  int lfd = S.r_open("/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0));
  if (lfd < 0) return -1;
  if (lfd >= MAX_FDS) { S.r_close(lfd); errno = EMFILE; return -1; }
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
  if (reply_errno(r, rlen) < 0) { free(r); return -1; }
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
  for (int i = 0; i < MAX_MAPS; i++) if (S.maps[i].used && S.maps[i].kind == 2 && S.maps[i].rfd == rfd) return &S.maps[i];
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
  unsigned char *r = transact(T_RUN, b, 8 + n, 1, &rlen);
  if (!r) return -1;
  if (rlen < 12) { free(r); errno = EIO; return -1; }
  uint32_t mlen = get32(r + 8);
  if (page && mlen > 0 && 12 + mlen <= rlen) memcpy(page, r + 12, mlen < RUN_BYTES ? mlen : RUN_BYTES);
  int res = (int32_t)get32(r + 4);
  int rc = reply_errno(r, rlen) < 0 ? -1 : res;
  free(r);
  return rc;
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
    if (req == REQ_MAP_MEM && size >= 16) {
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
  if (size > 0 && is_read && out_len == size && 28 + out_len <= rlen) memcpy(argp, r + 28, size);
  if (nk != 0) {
    char path[4097] = { 0 };
    if (path_len > 0 && path_len < sizeof path && 28 + out_len + path_len <= rlen) memcpy(path, r + 28 + out_len, path_len);
    int lfd = install_remote(result, nk, path_len ? path : NULL, 1);
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
  if (32 + dlen > rlen) dlen = 0;
  int fixed = flags & MAP_FIXED;
  unsigned char *p = MAP_FAILED;
  char *path = NULL;
  if (kind == 1) {
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
  struct mapping *m = NULL;
  for (int i = 0; i < MAX_MAPS; i++) if (!S.maps[i].used) { m = &S.maps[i]; break; }
  if (m) {
    *m = (struct mapping){ 1, id, kind, p, (size_t)mlen, prot, foff, path, rfd };
    for (int i = 0; i < 64; i++) {
      if (S.early[i].used && S.early[i].id == id) {
        apply_access(m, S.early[i].type, S.early[i].count, S.early[i].ranges);
        free(S.early[i].ranges);
        S.early[i].used = 0;
      }
    }
  } else {
    free(path);
  }
  pthread_mutex_unlock(&S.lock);
  return p;
}
void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) __attribute__((alias("mmap")));

int munmap(void *addr, size_t length) {
  resolve();
  int found = -1;
  uint32_t id = 0;
  pthread_mutex_lock(&S.lock);
  for (int i = 0; i < MAX_MAPS; i++) {
    if (S.maps[i].used && S.maps[i].addr == addr) { found = i; id = S.maps[i].id; break; }
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
  if (reply_errno(r, rlen) < 0) { free(r); free(gp); return -1; }
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
