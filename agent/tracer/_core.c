/*
 * tracehound capture core: everything done per traced syscall, in C, without the GIL.
 *
 * Python builds the seccomp program and a per-syscall "spec" (which arguments to
 * read and how); this core spawns the application, handles every stop, reads the
 * arguments (bounded), encodes one record per event into a shared buffer and
 * resumes the tracee. Python drains that buffer in batches (drain()) and decodes
 * the records off the application's path (records.py documents the format).
 *
 * Two ways a traced syscall reaches us, chosen per run:
 *   - seccomp user notification (SECCOMP_RET_USER_NOTIF, answered with
 *     FLAG_CONTINUE): a notify thread blocks in NOTIF_RECV; with
 *     SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+) the kernel hands the stop
 *     over on the CPU where it happened, the cheapest hand-off there is;
 *   - ptrace (SECCOMP_RET_TRACE, PTRACE_EVENT_SECCOMP): the waitpid loop.
 * When ptrace is available it always follows the process lifecycle (fork, clone,
 * exec, exit, signals, group stops); syscalls whose result we want (exit stop)
 * use RET_TRACE in both modes.
 *
 * Nothing between fork and exec allocates, locks or logs.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <time.h>
#include <unistd.h>

#include "keyhash.h"
#include "pathwatch.h"

/* ---- kernel constants that older headers may lack ------------------------ */
/* struct ptrace_syscall_info (linux/ptrace.h), kept here: that header and
 * glibc's sys/ptrace.h cannot both be included. */
#define TH_PTRACE_GET_SYSCALL_INFO 0x420e
enum { SI_NONE, SI_ENTRY, SI_EXIT, SI_SECCOMP };
struct th_syscall_info {
    uint8_t op, pad[3];
    uint32_t arch;
    uint64_t instruction_pointer, stack_pointer;
    union {
        struct { uint64_t nr, args[6]; } entry;
        struct { int64_t rval; uint8_t is_error; } exit;
        struct { uint64_t nr, args[6]; uint32_t ret_data; } seccomp;
    };
};
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
/* Every filter of ours carries SPEC_ALLOW: before Linux 5.16 (Fargate's 5.10) the
 * default spec_store_bypass_disable=seccomp turns on Speculative Store Bypass
 * Disable for any task that installs a filter without it, slowing the application's
 * own code where the CPU offers SSBD. A monitor is not a sandbox: the application
 * keeps the speculation controls it would have without tracehound. */
#define TH_SPEC SECCOMP_FILTER_FLAG_SPEC_ALLOW
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS _IOW('!', 4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define AUDIT_ARCH_X86_64_ 0xC000003Eu
#define AUDIT_ARCH_I386_ 0x40000003u
#define AUDIT_ARCH_AARCH64_ 0xC00000B7u
#define X32_BIT 0x40000000u
#define AT_FDCWD_ (-100)
/* Wakes the wait thread from its wait: processes to adopt, exits asked for. */
#define ADOPT_SIGNAL (SIGRTMIN + 4)

/* ---- record format (see records.py) ---------------------------------------- */
enum { K_SYSCALL = 1, K_NEW_TASK = 3, K_EXEC = 4, K_EXIT = 5 };
enum {
    T_STR = 1,      /* C string at args[i] */
    T_BASE = 2,     /* what a relative path at args[i] is relative to */
    T_FDPATH = 3,   /* /proc/TID/fd/args[i] */
    T_SOCKADDR = 4, /* raw sockaddr */
    T_SOCKINFO = 5, /* family, type, protocol, local and peer address of fd args[i] */
    T_ARGV = 6,     /* NUL-terminated strings */
    T_RAW = 7,      /* raw bytes at args[i] */
    T_EXE = 8,      /* lifecycle: /proc/PID/exe */
    T_COMM = 9,
    T_CMDLINE = 10,
    T_CWD = 11,
    T_IDS = 12, /* "ruid euid rgid egid" from /proc/TID/status */
    /* What rules ask of a process (capabilities, tty, loginuid, environment,
     * executable inode), read at exec while the process is surely there. */
    T_STATUS = 13,
    T_STAT = 14,
    T_LOGINUID = 15,
    T_ENVIRON = 16,
    T_EXESTAT = 17, /* u64 inode, ctime ns, mtime ns of /proc/PID/exe */
    /* The kernel's answer, read at the exit stop (verify_at_exit). */
    T_FDTRUTH = 18, /* readlink /proc/TID/fd/<result> */
    T_FDSTAT = 19,  /* FdStat: the opened file's dev/inode, and the claimed path's */
    T_PEER = 20,    /* i32 errno of getpeername, then the peer's sockaddr */
    /* An exit stop that may be skipped (see "exit stops nobody needs"). */
    T_CLAIMSTAT = 21, /* ClaimStat: what the claimed path leads to at entry */
    T_ENTRYKEY = 22,  /* u64 key of the entry record, u64 generation of the verdicts */
};
/* Spec opcodes; OP_EXIT marks an op done at the exit stop. */
enum {
    OP_STR = 1,      /* a = arg */
    OP_PATH = 2,     /* a = path arg, b = dirfd arg (0xff: cwd) */
    OP_FDPATH = 3,   /* a = fd arg */
    OP_SOCKADDR = 4, /* a = addr arg, b = len arg */
    OP_SOCKINFO = 5, /* a = fd arg, b = 1: with local and peer address */
    OP_ARGV = 6,     /* a = argv arg */
    OP_RAW = 7,      /* a = arg, b = bytes */
    OP_SOCKADDR_PLEN = 8, /* a = addr arg, b = arg pointing at a socklen_t */
    OP_IDS = 9,
    OP_GUARD = 10, /* a = arg, b = GUARD_* kind: does the syscall aim at the agent? */
    OP_VERIFY_FD = 12,   /* exit: the fd in the result; a = path arg, b = flags arg (0xff: none) */
    OP_VERIFY_PEER = 13, /* exit: the peer of socket args[a] */
    OP_EXIT = 0x80,
};
#define SPEC_OPS 6
#define SPEC_CAPTURE 1 /* take the exit stop (only with ptrace) */
#define SPEC_EXEC 2    /* execve/execveat */
#define SPEC_DENY 4     /* always refused with EPERM (tracer.io_uring = "deny") */
#define SPEC_UNTRACED 8 /* clone: clear CLONE_UNTRACED at the ptrace stop */
#define SPEC_SETID 16   /* setuid family: without ptrace, re-read the ids at the next stop */
#define SPEC_TEACHES 32 /* its event can change what rules answer: forget the skip verdicts */
#define SPEC_OPEN_FLAGS1 64  /* an open whose flags are args[1]: its exit may be skipped */
#define SPEC_OPEN_FLAGS2 128 /* the same, flags in args[2] (openat) */
#define SPEC_DISTRUST 256    /* writes another process's memory: no claim is trusted again */
#define SPEC_CONNECT 512     /* connect (sockaddr args[1], length args[2]): its exit may be skipped */
#define SPEC_NEWROOT 1024    /* chroot, pivot_root, unshare, setns: absolute paths lead elsewhere */
#define SPEC_REMAP 2048      /* may map another process's page under a claim: map_gen moves on */
#define SPEC_QUIET 4096      /* stopped for the core's sake only (SPEC_REMAP): no record */
typedef struct {
    uint8_t n;
    uint16_t flags;
    uint8_t op[SPEC_OPS][3];
} Spec;
#define NARCH 4
#define MAX_NOTIFY 16 /* Fargate's largest task has 16 vCPUs */
#define NR_MAX 1024

#pragma pack(push, 1)
typedef struct {
    uint32_t len;
    uint8_t kind, flags;
    uint16_t nblobs;
    int32_t tid;
    uint32_t arch;
    int32_t nr;
    uint64_t ts;
    uint64_t args[6];
    int64_t res;
} RecHead;
typedef struct {
    uint8_t tag, arg;
    uint16_t pad;
    uint32_t len;
} BlobHead;
#pragma pack(pop)
/* RF_RACED: a copy of a skipped open, published when its path changed while it ran */
enum { RF_RESULT = 1, RF_DENIED = 0x10, RF_UNREADABLE = 0x20, RF_UNTRACED = 0x40, RF_RACED = 0x80 };

/* ---- a growable byte buffer ------------------------------------------------ */
typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* One record under construction, per thread of the core. */
typedef struct {
    Buf b;
    char *scratch; /* arg_max_bytes + argv pointers */
    size_t scratch_len;
} Enc;

static RecHead *enc_head(Enc *e) { return (RecHead *)e->b.p; }

static void enc_begin(Enc *e, int kind, int tid) {
    e->b.len = 0;
    buf_reserve(&e->b, sizeof(RecHead));
    RecHead *h = enc_head(e);
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->tid = tid;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->ts = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
    e->b.len = sizeof(RecHead);
}

static void enc_blob(Enc *e, int tag, int arg, const void *data, size_t len) {
    if (buf_reserve(&e->b, sizeof(BlobHead) + len) < 0) return;
    BlobHead bh = {(uint8_t)tag, (uint8_t)arg, 0, (uint32_t)len};
    memcpy(e->b.p + e->b.len, &bh, sizeof bh);
    memcpy(e->b.p + e->b.len + sizeof bh, data, len);
    e->b.len += sizeof bh + len;
    enc_head(e)->nblobs++;
}

/* ---- the core object -------------------------------------------------------- */
struct Core;
typedef struct {
    struct Core *core;
    int index;
    int cpu; /* pinned to this CPU (per-CPU poll threads), or -1 */
} NotifyArg;

#define ADOPT_MAX 64
/* A mapping of a task (from /proc/TID/maps) as it was while map_gen was `gen` and the
 * task had made `remaps` remapping syscalls. */
typedef struct {
    uint64_t start, end, gen, remaps;
    int private_anon; /* MAP_PRIVATE | MAP_ANONYMOUS (heap, stack, malloc'd) */
} VmaSeen;
#define SEEN_STRIPES 64
typedef struct Task {
    int tid, used;
    int fresh;   /* its next PTRACE_EVENT_STOP is the attach stop */
    Buf pending; /* entry half of a record waiting for the exit stop */
    int tgid;    /* without ptrace: the thread group, read once from /proc */
    int exec_pending; /* without ptrace: this process called execve */
    int exec_tid;     /* without ptrace: the thread of the process that called it */
    int ids_pending;  /* without ptrace: this thread called a setuid-family syscall */
    int outside;      /* adopted from outside the tree (or its child): PTRACE_SYSCALL stops */
    int shared_mm;    /* another task may write its memory (a thread, CLONE_VM): claims can be swapped */
    int pagemap_fd;   /* fd + 1 of /proc/TID/pagemap (0: not open); reopened after an exec */
    int mem_fd;       /* fd + 1 of /proc/TID/mem (0: not open, -1: cannot be; view_read_claims) */
    int claim_reads;  /* notifications read so far: the mem fd is opened for the busy ones */
    VmaSeen vmas[4];  /* mappings its claims were found in (claim_private), oldest replaced */
    int vma_next;
    uint64_t remaps;  /* its syscalls that could map another process's page (view_remapped) */
    int await_exit;   /* PTRACE_INTERRUPT sent in a notified open: its next event stop is its exit */
    int await_restart; /* no killable wait: the interrupt restarts the open; its entry stop is next */
    uint64_t exit_ip;  /* await_exit: the instruction after the open; elsewhere it is not done */
    int pass_nr;       /* notify view: the next notification of this thread is the restarted
                          open (this nr + 1), already recorded: answer it at once */
    /* An open whose exit stop was skipped, handed to the path checker at the
     * thread's next stop (check_skipped): what was seen, the record, then its path. */
    int skipped;
    PwSkip skipped_at;
    Buf skipped_rec;
} Task;

/* tid -> Task, open addressing. One per thread of the core: never shared. */
typedef struct {
    Task *tasks;
    size_t cap, n;
} TaskTable;

typedef struct Core {
    PyObject_HEAD
    /* configuration */
    Spec specs[NARCH][NR_MAX];
    Spec generic;
    struct sock_filter *filter;
    unsigned short filter_len;
    int use_notify, use_ptrace, sync_wakeup_wanted;
    int killable_wanted; /* 0: as on a kernel without WAIT_KILLABLE_RECV (a testing knob) */
    int follow_cpu; /* ptrace placement: keep the tracer on the CPU of the tracees */
    int tracer_cpu;
    unsigned place_tick, place_votes;
    uint64_t migrations;
    size_t arg_max, argv_max;
    size_t max_events, max_bytes;
    int block_when_full;
    /* state */
    pid_t main_pid;
    int notify_fd;
    int exit_status; /* -1 until the main process is gone */
    volatile int done;
    /* The notify threads: one with SYNC_WAKE_UP, one pinned per CPU without it
     * (start_notify_threads says why). */
    pthread_t notify_threads[MAX_NOTIFY];
    NotifyArg notify_args[MAX_NOTIFY];
    volatile int notify_started;
    pthread_mutex_t threads_mu;
    /* The notify threads' table of threads (`seen`), in stripes by tid, each with its
     * lock (seen_lock): two threads of the application on two CPUs, each served by its
     * own notify thread, then rarely wait for each other (a wait is a sleep and a
     * cross-CPU wake-up, tens of us on a VM). */
    pthread_mutex_t seen_mu[SEEN_STRIPES];
    TaskTable ptasks;             /* ptrace thread: every tracee */
    TaskTable seen[SEEN_STRIPES]; /* notify threads: threads seen so far */
    /* the shared output buffer */
    pthread_mutex_t mu;
    pthread_cond_t drained;
    Buf out;
    size_t out_start; /* drain() takes from here; publish() appends at out.len */
    size_t out_events;
    /* counters (written under mu or by one thread only) */
    uint64_t stops, events, dropped, errors, notif_invalid, lifecycle;
    int sync_wakeup, killable_recv; /* what the listener got (killable: the filter waits killably) */
    int percpu;              /* no SYNC_WAKE_UP: one pinned notify thread per CPU, in poll() */
    pthread_mutex_t recv_mu; /* per-CPU threads: one at a time calls NOTIF_RECV */
    uint64_t recv_races;     /* per-CPU threads: woken for a notification another took */
    /* The guard (see "the agent's guard" below): who the agent is, set by guard(). */
    pid_t guard_pid, guard_pgid;
    int decoy_fd; /* backend ptrace: our own seccomp listener in the app's chain */
    uint64_t denied;
    char start_error[256];
    Enc enc_ptrace, enc_notify[MAX_NOTIFY];
    /* processes outside the application's tree, to seize (adopt_*, below) */
    pthread_mutex_t adopt_mu;
    pthread_t wait_thread;
    volatile int wait_running;
    int adopt_q[ADOPT_MAX], adopt_n;
    int adopt_sys[ADOPT_MAX]; /* per queued pid: follow its syscalls (outside_stop) */
    uint64_t adopted, adopt_failed;
    uint64_t outside_events; /* syscalls of adopted processes recorded (outside_syscall) */
    /* Exit stops nobody needs (skip_*, below): verdicts pushed by the pipeline. */
    int skip_on, skip_distrust;
    int roots_differ; /* a task may see another root or mounts than the agent (SPEC_NEWROOT) */
    uint64_t uffd_rdev; /* the userfaultfd device (/proc/misc), 0 if none: as SPEC_DISTRUST */
    /* Every mapping that could put a page another process writes under a claim stops
     * the task (remap_guard: the filter has them, specs.REMAPS) and moves its count on,
     * or map_gen for a task that shares its memory (view_remapped): what a task's
     * mappings were is known until then (claim_private). */
    int remap_guard;
    uint64_t map_gen;
    /* The loop asked to be woken (arm_learning) when a record comes whose verdict the
     * core waits for (T_ENTRYKEY): until the verdict is in, every equal open takes its
     * exit stop, so it should not wait for its timer. An eventfd, written once per arm. */
    int learn_fd, learn_armed;
    pthread_mutex_t skip_mu;
    HashKey skip_key; /* entry keys are hashed under it (keyhash.h) */
    uint64_t skip_gen, skip_n, exit_skips;
    struct SkipSlot {
        uint64_t key, gen;
        PathBloom bloom; /* an open's path components (pathwatch.h); connects: none */
        int watched;
        int vouched;       /* a vouched path: no stat at entry (see vouchable) */
        int32_t err;       /* vouched: where the path led when learned ... */
        uint64_t dev, ino; /* ... */
        uint64_t vseq;     /* ... and the events read by then (pw_now) */
    } *skip_tab;
    PathWatch pw; /* directories of skippable paths, for renames racing a skipped open */
    int skipped_tasks; /* tasks with a skipped open still to check */
    /* Opens taken by notification, their exit by PTRACE_INTERRUPT (exits_by_interrupt). */
    int notify_exits;  /* wanted: opens are notified, not RET_TRACE */
    int resolve_claims; /* no ptrace, tracer.verify: opens carry where the claim leads */
    pthread_mutex_t exitq_mu;
    Buf exitq; /* ExitAsk + record, one after another: asked of the wait thread */
    uint64_t exitq_asked, exitq_done, interrupt_exits, restarted_exits;
    int wait_blocked; /* the wait thread is (about to be) blocked in waitid: signal it */
} Core;

/* ---- small helpers ---------------------------------------------------------- */
static int32_t s32(uint64_t v) { return (int32_t)(uint32_t)v; }

/* Set when a read of tracee memory was refused (EPERM: a process the agent may not
 * read): run_ops() marks the record RF_UNREADABLE, which is itself an alert. */
static __thread int th_refused;
/* Where read_mem reads thread th_mem_tid's memory from instead of process_vm_readv: an
 * open /proc/TID/mem (-1: none). It was checked once, when opened; process_vm_readv
 * checks the caller's ptrace rights at every call, about a third of a claim's read. */
static __thread int th_mem_fd = -1;
static __thread pid_t th_mem_tid;

static ssize_t read_mem(pid_t tid, uint64_t addr, void *dst, size_t len) {
    if (!addr || !len) return -1;
    if (th_mem_fd >= 0 && tid == th_mem_tid) {
        /* Bytes up to the first unmapped page, as below. 0 (its mm is gone) or an error:
         * read as below, which tells a refusal from a fault. */
        ssize_t n = pread(th_mem_fd, dst, len, (off_t)addr);
        if (n > 0) return n;
    }
    struct iovec l = {dst, len}, r = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(tid, &l, 1, &r, 1, 0);
    if (n < 0 && errno == EPERM) th_refused = 1;
    if (n >= 0 || errno != EFAULT) return n;
    /* The range crosses into an unmapped page: read up to the page end. */
    size_t first = 4096 - (addr & 4095);
    if (first >= len) return -1;
    l.iov_len = r.iov_len = first;
    return process_vm_readv(tid, &l, 1, &r, 1, 0);
}

/* A C string from the tracee, at most max bytes; returns its length or -1. */
static ssize_t read_cstr(pid_t tid, uint64_t addr, char *dst, size_t max) {
    size_t got = 0;
    /* A short first read (most paths fit; copying a whole page costs more), never
     * past the page end, then page by page. */
    size_t chunk = 4096 - (addr & 4095);
    if (chunk > 256) chunk = 256;
    while (got < max) {
        if (chunk > max - got) chunk = max - got;
        ssize_t n = read_mem(tid, addr + got, dst + got, chunk);
        if (n <= 0) return got ? (ssize_t)got : -1;
        char *z = memchr(dst + got, 0, (size_t)n);
        if (z) return z - dst;
        got += (size_t)n;
        chunk = 4096;
    }
    return (ssize_t)got;
}

static ssize_t read_file(const char *path, char *dst, size_t max) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = 0, n;
    while ((size_t)got < max && (n = read(fd, dst + got, max - got)) > 0) got += n;
    close(fd);
    return got;
}

static void blob_link(Enc *e, int tag, int arg, const char *path) {
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf);
    if (n >= 0) enc_blob(e, tag, arg, buf, (size_t)n);
}

static void blob_fdpath(Enc *e, int tag, int arg, pid_t tid, int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", tid, fd);
    blob_link(e, tag, arg, path);
}

static void blob_cwd(Enc *e, int tag, int arg, pid_t tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cwd", tid);
    blob_link(e, tag, arg, path);
}

static int tgid_of(pid_t tid, pid_t *ppid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *t = strstr(buf, "\nTgid:"), *p = strstr(buf, "\nPPid:");
    if (ppid) *ppid = p ? atoi(p + 6) : 0;
    return t ? atoi(t + 6) : -1;
}

static void blob_ids(Enc *e, pid_t tid) {
    char path[64], buf[2048], out[96];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n <= 0) return;
    buf[n] = 0;
    enc_blob(e, T_STATUS, 0, buf, (size_t)n); /* capabilities may have changed too */
    char *u = strstr(buf, "\nUid:"), *g = strstr(buf, "\nGid:");
    if (!u || !g) return;
    unsigned ru, eu, rg, eg;
    if (sscanf(u + 5, "%u %u", &ru, &eu) != 2 || sscanf(g + 5, "%u %u", &rg, &eg) != 2) return;
    int len = snprintf(out, sizeof out, "%u %u %u %u", ru, eu, rg, eg);
    enc_blob(e, T_IDS, 0, out, (size_t)len);
}

/* A pidfd for any thread: PIDFD_THREAD (6.9+), else the thread group's leader.
 * *exact: the pidfd names the thread itself (a leader, or PIDFD_THREAD). */
static int pidfd_of(pid_t tid, int *exact) {
    *exact = 1;
    int pidfd = (int)syscall(SYS_pidfd_open, tid, 0); /* a non-leader: EINVAL or ENOENT */
    if (pidfd >= 0) return pidfd;
    pidfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL /* PIDFD_THREAD */);
    if (pidfd >= 0) return pidfd;
    *exact = 0;
    int tgid = tgid_of(tid, NULL);
    return tgid > 0 ? (int)syscall(SYS_pidfd_open, tgid, 0) : -1;
}

/* The last thread's pidfd, one per agent thread: a busy client's every connect has
 * its socket read through one (fd_of_tracee), and opening and closing it each time
 * was two of the nine syscalls the client waited for (W4). Only a pidfd that
 * names the thread itself is kept: its tid taken by a new task after this one was
 * reaped is another struct pid, which the kept pidfd does not name (pidfd_getfd
 * fails with ESRCH, and a new one is opened); a leader's pidfd standing for one of
 * its threads could name the wrong process once that tid is reused, so it is not. */
static __thread int th_pidfd = -1;
static __thread pid_t th_pidfd_tid;

/* A copy, in the agent, of the tracee's fd `fd` (pidfd_getfd); -1 if there is none. */
static int fd_of_tracee(pid_t tid, int fd) {
    if (th_pidfd >= 0 && th_pidfd_tid == tid) {
        int local = (int)syscall(SYS_pidfd_getfd, th_pidfd, fd, 0);
        if (local >= 0 || errno != ESRCH) return local;
        close(th_pidfd);
        th_pidfd = -1;
    }
    int exact;
    int pidfd = pidfd_of(tid, &exact);
    if (pidfd < 0) return -1;
    int local = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    int err = errno;
    if (exact && local >= 0) {
        if (th_pidfd >= 0) close(th_pidfd);
        th_pidfd = pidfd, th_pidfd_tid = tid;
    } else {
        close(pidfd);
    }
    errno = err;
    return local;
}

/* Family, type and protocol of a tracee's socket, via pidfd_getfd; with
 * `addresses`, its local and peer address too (listen, dup2: not connect). */
static void blob_sockinfo(Enc *e, int arg, pid_t tid, int fd, int addresses) {
    int local = fd_of_tracee(tid, fd);
    if (local < 0) return;
    struct {
        int32_t family, type, proto;
        uint32_t llen;
        uint8_t laddr[128];
        uint32_t plen;
        uint8_t paddr[128];
    } si;
    memset(&si, 0, sizeof si);
    socklen_t ol = sizeof(int);
    if (getsockopt(local, SOL_SOCKET, SO_DOMAIN, &si.family, &ol) == 0) {
        ol = sizeof(int);
        getsockopt(local, SOL_SOCKET, SO_PROTOCOL, &si.proto, &ol);
        if (addresses) {
            ol = sizeof(int);
            getsockopt(local, SOL_SOCKET, SO_TYPE, &si.type, &ol);
            socklen_t l = sizeof si.laddr;
            if (getsockname(local, (struct sockaddr *)si.laddr, &l) == 0) si.llen = l;
            l = sizeof si.paddr;
            if (getpeername(local, (struct sockaddr *)si.paddr, &l) == 0) si.plen = l;
        }
        enc_blob(e, T_SOCKINFO, arg, &si, sizeof si);
    }
    close(local);
}

static int arch_index(uint32_t arch, int nr) {
    if (arch == AUDIT_ARCH_X86_64_) return (nr & X32_BIT) ? 1 : 0;
    if (arch == AUDIT_ARCH_I386_) return 2;
    if (arch == AUDIT_ARCH_AARCH64_) return 3;
    return -1;
}

static const Spec *spec_for(Core *c, uint32_t arch, int nr) {
    int a = arch_index(arch, nr);
    int n = nr & ~X32_BIT;
    if (a < 0 || n < 0 || n >= NR_MAX) return &c->generic;
    return &c->specs[a][n];
}

/* Run the ops of one phase (entry: exit_phase = 0) of a spec. */
static void run_ops(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args, int ptr_size,
                    int exit_phase) {
    th_refused = 0;
    for (int i = 0; i < s->n; i++) {
        int op = s->op[i][0], a = s->op[i][1], b = s->op[i][2];
        if (((op & OP_EXIT) != 0) != exit_phase) continue;
        op &= ~OP_EXIT;
        char *buf = e->scratch;
        switch (op) {
        case OP_STR: {
            ssize_t n = read_cstr(tid, args[a], buf, c->arg_max);
            if (n >= 0) enc_blob(e, T_STR, a, buf, (size_t)n);
            break;
        }
        case OP_PATH: {
            ssize_t n = read_cstr(tid, args[a], buf, c->arg_max);
            if (n < 0) break;
            enc_blob(e, T_STR, a, buf, (size_t)n);
            if (n > 0 && buf[0] == '/') break;
            int dirfd = b == 0xff ? AT_FDCWD_ : s32(args[b]);
            if (dirfd == AT_FDCWD_)
                blob_cwd(e, T_BASE, a, tid);
            else
                blob_fdpath(e, T_BASE, a, tid, dirfd);
            break;
        }
        case OP_FDPATH:
            blob_fdpath(e, T_FDPATH, a, tid, s32(args[a]));
            break;
        case OP_SOCKADDR: {
            size_t len = args[b] < 128 ? (size_t)args[b] : 128;
            ssize_t n = read_mem(tid, args[a], buf, len);
            if (n > 0) enc_blob(e, T_SOCKADDR, a, buf, (size_t)n);
            break;
        }
        case OP_SOCKADDR_PLEN: {
            uint32_t len = 0;
            if (read_mem(tid, args[b], &len, 4) != 4) break;
            if (len > 128) len = 128;
            ssize_t n = read_mem(tid, args[a], buf, len);
            if (n > 0) enc_blob(e, T_SOCKADDR, a, buf, (size_t)n);
            break;
        }
        case OP_SOCKINFO:
            blob_sockinfo(e, a, tid, s32(args[a]), b);
            break;
        case OP_RAW: {
            ssize_t n = read_mem(tid, args[a], buf, b);
            if (n > 0) enc_blob(e, T_RAW, a, buf, (size_t)n);
            break;
        }
        case OP_ARGV: {
            /* The pointer array, then each string; joined with NULs. */
            size_t np = c->argv_max + 1;
            uint64_t *ptrs = (uint64_t *)(e->scratch + c->arg_max + 1);
            uint8_t *raw = (uint8_t *)ptrs;
            ssize_t n = read_mem(tid, args[a], raw, np * ptr_size);
            if (n <= 0) break;
            size_t cnt = (size_t)n / ptr_size;
            Buf joined = {0};
            for (size_t k = 0; k < cnt && k < c->argv_max; k++) {
                uint64_t p = 0;
                memcpy(&p, raw + k * ptr_size, ptr_size);
                if (!p) break;
                ssize_t sl = read_cstr(tid, p, buf, c->arg_max);
                if (sl < 0) sl = 0;
                if (buf_reserve(&joined, (size_t)sl + 1) < 0) break;
                memcpy(joined.p + joined.len, buf, (size_t)sl);
                joined.p[joined.len + sl] = 0;
                joined.len += (size_t)sl + 1;
            }
            enc_blob(e, T_ARGV, a, joined.p ? joined.p : "", joined.len);
            free(joined.p);
            break;
        }
        case OP_IDS:
            blob_ids(e, tid);
            break;
        }
    }
    if (th_refused) enc_head(e)->flags |= RF_UNREADABLE;
}

static const char *find_blob(Enc *e, int tag, int arg, size_t *len);

/* After a record is kept: if the loop armed the wake-up and the record carries an
 * entry key whose verdict the core waits for, write the eventfd once. */
static void wake_learning(Core *c, Enc *e) {
    size_t len;
    if (!__atomic_load_n(&c->learn_armed, __ATOMIC_ACQUIRE) || !find_blob(e, T_ENTRYKEY, 0, &len))
        return;
    uint64_t one = 1;
    if (__atomic_exchange_n(&c->learn_armed, 0, __ATOMIC_ACQ_REL)) {
        ssize_t r = write(c->learn_fd, &one, sizeof one); /* fails only if woken already */
        (void)r;
    }
}

/* Hand a finished record to Python. Lifecycle records are never dropped. */
static void publish(Core *c, Enc *e, int droppable) {
    RecHead *h = enc_head(e);
    h->len = (uint32_t)e->b.len;
    pthread_mutex_lock(&c->mu);
    if (droppable) {
        c->events++; /* every event seen: delivered or dropped */
        while (c->out_events >= c->max_events ||
               c->out.len - c->out_start + e->b.len > c->max_bytes) {
            if (!c->block_when_full) {
                c->dropped++;
                pthread_mutex_unlock(&c->mu);
                return;
            }
            pthread_cond_wait(&c->drained, &c->mu); /* the tracee waits too: nothing lost */
        }
    } else {
        c->lifecycle++;
    }
    int kept = buf_reserve(&c->out, e->b.len) == 0;
    if (kept) {
        memcpy(c->out.p + c->out.len, e->b.p, e->b.len);
        c->out.len += e->b.len;
        c->out_events++;
    } else {
        c->dropped++;
    }
    pthread_mutex_unlock(&c->mu);
    if (kept) wake_learning(c, e);
}

/* ---- task table (ptrace mode) ---------------------------------------------- */
static Task *task_get(TaskTable *tt, int tid, int create) {
    if (tt->cap == 0 || (create && tt->n * 2 >= tt->cap)) {
        size_t cap = tt->cap ? tt->cap * 2 : 1024;
        Task *t = calloc(cap, sizeof(Task));
        if (!t) return NULL;
        for (size_t i = 0; i < tt->cap; i++) {
            if (!tt->tasks[i].used) continue;
            size_t j = (size_t)tt->tasks[i].tid * 2654435761u % cap;
            while (t[j].used) j = (j + 1) % cap;
            t[j] = tt->tasks[i];
        }
        free(tt->tasks);
        tt->tasks = t;
        tt->cap = cap;
    }
    size_t j = (size_t)tid * 2654435761u % tt->cap;
    while (tt->tasks[j].used) {
        if (tt->tasks[j].tid == tid) return &tt->tasks[j];
        j = (j + 1) % tt->cap;
    }
    if (!create) return NULL;
    memset(&tt->tasks[j], 0, sizeof(Task));
    tt->tasks[j].used = 1;
    tt->tasks[j].tid = tid;
    tt->tasks[j].fresh = 1;
    tt->n++;
    return &tt->tasks[j];
}

/* The agent's fds on tracees' memory (/proc/TID/pagemap, /proc/TID/mem), one per busy
 * task: bounded, so that thousands of processes cannot take the fds the agent's sinks
 * and /proc reads need (past the bound a claim is read as without them). */
#define MAX_VIEW_FDS 256
static int view_fds;

static int view_fd_open(const char *path) {
    if (__atomic_add_fetch(&view_fds, 1, __ATOMIC_RELAXED) > MAX_VIEW_FDS) {
        __atomic_sub_fetch(&view_fds, 1, __ATOMIC_RELAXED);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) __atomic_sub_fetch(&view_fds, 1, __ATOMIC_RELAXED);
    return fd;
}

/* Close what view_fd_open gave as fd + 1 (0 or less: nothing open). */
static void view_fd_close(int fd_plus_1) {
    if (fd_plus_1 <= 0) return;
    close(fd_plus_1 - 1);
    __atomic_sub_fetch(&view_fds, 1, __ATOMIC_RELAXED);
}

static void task_del(TaskTable *tt, int tid) {
    Task *t = task_get(tt, tid, 0);
    if (!t) return;
    free(t->pending.p);
    free(t->skipped_rec.p);
    view_fd_close(t->pagemap_fd);
    view_fd_close(t->mem_fd);
    /* Re-insert the rest of the cluster so lookups stay correct (linear probing). */
    size_t cap = tt->cap, j = (size_t)(t - tt->tasks);
    memset(t, 0, sizeof *t);
    tt->n--;
    for (size_t k = (j + 1) % cap; tt->tasks[k].used; k = (k + 1) % cap) {
        Task moved = tt->tasks[k];
        memset(&tt->tasks[k], 0, sizeof(Task));
        size_t m = (size_t)moved.tid * 2654435761u % cap;
        while (tt->tasks[m].used) m = (m + 1) % cap;
        tt->tasks[m] = moved;
    }
}

static void table_free(TaskTable *tt) {
    for (size_t i = 0; i < tt->cap; i++) {
        free(tt->tasks[i].pending.p);
        free(tt->tasks[i].skipped_rec.p);
        if (!tt->tasks[i].used) continue;
        view_fd_close(tt->tasks[i].pagemap_fd);
        view_fd_close(tt->tasks[i].mem_fd);
    }
    free(tt->tasks);
    memset(tt, 0, sizeof *tt);
}

/* ---- the agent's guard ------------------------------------------------------ */
/* What the application may not do to the agent: signal it (kill, tkill, tgkill,
 * pidfd_open, pidfd_send_signal), attach to it or touch its memory (ptrace,
 * process_vm_readv/writev). Python names those syscalls and the argument holding
 * the target (OP_GUARD ops) and the filter stops them (tgkill only when aimed at
 * the agent's pid: a BPF argument check); here the target is resolved and the call
 * refused with EPERM. Such a record is never dropped: it is an alert. */
enum { GUARD_KILL = 1, GUARD_PID = 2, GUARD_PIDFD = 3 };

static int is_agent(Core *c, long pid) {
    if (pid <= 0) return 0;
    if (pid == c->guard_pid) return 1;
    return tgid_of((pid_t)pid, NULL) == c->guard_pid; /* one of the agent's threads */
}

/* The pid a tracee's pidfd (or its open /proc/PID directory, which
 * pidfd_send_signal accepts too) refers to; 0 when it is neither. */
static long pidfd_target(pid_t tid, int fd) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", tid, fd);
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        char *p = strstr(buf, "\nPid:");
        if (p) return atol(p + 5);
    }
    snprintf(path, sizeof path, "/proc/%d/fd/%d", tid, fd);
    n = readlink(path, buf, sizeof buf - 1);
    if (n > 6 && memcmp(buf, "/proc/", 6) == 0) {
        buf[n] = 0;
        return atol(buf + 6);
    }
    return 0;
}

/* The errno to refuse this call with, or 0 to let it run. */
static int guard_verdict(Core *c, const Spec *s, pid_t tid, const uint64_t *args) {
    if (s->flags & SPEC_DENY) return EPERM;
    if (!c->guard_pid) return 0;
    for (int i = 0; i < s->n; i++) {
        if (s->op[i][0] != OP_GUARD) continue;
        long v = s32(args[s->op[i][1] % 6]);
        switch (s->op[i][2]) {
        case GUARD_KILL: /* kill(pid): the agent, its group, everyone, or our own group */
            if ((v > 0 && is_agent(c, v)) || (v < -1 && -v == c->guard_pgid) ||
                (v == -1 && c->guard_pid != 1) || (v == 0 && getpgid(tid) == c->guard_pgid))
                return EPERM;
            break;
        case GUARD_PID:
            if (is_agent(c, v)) return EPERM;
            break;
        case GUARD_PIDFD:
            if (is_agent(c, pidfd_target(tid, (int)v))) return EPERM;
            break;
        }
    }
    return 0;
}

static void mark_denied(Core *c, Enc *e, int err) {
    RecHead *h = enc_head(e);
    h->res = -err;
    h->flags |= RF_RESULT | RF_DENIED;
    __atomic_add_fetch(&c->denied, 1, __ATOMIC_RELAXED);
}

/* At a ptrace seccomp stop: skip the syscall (number -1) and make it return -err;
 * the kernel returns what the tracer put in the return register (seccomp(2)). */
static int deny_at_stop(pid_t tid, int err) {
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return -1;
    regs.orig_rax = (unsigned long long)-1;
    regs.rax = (unsigned long long)(long long)-err;
    return ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0 ? -1 : 0;
#else
    (void)tid;
    (void)err;
    return -1;
#endif
}

/* clone(CLONE_UNTRACED) would make a child we never attach to, whose traced
 * syscalls then fail with ENOSYS: clear the flag (the filter stops only such
 * clones); the record keeps the flags as asked. clone3 is refused with ENOSYS by
 * the filter (its flags sit in memory another thread could change after a check),
 * so libcs fall back to clone. */
static int clear_untraced(pid_t tid, uint32_t arch) {
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return 0;
    unsigned long long *flags = arch == AUDIT_ARCH_I386_ ? &regs.rbx : &regs.rdi;
    if (!(*flags & CLONE_UNTRACED)) return 0;
    *flags &= ~(unsigned long long)CLONE_UNTRACED;
    return ptrace(PTRACE_SETREGS, tid, 0, &regs) == 0;
#else
    (void)tid;
    (void)arch;
    return 0;
#endif
}

/* The stripe of `seen` that holds `tid`, locked (seen_unlock releases it). Without
 * exits asked for (notify_exits: no ptrace, one notify thread) there is one stripe:
 * there a thread's process is looked up beside it (notify_lifecycle). */
static int seen_stripe(Core *c, int tid) {
    return c->notify_exits ? (int)((unsigned)tid % SEEN_STRIPES) : 0;
}

static TaskTable *seen_lock(Core *c, int tid) {
    int i = seen_stripe(c, tid);
    pthread_mutex_lock(&c->seen_mu[i]);
    return &c->seen[i];
}

static void seen_unlock(Core *c, int tid) { pthread_mutex_unlock(&c->seen_mu[seen_stripe(c, tid)]); }

/* Without ptrace there is no exit stop after a setuid: read the ids at the
 * thread's next stop instead, so user.uid stays right. */
static void notify_ids(Core *c, Enc *e, int tid, int is_setid) {
    Task *t = task_get(seen_lock(c, tid), tid, 0);
    int pending = t && t->ids_pending;
    if (t) t->ids_pending = is_setid;
    seen_unlock(c, tid);
    if (pending) blob_ids(e, tid);
}

/* In the child, before exec: what only the agent needs stays with the agent. */
static void guard_child(void) {
    /* Out of the agent's process group (so kill(0, ...) cannot reach the agent),
     * unless a terminal is involved: job control belongs to the shell then. */
    int tty = 0;
    for (int fd = 0; fd < 3; fd++) tty |= tcgetpgrp(fd) >= 0;
    if (!tty) setpgid(0, 0);
    /* CAP_SYS_PTRACE is the agent's (a task adds it for the agent): drop it. Without
     * CAP_SETPCAP the bounding set stays, but NO_NEW_PRIVS keeps exec from
     * granting more than the permitted set we leave. */
    prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_PTRACE, 0, 0);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) == 0) {
        uint32_t bit = 1u << CAP_SYS_PTRACE;
        data[0].effective &= ~bit;
        data[0].permitted &= ~bit;
        data[0].inheritable &= ~bit;
        syscall(SYS_capset, &hdr, data);
    }
}

/* Backend ptrace: a seccomp listener of our own in the application's chain. The
 * kernel allows one listener per chain (a second gets EBUSY), so the application
 * cannot add a SECCOMP_RET_USER_NOTIF filter, whose answer outranks our RET_TRACE
 * and would hide its syscalls from us. The filter itself allows everything. */
static int install_decoy(void) {
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &allow};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                        SECCOMP_FILTER_FLAG_NEW_LISTENER | TH_SPEC, &prog);
}

/* ---- lifecycle records -------------------------------------------------------- */
/* What a process runs: exe, comm, cmdline, cwd (and ids), read from /proc. */
static void blob_process(Enc *e, int pid, int with_ids) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    blob_link(e, T_EXE, 0, path);
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    ssize_t n = read_file(path, e->scratch, 64);
    if (n > 0) enc_blob(e, T_COMM, 0, e->scratch, (size_t)(e->scratch[n - 1] == '\n' ? n - 1 : n));
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    n = read_file(path, e->scratch, e->scratch_len);
    if (n >= 0) enc_blob(e, T_CMDLINE, 0, e->scratch, (size_t)n);
    blob_cwd(e, T_CWD, 0, pid);
    if (with_ids) blob_ids(e, pid);
    static const struct { int tag; const char *name; } facts[] = {
        {T_STATUS, "status"}, {T_STAT, "stat"}, {T_LOGINUID, "loginuid"}, {T_ENVIRON, "environ"},
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, facts[i].name);
        n = read_file(path, e->scratch, e->scratch_len);
        if (n >= 0) enc_blob(e, facts[i].tag, 0, e->scratch, (size_t)n);
    }
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    if (stat(path, &st) == 0) {
        uint64_t v[3] = {(uint64_t)st.st_ino,
                         (uint64_t)st.st_ctim.tv_sec * 1000000000ull + st.st_ctim.tv_nsec,
                         (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec};
        enc_blob(e, T_EXESTAT, 0, v, sizeof v);
    }
}

/* adopted: seen without a creation event, so what it runs comes along */
static void skip_forget(Core *c);
static void forget_before_teaching(Core *c);
static int skip_teaches(const Spec *s, const uint64_t *args);

static void emit_new_task(Core *c, Enc *e, int parent, int child, int is_thread, int adopted) {
    skip_forget(c); /* a new parent/child relation: proc.* fields of verdicts may change */
    enc_begin(e, K_NEW_TASK, child);
    RecHead *h = enc_head(e);
    h->args[0] = (uint64_t)parent;
    h->args[1] = (uint64_t)is_thread;
    h->args[2] = (uint64_t)adopted;
    if (adopted && !is_thread) blob_process(e, child, 1);
    publish(c, e, 0);
}

/* observed: without ptrace, what the process runs after an execve (not a confirmation) */
static void emit_exec(Core *c, Enc *e, int pid, int former, int observed) {
    skip_forget(c);
    enc_begin(e, K_EXEC, pid);
    enc_head(e)->args[0] = (uint64_t)former;
    enc_head(e)->args[1] = (uint64_t)observed;
    blob_process(e, pid, 0);
    publish(c, e, 0);
}

static void emit_exit(Core *c, int tid, int status) {
    skip_forget(c);
    Enc *e = &c->enc_ptrace;
    enc_begin(e, K_EXIT, tid);
    enc_head(e)->args[0] = (uint64_t)(uint32_t)status;
    publish(c, e, 0);
}

/* ---- the seccomp notify loop -------------------------------------------------- */
static void wake_handler(int sig) { (void)sig; }

/* NOTIF_SEND and NOTIF_ID_VALID take the listener's lock interruptibly: a signal
 * pending for the calling thread (the wake-ups the core sends itself) fails them with
 * EINTR. An answer lost that way would leave the tracee waiting for ever. */
static int notif_ioctl(int fd, unsigned long req, void *arg) {
    int r;
    do r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Without ptrace, after `proc` called execve from thread exec_tid, thread `tid` stops.
 * Only the leader's tid survives an exec, so only a leader's stop can show the new
 * program: look at the process then (emit_exec). But when another thread called it,
 * the leader may stop before the exec is done (the kernel has not yet killed it):
 * while the exec'ing thread still exists, /proc shows the old program and settles
 * nothing. A stop of the exec'ing thread itself (not the leader) means its execve
 * failed and it went on (the pipeline reports that from the syscall record). */
static void notify_exec_outcome(Core *c, Enc *e, Task *proc, int tid) {
    if (tid == proc->tid) {
        if (proc->exec_tid != proc->tid) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/task/%d", proc->tid, proc->exec_tid);
            if (access(path, F_OK) == 0) return; /* still in its execve, or it failed */
        }
        proc->exec_pending = 0;
        emit_exec(c, e, proc->tid, proc->tid, 1);
    } else if (tid == proc->exec_tid) {
        proc->exec_pending = 0;
    }
}

/* Without ptrace: learn a thread the first time it stops (while it is stopped, so
 * /proc is stable), and look at a process again after it called execve. */
static void notify_lifecycle(Core *c, Enc *e, int tid, int is_exec) {
    TaskTable *seen = seen_lock(c, tid); /* the only stripe here: the process is in it */
    Task *t = task_get(seen, tid, 0);
    if (!t) {
        pid_t ppid = 0;
        int tgid = tgid_of(tid, &ppid);
        if (tgid <= 0) goto out;
        if (seen->n > 1000000) table_free(seen); /* bound it; re-learning is harmless */
        t = task_get(seen, tid, 1);
        if (!t) goto out;
        t->tgid = tgid;
        emit_new_task(c, e, tgid == tid ? ppid : tgid, tid, tgid != tid, 1);
    }
    Task *proc = t->tgid == tid ? t : task_get(seen, t->tgid, 0);
    if (proc && proc->exec_pending) notify_exec_outcome(c, e, proc, tid);
    if (is_exec) {
        if (!proc && (proc = task_get(seen, t->tgid, 1))) proc->tgid = t->tgid;
        if (proc) {
            proc->exec_pending = 1;
            proc->exec_tid = tid;
        }
    }
out:
    seen_unlock(c, tid);
}

/* What notified_open_needs_exit() says. A skipped open's record is not published: its
 * verdict says no stage could use it whatever its result, which is what the process
 * table's own filter would find again (proctable.py, `filtered`, where it is counted).
 * Its copy goes out only if its path turns out rebound (publish_raced). */
enum { EXIT_NOT_WANTED, EXIT_WANTED, EXIT_SKIPPED };
static int notified_open_needs_exit(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args);
static int view_read_claims(Core *c, const Spec *s, pid_t tid);
static void view_read_done(Core *c, pid_t tid);
static void view_remapped(Core *c, int tid);
static void ask_exit(Core *c, Enc *e, pid_t tid, uint64_t id, uint64_t ip);
static int passes_restarted(Core *c, int tid, int nr);
static void check_seen_skipped(Core *c, int tid);
static void resolve_at_entry(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args);

/* At the entry of a syscall that writes another process's memory or changes a task's
 * root or mounts: from now on no claim is trusted to skip an exit stop, and claims
 * resolved by the agent (no ptrace) are resolved in the task's root. Set before the
 * syscall runs, for good: rare syscalls, and a task's root is inherited. */
static void distrust_claims(Core *c, const Spec *s) {
    if (s->flags & SPEC_DISTRUST) __atomic_store_n(&c->skip_distrust, 1, __ATOMIC_RELEASE);
    if (s->flags & SPEC_NEWROOT) __atomic_store_n(&c->roots_differ, 1, __ATOMIC_RELEASE);
}

/* Kernels without SYNC_WAKE_UP (Fargate's 5.10) hand a notification to whichever
 * thread waits in NOTIF_RECV, on another CPU if one is idle: two idle wake-ups per
 * stop (~110 us on an idle host). Instead one notify thread per CPU, each pinned, all
 * wait in poll(): a notification wakes them all, the one on the stopping CPU runs
 * first and takes it, and the other, woken at the same moment, keeps its CPU from
 * looking idle when the answer wakes the tracee, so the tracee stays where it was
 * (docs/performance.md, "The hand-off without SYNC_WAKE_UP": 1-3 % of hand-offs cross
 * CPUs on 5.10, against 90-100 %). recv_mu and a second poll make sure NOTIF_RECV is
 * only called with a notification pending, so it never blocks a thread that lost.
 * Returns 0 with `req` filled, 1 to try again, -1 when the filter has no users left. */
static int recv_percpu(Core *c, struct seccomp_notif *req) {
    struct pollfd p = {c->notify_fd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) return 1; /* EINTR: the end-of-run wake-up */
    if (!(p.revents & POLLIN)) return (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ? -1 : 1;
    if (pthread_mutex_trylock(&c->recv_mu)) {
        __atomic_add_fetch(&c->recv_races, 1, __ATOMIC_RELAXED);
        sched_yield(); /* the winner takes it at once; then poll blocks again */
        return 1;
    }
    int got = poll(&p, 1, 0) > 0 && (p.revents & POLLIN) &&
              ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) == 0;
    pthread_mutex_unlock(&c->recv_mu);
    if (!got) __atomic_add_fetch(&c->recv_races, 1, __ATOMIC_RELAXED);
    return got ? 0 : 1;
}

static void pin_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *notify_loop(void *arg) {
    Core *c = ((NotifyArg *)arg)->core;
    Enc *e = &c->enc_notify[((NotifyArg *)arg)->index];
    if (((NotifyArg *)arg)->cpu >= 0) pin_thread(((NotifyArg *)arg)->cpu);
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    while (!c->done) {
        memset(&req, 0, sizeof req);
        if (c->percpu) {
            int r = recv_percpu(c, &req);
            if (r < 0) break;
            if (r > 0) continue;
        } else if (ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            break; /* the filter has no users left */
        }
        __atomic_add_fetch(&c->stops, 1, __ATOMIC_RELAXED);
        check_seen_skipped(c, (int)req.pid);
        if (passes_restarted(c, (int)req.pid, req.data.nr)) {
            memset(&resp, 0, sizeof resp);
            resp.id = req.id;
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
            continue;
        }
        const struct seccomp_data *d = &req.data;
        const Spec *s = spec_for(c, d->arch, d->nr);
        if (s->flags & SPEC_REMAP) view_remapped(c, (int)req.pid); /* before it runs */
        if (s->flags & SPEC_QUIET) {
            memset(&resp, 0, sizeof resp);
            resp.id = req.id;
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
            continue;
        }
        if (!c->use_ptrace) notify_lifecycle(c, e, (int)req.pid, s->flags & SPEC_EXEC);
        enc_begin(e, K_SYSCALL, (int)req.pid);
        RecHead *h = enc_head(e);
        h->arch = d->arch;
        h->nr = d->nr;
        memcpy(h->args, d->args, sizeof h->args);
        int ptr = (d->arch == AUDIT_ARCH_I386_ || (d->nr & X32_BIT)) ? 4 : 8;
        /* d->args, not h->args: adding blobs may move the record buffer */
        int mem = view_read_claims(c, s, (pid_t)req.pid);
        run_ops(c, e, s, (pid_t)req.pid, (const uint64_t *)d->args, ptr, 0);
        if (mem) view_read_done(c, (pid_t)req.pid);
        if (!c->use_ptrace) notify_ids(c, e, (int)req.pid, s->flags & SPEC_SETID);
        if (c->resolve_claims) resolve_at_entry(c, e, s, (pid_t)req.pid, (const uint64_t *)d->args);
        distrust_claims(c, s);
        if (skip_teaches(s, (const uint64_t *)d->args)) forget_before_teaching(c);
        int deny = guard_verdict(c, s, (pid_t)req.pid, (const uint64_t *)d->args);
        if (deny) mark_denied(c, e, deny);
        int exit = deny ? EXIT_NOT_WANTED
                        : notified_open_needs_exit(c, e, s, (pid_t)req.pid, (const uint64_t *)d->args);
        /* What was read is trustworthy only if the tracee is still in that syscall.
         * A skipped open publishes nothing and its answer only lets it go on: if the
         * tracee has left (killed, its tid since reused), the answer fails as the check
         * would, so the answer is the check (one ioctl less on the busiest path). */
        int skipped = exit == EXIT_SKIPPED && !deny;
        int valid = skipped || notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) == 0;
        if (valid && exit == EXIT_WANTED) {
            ask_exit(c, e, (pid_t)req.pid, req.id, d->instruction_pointer); /* the wait thread answers */
            continue;
        }
        if (!valid)
            __atomic_add_fetch(&c->notif_invalid, 1, __ATOMIC_RELAXED);
        else if (exit != EXIT_SKIPPED)
            publish(c, e, !deny);
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = deny ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        resp.error = -deny;
        if (notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && skipped)
            __atomic_add_fetch(&c->notif_invalid, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Start one more notify thread (pinned to `cpu` unless it is -1), up to one per
 * CPU (MAX_NOTIFY). Returns whether a thread was started. */
static int add_notify_thread(Core *c, int cpu) {
    static long cpus;
    if (!cpus) cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int started = 0;
    pthread_mutex_lock(&c->threads_mu);
    int i = c->notify_started;
    if (!c->done && i < MAX_NOTIFY && i < (cpus < 1 ? 1 : cpus)) {
        c->notify_args[i].core = c;
        c->notify_args[i].index = i;
        c->notify_args[i].cpu = cpu;
        if (pthread_create(&c->notify_threads[i], NULL, notify_loop, &c->notify_args[i]) == 0) {
            c->notify_started++;
            started = 1;
        }
    }
    pthread_mutex_unlock(&c->threads_mu);
    return started;
}

/* ---- exit stops nobody needs ---------------------------------------------------
 * An open's exit stop (its result, the kernel's truth) is a second ptrace stop, and on
 * an idle VM each ptrace stop costs two cross-CPU wake-ups. When no sink takes events
 * (alerts only), most opens cannot make a difference whatever their result: the
 * pipeline says so per distinct event and pushes the verdict down here (skip_exit).
 * An open whose entry record has such a verdict is resumed without the exit stop, and
 * its record is left out (EXIT_SKIPPED). The key covers what the verdict depends on:
 * the entry record but its time (claim, base directory, flags), the thread, and where
 * the claimed path leads (device, inode: a path that became a symlink or another file
 * is a new key), looked at now or, for a plain absolute path, vouched for by the
 * inotify events read since it was learned (see vouchable). A connect is keyed the
 * same way by its address (IPv4, IPv6) and socket kind.
 * It is only trusted where the claim cannot be swapped under us: a task whose
 * memory no other task shares. Anything that can change a rule's answer (a new task, an
 * exec, an exit, a write-open, the syscalls the pipeline marks SPEC_TEACHES) starts a
 * new generation: every verdict is forgotten, and late pushes of the old one ignored. */
#define SKIP_SLOTS 16384 /* a power of two; a generation holds at most 3/4 of it */
#define OPEN_WRITES (01 | 02 | 0100 | 01000 | 02000 | 020000000) /* WRONLY RDWR CREAT TRUNC APPEND TMPFILE */

typedef struct {
    uint64_t dev, ino;
    int32_t err; /* errno of stat on the claim, 0 if it leads somewhere */
    int32_t pad;
} ClaimStat;

static int claim_path(char *out, size_t max, pid_t tid, const char *claim, size_t len, int dirfd);
static const char *find_blob(Enc *e, int tag, int arg, size_t *len);

static void skip_forget(Core *c) {
    if (!__atomic_load_n(&c->skip_on, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&c->skip_mu);
    c->skip_gen++;
    c->skip_n = 0;
    pthread_mutex_unlock(&c->skip_mu);
}

/* Before a syscall that changes what verdicts rest on (a rename, link, symlink, a
 * write-open that may create a name): forget them, and let the path checker look at
 * every skipped open handed to it so far, before this syscall can rebind a name on
 * one of their paths (the events it queues would be read as a race). */
static void forget_before_teaching(Core *c) {
    skip_forget(c);
    if (__atomic_load_n(&c->skip_on, __ATOMIC_ACQUIRE)) pw_flush(&c->pw);
}

/* Does this syscall's event change what a verdict was based on? */
static int skip_teaches(const Spec *s, const uint64_t *args) {
    if (s->flags & (SPEC_TEACHES | SPEC_DISTRUST)) return 1;
    if (s->flags & SPEC_OPEN_FLAGS1) return (args[1] & OPEN_WRITES) != 0;
    if (s->flags & SPEC_OPEN_FLAGS2) return (args[2] & OPEN_WRITES) != 0;
    return 0;
}

static size_t skip_slot(uint64_t key) { return (size_t)(key ^ (key >> 29)) & (SKIP_SLOTS - 1); }

/* Called with skip_mu held: the slot of `key` in this generation, or NULL. */
static struct SkipSlot *skip_known(Core *c, uint64_t key) {
    for (size_t i = skip_slot(key), n = 0; n < SKIP_SLOTS; i = (i + 1) & (SKIP_SLOTS - 1), n++) {
        if (c->skip_tab[i].gen != c->skip_gen) return NULL; /* an empty slot of this generation */
        if (c->skip_tab[i].key == key) return &c->skip_tab[i];
    }
    return NULL;
}

/* What T_ENTRYKEY carries, and skip_exit() gets back. */
typedef struct {
    uint64_t key, gen;
    PathBloom bloom;
    uint64_t watched, vouched;
    uint64_t dev, ino, vseq;
    int64_t err;
} EntryKey;

static void slot_set(struct SkipSlot *slot, const EntryKey *k) {
    slot->bloom = k->bloom;
    slot->watched = k->watched != 0;
    slot->vouched = k->vouched != 0;
    slot->dev = k->dev, slot->ino = k->ino, slot->err = (int32_t)k->err, slot->vseq = k->vseq;
}

static void skip_add(Core *c, const EntryKey *k) {
    uint64_t key = k->key;
    pthread_mutex_lock(&c->skip_mu);
    struct SkipSlot *known = k->gen == c->skip_gen ? skip_known(c, key) : NULL;
    if (known && k->vouched) {
        slot_set(known, k); /* learned again after its path changed */
    } else if (k->gen == c->skip_gen && !known) {
        if (c->skip_n >= SKIP_SLOTS / 4 * 3) { /* full: start again */
            c->skip_gen++;
            c->skip_n = 0;
        } else {
            size_t i = skip_slot(key);
            while (c->skip_tab[i].gen == c->skip_gen) i = (i + 1) & (SKIP_SLOTS - 1);
            c->skip_tab[i].key = key;
            c->skip_tab[i].gen = c->skip_gen;
            slot_set(&c->skip_tab[i], k);
            c->skip_n++;
        }
    }
    pthread_mutex_unlock(&c->skip_mu);
}

/* The arguments an event of a skippable syscall is decoded from (decode.py): the flags
 * of an open, its dirfd, a connect's fd and length. Not the pointers to the path or
 * address (what they point at is in the record; a server that builds each path in a
 * fresh buffer would otherwise never repeat a key), nor registers the syscall does
 * not read (an open's mode without O_CREAT, left-over values). */
static void key_args(const Spec *s, const uint64_t *args, uint64_t *out) {
    memset(out, 0, 6 * sizeof *out);
    if (s->flags & SPEC_OPEN_FLAGS1) { /* open(path, flags, mode) */
        out[1] = args[1];
    } else if (s->flags & SPEC_OPEN_FLAGS2) { /* openat(dirfd, path, flags, mode) */
        out[0] = args[0], out[2] = args[2];
    } else if (s->flags & SPEC_CONNECT) { /* connect(fd, addr, len) */
        out[0] = args[0], out[2] = args[2];
    } else {
        memcpy(out, args, 6 * sizeof *out);
    }
}

/* The keyed hash (keyhash.h: no path can be computed offline to collide with a
 * learned one) of the record being built, its thread id included, its time and the
 * arguments it is not decoded from (key_args) not. */
static uint64_t entry_key(Core *c, Enc *e, const Spec *s) {
    RecHead *head = enc_head(e);
    uint64_t ts = head->ts, args[6];
    memcpy(args, head->args, sizeof args);
    head->ts = 0;
    key_args(s, args, head->args);
    uint64_t h = keyed_hash(&c->skip_key, e->b.p, e->b.len);
    head->ts = ts;
    memcpy(head->args, args, sizeof args);
    return h ? h : 1;
}

/* Whether the `len` bytes at `addr` of task `tid` are in pages only it can change:
 * present, mapped once (pagemap bit 56), anonymous and private (bit 61 clear: not a
 * file page, which write(2) to the file changes, nor shared memory). A page a forked
 * child still shares copy-on-write is mapped twice: not trusted either. */
static int private_bytes(Task *t, pid_t tid, uint64_t addr, size_t len) {
    if (!t->pagemap_fd) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/pagemap", tid);
        int fd = view_fd_open(path);
        if (fd < 0) return 0;
        t->pagemap_fd = fd + 1;
    }
    uint64_t first = addr / 4096, last = (addr + len - 1) / 4096, v[2];
    if (last - first > 1) return 0; /* a claim is at most arg_max (< one page) long */
    size_t n = (size_t)(last - first + 1) * 8;
    if (pread(t->pagemap_fd - 1, v, n, (off_t)(first * 8)) != (ssize_t)n) return 0;
    for (size_t i = 0; i < n / 8; i++)
        if (!(v[i] >> 63 & 1) || !(v[i] >> 56 & 1) || (v[i] >> 61 & 1)) return 0;
    return 1;
}

/* The mapping of `tid` that holds `addr`, from /proc/TID/maps: 0 if none. */
static int read_vma(pid_t tid, uint64_t addr, VmaSeen *v) {
    char path[64], *line = NULL;
    size_t cap = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", tid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    int found = 0;
    /* Whole lines (getline): a long file name cut by a fixed buffer would be read as
     * the next line, and a name can be made to look like one. Sorted by address. */
    while (!found && getline(&line, &cap, f) > 0) {
        unsigned long long start, end, ino;
        char perms[8] = "", name[16] = "";
        /* start-end perms offset dev inode [name]: a name's first 15 bytes do */
        if (sscanf(line, "%llx-%llx %7s %*s %*s %llu %15s", &start, &end, perms, &ino, name) < 4)
            break;
        if (addr >= end) continue;
        if (addr < start) break;
        found = 1;
        v->start = start, v->end = end;
        v->private_anon = perms[3] == 'p' && ino == 0 &&
                          (!name[0] || !strcmp(name, "[heap]") || !strcmp(name, "[stack]") ||
                           !strncmp(name, "[anon:", 6));
    }
    free(line);
    fclose(f);
    return found;
}

/* Whether the `len` bytes at `addr` of task `tid` can be changed by no one but the
 * task while it waits in its syscall. With remap_guard, a claim in a private
 * anonymous mapping can (only the task maps there, and what could put another
 * process's page there stops it and moves map_gen on; a forked child's copy-on-write
 * share, KSM's, are copied before either writes; what writes another process's memory
 * is distrusted): known from /proc/TID/maps once per mapping until map_gen moves,
 * instead of a pagemap read at every open. Else, or elsewhere, the page's state. */
static int claim_private(Core *c, Task *t, pid_t tid, uint64_t addr, size_t len) {
    if (!c->remap_guard || !len) return private_bytes(t, tid, addr, len);
    uint64_t gen = __atomic_load_n(&c->map_gen, __ATOMIC_SEQ_CST) + 1; /* 0: unused slot */
    const VmaSeen *v = NULL;
    for (int i = 0; i < 4 && !v; i++) {
        const VmaSeen *s = &t->vmas[i];
        if (s->gen == gen && s->remaps == t->remaps && addr >= s->start && addr < s->end) v = s;
    }
    if (!v) {
        VmaSeen now;
        if (!read_vma(tid, addr, &now)) return 0;
        now.gen = gen, now.remaps = t->remaps;
        t->vmas[t->vma_next] = now;
        v = &t->vmas[t->vma_next];
        t->vma_next = (t->vma_next + 1) % 4;
    }
    if (v->private_anon && addr + len <= v->end) return 1;
    return private_bytes(t, tid, addr, len); /* a COWed page of a private file mapping */
}

/* The fds that read a task's memory (pagemap, mem): after an exec they would read the
 * old mm. */
static void view_fds_close(Task *t) {
    if (!t) return;
    view_fd_close(t->pagemap_fd);
    view_fd_close(t->mem_fd);
    t->pagemap_fd = t->mem_fd = t->claim_reads = 0;
    memset(t->vmas, 0, sizeof t->vmas); /* a new mm */
}

/* The userfaultfd misc device's number, from /proc/misc ("257 userfaultfd"), or 0. */
static uint64_t uffd_device(void) {
    FILE *f = fopen("/proc/misc", "re");
    if (!f) return 0;
    char name[64];
    unsigned minor;
    uint64_t dev = 0;
    while (!dev && fscanf(f, "%u %63s", &minor, name) == 2)
        if (!strcmp(name, "userfaultfd")) dev = makedev(10, minor);
    fclose(f);
    return dev;
}

/* A file opened (or about to be) that is the userfaultfd device, under whatever name
 * (a symlink, a node made with mknod): it gives a userfaultfd without the syscall
 * (USERFAULTFD_IOC_NEW), so it ends skipping as userfaultfd(2) does. */
static void distrust_uffd_device(Core *c, const struct stat *st) {
    if (c->uffd_rdev && S_ISCHR(st->st_mode) && (uint64_t)st->st_rdev == c->uffd_rdev)
        __atomic_store_n(&c->skip_distrust, 1, __ATOMIC_RELEASE);
}

/* Where `path` leads now: device and inode, or the errno of looking. */
static void claim_stat(Core *c, const char *path, int nofollow, ClaimStat *cs) {
    struct stat st;
    memset(cs, 0, sizeof *cs);
    /* O_NOFOLLOW opens (or fails on) the link itself */
    if (fstatat(AT_FDCWD, path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) == 0) {
        cs->dev = st.st_dev;
        cs->ino = st.st_ino;
        distrust_uffd_device(c, &st);
    } else {
        cs->err = errno;
    }
}

/* O_NOFOLLOW among the flags of an open made by a task of architecture `arch`: arm64
 * has its own value (0100000; its 0400000 is O_LARGEFILE). */
static int wants_nofollow(uint32_t arch, uint64_t flags) {
    return (flags & (arch == AUDIT_ARCH_AARCH64_ ? 0100000 : 0400000)) != 0;
}

/* An open's claim, if the verdict may rest on it: the whole path, in private memory.
 * The path as the agent resolves it goes to `path` (CLAIM_PATH_MAX bytes). */
#define CLAIM_PATH_MAX 4200

static int open_claim_trusted(Core *c, Task *t, Enc *e, const Spec *s, pid_t tid, const uint64_t *args,
                              char *path, int *nofollow) {
    int flags_arg = (s->flags & SPEC_OPEN_FLAGS1) ? 1 : (s->flags & SPEC_OPEN_FLAGS2) ? 2 : -1;
    if (flags_arg < 0 || (args[flags_arg] & OPEN_WRITES)) return 0;
    int path_arg = flags_arg - 1, dirfd = flags_arg == 2 ? s32(args[0]) : AT_FDCWD_;
    size_t len = 0;
    const char *claim = find_blob(e, T_STR, path_arg, &len);
    /* a claim cut at arg_max bytes, or unreadable, is not the whole path */
    if (!claim || len + 1 >= c->arg_max || (enc_head(e)->flags & RF_UNREADABLE) ||
        !claim_private(c, t, tid, args[path_arg], len + 1) ||
        !claim_path(path, CLAIM_PATH_MAX, tid, claim, len, dirfd))
        return 0;
    *nofollow = wants_nofollow(enc_head(e)->arch, args[flags_arg]);
    return 1;
}

static int plain(const char *p, size_t n);

/* Vouched paths. An absolute claim the agent resolves as it is written (no /proc/self,
 * no relative base, no "." or ".."), outside the kernel's own filesystems (/proc,
 * /sys, /dev: names change there without inotify events), can only lead elsewhere
 * than when it was learned if a name on it was bound since (a rename, a creation),
 * and each such binding queues an inotify event on a watched directory. Its verdict
 * then carries where it led and how many events had been read (vseq); at the next
 * open the events read since are matched against its components instead of a `stat`
 * of the path. An event read later is the checker's, as for any skipped open; a mount
 * by an untraced process makes no event, but the checker's look at the path sees it
 * (and every verdict is forgotten then). */
static int vouchable(const char *path) {
    return path[0] == '/' && strncmp(path, "/proc/", 6) && strncmp(path, "/sys/", 5) &&
           strncmp(path, "/dev/", 5) && plain(path, strlen(path));
}

/* With skip_mu held: the vouched slot of `key` with no name rebound on its path by
 * the events read up to `now` (pw_now), or NULL. */
static struct SkipSlot *vouched_slot(Core *c, uint64_t key, uint64_t now) {
    struct SkipSlot *slot = skip_known(c, key);
    if (!slot || !slot->vouched || !c->pw.running ||
        pw_changed_between(&c->pw, &slot->bloom, slot->vseq, now))
        return NULL;
    slot->vseq = now; /* looked at up to here: the next open starts from here */
    return slot;
}

/* A connect's claim, if the verdict may rest on it: an IPv4 or IPv6 address (no path
 * to resolve, unlike AF_UNIX), read whole, in private memory. The socket's family,
 * type and protocol (T_SOCKINFO, read at entry) are in the record, and so in the key. */
static int connect_claim_trusted(Core *c, Task *t, Enc *e, pid_t tid, const uint64_t *args) {
    size_t len = 0;
    const char *sa = find_blob(e, T_SOCKADDR, 1, &len);
    if (!sa || len < 2 || len != args[2] || (enc_head(e)->flags & RF_UNREADABLE)) return 0;
    uint16_t family;
    memcpy(&family, sa, sizeof family);
    return (family == AF_INET || family == AF_INET6) && claim_private(c, t, tid, args[1], len);
}

static void check_skipped(Core *c, Task *t);

/* Keep a copy of the skipped open's record, then its path (a few hundred bytes,
 * not Buf's 64 KiB). */
static int keep_record(Buf *to, const Enc *e, const char *path) {
    size_t plen = strlen(path) + 1;
    if (to->cap < e->b.len + plen) {
        size_t cap = (e->b.len + plen + 511) & ~(size_t)511;
        char *p = realloc(to->p, cap);
        if (!p) return -1;
        to->p = p;
        to->cap = cap;
    }
    memcpy(to->p, e->b.p, e->b.len);
    memcpy(to->p + e->b.len, path, plen);
    to->len = e->b.len;
    return 0;
}

/* Skip the exit of an open whose path the checker looks at after the thread's next
 * stop (check_skipped): until then, a rename onto a component of the path could
 * redirect the open. `cs`: where the path led at the entry; `bloom`: its components. */
static int skip_checked_later(Core *c, Task *t, Enc *e, const char *path, uint64_t seq, int nofollow,
                              const ClaimStat *cs, const PathBloom *bloom) {
    if (keep_record(&t->skipped_rec, e, path) < 0) return 0; /* no copy to publish if it races */
    t->skipped_at.seq = seq;
    t->skipped_at.nofollow = nofollow;
    t->skipped_at.dev = cs->dev, t->skipped_at.ino = cs->ino, t->skipped_at.err = cs->err;
    t->skipped_at.bloom = *bloom;
    t->skipped = 1;
    __atomic_add_fetch(&c->skipped_tasks, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->exit_skips, 1, __ATOMIC_RELAXED);
    return 1;
}

/* At the entry of a captured open or connect: 1 if a verdict says its exit stop is not
 * needed (the record then holds the entry only); otherwise the record gets what the
 * pipeline needs to push a verdict (T_ENTRYKEY, and for an open T_CLAIMSTAT) and 0 is
 * returned. */
static int skip_exit_stop(Core *c, Task *t, Enc *e, const Spec *s, pid_t tid, const uint64_t *args) {
    if (!__atomic_load_n(&c->skip_on, __ATOMIC_ACQUIRE) || !t || t->outside || t->shared_mm ||
        __atomic_load_n(&c->skip_distrust, __ATOMIC_ACQUIRE))
        return 0;
    if (t->skipped) check_skipped(c, t); /* the stop that ended it was not seen */
    int is_open = !(s->flags & SPEC_CONNECT), nofollow = 0;
    char path[CLAIM_PATH_MAX];
    ClaimStat cs;
    memset(&cs, 0, sizeof cs);
    /* Before the path is looked at: an event read by the time it is is still "since". */
    uint64_t seq = pw_now(&c->pw);
    int trusted = is_open ? open_claim_trusted(c, t, e, s, tid, args, path, &nofollow)
                          : connect_claim_trusted(c, t, e, tid, args);
    if (!trusted) return 0;
    int vouch = is_open && vouchable(path);
    EntryKey k;
    memset(&k, 0, sizeof k);
    if (vouch) { /* keyed by the claim alone: its slot says where it led */
        k.key = entry_key(c, e, s);
        struct SkipSlot found;
        pthread_mutex_lock(&c->skip_mu);
        struct SkipSlot *slot = vouched_slot(c, k.key, seq);
        if (slot) found = *slot;
        k.gen = c->skip_gen; /* for learning, below */
        pthread_mutex_unlock(&c->skip_mu);
        if (slot) {
            cs = (ClaimStat){found.dev, found.ino, found.err, 0};
            return skip_checked_later(c, t, e, path, seq, nofollow, &cs, &found.bloom);
        }
    }
    if (is_open) {
        claim_stat(c, path, nofollow, &cs);
        enc_blob(e, T_CLAIMSTAT, 0, &cs, sizeof cs); /* compared with the exit's answer */
    }
    struct SkipSlot found = {0};
    if (!vouch) { /* keyed with T_CLAIMSTAT: where the path leads now is in the key */
        k.key = entry_key(c, e, s);
        pthread_mutex_lock(&c->skip_mu);
        struct SkipSlot *slot = skip_known(c, k.key);
        if (slot && !(slot->watched && !c->pw.running)) found = *slot; /* else nobody checks it */
        k.gen = c->skip_gen;
        pthread_mutex_unlock(&c->skip_mu);
        if (found.key == k.key && found.gen == k.gen) {
            if (found.watched) return skip_checked_later(c, t, e, path, seq, nofollow, &cs, &found.bloom);
            __atomic_add_fetch(&c->exit_skips, 1, __ATOMIC_RELAXED); /* a connect: no path */
            return 1;
        }
    }
    /* Learning: the exit is taken; the verdict comes with the path's components. */
    if (is_open && !pw_learn(&c->pw, path, nofollow, tid, &k.bloom)) return 0;
    if (vouch) {
        /* The watches are in place now: a look after them that still finds where the
         * path led at the entry is where it leads until an event says otherwise. */
        ClaimStat now;
        k.vseq = pw_now(&c->pw);
        claim_stat(c, path, nofollow, &now);
        if (memcmp(&now, &cs, sizeof now) != 0) return 0;
        k.vouched = 1;
        k.dev = cs.dev, k.ino = cs.ino, k.err = cs.err;
    }
    k.watched = is_open;
    enc_blob(e, T_ENTRYKEY, 0, &k, sizeof k);
    return 0;
}

/* The path checker found that a skipped open's path changed while it ran: the file
 * opened may not be the one recorded. A copy of the record goes out as RF_RACED. */
static void publish_raced(void *ctx, char *record, size_t len) {
    Enc copy = {.b = {record, len, len}};
    enc_head(&copy)->flags |= RF_RACED;
    publish((Core *)ctx, &copy, 0); /* an alert: never dropped */
}

static void forget_verdicts(void *ctx) { skip_forget((Core *)ctx); }

/* At the next stop of a thread that skipped an open's exit (or at its end): the
 * kernel's lookup is done; the path checker looks whether it was redirected. */
static void check_skipped(Core *c, Task *t) {
    if (!t || !t->skipped) return;
    t->skipped = 0;
    __atomic_sub_fetch(&c->skipped_tasks, 1, __ATOMIC_RELAXED);
    const Buf *r = &t->skipped_rec;
    if (!pw_check_later(&c->pw, &t->skipped_at, r->p, r->len, r->p + r->len)) {
        publish_raced(c, r->p, r->len); /* cannot be checked: as if it raced */
    }
}

static void view_shared(Core *c, int tid);
static void view_reset(Core *c, int tid, int gone);
static void view_forget_mappings(Core *c, int tid);

/* Whether `child` (new after a fork, vfork or clone of `parent`) shares its memory
 * with another task (a thread, CLONE_VM), or what a claimed path is resolved against
 * (CLONE_FS: the cwd; CLONE_FILES: a dirfd). kcmp says; where it cannot, assume so. */
static void mark_shared_mm(Core *c, int parent, int child, int is_thread, int vfork) {
    Task *k = task_get(&c->ptasks, child, 0);
    int shared = is_thread;
    for (int type = 1 /* KCMP_VM */; !shared && type <= 3 /* KCMP_FILES 2, KCMP_FS 3 */; type++) {
        long r = syscall(SYS_kcmp, parent, child, type, 0, 0);
        shared = r != 1 && r != 2; /* 0: the same; -1: cannot tell */
    }
    if (!shared) return;
    if (k) k->shared_mm = 1;
    view_shared(c, child);
    /* A vfork parent is suspended until the child execs or exits: it writes nothing;
     * but what its child mapped before this is in its memory. */
    if (vfork) view_forget_mappings(c, parent);
    Task *p = vfork ? NULL : task_get(&c->ptasks, parent, 0);
    if (p) p->shared_mm = 1;
    if (!vfork) view_shared(c, parent);
    if (is_thread) {
        int tg = tgid_of(child, NULL);
        Task *leader = tg > 0 ? task_get(&c->ptasks, tg, 0) : NULL;
        if (leader) leader->shared_mm = 1;
        if (tg > 0) view_shared(c, tg);
    }
}

/* ---- the ptrace loop ---------------------------------------------------------- */
static void verify_at_exit(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args, int64_t res);
static void view_pass(Core *c, int tid, int nr);
static void on_restart_entry(Core *c, Task *t, int tid, const struct th_syscall_info *info);

/* Record a syscall at its entry (a seccomp stop, or an adopted process's syscall-entry
 * stop: both give nr and args at the same place in info) and resume it with `resume`;
 * a syscall whose result is wanted is kept in t->pending and resumed to its exit. */
static void record_entry(Core *c, Task *t, int tid, const struct th_syscall_info *info, int resume) {
    Enc *e = &c->enc_ptrace;
    int nr = (int)info->seccomp.nr;
    const Spec *s = spec_for(c, info->arch, nr);
    if (s->flags & SPEC_REMAP) view_remapped(c, tid);
    if (s->flags & SPEC_QUIET) {
        ptrace(resume, tid, 0, 0);
        return;
    }
    enc_begin(e, K_SYSCALL, tid);
    RecHead *h = enc_head(e);
    h->arch = info->arch;
    h->nr = nr;
    memcpy(h->args, info->seccomp.args, sizeof h->args);
    int ptr = (info->arch == AUDIT_ARCH_I386_ || (nr & X32_BIT)) ? 4 : 8;
    /* info's args, not h->args: adding blobs may move the record buffer */
    run_ops(c, e, s, tid, info->seccomp.args, ptr, 0);
    if ((s->flags & SPEC_UNTRACED) && clear_untraced(tid, info->arch))
        enc_head(e)->flags |= RF_UNTRACED;
    int deny = guard_verdict(c, s, tid, info->seccomp.args);
    if (deny) {
        mark_denied(c, e, deny);
        if (deny_at_stop(tid, deny) < 0) kill(tid, SIGKILL); /* never let it through */
        publish(c, e, 0);
        ptrace(resume, tid, 0, 0);
        return;
    }
    distrust_claims(c, s);
    if (skip_teaches(s, info->seccomp.args)) forget_before_teaching(c);
    if (s->flags & SPEC_CAPTURE && resume == PTRACE_CONT &&
        skip_exit_stop(c, t, e, s, tid, info->seccomp.args)) {
        ptrace(PTRACE_CONT, tid, 0, 0); /* not published: see EXIT_SKIPPED */
        return;
    }
    if (s->flags & SPEC_CAPTURE && t) {
        /* Keep the entry half; the record is finished at the exit stop. */
        t->pending.len = 0;
        if (buf_reserve(&t->pending, e->b.len) == 0) {
            memcpy(t->pending.p, e->b.p, e->b.len);
            t->pending.len = e->b.len;
            ptrace(PTRACE_SYSCALL, tid, 0, 0);
            return;
        }
    }
    publish(c, e, 1);
    ptrace(resume, tid, 0, 0);
}

static void on_seccomp_stop(Core *c, Task *t, int tid) {
    struct th_syscall_info info;
    memset(&info, 0, sizeof info);
    long n = ptrace(TH_PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
    if (n <= 0 || info.op != SI_SECCOMP) {
        ptrace(PTRACE_CONT, tid, 0, 0);
        return;
    }
    record_entry(c, t, tid, &info, PTRACE_CONT);
}

/* Finish the record kept at entry with the result, and resume with `resume`. */
static void record_exit(Core *c, Task *t, int tid, int64_t rval, int resume) {
    if (rval == -512 || rval == -513 || rval == -514 || rval == -516) {
        t->pending.len = 0; /* restarted: it stops again at entry */
        if (c->notify_exits && !c->killable_recv) view_pass(c, tid, -1); /* notified anew */
        ptrace(resume, tid, 0, 0);
        return;
    }
    Enc *e = &c->enc_ptrace;
    e->b.len = 0;
    buf_reserve(&e->b, t->pending.len);
    memcpy(e->b.p, t->pending.p, t->pending.len);
    e->b.len = t->pending.len;
    t->pending.len = 0;
    RecHead *h = enc_head(e);
    h->res = rval;
    h->flags |= RF_RESULT;
    const Spec *s = spec_for(c, h->arch, h->nr);
    int ptr = (h->arch == AUDIT_ARCH_I386_ || (h->nr & X32_BIT)) ? 4 : 8;
    uint64_t args[6];
    memcpy(args, h->args, sizeof args);
    run_ops(c, e, s, tid, args, ptr, 1);
    verify_at_exit(c, e, s, tid, args, rval);
    publish(c, e, 1);
    ptrace(resume, tid, 0, 0);
}

static void on_syscall_exit(Core *c, Task *t, int tid) {
    struct th_syscall_info info;
    memset(&info, 0, sizeof info);
    long n = ptrace(TH_PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
    if (n > 0 && info.op == SI_ENTRY && t && t->await_restart && t->pending.len) {
        on_restart_entry(c, t, tid, &info);
        return;
    }
    if (n > 0 && info.op == SI_ENTRY) {
        ptrace(PTRACE_SYSCALL, tid, 0, 0); /* older kernels: an entry stop comes first */
        return;
    }
    if (!t || !t->pending.len || n <= 0 || info.op != SI_EXIT) {
        ptrace(PTRACE_CONT, tid, 0, 0);
        return;
    }
    record_exit(c, t, tid, info.exit.rval, PTRACE_CONT);
}

/* ---- opens by notification, exits by interrupt ------------------------------------
 * An open that may need its exit used to be RET_TRACE: a ptrace stop at entry (two
 * cross-CPU wake-ups on an idle VM) where a notification costs one same-CPU hand-off
 * (SYNC_WAKE_UP, or the per-CPU threads). When the pipeline skips exits (alerts only),
 * opens are notified instead (notify_exits). A notify thread answers those it may skip
 * at once; for the others it asks the wait thread, the tracees' tracer, to
 * PTRACE_INTERRUPT the thread and then to answer CONTINUE. With a killable wait
 * (WAIT_KILLABLE_RECV, 5.19+) the interrupt cannot end it, so the thread completes the
 * open, and on its way out stops (PTRACE_EVENT_STOP) with the result in its registers:
 * the exit stop, taken only where it is needed.
 *
 * Without a killable wait (Fargate's 5.10) the interrupt ends the wait, and the open is
 * restarted (the wait thread does not answer: that would only race the interrupt). Left
 * alone it would be notified and interrupted again, forever. Instead the interrupt stop
 * shows -ERESTARTSYS; the wait thread resumes the thread with PTRACE_SYSCALL, and at the
 * restarted open's entry stop (same syscall, same arguments) lets the notify threads
 * answer its next notification at once (pass_nr): the open completes and its exit stop
 * finishes the record. Anything else first (a signal handler's syscall) drops the held
 * record: the restarted open comes again as a new notification. Three ptrace stops
 * where RET_TRACE takes two: worth it only where most opens skip their exit.
 *
 * The notify threads cannot read the wait thread's task table, so what skipping
 * trusts (shared memory, the pagemap fd) is kept for them in `seen` (unused with
 * ptrace otherwise), under its stripe's lock, by view_* below. */
typedef struct {
    uint64_t id;  /* the notification */
    uint64_t ip;  /* where the thread goes on after the open (seccomp_data) */
    int32_t tid;
    uint32_t len; /* of the record that follows */
} ExitAsk;

/* The notify threads' view: `tid` shares its memory with another task. */
static void view_shared(Core *c, int tid) {
    if (!c->notify_exits) return;
    Task *t = task_get(seen_lock(c, tid), tid, 1);
    if (t) t->shared_mm = 1;
    seen_unlock(c, tid);
}

/* The notify threads' view: `tid` is gone, or (exec) has a fresh, unshared mm. */
static void view_reset(Core *c, int tid, int gone) {
    if (!c->notify_exits) return;
    TaskTable *seen = seen_lock(c, tid);
    check_skipped(c, task_get(seen, tid, 0)); /* its open is over */
    if (gone) {
        task_del(seen, tid);
    } else {
        Task *t = task_get(seen, tid, 0);
        if (t) t->shared_mm = 0, t->pass_nr = 0;
        view_fds_close(t);
    }
    seen_unlock(c, tid);
}

/* The notify threads' view: the next notification of `tid` is syscall `nr`, restarted
 * after its record was taken (nr -1: no longer). */
static void view_pass(Core *c, int tid, int nr) {
    Task *t = task_get(seen_lock(c, tid), tid, nr >= 0);
    if (t) t->pass_nr = nr + 1;
    seen_unlock(c, tid);
}

/* Notify thread, before an open's or a connect's claims are read: read them from the
 * thread's /proc/TID/mem, opened once it has made a few (opening costs more than one
 * read saves). Only for a thread that shares its memory with no other task: a tid is
 * never reused under the view's eyes then (its exit is taken from the view before it
 * is reaped, wait_for_child; an exec closes the fd before the new program runs), while
 * a thread's tid is released inside another thread's exec, before the wait thread
 * hears of it. /proc/TID/mem also reads pages the thread could not (PROT_NONE): a claim
 * there is read where the kernel's own read fails (EFAULT, as the exit says).
 * Returns 1 with the tid's stripe locked (view_read_done releases it). */
static int view_read_claims(Core *c, const Spec *s, pid_t tid) {
    if (!c->notify_exits || !(s->flags & SPEC_CAPTURE)) return 0;
    Task *t = task_get(seen_lock(c, tid), tid, 1);
    if (t && !t->shared_mm && !t->outside && !t->mem_fd && ++t->claim_reads >= 4) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", tid);
        int fd = view_fd_open(path);
        t->mem_fd = fd < 0 ? -1 : fd + 1;
    }
    if (!t || t->shared_mm || t->outside || t->mem_fd <= 0) {
        seen_unlock(c, tid);
        return 0;
    }
    th_mem_fd = t->mem_fd - 1, th_mem_tid = tid;
    return 1;
}

static void view_read_done(Core *c, pid_t tid) {
    th_mem_fd = -1;
    seen_unlock(c, tid);
}

/* Task `tid` is about to make a mapping another process may write (SPEC_REMAP): the
 * mappings its claims were found in are read again (claim_private). A task sharing its
 * memory moves every task's on (a vfork parent's memory is its child's; a task not
 * yet known to share it is the wait thread's: mark_shared_mm forgets its parent's). */
static void view_remapped(Core *c, int tid) {
    if (!c->remap_guard) return;
    Task *t = task_get(seen_lock(c, tid), tid, 1);
    int shared = !t || t->shared_mm;
    if (!shared) t->remaps++;
    seen_unlock(c, tid);
    if (shared) __atomic_add_fetch(&c->map_gen, 1, __ATOMIC_SEQ_CST);
}

/* The notify threads' view: what `tid`'s mappings were is no longer known (its vfork
 * child may have remapped them before it was known to share them). */
static void view_forget_mappings(Core *c, int tid) {
    if (!c->remap_guard) return;
    Task *t = task_get(seen_lock(c, tid), tid, 0);
    if (t) memset(t->vmas, 0, sizeof t->vmas);
    seen_unlock(c, tid);
}

/* Notify thread: is this notification the restarted open the wait thread let through? */
static int passes_restarted(Core *c, int tid, int nr) {
    if (!c->notify_exits || c->killable_recv) return 0;
    Task *t = task_get(seen_lock(c, tid), tid, 0);
    int pass = t && t->pass_nr == nr + 1;
    if (t) t->pass_nr = 0;
    seen_unlock(c, tid);
    return pass;
}

/* Notify thread, at any notification: a skipped open of this thread is over. */
static void check_seen_skipped(Core *c, int tid) {
    if (!__atomic_load_n(&c->skipped_tasks, __ATOMIC_RELAXED)) return;
    check_skipped(c, task_get(seen_lock(c, tid), tid, 0));
    seen_unlock(c, tid);
}

/* Notify thread, at a notified open: 1 if its exit stop is wanted (and can be had). */
static int notified_open_needs_exit(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args) {
    if (!c->notify_exits || !(s->flags & SPEC_CAPTURE)) return 0;
    Task *t = task_get(seen_lock(c, tid), tid, 1);
    int skip = skip_exit_stop(c, t, e, s, tid, args);
    seen_unlock(c, tid);
    return skip ? EXIT_SKIPPED : c->wait_running ? EXIT_WANTED : EXIT_NOT_WANTED;
}

/* Notify thread: hand notification `id` of `tid` (record in `e`) to the wait thread,
 * which answers it, and wake it (see adopt_wake: the wake-up cannot be lost). */
static void ask_exit(Core *c, Enc *e, pid_t tid, uint64_t id, uint64_t ip) {
    ExitAsk a = {id, ip, tid, (uint32_t)e->b.len};
    pthread_mutex_lock(&c->exitq_mu);
    if (buf_reserve(&c->exitq, sizeof a + e->b.len) < 0) {
        pthread_mutex_unlock(&c->exitq_mu);
        publish(c, e, 1); /* no memory: the entry alone, as without the exit */
        struct seccomp_notif_resp resp = {.id = id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        return;
    }
    memcpy(c->exitq.p + c->exitq.len, &a, sizeof a);
    memcpy(c->exitq.p + c->exitq.len + sizeof a, e->b.p, e->b.len);
    c->exitq.len += sizeof a + e->b.len;
    __atomic_add_fetch(&c->exitq_asked, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&c->exitq_mu);
    /* A busy wait thread sees the ask at its loop's top: no signal needed. The
     * sequentially consistent pair (asked, then blocked here; blocked, then asked
     * in wait_for_child) lets at least one side see the other. */
    if (__atomic_load_n(&c->wait_blocked, __ATOMIC_SEQ_CST)) pthread_kill(c->wait_thread, ADOPT_SIGNAL);
}

/* Wait thread: interrupt each asked-for thread, then let its open go on. */
static void take_exit_asks(Core *c) {
    pthread_mutex_lock(&c->exitq_mu);
    for (size_t off = 0; off + sizeof(ExitAsk) <= c->exitq.len;) {
        ExitAsk a;
        memcpy(&a, c->exitq.p + off, sizeof a);
        const char *rec = c->exitq.p + off + sizeof a;
        off += sizeof a + a.len;
        Task *t = task_get(&c->ptasks, a.tid, 0);
        if (t && t->await_exit && buf_reserve(&t->pending, a.len) == 0) {
            /* Interrupted already, for a notification it has since left (a signal cut
             * that open short: restarted, it was notified again): the interrupt's stop
             * is this one's. */
            memcpy(t->pending.p, rec, a.len);
            t->pending.len = a.len;
            t->exit_ip = a.ip;
        } else if (notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &a.id) < 0) {
            continue; /* left it (a signal restarts the open: it comes again) or killed */
        } else {
            if (t) { /* anything held from before is stale: it is in a new syscall */
                t->await_restart = 0;
                t->pending.len = 0;
            }
            if (t && buf_reserve(&t->pending, a.len) == 0 &&
                ptrace(PTRACE_INTERRUPT, a.tid, 0, 0) == 0) {
                memcpy(t->pending.p, rec, a.len);
                t->pending.len = a.len;
                t->await_exit = 1;
                t->exit_ip = a.ip;
                c->interrupt_exits++;
            } else {
                Enc *e = &c->enc_ptrace; /* cannot interrupt it: the entry alone */
                e->b.len = 0;
                if (buf_reserve(&e->b, a.len) == 0) {
                    memcpy(e->b.p, rec, a.len);
                    e->b.len = a.len;
                    publish(c, e, 1);
                }
            }
        }
        /* Without a killable wait the interrupt ends the wait, always (the open restarts:
         * on_interrupt_exit): no answer, which would only race it. */
        if (!c->killable_recv && t && t->await_exit) continue;
        struct seccomp_notif_resp resp = {.id = a.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        if (notif_ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && t && t->await_exit) {
            /* Gone meanwhile (killed): no exit comes; its exit status follows. */
            t->await_exit = 0;
            t->pending.len = 0;
        }
    }
    c->exitq.len = 0;
    c->exitq_done = c->exitq_asked;
    pthread_mutex_unlock(&c->exitq_mu);
}

/* The result register at an event stop right after a syscall, and where the thread
 * goes on from (an open about to be restarted has it moved back onto the syscall). */
static int result_in_regs(pid_t tid, uint32_t arch, int64_t *res, uint64_t *ip) {
#if defined(__x86_64__)
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0) return -1;
    *res = arch == AUDIT_ARCH_I386_ ? (int64_t)s32(r.rax) : (int64_t)r.rax;
    *ip = arch == AUDIT_ARCH_I386_ ? (uint32_t)r.rip : r.rip;
#elif defined(__aarch64__)
    struct user_regs_struct r; /* glibc's name for the kernel's user_pt_regs */
    struct iovec io = {&r, sizeof r};
    if (ptrace(PTRACE_GETREGSET, tid, 1 /* NT_PRSTATUS */, &io) < 0) return -1;
    (void)arch;
    *res = (int64_t)r.regs[0];
    *ip = r.pc;
#else
    (void)tid, (void)arch, (void)res, (void)ip;
    return -1;
#endif
    return 0;
}

/* Wait thread: the stop an interrupt asked for: finish the record with the result. */
static void on_interrupt_exit(Core *c, Task *t, int tid, int sig) {
    t->await_exit = 0;
    /* a group stop that came with it: stay stopped (as in on_stop) */
    int resume = (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                     ? PTRACE_LISTEN
                     : PTRACE_CONT;
    int64_t res = 0;
    uint64_t ip = 0;
    RecHead h;
    memcpy(&h, t->pending.p, sizeof h);
    if (result_in_regs(tid, h.arch, &res, &ip) < 0) {
        t->pending.len = 0;
        ptrace(resume, tid, 0, 0);
        return;
    }
    /* Not right after the open: it was cut short and is set to start again (the
     * registers no longer hold a result, whatever they say). */
    if (ip != t->exit_ip) res = -512;
    if (res == -512 /* ERESTARTSYS */ && !c->killable_recv && resume == PTRACE_CONT) {
        t->await_restart = 1; /* the interrupt ended the wait: the open starts again */
        ptrace(PTRACE_SYSCALL, tid, 0, 0);
        return;
    }
    record_exit(c, t, tid, res, resume);
}

/* Wait thread, at a syscall-entry stop after on_interrupt_exit saw the open restarted:
 * if it is that open again, let its notification through and take its exit stop. */
static void on_restart_entry(Core *c, Task *t, int tid, const struct th_syscall_info *info) {
    t->await_restart = 0;
    RecHead h;
    memcpy(&h, t->pending.p, sizeof h);
    if (info->arch == h.arch && (int)info->entry.nr == h.nr &&
        memcmp(info->entry.args, h.args, sizeof h.args) == 0) {
        view_pass(c, tid, h.nr);
        c->restarted_exits++;
        ptrace(PTRACE_SYSCALL, tid, 0, 0);
        return;
    }
    t->pending.len = 0; /* something else first: the open will be notified anew */
    ptrace(PTRACE_CONT, tid, 0, 0);
}

/* ---- the kernel's truth at the exit stop ---------------------------------------
 * What the application passed at entry is a claim: another thread may rewrite it
 * before the kernel reads it, and a symlink or /proc/self/root names a file under
 * another name. At the exit the kernel's answer is there to read: the file the new
 * fd refers to (path, device, inode), the socket's peer. The claim stays in the
 * record (its T_STR / T_SOCKADDR blobs); decode.py reports both and flags a
 * difference. */
typedef struct {
    uint64_t dev, ino;   /* the opened file (/proc/TID/fd/<result>) */
    uint64_t cdev, cino; /* the claimed path, resolved as the tracee would now */
    int32_t err;         /* errno of stat on the opened file */
    int32_t cerr;        /* errno of stat on the claim; -1: not checked */
} FdStat;

/* The bytes of blob (tag, arg) of the record being built, or NULL. */
static const char *find_blob(Enc *e, int tag, int arg, size_t *len) {
    size_t off = sizeof(RecHead);
    for (int i = 0; i < enc_head(e)->nblobs && off + sizeof(BlobHead) <= e->b.len; i++) {
        BlobHead bh;
        memcpy(&bh, e->b.p + off, sizeof bh);
        off += sizeof bh;
        if (bh.tag == tag && bh.arg == arg) {
            *len = bh.len;
            return e->b.p + off;
        }
        off += bh.len;
    }
    return NULL;
}

/* Where the tracee's claimed path leads when walked from the agent: names that
 * mean "this process" (/proc/self, /dev/fd, /dev/stdin) are rewritten to the
 * tracee's /proc entry; relative paths start at its cwd or dirfd. 0: not checkable. */
static int claim_path(char *out, size_t max, pid_t tid, const char *claim, size_t len, int dirfd) {
    static const struct { const char *from, *to; } self[] = {
        {"/proc/self/", ""}, {"/proc/thread-self/", ""}, {"/dev/fd/", "fd/"},
        {"/dev/stdin", "fd/0"}, {"/dev/stdout", "fd/1"}, {"/dev/stderr", "fd/2"},
    };
    if (len == 0 || len >= max - 64) return 0;
    if (claim[0] == '/') {
        for (size_t i = 0; i < sizeof self / sizeof self[0]; i++) {
            size_t fl = strlen(self[i].from);
            if (len >= fl && memcmp(claim, self[i].from, fl) == 0)
                return snprintf(out, max, "/proc/%d/%s%.*s", tid, self[i].to, (int)(len - fl),
                                claim + fl) < (int)max;
        }
        memcpy(out, claim, len);
        out[len] = 0;
        return 1;
    }
    if (dirfd == AT_FDCWD_)
        return snprintf(out, max, "/proc/%d/cwd/%.*s", tid, (int)len, claim) < (int)max;
    return snprintf(out, max, "/proc/%d/fd/%d/%.*s", tid, dirfd, (int)len, claim) < (int)max;
}

/* A plain path (no ".", "..", "//" components) and its length. */
static int plain(const char *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '/' && (p[i + 1] == '/' || (p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/' ||
                                                                  (p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/'))))))
            return 0;
    return n > 0 && p[n - 1] != '/';
}

/* The opened file's name equals the claim: absolute, or relative to the base read at entry. */
static int same_name(Enc *e, const char *opened, size_t olen, const char *claim, size_t clen, int arg) {
    if (!plain(claim, clen) || claim[0] == '.') return 0;
    if (claim[0] == '/') return olen == clen && memcmp(opened, claim, clen) == 0;
    size_t blen = 0;
    const char *base = find_blob(e, T_BASE, arg, &blen);
    if (!base || blen == 0) return 0;
    if (blen == 1 && base[0] == '/') blen = 0; /* the root: "/" + claim */
    return olen == blen + 1 + clen && memcmp(opened, base, blen) == 0 && opened[blen] == '/' &&
           memcmp(opened + blen + 1, claim, clen) == 0;
}

static int open_in_root(pid_t tid, const char *path, int nofollow_flag);

/* After a chroot, pivot_root, unshare or setns by any task: whether `path` (the claim
 * as claim_path resolved it) is looked up in the task's own root, not the agent's: an
 * absolute claim the agent did not rewrite, outside /proc. */
static int in_task_root(Core *c, const char *claim, size_t len, const char *path) {
    return __atomic_load_n(&c->roots_differ, __ATOMIC_ACQUIRE) && len && claim[0] == '/' &&
           strncmp(path, claim, len) == 0 && path[len] == 0 && strncmp(path, "/proc/", 6) != 0;
}

/* /proc/PID/mem or /proc/PID/task/TID/mem: opened for writing, another task's memory
 * (and the claims in it) can be rewritten at any time, as with process_vm_writev. */
static int proc_mem(const char *name, size_t len) {
    return len > 10 && !strncmp(name, "/proc/", 6) && !memcmp(name + len - 4, "/mem", 4);
}

static void verify_fd(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args, int64_t res,
                      int path_arg, int flags_arg) {
    if (res < 0) return; /* failed: the result says so, no fd to look at */
    char fdlink[64], opened[4096];
    snprintf(fdlink, sizeof fdlink, "/proc/%d/fd/%d", tid, (int)res);
    ssize_t olen = readlink(fdlink, opened, sizeof opened);
    if (olen >= 0) enc_blob(e, T_FDTRUTH, 0, opened, (size_t)olen);
    uint64_t flags = flags_arg == 0xff ? 0 : args[flags_arg];
    if (olen > 0 && (flags & 03) && proc_mem(opened, (size_t)olen))
        __atomic_store_n(&c->skip_distrust, 1, __ATOMIC_RELEASE); /* it can rewrite a claim */
    FdStat v;
    memset(&v, 0, sizeof v);
    v.cerr = -1;
    struct stat st;
    if (stat(fdlink, &st) == 0) {
        v.dev = st.st_dev;
        v.ino = st.st_ino;
        distrust_uffd_device(c, &st);
    } else {
        v.err = errno;
    }
    int dirfd = AT_FDCWD_;
    for (int i = 0; i < s->n; i++)
        if ((s->op[i][0] & ~OP_EXIT) == OP_PATH && s->op[i][1] == path_arg && s->op[i][2] != 0xff)
            dirfd = s32(args[s->op[i][2]]);
    size_t len = 0;
    const char *claim = find_blob(e, T_STR, path_arg, &len);
    char path[4200];
    /* The opened file's name is the claim, as the application wrote it or relative to
     * the cwd read at entry: the claim cannot name another file (the common case,
     * and one stat less). O_TMPFILE opens an unnamed file: nothing to compare. */
    if (claim && olen >= 0 && same_name(e, opened, (size_t)olen, claim, len, path_arg)) claim = NULL;
    if (!v.err && claim && !(flags & 020000000) && claim_path(path, sizeof path, tid, claim, len, dirfd)) {
        /* O_NOFOLLOW (with O_PATH) opens the symlink itself */
        int nofollow = wants_nofollow(enc_head(e)->arch, flags), r;
        if (in_task_root(c, claim, len, path)) {
            int fd = open_in_root(tid, path, nofollow ? O_NOFOLLOW : 0); /* as the task sees it */
            r = fd < 0 ? -1 : fstat(fd, &st);
            if (fd >= 0) close(fd);
        } else {
            r = fstatat(AT_FDCWD, path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
        }
        v.cerr = r == 0 ? 0 : errno;
        if (r == 0) {
            v.cdev = st.st_dev;
            v.cino = st.st_ino;
        }
    }
    enc_blob(e, T_FDSTAT, 0, &v, sizeof v);
}

/* Without ptrace there is no exit stop: an open (or openat) is recorded with where its
 * claim leads as the notification is answered, looked up by the agent itself with an
 * O_PATH open (no side effect, never a read): a symlink or /proc/self/root name of
 * /etc/shadow is then a read of /etc/shadow, and a hardlink carries its inode. The
 * same T_FDTRUTH and T_FDSTAT as at an exit stop, but without a result (truth.led_to).
 * A name rebound between this look and the kernel's walk is not seen. */
/* Where a path led last time, per notify thread: a path that still leads to the same
 * inode (one stat) is taken to have the same name; a symlink retargeted elsewhere
 * leads to another inode and is looked up again. */
#define LED_SLOTS 256
#define LED_MAX 256
typedef struct {
    uint64_t hash, dev, ino;
    uint16_t len;
    char led[LED_MAX];
} Led;
static __thread Led *led_cache;

static void emit_led(Enc *e, const char *led, size_t n, uint64_t dev, uint64_t ino) {
    FdStat v = {dev, ino, dev, ino, 0, 0};
    enc_blob(e, T_FDTRUTH, 0, led, n);
    enc_blob(e, T_FDSTAT, 0, &v, sizeof v);
}

/* An O_PATH fd of absolute `path` as task `tid` resolves it: inside its root, where
 * "/" and ".." stop and absolute links start (openat2 RESOLVE_IN_ROOT, Linux 5.6). */
static int open_in_root(pid_t tid, const char *path, int nofollow_flag) {
    char root[64];
    snprintf(root, sizeof root, "/proc/%d/root", (int)tid);
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) return -1;
    struct {
        uint64_t flags, mode, resolve;
    } how = {(uint64_t)(O_PATH | O_CLOEXEC | nofollow_flag), 0, 0x10 /* RESOLVE_IN_ROOT */};
    int fd = (int)syscall(437 /* openat2, the same number on every architecture */, rfd, path, &how,
                          sizeof how);
    close(rfd);
    return fd;
}

static void resolve_at_entry(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args) {
    int flags_arg = (s->flags & SPEC_OPEN_FLAGS1) ? 1 : (s->flags & SPEC_OPEN_FLAGS2) ? 2 : -1;
    if (flags_arg < 0 || (args[flags_arg] & 020000000)) return; /* O_TMPFILE: no name */
    int path_arg = flags_arg - 1, dirfd = flags_arg == 2 ? s32(args[0]) : AT_FDCWD_;
    int nofollow = wants_nofollow(enc_head(e)->arch, args[flags_arg]) ? O_NOFOLLOW : 0; /* the link itself */
    size_t len = 0;
    const char *claim = find_blob(e, T_STR, path_arg, &len);
    char path[CLAIM_PATH_MAX], link[64], led[4096];
    if (!claim || !claim_path(path, sizeof path, tid, claim, len, dirfd)) return;
    struct stat st;
    /* in the claiming task's root, without the cache (the agent's view) */
    int own_root = in_task_root(c, claim, len, path);
    if (!led_cache) led_cache = calloc(LED_SLOTS, sizeof *led_cache);
    uint64_t h = 1469598103934665603ull ^ (uint64_t)nofollow;
    for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    Led *slot = led_cache && !own_root ? &led_cache[h % LED_SLOTS] : NULL;
    if (slot && slot->hash == h &&
        fstatat(AT_FDCWD, path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
        (uint64_t)st.st_dev == slot->dev && (uint64_t)st.st_ino == slot->ino) {
        emit_led(e, slot->led, slot->len, slot->dev, slot->ino);
        return;
    }
    int fd = own_root ? open_in_root(tid, path, nofollow ? O_NOFOLLOW : 0)
                      : open(path, O_PATH | O_CLOEXEC | nofollow);
    if (fd < 0) return; /* leads nowhere now: the claim is all there is */
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, led, sizeof led);
    if (n >= 0 && fstat(fd, &st) == 0) {
        emit_led(e, led, (size_t)n, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (slot && n <= LED_MAX) {
            *slot = (Led){h, (uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint16_t)n, {0}};
            memcpy(slot->led, led, (size_t)n);
        }
    }
    close(fd);
}

static void verify_peer(Enc *e, pid_t tid, int fd) {
    struct {
        int32_t err;
        uint8_t addr[128];
    } p;
    memset(&p, 0, sizeof p);
    socklen_t l = sizeof p.addr;
    int local = fd_of_tracee(tid, fd);
    if (local < 0 || getpeername(local, (struct sockaddr *)p.addr, &l) < 0) {
        p.err = errno;
        l = 0;
    }
    if (local >= 0) close(local);
    enc_blob(e, T_PEER, 0, &p, sizeof p.err + l);
}

/* The verify ops of a spec, run at the exit stop once the result is known. */
static void verify_at_exit(Core *c, Enc *e, const Spec *s, pid_t tid, const uint64_t *args, int64_t res) {
    for (int i = 0; i < s->n; i++) {
        int op = s->op[i][0] & ~OP_EXIT, a = s->op[i][1], b = s->op[i][2];
        if (op == OP_VERIFY_FD)
            verify_fd(c, e, s, tid, args, res, a, b);
        else if (op == OP_VERIFY_PEER)
            verify_peer(e, tid, s32(args[a]));
    }
}

static void kill_all_tasks(Core *c) {
    for (size_t i = 0; i < c->ptasks.cap; i++)
        if (c->ptasks.tasks[i].used) kill(c->ptasks.tasks[i].tid, SIGKILL);
}

/* Without ptrace we know no task list: kill every process below the agent. */
static void kill_descendants(void) {
    pid_t self = getpid();
    for (int round = 0; round < 3; round++) {
        DIR *d = opendir("/proc");
        if (!d) return;
        struct dirent *de;
        while ((de = readdir(d))) {
            pid_t pid = atoi(de->d_name);
            if (pid <= 0 || pid == self) continue;
            pid_t p = pid, pp = 0;
            for (int depth = 0; depth < 64 && p > 1; depth++) {
                if (tgid_of(p, &pp) < 0) break;
                if (pp == self) {
                    kill(pid, SIGKILL);
                    break;
                }
                p = pp;
            }
        }
        closedir(d);
    }
}

static void on_exit_status(Core *c, int tid, int status) {
    if (c->use_ptrace) check_skipped(c, task_get(&c->ptasks, tid, 0));
    if (c->use_ptrace) task_del(&c->ptasks, tid);
    view_reset(c, tid, 1);
    pw_flush(&c->pw); /* a report of its last open comes before its exit */
    emit_exit(c, tid, status);
    if (tid == c->main_pid && c->exit_status < 0) {
        c->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        /* As when a container's PID 1 exits: the rest of the tree goes too. */
        if (c->use_ptrace)
            kill_all_tasks(c);
        else
            kill_descendants();
    }
}

/* ---- syscalls of processes adopted from outside the tree ---------------------------
 * A process seized from outside (agent/outside.py, adopt_queued) has no seccomp filter
 * of ours, and one cannot be given to a running process. So it and its children run
 * under PTRACE_SYSCALL: every syscall stops at entry and exit, and the core runs the
 * application's own seccomp program on the entry (outside_verdict) to keep exactly the
 * syscalls, and argument checks, the application is traced for. Slow (two stops per
 * syscall), but these are interactive shells (ECS Exec, docker exec), not the workload.
 * A child keeps the mode through fork and exec (its Task inherits `outside`). */

/* Run a classic BPF seccomp program on `d`, as the kernel would; an instruction the
 * kernel would not accept ends in RET_TRACE: traced, never silently allowed. */
static uint32_t outside_verdict(const struct sock_filter *f, unsigned n, const struct seccomp_data *d) {
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    for (unsigned pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &f[pc];
        uint32_t k = i->k, src = BPF_SRC(i->code) == BPF_X ? x : k;
        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (i->code == (BPF_LD | BPF_W | BPF_ABS) && k % 4 == 0 && k + 4 <= sizeof *d)
                memcpy(&a, (const char *)d + k, 4);
            else if (i->code == (BPF_LD | BPF_W | BPF_LEN))
                a = sizeof *d;
            else if (i->code == (BPF_LD | BPF_IMM))
                a = k;
            else if (i->code == (BPF_LD | BPF_MEM) && k < BPF_MEMWORDS)
                a = mem[k];
            else
                return SECCOMP_RET_TRACE;
            break;
        case BPF_LDX:
            if (i->code == (BPF_LDX | BPF_W | BPF_LEN))
                x = sizeof *d;
            else if (i->code == (BPF_LDX | BPF_IMM))
                x = k;
            else if (i->code == (BPF_LDX | BPF_MEM) && k < BPF_MEMWORDS)
                x = mem[k];
            else
                return SECCOMP_RET_TRACE;
            break;
        case BPF_ST:
        case BPF_STX:
            if (k >= BPF_MEMWORDS) return SECCOMP_RET_TRACE;
            mem[k] = BPF_CLASS(i->code) == BPF_ST ? a : x;
            break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_MUL: a *= src; break;
            case BPF_DIV: if (!src) return SECCOMP_RET_TRACE; a /= src; break;
            case BPF_MOD: if (!src) return SECCOMP_RET_TRACE; a %= src; break;
            case BPF_OR: a |= src; break;
            case BPF_AND: a &= src; break;
            case BPF_XOR: a ^= src; break;
            case BPF_LSH: a = src < 32 ? a << src : 0; break;
            case BPF_RSH: a = src < 32 ? a >> src : 0; break;
            case BPF_NEG: a = -a; break;
            default: return SECCOMP_RET_TRACE;
            }
            break;
        case BPF_JMP: {
            int taken;
            switch (BPF_OP(i->code)) {
            case BPF_JA: pc += k; continue;
            case BPF_JEQ: taken = a == src; break;
            case BPF_JGT: taken = a > src; break;
            case BPF_JGE: taken = a >= src; break;
            case BPF_JSET: taken = (a & src) != 0; break;
            default: return SECCOMP_RET_TRACE;
            }
            pc += taken ? i->jt : i->jf;
            break;
        }
        case BPF_RET:
            return BPF_RVAL(i->code) == BPF_A ? a : k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX) x = a;
            else a = x;
            break;
        default:
            return SECCOMP_RET_TRACE;
        }
    }
    return SECCOMP_RET_TRACE; /* ran off the end: the kernel refuses such a program */
}

/* A syscall-entry or -exit stop of an adopted process. */
static void outside_syscall(Core *c, Task *t, int tid) {
    struct th_syscall_info info;
    memset(&info, 0, sizeof info);
    long n = ptrace(TH_PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
    if (n > 0 && info.op == SI_EXIT && t->pending.len) {
        record_exit(c, t, tid, info.exit.rval, PTRACE_SYSCALL);
        return;
    }
    if (n <= 0 || info.op != SI_ENTRY) {
        ptrace(PTRACE_SYSCALL, tid, 0, 0);
        return;
    }
    t->pending.len = 0;
    struct seccomp_data d;
    memset(&d, 0, sizeof d);
    d.nr = (int)info.entry.nr;
    d.arch = info.arch;
    d.instruction_pointer = info.instruction_pointer;
    memcpy(d.args, info.entry.args, sizeof d.args);
    uint32_t action = outside_verdict(c->filter, c->filter_len, &d) & SECCOMP_RET_ACTION_FULL;
    if (action != SECCOMP_RET_TRACE && action != SECCOMP_RET_USER_NOTIF) {
        ptrace(PTRACE_SYSCALL, tid, 0, 0); /* the application would run it unstopped */
        return;
    }
    c->outside_events++;
    record_entry(c, t, tid, &info, PTRACE_SYSCALL);
}

/* Every stop of an adopted process: lifecycle as in on_stop, resumed with PTRACE_SYSCALL. */
static void outside_stop(Core *c, Task *t, int tid, int status) {
    int sig = WSTOPSIG(status), event = status >> 16, deliver = 0;
    if (sig == (SIGTRAP | 0x80)) {
        outside_syscall(c, t, tid);
        return;
    }
    if (event == 0) {
        deliver = sig; /* signal-delivery stop: pass it on */
    } else if (event == PTRACE_EVENT_STOP) {
        if (t->fresh) {
            t->fresh = 0;
        } else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
            ptrace(PTRACE_LISTEN, tid, 0, 0); /* group stop, as in on_stop */
            return;
        }
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
               event == PTRACE_EVENT_CLONE) {
        unsigned long msg = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
        int child = (int)msg;
        if (!task_get(&c->ptasks, child, 0)) {
            int thread = 0;
            if (event == PTRACE_EVENT_CLONE) {
                int tg = tgid_of(child, NULL), mytg = tgid_of(tid, NULL);
                thread = tg > 0 && tg == mytg;
            }
            Task *k = task_get(&c->ptasks, child, 1); /* may move t: not used below */
            if (k) k->outside = 1;
            emit_new_task(c, &c->enc_ptrace, tid, child, thread, 0);
        }
    } else if (event == PTRACE_EVENT_EXEC) {
        unsigned long former = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &former);
        if ((int)former != tid) task_del(&c->ptasks, (int)former);
        emit_exec(c, &c->enc_ptrace, tid, (int)former, 0);
        Task *now = task_get(&c->ptasks, tid, 0);
        if (now) now->fresh = 0;
    }
    ptrace(PTRACE_SYSCALL, tid, 0, deliver);
}

/* A task first seen at its own stop (before its parent's fork event): outside if the
 * task it came from is. */
static void outside_inherit(Core *c, Task *t, int from) {
    Task *p = from > 0 ? task_get(&c->ptasks, from, 0) : NULL;
    if (p && p->outside) t->outside = 1;
}

static void on_interrupt_exit(Core *c, Task *t, int tid, int sig);

static void on_stop(Core *c, int tid, int status) {
    int sig = WSTOPSIG(status), event = status >> 16;
    Task *t = task_get(&c->ptasks, tid, 0);
    if (!t) {
        /* Seen before its creation event (the child can win that race). */
        pid_t ppid = 0;
        int tgid = tgid_of(tid, &ppid);
        t = task_get(&c->ptasks, tid, 1);
        if (t && tgid > 0) outside_inherit(c, t, tgid == tid ? ppid : tgid);
        if (tgid > 0) {
            emit_new_task(c, &c->enc_ptrace, tgid == tid ? ppid : tgid, tid, tgid != tid, 0);
            /* the parent is marked at its own fork event, which knows a vfork */
            mark_shared_mm(c, tgid == tid ? ppid : tgid, tid, tgid != tid, 1);
            t = task_get(&c->ptasks, tid, 0);
        }
    }
    if (t && t->skipped) check_skipped(c, t); /* any stop comes after the skipped open's lookup */
    if (t && t->outside) {
        outside_stop(c, t, tid, status);
        return;
    }
    if (t && t->await_restart && sig != (SIGTRAP | 0x80)) {
        /* A signal (its handler runs first) or a group stop before the restarted open's
         * entry: drop the held record; the open comes again as a new notification. */
        t->await_restart = 0;
        t->pending.len = 0;
    }
    if (event == PTRACE_EVENT_SECCOMP) {
        on_seccomp_stop(c, t, tid);
    } else if (sig == (SIGTRAP | 0x80)) {
        on_syscall_exit(c, t, tid);
    } else if (event == 0) {
        ptrace(PTRACE_CONT, tid, 0, sig); /* signal-delivery stop: pass it on */
    } else if (event == PTRACE_EVENT_STOP && t && t->await_exit) {
        on_interrupt_exit(c, t, tid, sig);
    } else if (event == PTRACE_EVENT_STOP) {
        if (t && t->fresh) {
            t->fresh = 0;
            ptrace(PTRACE_CONT, tid, 0, 0);
        } else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
            /* Group stop: stay stopped like an untraced process, but keep reporting. */
            ptrace(PTRACE_LISTEN, tid, 0, 0);
        } else {
            ptrace(PTRACE_CONT, tid, 0, 0);
        }
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
               event == PTRACE_EVENT_CLONE) {
        unsigned long msg = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
        int child = (int)msg, thread = 0;
        if (event == PTRACE_EVENT_CLONE) {
            int tg = tgid_of(child, NULL), mytg = tgid_of(tid, NULL);
            thread = tg > 0 && tg == mytg;
        }
        if (!task_get(&c->ptasks, child, 0)) {
            task_get(&c->ptasks, child, 1);
            emit_new_task(c, &c->enc_ptrace, tid, child, thread, 0);
        }
        mark_shared_mm(c, tid, child, thread, event == PTRACE_EVENT_VFORK);
        ptrace(PTRACE_CONT, tid, 0, 0);
    } else if (event == PTRACE_EVENT_EXEC) {
        unsigned long former = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &former);
        if ((int)former != tid) task_del(&c->ptasks, (int)former);
        if ((int)former != tid) view_reset(c, (int)former, 1);
        view_reset(c, tid, 0);
        pw_flush(&c->pw); /* a report of an open of the old program comes before */
        emit_exec(c, &c->enc_ptrace, tid, (int)former, 0);
        t = task_get(&c->ptasks, tid, 0); /* the table may have moved */
        if (t) {
            t->fresh = 0;
            t->shared_mm = 0; /* a new mm; the exec ended every other thread */
            view_fds_close(t); /* they read the old mm */
        }
        ptrace(PTRACE_CONT, tid, 0, 0);
    } else {
        ptrace(PTRACE_CONT, tid, 0, 0);
    }
}

/* The CPU a thread last ran on: field 39 of /proc/TID/stat. */
static int cpu_of(pid_t tid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", tid);
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p) return -1;
    for (int field = 2; field < 39 && p; field++) p = strchr(p + 1, ' ');
    return p ? atoi(p + 1) : -1;
}

/* ptrace placement "follow": every 64 stops, move the tracer thread to the CPU the
 * stopped thread ran on, so the next stops wake it there (a same-CPU hand-off)
 * instead of an idle CPU. The application's own threads are never pinned. */
static void follow(Core *c, pid_t tid) {
    if ((++c->place_tick & 63) != 1) return;
    int cpu = cpu_of(tid);
    if (cpu < 0 || cpu == c->tracer_cpu) {
        c->place_votes = 0;
        return;
    }
    /* Move only when the tracees stay elsewhere (3 samples in a row): chasing every
     * sample makes tracer and tracee swap CPUs back and forth. */
    if (++c->place_votes < 3 && c->tracer_cpu >= 0) return;
    c->place_votes = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0) {
        c->tracer_cpu = cpu;
        c->migrations++;
    }
}

/* ---- processes outside the application's tree (ECS Exec, docker exec) ------------
 * Python's scanner (agent/outside.py) finds them in /proc and calls adopt(pid); the
 * wait thread, the only one that may be their tracer, seizes them when woken by
 * ADOPT_SIGNAL (or at its next event). They have no seccomp filter: they and their
 * children run under PTRACE_SYSCALL (see outside_stop) and take the application's events.
 * No EXITKILL: a shell someone opened does not die with the agent. */
#define ADOPT_OPTIONS                                                                      \
    (PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |    \
     PTRACE_O_TRACESYSGOOD)

/* With exits asked for (notify_exits), the application waits in its open until the
 * wait thread takes the ask: a wake-up lost just before waitpid blocks would hold it
 * until some other tracee stops. So the wait thread arms a jump, looks at its queues
 * once more, and only then waits, with WNOWAIT: a jump out of the wait (or out of the
 * instructions after it) loses no child status, the next wait reports it again.
 * Thread-local: ADOPT_SIGNAL is sent to the wait thread only. */
static __thread sigjmp_buf wake_jump;
static __thread volatile sig_atomic_t wake_armed;

static void adopt_wake(int sig) {
    (void)sig;
    if (wake_armed) {
        wake_armed = 0;
        siglongjmp(wake_jump, 1);
    }
}

static void adopt_queued(Core *c) {
    int q[ADOPT_MAX], sys[ADOPT_MAX], n;
    pthread_mutex_lock(&c->adopt_mu);
    n = c->adopt_n;
    memcpy(q, c->adopt_q, sizeof(int) * (size_t)n);
    memcpy(sys, c->adopt_sys, sizeof(int) * (size_t)n);
    c->adopt_n = 0;
    pthread_mutex_unlock(&c->adopt_mu);
    for (int i = 0; i < n; i++) {
        if (task_get(&c->ptasks, q[i], 0)) continue; /* already ours */
        if (ptrace(PTRACE_SEIZE, q[i], 0, ADOPT_OPTIONS) < 0) {
            c->adopt_failed++;
            continue;
        }
        pid_t ppid = 0;
        tgid_of(q[i], &ppid);
        Task *t = task_get(&c->ptasks, q[i], 1);
        if (t && sys[i]) {
            /* Stop it now (it may sit in a read for long), to resume it with syscall
             * stops: that stop is the attach stop outside_stop skips. */
            t->outside = 1;
            t->fresh = ptrace(PTRACE_INTERRUPT, q[i], 0, 0) == 0;
        } else if (t) {
            t->fresh = 0; /* lifecycle only: SEIZE does not stop it, no attach stop */
        }
        c->adopted++;
        emit_new_task(c, &c->enc_ptrace, ppid, q[i], 0, 2); /* 2: found outside the tree */
    }
}

/* adopt(pid, syscalls=True) -> True when queued for the wait thread (ptrace only);
 * syscalls: follow its syscalls too, not only its lifecycle. */
static PyObject *Core_adopt(Core *c, PyObject *args) {
    int pid, syscalls = 1;
    if (!PyArg_ParseTuple(args, "i|p", &pid, &syscalls)) return NULL;
    if (!c->use_ptrace || !c->wait_running) Py_RETURN_FALSE;
    pthread_mutex_lock(&c->adopt_mu);
    int queued = c->adopt_n < ADOPT_MAX;
    if (queued) {
        c->adopt_sys[c->adopt_n] = syscalls;
        c->adopt_q[c->adopt_n++] = pid;
    }
    pthread_mutex_unlock(&c->adopt_mu);
    if (queued) pthread_kill(c->wait_thread, ADOPT_SIGNAL);
    return PyBool_FromLong(queued);
}

static void take_exit_asks(Core *c);

static int asks_waiting(Core *c) {
    return __atomic_load_n(&c->exitq_asked, __ATOMIC_SEQ_CST) != c->exitq_done;
}

/* waitpid(-1), or -1 with EINTR when ADOPT_SIGNAL came (see adopt_wake). */
static pid_t wait_for_child(Core *c, int *status, int flags) {
    if (!c->notify_exits) return waitpid(-1, status, flags);
    if (sigsetjmp(wake_jump, 1)) {
        __atomic_store_n(&c->wait_blocked, 0, __ATOMIC_SEQ_CST);
        errno = EINTR;
        return -1;
    }
    wake_armed = 1;
    __atomic_store_n(&c->wait_blocked, 1, __ATOMIC_SEQ_CST);
    if (c->adopt_n || asks_waiting(c)) {
        wake_armed = 0;
        __atomic_store_n(&c->wait_blocked, 0, __ATOMIC_SEQ_CST);
        errno = EINTR;
        return -1;
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | flags);
    wake_armed = 0;
    __atomic_store_n(&c->wait_blocked, 0, __ATOMIC_SEQ_CST);
    if (r < 0) return -1;
    /* An exit leaves the notify threads' view before its tid can be reused: a cached
     * fd of the old thread must never read for a new one (view_read_claims). */
    if (si.si_pid > 0 && (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED))
        view_reset(c, si.si_pid, 1);
    pid_t tid = si.si_pid > 0 ? waitpid(si.si_pid, status, flags | WNOHANG) : 0;
    if (tid > 0) return tid;
    errno = EINTR; /* nothing to take after all: wait again (ECHILD shows there) */
    return -1;
}

static void wait_loop(Core *c) {
    int flags = c->use_ptrace ? __WALL : 0;
    for (;;) {
        int status;
        if (c->adopt_n) adopt_queued(c);
        if (asks_waiting(c)) take_exit_asks(c);
        wake_armed = 0; /* touch the thread-local before the handler may */
        pid_t tid = wait_for_child(c, &status, flags);
        if (tid < 0) {
            if (errno == EINTR) continue; /* also ADOPT_SIGNAL: adopt at the loop's top */
            break; /* ECHILD: every tracee is gone */
        }
        if (c->use_ptrace) __atomic_add_fetch(&c->stops, 1, __ATOMIC_RELAXED);
        if (WIFSTOPPED(status)) {
            if (c->follow_cpu) follow(c, tid);
            if (c->use_ptrace)
                on_stop(c, tid, status);
            else
                kill(tid, SIGCONT); /* not traced: a stopped child is none of ours to hold */
        } else {
            on_exit_status(c, tid, status);
        }
    }
}

/* ---- spawning ------------------------------------------------------------------ */
static int install_filter(Core *c, int *listener, int *killable) {
    struct sock_fprog prog = {c->filter_len, c->filter};
    if (!c->use_notify)
        return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, TH_SPEC, &prog);
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | TH_SPEC;
    int fd = -1;
    errno = EINVAL;
    if (c->killable_wanted) fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    *killable = fd >= 0;
    if (fd < 0 && errno == EINVAL) /* before 5.19: no killable wait */
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                          SECCOMP_FILTER_FLAG_NEW_LISTENER | TH_SPEC, &prog);
    *listener = fd;
    return fd < 0 ? -1 : 0;
}

/* Shared with the child across fork: how far it got, and the listener's number. */
typedef struct {
    volatile int stage; /* 1: filter installed; -1: failed before exec */
    volatile int listener;
    volatile int killable;
    volatile int err;
} Handshake;

/* PDEATHSIG is lost if the agent died between fork and prctl: check the parent after it.
 * Without this, a child that already holds its own listener would wait on it forever. */
static void die_with(pid_t agent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != agent) _exit(127);
}

static void child(Core *c, Handshake *hs, pid_t agent, const char *path, char *const argv[],
                  char *const envp[]) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* Python ignores these; the application expects defaults */
    signal(SIGXFSZ, SIG_DFL);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* the agent is not (guard()); the application is */
    if (c->guard_pid) guard_child();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) goto fail;
    /* If the agent dies, the application goes with it rather than run unobserved
     * (with ptrace, PTRACE_O_EXITKILL does the same for every tracee). */
    die_with(agent);
    if (c->use_ptrace) raise(SIGSTOP); /* the tracer seizes us here */
    int listener = -1;
    if (!c->use_notify && c->guard_pid) listener = install_decoy();
    int killable = 0;
    if (install_filter(c, &listener, &killable) < 0) goto fail;
    hs->listener = listener;
    hs->killable = killable;
    hs->stage = 1;
    /* With notify, execve itself is notified: we wait here until the agent holds
     * the listener. The listener is close-on-exec and exec unshares the fd table. */
    execve(path, argv, envp);
    {
        int err = errno;
        const char *msg = strerror(err);
        char line[512];
        int n = snprintf(line, sizeof line, "tracehound: %s: %s\n", argv[0], msg);
        if (n > 0) write(2, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
        _exit(err == ENOENT ? 127 : 126);
    }
fail:
    hs->err = errno;
    hs->stage = -1;
    _exit(126);
}

static char **to_cvec(PyObject *seq) {
    Py_ssize_t n = PySequence_Size(seq);
    if (n < 0) return NULL;
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) return (char **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_GetItem(seq, i);
        char *copy = item && PyBytes_Check(item) ? strdup(PyBytes_AS_STRING(item)) : NULL;
        if (!copy) {
            if (item && PyBytes_Check(item))
                PyErr_NoMemory();
            else
                PyErr_SetString(PyExc_TypeError, "argv and envp must hold bytes");
            Py_XDECREF(item);
            for (Py_ssize_t k = 0; k < i; k++) free(v[k]);
            free(v);
            return NULL;
        }
        v[i] = copy;
        Py_DECREF(item);
    }
    return v;
}

static void free_cvec(char **v) {
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}

#define PTRACE_OPTIONS                                                                            \
    (PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |     \
     PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)

/* The main process's next PTRACE_EVENT_STOP is its attach stop (no table: no mark). */
static void mark_fresh(Core *c, pid_t pid) {
    Task *t = task_get(&c->ptasks, pid, 1);
    if (t) t->fresh = 1;
}

/* A copy of the child's fd `fd` (-1 when fd < 0 or the copy fails). */
static int take_fd(pid_t pid, int fd) {
    if (fd < 0) return -1;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int got = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (pidfd >= 0) close(pidfd);
    return got;
}

/* spawn(path, argv, envp) -> pid. Call from the thread that will call run(). */
static PyObject *Core_spawn(Core *c, PyObject *args) {
    const char *path;
    PyObject *pargv, *penv;
    if (!PyArg_ParseTuple(args, "yOO", &path, &pargv, &penv)) return NULL;
    if (c->main_pid) return PyErr_Format(PyExc_RuntimeError, "already spawned");
    char **argv = to_cvec(pargv), **envp = argv ? to_cvec(penv) : NULL;
    if (!argv || !envp) {
        free_cvec(argv);
        return NULL;
    }
    Handshake *hs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (hs == MAP_FAILED) {
        free_cvec(argv);
        free_cvec(envp);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    memset(hs, 0, sizeof *hs);
    hs->listener = -1;
    char err[200] = "";
    pid_t pid, agent = getpid();
    Py_BEGIN_ALLOW_THREADS
    pid = fork();
    if (pid == 0) child(c, hs, agent, path, argv, envp);
    if (pid > 0 && c->use_ptrace) {
        int st;
        if (waitpid(pid, &st, WUNTRACED) < 0 || !WIFSTOPPED(st))
            snprintf(err, sizeof err, "the application exited before it could be traced");
        else if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_OPTIONS) < 0)
            snprintf(err, sizeof err, "PTRACE_SEIZE: %s (does the task have the SYS_PTRACE capability?)", strerror(errno));
        else
            kill(pid, SIGCONT);
    }
    int held = 0; /* a stop seen once the filter is in: handled once the listener is ours */
    if (pid > 0 && !err[0] && (c->use_notify || c->guard_pid)) {
        /* Wait for the filter (microseconds), then take the listener from the child
         * (backend ptrace: the decoy, see install_decoy()). A seized child stops on
         * its way (SIGCONT, the attach stop): let it go on. */
        c->main_pid = pid;
        if (c->use_ptrace) mark_fresh(c, pid);
        for (int i = 0; i < 20000 && hs->stage == 0; i++) {
            int st;
            if (c->use_ptrace && waitpid(pid, &st, __WALL | WNOHANG) == pid) {
                if (!WIFSTOPPED(st)) break;
                if (hs->stage != 0) {
                    held = st; /* past the filter: exec closes the listener once resumed */
                    break;
                }
                on_stop(c, pid, st);
                continue;
            }
            usleep(100);
        }
        if (hs->stage != 1) {
            snprintf(err, sizeof err, "installing the seccomp filter failed: %s",
                     hs->stage < 0 ? strerror(hs->err) : "timed out");
        } else if (!c->use_notify) {
            c->decoy_fd = take_fd(pid, hs->listener);
        } else {
            c->killable_recv = hs->killable;
            int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
            c->notify_fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, hs->listener, 0);
            if (c->notify_fd < 0) snprintf(err, sizeof err, "pidfd_getfd: %s", strerror(errno));
            if (pidfd >= 0) close(pidfd);
        }
        if (c->notify_fd >= 0 && c->sync_wakeup_wanted) {
            __u64 f = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
            c->sync_wakeup = ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, f) == 0;
        }
        if (held && !err[0]) on_stop(c, pid, held);
    }
    Py_END_ALLOW_THREADS
    munmap(hs, 4096);
    free_cvec(argv);
    free_cvec(envp);
    if (pid < 0) return PyErr_SetFromErrno(PyExc_OSError);
    if (err[0]) {
        c->main_pid = 0;
        kill(pid, SIGKILL); /* never leave the application stopped, or running untraced */
        waitpid(pid, NULL, __WALL);
        return PyErr_Format(PyExc_OSError, "%s", err);
    }
    if (!c->main_pid) {
        c->main_pid = pid;
        if (c->use_ptrace) mark_fresh(c, pid);
    }
    return PyLong_FromLong(pid);
}

/* run(): until every tracee is gone. Releases the GIL. */
/* With SYNC_WAKE_UP: one notify thread. The kernel wakes *every* thread waiting in
 * NOTIF_RECV onto the CPU where the syscall stopped; one of them takes it and the
 * rest go back to sleep there, two context switches each on the application's CPU
 * per stop. A second thread, once started whenever stops alternated between threads
 * (meant for tracees on several CPUs), cost W5 (nginx, 2 workers) ~12 % of its rps
 * (4.4 against 3.5 context switches per request) and gave W7 and W8 nothing (docs/
 * performance.md, "One notify thread with SYNC_WAKE_UP"). Without SYNC_WAKE_UP: one
 * pinned per CPU the agent may run on, from the start (recv_percpu). Returns 0 or an
 * errno. */
static int start_notify_threads(Core *c) {
    c->percpu = !c->sync_wakeup;
    cpu_set_t set;
    if (!c->percpu || sched_getaffinity(0, sizeof set, &set) < 0 || CPU_COUNT(&set) < 2) {
        c->percpu = 0; /* one CPU: nothing to choose between */
        return add_notify_thread(c, -1) ? 0 : EAGAIN;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE && c->notify_started < MAX_NOTIFY; cpu++)
        if (CPU_ISSET(cpu, &set) && !add_notify_thread(c, cpu)) break;
    return c->notify_started ? 0 : EAGAIN;
}

static PyObject *Core_run(Core *c, PyObject *noargs) {
    (void)noargs;
    if (!c->main_pid) return PyErr_Format(PyExc_RuntimeError, "spawn() first");
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    if (c->skip_on) pw_start(&c->pw, publish_raced, forget_verdicts, c);
    if (c->use_ptrace) { /* before the notify threads: they may ask it for exits */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = adopt_wake; /* no SA_RESTART: interrupts waitpid */
        sigaction(ADOPT_SIGNAL, &sa, NULL);
        c->wait_thread = pthread_self();
        c->wait_running = 1;
    }
    if (c->use_notify) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = wake_handler; /* no SA_RESTART: interrupts NOTIF_RECV */
        sigaction(SIGRTMIN + 3, &sa, NULL);
        rc = start_notify_threads(c);
    }
    if (rc == 0) wait_loop(c);
    c->wait_running = 0;
    pthread_mutex_lock(&c->threads_mu); /* no thread is added after `done` */
    c->done = 1;
    pthread_mutex_unlock(&c->threads_mu);
    for (int i = 0; i < c->notify_started; i++) {
        /* Repeat the wake-up: one sent just before NOTIF_RECV blocks would be lost. */
        struct timespec until;
        do {
            pthread_kill(c->notify_threads[i], SIGRTMIN + 3);
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 10000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
        } while (pthread_timedjoin_np(c->notify_threads[i], NULL, &until) == ETIMEDOUT);
    }
    pw_stop(&c->pw); /* every skipped open checked */
    Py_END_ALLOW_THREADS
    if (rc != 0) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* drain(max_bytes) -> (bytes, bytes still waiting): whole records, oldest first,
 * at most max_bytes of them (at least one record). A bounded take keeps the
 * agent's memory bounded when the pipeline is behind. */
static PyObject *Core_drain(Core *c, PyObject *args) {
    Py_ssize_t max = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTuple(args, "|n", &max)) return NULL;
    pthread_mutex_lock(&c->mu);
    size_t take = 0, records = 0, avail = c->out.len - c->out_start;
    const char *base = c->out.p ? c->out.p + c->out_start : "";
    while (take < avail) {
        uint32_t len;
        memcpy(&len, base + take, sizeof len);
        if (records && take + len > (size_t)max) break;
        take += len;
        records++;
    }
    PyObject *data = PyBytes_FromStringAndSize(base, (Py_ssize_t)take);
    c->out_start += take;
    c->out_events -= records < c->out_events ? records : c->out_events;
    if (c->out_start == c->out.len) {
        c->out_start = c->out.len = 0;
    } else if (c->out_start > (c->out.cap >> 1)) { /* compact: writers append at the end */
        memmove(c->out.p, c->out.p + c->out_start, c->out.len - c->out_start);
        c->out.len -= c->out_start;
        c->out_start = 0;
    }
    size_t left = c->out.len - c->out_start;
    pthread_cond_broadcast(&c->drained);
    pthread_mutex_unlock(&c->mu);
    if (!data) return NULL;
    return Py_BuildValue("(Nn)", data, (Py_ssize_t)left);
}

/* learning_fd() -> the eventfd written when a record comes whose verdict the core waits
 * for, once per arm_learning() (-1 if none could be made). */
static PyObject *Core_learning_fd(Core *c, PyObject *noargs) {
    (void)noargs;
    return PyLong_FromLong(c->learn_fd);
}

static PyObject *Core_arm_learning(Core *c, PyObject *noargs) {
    (void)noargs;
    __atomic_store_n(&c->learn_armed, c->learn_fd >= 0, __ATOMIC_RELEASE);
    Py_RETURN_NONE;
}

/* skip_exits(): from now on, exit stops may be skipped where skip_exit() said so (only
 * when no sink takes events: the skipped record has no result). Before run(). */
static PyObject *Core_skip_exits(Core *c, PyObject *noargs) {
    (void)noargs;
    if (!c->skip_tab) {
        if (hashkey_new(&c->skip_key) < 0) return PyErr_SetFromErrno(PyExc_OSError);
        c->skip_tab = calloc(SKIP_SLOTS, sizeof *c->skip_tab);
        c->uffd_rdev = uffd_device();
        if (!c->skip_tab) return PyErr_NoMemory();
        /* Without inotify no open is vouched for (pw_learn): connects still skip. */
        pw_open(&c->pw);
    }
    c->skip_gen = 1; /* calloc'd slots hold generation 0: empty */
    __atomic_store_n(&c->skip_on, 1, __ATOMIC_RELEASE); /* the ptrace thread may be running */
    Py_RETURN_NONE;
}

/* skip_exit(entry_key): the entry record with this T_ENTRYKEY needs no exit stop. */
static PyObject *Core_skip_exit(Core *c, PyObject *args) {
    const char *raw;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "y#", &raw, &len)) return NULL;
    if (len != (Py_ssize_t)sizeof(EntryKey)) {
        PyErr_SetString(PyExc_ValueError, "skip_exit: not a T_ENTRYKEY blob");
        return NULL;
    }
    EntryKey k;
    memcpy(&k, raw, sizeof k);
    if (c->skip_on) skip_add(c, &k);
    Py_RETURN_NONE;
}

/* skip_forget(): the pipeline's answers changed (a stage learned): forget every verdict. */
static PyObject *Core_skip_forget(Core *c, PyObject *noargs) {
    (void)noargs;
    skip_forget(c);
    Py_RETURN_NONE;
}

static PyObject *Core_stats(Core *c, PyObject *noargs) {
    (void)noargs;
    pthread_mutex_lock(&c->mu);
    PyObject *d = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:i,s:i,s:n,s:K,s:i,s:K,s:K,s:K,s:K,s:K,s:i,s:K,s:K,s:K,s:K}", "stops",
        (unsigned long long)__atomic_load_n(&c->stops, __ATOMIC_RELAXED), "events",
        (unsigned long long)(c->events + __atomic_load_n(&c->exit_skips, __ATOMIC_RELAXED)),
        "dropped", (unsigned long long)c->dropped, "errors",
        (unsigned long long)c->errors, "notifications_invalid",
        (unsigned long long)c->notif_invalid, "lifecycle", (unsigned long long)c->lifecycle,
        "sync_wakeup", c->sync_wakeup, "exit_status", c->exit_status, "pending_bytes",
        (Py_ssize_t)(c->out.len - c->out_start), "tracer_migrations", (unsigned long long)c->migrations,
        "notify_threads", c->notify_started, "adopted", (unsigned long long)c->adopted,
        "adopt_failed", (unsigned long long)c->adopt_failed, "outside_events",
        (unsigned long long)c->outside_events, "exit_skips",
        (unsigned long long)__atomic_load_n(&c->exit_skips, __ATOMIC_RELAXED), "interrupt_exits",
        (unsigned long long)__atomic_load_n(&c->interrupt_exits, __ATOMIC_RELAXED),
        "notify_percpu", c->percpu, "recv_races",
        (unsigned long long)__atomic_load_n(&c->recv_races, __ATOMIC_RELAXED), "restarted_exits",
        (unsigned long long)c->restarted_exits, "path_races",
        (unsigned long long)__atomic_load_n(&c->pw.races, __ATOMIC_RELAXED), "path_changes",
        (unsigned long long)c->pw.changes);
    pthread_mutex_unlock(&c->mu);
    return d;
}

/* Every buffer a stop writes into exists before the first stop, and the limits that
 * size them are sane (the config bounds them too): no stop ever meets a NULL. */
static int check_allocations(Core *c) {
    if (c->arg_max > (1u << 20) || c->argv_max > (1u << 16)) {
        PyErr_SetString(PyExc_ValueError, "arg_max_bytes or argv_max out of range");
        return -1;
    }
    Enc *all[MAX_NOTIFY + 1] = {&c->enc_ptrace};
    for (int i = 0; i < MAX_NOTIFY; i++) all[i + 1] = &c->enc_notify[i];
    for (int i = 0; i <= MAX_NOTIFY; i++) {
        if (!all[i]->scratch || buf_reserve(&all[i]->b, 65536) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

/* Core(filter, specs, notify, ptrace, sync_wakeup, argv_max, arg_max, max_events, max_bytes,
 *      block[, follow_cpu, killable_recv, notify_exits, resolve_claims])
 * with specs = [(arch_index, nr, flags, ops bytes)] */
static int Core_init(Core *c, PyObject *args, PyObject *kw) {
    (void)kw;
    Py_buffer filt;
    PyObject *specs;
    int notify, ptr, sync;
    Py_ssize_t argv_max, arg_max, max_events, max_bytes;
    int block, follow_cpu = 0, killable = 1, notify_exits = 0, resolve_claims = 0, remap_guard = 0;
    if (!PyArg_ParseTuple(args, "y*Opppnnnnp|ppppp", &filt, &specs, &notify, &ptr, &sync, &argv_max,
                          &arg_max, &max_events, &max_bytes, &block, &follow_cpu, &killable,
                          &notify_exits, &resolve_claims, &remap_guard))
        return -1;
    c->resolve_claims = resolve_claims && notify && !ptr; /* no exit stop to verify at */
    c->killable_wanted = killable;
    c->notify_exits = notify_exits && notify && ptr; /* without a killable wait: restarts */
    c->remap_guard = remap_guard && c->notify_exits;
    if (filt.len % sizeof(struct sock_filter) || filt.len == 0) {
        PyBuffer_Release(&filt);
        PyErr_SetString(PyExc_ValueError, "filter is not a sock_filter array");
        return -1;
    }
    c->filter = malloc((size_t)filt.len);
    if (!c->filter) {
        PyBuffer_Release(&filt);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(c->filter, filt.buf, (size_t)filt.len);
    c->filter_len = (unsigned short)(filt.len / sizeof(struct sock_filter));
    PyBuffer_Release(&filt);
    c->use_notify = notify;
    c->use_ptrace = ptr;
    c->sync_wakeup_wanted = sync;
    c->argv_max = (size_t)argv_max;
    c->arg_max = (size_t)arg_max;
    c->max_events = (size_t)max_events;
    c->max_bytes = (size_t)max_bytes;
    c->block_when_full = block;
    c->follow_cpu = follow_cpu && ptr && !notify;
    c->tracer_cpu = -1;
    c->notify_fd = -1;
    c->decoy_fd = -1;
    c->learn_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->exit_status = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->drained, NULL);
    for (int i = 0; i < SEEN_STRIPES; i++) pthread_mutex_init(&c->seen_mu[i], NULL);
    pthread_mutex_init(&c->threads_mu, NULL);
    pthread_mutex_init(&c->adopt_mu, NULL);
    pthread_mutex_init(&c->skip_mu, NULL);
    pw_init(&c->pw);
    pthread_mutex_init(&c->exitq_mu, NULL);
    pthread_mutex_init(&c->recv_mu, NULL);
    c->enc_ptrace.scratch_len = c->arg_max + 1 + 8 * (c->argv_max + 1);
    c->enc_ptrace.scratch = malloc(c->enc_ptrace.scratch_len);
    for (int i = 0; i < MAX_NOTIFY; i++) {
        c->enc_notify[i].scratch_len = c->enc_ptrace.scratch_len;
        c->enc_notify[i].scratch = malloc(c->enc_notify[i].scratch_len);
    }
    if (check_allocations(c) < 0) return -1;
    PyObject *it = PyObject_GetIter(specs), *item;
    if (!it) return -1;
    while ((item = PyIter_Next(it))) {
        int a, nr, flags;
        Py_buffer ops;
        if (!PyArg_ParseTuple(item, "iiiy*", &a, &nr, &flags, &ops)) {
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        if (a >= 0 && a < NARCH && nr >= 0 && nr < NR_MAX && ops.len % 3 == 0 &&
            ops.len / 3 <= SPEC_OPS) {
            Spec *s = &c->specs[a][nr];
            s->flags = (uint16_t)flags;
            s->n = (uint8_t)(ops.len / 3);
            memcpy(s->op, ops.buf, (size_t)ops.len);
        }
        PyBuffer_Release(&ops);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static void Core_dealloc(Core *c) {
    if (c->notify_fd >= 0) close(c->notify_fd);
    if (c->decoy_fd >= 0) close(c->decoy_fd);
    if (c->learn_fd >= 0) close(c->learn_fd);
    free(c->filter);
    free(c->out.p);
    table_free(&c->ptasks);
    for (int i = 0; i < SEEN_STRIPES; i++) table_free(&c->seen[i]);
    free(c->enc_ptrace.b.p);
    for (int i = 0; i < MAX_NOTIFY; i++) {
        free(c->enc_notify[i].b.p);
        free(c->enc_notify[i].scratch);
    }
    free(c->enc_ptrace.scratch);
    free(c->skip_tab);
    pw_close(&c->pw);
    free(c->exitq.p);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *Core_get_sync(Core *c, void *closure) {
    (void)closure;
    return PyBool_FromLong(c->sync_wakeup);
}

/* guard(agent_pid, agent_pgid): refuse what aims at the agent (see guard_verdict),
 * and make the agent non-dumpable: /proc/PID/mem, process_vm_* and ptrace of it
 * then need CAP_SYS_PTRACE, which the application no longer has. Before spawn(). */
static PyObject *Core_guard(Core *c, PyObject *args) {
    int pid, pgid;
    if (!PyArg_ParseTuple(args, "ii", &pid, &pgid)) return NULL;
    if (c->main_pid) return PyErr_Format(PyExc_RuntimeError, "guard() before spawn()");
    c->guard_pid = pid;
    c->guard_pgid = pgid;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *Core_get_denied(Core *c, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLongLong(__atomic_load_n(&c->denied, __ATOMIC_RELAXED));
}

static PyMethodDef Core_methods[] = {
    {"guard", (PyCFunction)Core_guard, METH_VARARGS, "guard(agent_pid, agent_pgid)"},
    {"spawn", (PyCFunction)Core_spawn, METH_VARARGS, "spawn(path, argv, envp) -> pid"},
    {"run", (PyCFunction)Core_run, METH_NOARGS, "trace until every tracee is gone"},
    {"drain", (PyCFunction)Core_drain, METH_VARARGS, "(records, bytes left): at most max_bytes"},
    {"stats", (PyCFunction)Core_stats, METH_NOARGS, "counters"},
    {"adopt", (PyCFunction)Core_adopt, METH_VARARGS, "adopt(pid): trace a process outside the tree"},
    {"skip_exits", (PyCFunction)Core_skip_exits, METH_NOARGS, "let verdicts skip exit stops"},
    {"learning_fd", (PyCFunction)Core_learning_fd, METH_NOARGS, "the eventfd arm_learning() makes readable"},
    {"arm_learning", (PyCFunction)Core_arm_learning, METH_NOARGS, "wake the loop at the next verdict-awaiting record"},
    {"skip_exit", (PyCFunction)Core_skip_exit, METH_VARARGS, "skip_exit(key, gen): no exit stop needed"},
    {"skip_forget", (PyCFunction)Core_skip_forget, METH_NOARGS, "forget every skip verdict"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
    {"sync_wakeup", (getter)Core_get_sync, NULL, "the kernel accepted SYNC_WAKE_UP", NULL},
    {"denied", (getter)Core_get_denied, NULL, "syscalls refused by the guard", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tracehound.agent.tracer._core.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
};

/* ---- feature probes ------------------------------------------------------------ */

/* probe_notify() -> (works, sync_wakeup, killable_recv): a throwaway child installs a
 * notify filter for getppid, the agent takes its listener and answers one call. */
static PyObject *probe_notify(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    int works = 0, sync = 0, killable = 0;
    Handshake *hs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (hs == MAP_FAILED) return PyErr_SetFromErrno(PyExc_OSError);
    memset(hs, 0, sizeof *hs);
    pid_t agent = getpid();
    Py_BEGIN_ALLOW_THREADS
    pid_t pid = fork();
    if (pid == 0) {
        die_with(agent);
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {4, f};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(1);
        unsigned long fl = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, fl, &prog);
        hs->killable = fd >= 0;
        if (fd < 0)
            fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                              SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (fd < 0) {
            hs->stage = -1;
            _exit(1);
        }
        hs->listener = fd;
        hs->stage = 1;
        _exit(syscall(SYS_getppid) > 0 ? 0 : 2);
    }
    if (pid > 0) {
        for (int i = 0; i < 20000 && hs->stage == 0; i++) usleep(100);
        if (hs->stage == 1) {
            int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
            int fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, hs->listener, 0);
            if (pidfd >= 0) close(pidfd);
            if (fd >= 0) {
                __u64 fl = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
                sync = ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, fl) == 0;
                struct seccomp_notif req;
                memset(&req, 0, sizeof req);
                if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                    struct seccomp_notif_resp resp;
                    memset(&resp, 0, sizeof resp);
                    resp.id = req.id;
                    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                    works = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0;
                }
                close(fd);
            }
        }
        int st = 0;
        if (!works) kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        works = works && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        killable = hs->killable;
    }
    Py_END_ALLOW_THREADS
    munmap(hs, 4096);
    return Py_BuildValue("(OOO)", works ? Py_True : Py_False, sync ? Py_True : Py_False,
                         killable ? Py_True : Py_False);
}

/* probe_ptrace() -> errno of PTRACE_SEIZE on a throwaway child (0: ptrace works). */
static PyObject *probe_ptrace(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    int err = 0;
    pid_t agent = getpid();
    Py_BEGIN_ALLOW_THREADS
    pid_t pid = fork();
    if (pid == 0) {
        die_with(agent); /* else an agent killed now leaves it stopped for ever */
        raise(SIGSTOP);
        _exit(0);
    }
    if (pid < 0) {
        err = errno;
    } else {
        int st;
        waitpid(pid, &st, WUNTRACED);
        if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL) < 0) err = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, __WALL) > 0 && !WIFEXITED(st) && !WIFSIGNALED(st)) {
        }
    }
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(err);
}

static PyMethodDef module_methods[] = {
    {"probe_notify", probe_notify, METH_NOARGS, "(works, sync_wakeup, killable_recv)"},
    {"probe_ptrace", probe_ptrace, METH_NOARGS, "errno of PTRACE_SEIZE on a child, 0 if fine"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_core", "tracehound's capture core (C)", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&CoreType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&CoreType);
    PyModule_AddObject(m, "Core", (PyObject *)&CoreType);
    PyModule_AddIntConstant(m, "RECORD_HEAD_SIZE", sizeof(RecHead));
    PyModule_AddIntConstant(m, "BLOB_HEAD_SIZE", sizeof(BlobHead));
    return m;
}
