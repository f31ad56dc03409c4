/* handoff: what one traced syscall's hand-off costs, supervisor mode by mode.
 *
 *   handoff MODE N [--sys openat|getppid] [--spin-us US] [--file PATH]
 *   handoff spin CPU [FILE]   (a busy loop pinned to CPU, for the "busy" condition)
 *
 * A forked tracee installs a seccomp filter that stops one syscall (openat of one
 * file, then an untraced close; or getppid) and makes it N times; the supervisor
 * (this process) answers every stop in MODE. The tracee times its own loop, so the
 * figure is what the application sees. One line of JSON goes to stdout.
 *
 * Modes (see docs/performance.md, "The hand-off without SYNC_WAKE_UP"):
 *   native             no filter, no supervisor
 *   notify_sync        one notify thread, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6+)
 *   notify             one notify thread, blocking in NOTIF_RECV
 *   notify_percpu      one notify thread per CPU, each pinned, all blocking in NOTIF_RECV
 *   notify_percpu_poll one pinned thread per CPU, all in poll(); the first awake takes it
 *   notify_follow      one notify thread that moves to the CPU the tracee last ran on
 *   notify_spin        one notify thread that polls with zero timeout for up to
 *                      --spin-us after each answer before blocking (adaptive)
 *   ptrace             RET_TRACE, waitpid, PTRACE_GET_SYSCALL_INFO, PTRACE_CONT
 *   ptrace_follow      the same; the tracer moves to the tracee's CPU (as the core's
 *                      tracer.ptrace_placement = "follow": every 64 stops, 3 votes)
 *   ptrace_follow_each the same, checked at every stop, no hysteresis
 *   ptrace_spin        ptrace; waitpid(WNOHANG) for up to --spin-us after PTRACE_CONT
 *   *_idle             the supervisor threads run SCHED_IDLE (see sched_idle_self)
 *   *_apart            diagnostic: tracee pinned to CPU 0, supervisor to the last CPU,
 *                      so every hand-off crosses CPUs (what an idle other CPU costs)
 *
 * Every mode does the work the capture core does per stop: notify reads the
 * path with process_vm_readv and checks NOTIF_ID_VALID; ptrace asks
 * PTRACE_GET_SYSCALL_INFO and reads the path. Nothing else (no encoding). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "x86_64 or aarch64 only"
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS _IOW('!', 4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#define WARMUP 100
#define MAX_CPUS 64

/* Shared between tracee and supervisor (MAP_SHARED before fork). */
typedef struct {
    volatile int tracee_cpu; /* written by the tracee before each syscall */
    long loop_ns;            /* the timed loop, as the tracee saw it */
    long migrations;         /* syscalls after which the tracee ran on another CPU */
    long tracee_cpu_ns;      /* the tracee's CPU time over the timed loop */
    long tracee_vcsw, tracee_ivcsw;
} Shared;

/* A mode: backend, notify threads, placement, spinning, SYNC_WAKE_UP, SCHED_IDLE. */
typedef struct {
    const char *name;
    char backend; /* 'n' native, 'u' user notification, 'p' ptrace */
    char threads; /* '1' one notify thread, 'r' one per CPU in NOTIF_RECV, 'p' one per CPU in poll */
    char place;   /* '-' none, 'f' follow the tracee (every 64 stops, 3 votes), 'e' at every
                   * stop, 'a' apart: tracee pinned to CPU 0, supervisor to the last CPU */
    char spin, sync, idle;
} Mode;
static const Mode MODES[] = {
    {"native", 'n', '1', '-', 0, 0, 0},
    {"notify_sync", 'u', '1', '-', 0, 1, 0},
    {"notify", 'u', '1', '-', 0, 0, 0},
    {"notify_percpu", 'u', 'r', '-', 0, 0, 0},
    {"notify_percpu_poll", 'u', 'p', '-', 0, 0, 0},
    {"notify_follow", 'u', '1', 'f', 0, 0, 0},
    {"notify_spin", 'u', '1', '-', 1, 0, 0},
    {"notify_idle", 'u', '1', '-', 0, 0, 1},
    {"notify_percpu_poll_idle", 'u', 'p', '-', 0, 0, 1},
    {"notify_follow_idle", 'u', '1', 'f', 0, 0, 1},
    {"notify_apart", 'u', '1', 'a', 0, 0, 0},
    {"ptrace", 'p', '1', '-', 0, 0, 0},
    {"ptrace_follow", 'p', '1', 'f', 0, 0, 0},
    {"ptrace_follow_each", 'p', '1', 'e', 0, 0, 0},
    {"ptrace_spin", 'p', '1', '-', 1, 0, 0},
    {"ptrace_idle", 'p', '1', '-', 0, 0, 1},
    {"ptrace_follow_idle", 'p', '1', 'f', 0, 0, 1},
    {"ptrace_apart", 'p', '1', 'a', 0, 0, 0},
};
#define NMODES (int)(sizeof MODES / sizeof MODES[0])

static const Mode *M;
static int use_openat = 1;
static long n_calls, spin_ns = 20000;
static const char *file = "/etc/hostname";
static Shared *sh;
static pid_t child;
static int listener = -1, ncpus;
static volatile int done;
/* Supervisor counters (several notify threads may add). */
static long stops, cross, spins_hit, spins_miss, moves, lost_races;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static long tv_ns(struct timeval tv) { return tv.tv_sec * 1000000000L + tv.tv_usec * 1000L; }

static void die(const char *what) {
    fprintf(stderr, "handoff: %s: %s\n", what, strerror(errno));
    if (child > 0) kill(child, SIGKILL);
    exit(2);
}

static int is_notify(void) { return M->backend == 'u'; }
static int is_ptrace(void) { return M->backend == 'p'; }

/* SCHED_IDLE for the calling thread: a CPU running only SCHED_IDLE tasks counts as idle
 * when the kernel places a waking task (sched_idle_cpu(), Linux 5.4+), so the tracee
 * this thread wakes stays on this CPU and preempts it, instead of an IPI elsewhere. */
static void sched_idle_self(void) {
    struct sched_param p = {0};
    if (M->idle && sched_setscheduler(0, SCHED_IDLE, &p)) die("SCHED_IDLE");
}

static void pin_self(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0) __atomic_add_fetch(&moves, 1, __ATOMIC_RELAXED);
}

/* The CPU a thread last ran on: field 39 of /proc/TID/stat (what the core reads). */
static int cpu_of(pid_t tid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    for (int field = 2; field < 39 && p; field++) p = strchr(p + 1, ' ');
    return p ? atoi(p + 1) : -1;
}

/* ---- the tracee ---------------------------------------------------------------- */

static void install_filter(int ret, int send_fd) {
    int nr = use_openat ? SYS_openat : SYS_getppid;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, (unsigned)ret),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("no_new_privs");
    unsigned flags = send_fd >= 0 ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (fd < 0) die("seccomp");
    if (send_fd < 0) return;
    char cbuf[CMSG_SPACE(sizeof(int))] = {0}, b = 0;
    struct iovec io = {&b, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(send_fd, &m, 0) != 1) die("sendmsg");
    close(fd);
}

static void one_call(void) {
    if (use_openat) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close(fd);
    } else {
        syscall(SYS_getppid);
    }
}

static void tracee(int go_fd, int sock) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a supervisor killed at a timeout takes it along */
    if (is_ptrace()) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0)) die("traceme");
        raise(SIGSTOP);
    }
    if (M->backend != 'n') install_filter(is_ptrace() ? SECCOMP_RET_TRACE : SECCOMP_RET_USER_NOTIF,
                                       is_notify() ? sock : -1);
    if (M->place == 'a') {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (sched_setaffinity(0, sizeof set, &set)) die("pin tracee");
    }
    char b;
    if (read(go_fd, &b, 1) != 1) _exit(3);
    for (int i = 0; i < WARMUP; i++) {
        sh->tracee_cpu = sched_getcpu();
        one_call();
    }
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    long migr = 0, t0 = now_ns();
    for (long i = 0; i < n_calls; i++) {
        int c0 = sched_getcpu();
        sh->tracee_cpu = c0;
        one_call();
        if (sched_getcpu() != c0) migr++;
    }
    sh->loop_ns = now_ns() - t0;
    getrusage(RUSAGE_SELF, &r1);
    sh->migrations = migr;
    sh->tracee_cpu_ns = tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime) - tv_ns(r0.ru_utime) - tv_ns(r0.ru_stime);
    sh->tracee_vcsw = r1.ru_nvcsw - r0.ru_nvcsw;
    sh->tracee_ivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
    _exit(0);
}

/* ---- the per-stop work both backends share -------------------------------------- */

static void on_stop(pid_t tid, uint64_t path_addr) {
    __atomic_add_fetch(&stops, 1, __ATOMIC_RELAXED);
    if (sched_getcpu() != sh->tracee_cpu) __atomic_add_fetch(&cross, 1, __ATOMIC_RELAXED);
    if (use_openat) {
        char buf[256];
        struct iovec l = {buf, sizeof buf}, r = {(void *)path_addr, sizeof buf};
        process_vm_readv(tid, &l, 1, &r, 1, 0);
    }
}

/* ---- seccomp user notification ------------------------------------------------ */

static void wake_handler(int sig) { (void)sig; }

/* Answer one notification already received. */
static void answer(struct seccomp_notif *req) {
    on_stop((pid_t)req->pid, req->data.args[1]);
    ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req->id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static int recv_one(struct seccomp_notif *req) {
    memset(req, 0, sizeof *req);
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req);
}

/* Zero-timeout polls until a notification is pending or the budget is spent. */
static int spin_for(long budget_ns) {
    long until = now_ns() + budget_ns;
    struct pollfd p = {listener, POLLIN, 0};
    do {
        if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) return 1;
    } while (now_ns() < until && !done);
    return 0;
}

static pthread_mutex_t take_mu = PTHREAD_MUTEX_INITIALIZER;

static void *notify_thread(void *arg) {
    long cpu = (long)arg;
    if (cpu >= 0) pin_self((int)cpu);
    if (M->place == 'a') pin_self(ncpus - 1);
    sched_idle_self();
    struct seccomp_notif req;
    int misses = 0, spinning = 1, tick = 0, votes = 0, here = -1;
    while (!done) {
        if (M->threads == 'p') {
            /* All threads wake on poll; the one that gets the lock and still sees a
             * pending notification takes it, so NOTIF_RECV never blocks a loser. */
            struct pollfd p = {listener, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0 || !(p.revents & POLLIN)) continue;
            if (pthread_mutex_trylock(&take_mu)) {
                __atomic_add_fetch(&lost_races, 1, __ATOMIC_RELAXED);
                sched_yield();
                continue;
            }
            int ok = poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && recv_one(&req) == 0;
            pthread_mutex_unlock(&take_mu);
            if (!ok) {
                __atomic_add_fetch(&lost_races, 1, __ATOMIC_RELAXED);
                continue;
            }
            answer(&req);
            continue;
        }
        if (M->spin && spinning) {
            /* Adaptive: 8 spins in a row that found nothing stop the spinning until a
             * stop comes within the budget of the previous answer again. */
            if (spin_for(spin_ns)) {
                spins_hit++;
                misses = 0;
            } else if (++misses >= 8) {
                spinning = 0;
                spins_miss++;
            } else {
                spins_miss++;
            }
        }
        long t0 = now_ns();
        if (recv_one(&req) < 0) continue; /* EINTR at the end, ENOENT if the tracee died */
        if (M->spin && !spinning && now_ns() - t0 < spin_ns) {
            spinning = 1;
            misses = 0;
        }
        if (M->place == 'f' && (++tick & 63) == 1) {
            int c = cpu_of((pid_t)req.pid);
            if (c >= 0 && c != here && (++votes >= 3 || here < 0)) {
                votes = 0;
                pin_self(c);
                here = c;
            } else if (c == here) {
                votes = 0;
            }
        }
        answer(&req);
    }
    return NULL;
}

static int recv_fd(int sock) {
    char cbuf[CMSG_SPACE(sizeof(int))], b;
    struct iovec io = {&b, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    if (recvmsg(sock, &m, 0) != 1) die("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    int fd;
    if (!c || c->cmsg_type != SCM_RIGHTS) die("no listener fd");
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static int supervise_notify(int go_fd, int sock, int *status) {
    listener = recv_fd(sock);
    if (M->sync) {
        __u64 f = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, f)) {
            kill(child, SIGKILL);
            waitpid(child, status, 0);
            return -1; /* unsupported on this kernel */
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wake_handler; /* no SA_RESTART: interrupts NOTIF_RECV */
    sigaction(SIGUSR1, &sa, NULL);
    int percpu = M->threads != '1';
    int nthreads = percpu ? ncpus : 1;
    pthread_t th[MAX_CPUS];
    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, notify_thread, (void *)(percpu ? i : -1L))) die("thread");
    if (write(go_fd, "g", 1) != 1) die("go");
    if (waitpid(child, status, 0) < 0) die("waitpid");
    done = 1;
    for (int i = 0; i < nthreads; i++) {
        struct timespec until;
        do {
            pthread_kill(th[i], SIGUSR1);
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 10000000;
            if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
        } while (pthread_timedjoin_np(th[i], NULL, &until) == ETIMEDOUT);
    }
    return 0;
}

/* ---- ptrace --------------------------------------------------------------------- */

static int supervise_ptrace(int go_fd, int *status) {
    int st;
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st)) die("first stop");
    long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
    if (ptrace(PTRACE_SETOPTIONS, child, 0, opts)) die("setoptions");
    if (ptrace(PTRACE_CONT, child, 0, 0)) die("cont");
    if (M->place == 'a') pin_self(ncpus - 1);
    sched_idle_self();
    if (write(go_fd, "g", 1) != 1) die("go");
    int spinning = 1, misses = 0, votes = 0, here = -1;
    unsigned tick = 0;
    for (;;) {
        pid_t r = 0;
        long t0 = now_ns();
        if (M->spin && spinning) {
            long until = t0 + spin_ns;
            while ((r = waitpid(child, &st, WNOHANG | __WALL)) == 0 && now_ns() < until) {
            }
            if (r > 0) {
                spins_hit++;
                misses = 0;
            } else if (r == 0) {
                spins_miss++;
                if (++misses >= 8) spinning = 0;
            }
        }
        if (r == 0) {
            t0 = now_ns();
            r = waitpid(child, &st, __WALL);
            if (M->spin && !spinning && now_ns() - t0 < spin_ns) spinning = 1, misses = 0;
        }
        if (r < 0) die("waitpid");
        if (WIFEXITED(st) || WIFSIGNALED(st)) break;
        int sig = 0;
        if (WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
            struct __ptrace_syscall_info info;
            if (ptrace(PTRACE_GET_SYSCALL_INFO, child, sizeof info, &info) <= 0) die("syscall info");
            on_stop(child, info.seccomp.args[1]);
            if (M->place == 'e' || (M->place == 'f' && (++tick & 63) == 1)) {
                int c = cpu_of(child);
                if (M->place == 'e') {
                    if (c >= 0 && c != here) pin_self(c), here = c;
                } else if (c >= 0 && c != here && (++votes >= 3 || here < 0)) {
                    votes = 0;
                    pin_self(c);
                    here = c;
                } else if (c == here) {
                    votes = 0;
                }
            }
        } else if (WIFSTOPPED(st)) {
            sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
        }
        ptrace(PTRACE_CONT, child, 0, sig);
    }
    *status = st;
    return 0;
}

/* ---- main ----------------------------------------------------------------------- */

/* The co-runner of the "busy" condition: pinned to CPU, it counts its loop turns in
 * COUNTER_FILE (8 bytes, shared), so the driver sees how much CPU it was left. */
static void spin_forever(int cpu, const char *counter_file) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) die("spin: sched_setaffinity");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    volatile uint64_t local = 0, *count = &local;
    if (counter_file) {
        int fd = open(counter_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 4096)) die("spin: counter file");
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) die("spin: mmap");
        count = m;
    }
    for (;;) (*count)++;
}

static void usage(void) {
    fprintf(stderr, "usage: handoff MODE N [--sys openat|getppid] [--spin-us US] [--file PATH]\n"
                    "       handoff spin CPU [COUNTER_FILE]\nmodes:");
    for (int i = 0; i < NMODES; i++) fprintf(stderr, " %s", MODES[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "spin")) spin_forever(atoi(argv[2]), argc > 3 ? argv[3] : NULL);
    if (argc < 3) usage();
    M = NULL;
    for (int i = 0; i < NMODES; i++)
        if (!strcmp(argv[1], MODES[i].name)) M = &MODES[i];
    n_calls = atol(argv[2]);
    if (!M || n_calls <= 0) usage();
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--sys") && i + 1 < argc) {
            const char *s = argv[++i];
            if (strcmp(s, "openat") && strcmp(s, "getppid")) usage();
            use_openat = !strcmp(s, "openat");
        } else if (!strcmp(argv[i], "--spin-us") && i + 1 < argc) {
            spin_ns = atol(argv[++i]) * 1000L;
        } else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
            file = argv[++i];
        } else {
            usage();
        }
    }
    ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpus > MAX_CPUS) ncpus = MAX_CPUS;
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) die("mmap");
    int go[2], sp[2];
    if (pipe(go) || socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) die("pipe");
    child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        close(go[1]);
        close(sp[0]);
        tracee(go[0], sp[1]);
    }
    close(go[0]);
    close(sp[1]);
    struct rusage r0, r1, rc;
    getrusage(RUSAGE_SELF, &r0);
    int status = 0, rc_ = 0;
    if (is_notify())
        rc_ = supervise_notify(go[1], sp[0], &status);
    else if (is_ptrace())
        rc_ = supervise_ptrace(go[1], &status);
    else if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) < 0)
        die("native");
    getrusage(RUSAGE_SELF, &r1);
    getrusage(RUSAGE_CHILDREN, &rc);
    if (rc_ < 0) {
        printf("{\"mode\": \"%s\", \"unsupported\": \"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP\"}\n", M->name);
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "handoff: tracee ended with status 0x%x\n", status);
        return 1;
    }
    long sup_ns = tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime) - tv_ns(r0.ru_utime) - tv_ns(r0.ru_stime);
    printf("{\"mode\": \"%s\", \"sys\": \"%s\", \"n\": %ld, \"warmup\": %d, \"stops\": %ld, "
           "\"loop_ns\": %ld, \"tracee_cpu_ns\": %ld, \"supervisor_cpu_ns\": %ld, "
           "\"tracee_migrations\": %ld, \"cross_cpu_stops\": %ld, \"supervisor_moves\": %ld, "
           "\"spins_hit\": %ld, \"spins_miss\": %ld, \"lost_races\": %ld, "
           "\"tracee_vcsw\": %ld, \"tracee_ivcsw\": %ld, \"supervisor_vcsw\": %ld, "
           "\"supervisor_ivcsw\": %ld, \"spin_us\": %ld, \"cpus\": %d}\n",
           M->name, use_openat ? "openat" : "getppid", n_calls, WARMUP, stops, sh->loop_ns,
           sh->tracee_cpu_ns, sup_ns, sh->migrations, cross, moves, spins_hit, spins_miss, lost_races,
           sh->tracee_vcsw, sh->tracee_ivcsw, r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw,
           spin_ns / 1000, ncpus);
    (void)rc;
    return 0;
}
