/* The small programs an attacker would write, one mode each, for the GuardDuty-class
 * default rules (tests/filters/test_guardduty_e2e.py). Everything stays on this machine
 * and leaves it as it was: failed attempts are enough where success would change the
 * host (module load, release_agent), loopback or unix sockets we own, our own children.
 * usage: actor MODE [ARG...] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* userfaultfd(2): what kernel exploits create to stall a page fault. */
static int uffd(void) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) close(fd);
    return 0;
}

/* Anti-debugging: ask our parent to trace us, so no debugger can attach. We are already
 * traced by the agent in some backends, so the call may fail: the attempt is the point. */
static int traceme(void) {
    pid_t p = fork();
    if (p == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    return 0;
}

/* Module loads that cannot succeed: /dev/null is no module, and the image is garbage. */
static int module(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    syscall(SYS_finit_module, fd, "", 0);
    static const char junk[64] = "\177ELF-not-a-module";
    syscall(SYS_init_module, junk, sizeof junk, "");
    close(fd);
    return 0;
}

/* Injection without ptrace: open a child's memory for writing. */
static int procmem(void) {
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", child);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) close(fd);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}

/* CVE-2019-5736 style: open the running executable for writing (ETXTBSY, harmless). */
static int selfexe(void) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 2;
    exe[n] = 0;
    int fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    fd = open(exe, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return 0;
}

/* Write-open of a cgroup v1 release_agent; nothing is written (an open alone changes
 * nothing). Where no v1 hierarchy is mounted the attempt fails with ENOENT. */
static int release_agent(void) {
    glob_t g;
    const char *path = "/sys/fs/cgroup/release_agent";
    if (glob("/sys/fs/cgroup/*/release_agent", 0, NULL, &g) == 0 && g.gl_pathc > 0)
        path = g.gl_pathv[0];
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return 0;
}

/* Mount a tmpfs on DIR and take it away again. */
static int do_mount(const char *dir) {
    if (mount("none", dir, "tmpfs", 0, "size=64k") == 0) umount2(dir, 0);
    return 0;
}

/* dlopen a library by path (a freshly dropped one, in the test). */
static int do_dlopen(const char *path) {
    void *h = dlopen(path, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    dlclose(h);
    return 0;
}

/* UDP connect: the kernel records the peer, no packet leaves. */
static int udp_connect(const char *port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return 0;
}

/* Connect to a unix socket (the runtime's socket, in the test one we listen on). */
static int unix_connect(const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return rc == 0 ? 0 : 3;
}

/* Drop root for nobody, then ask for root back (must fail: no setuid bit helps under
 * NO_NEW_PRIVS, so the attempt is what an exploit's first step looks like). */
static int elevate(void) {
    if (setgid(65534) || setuid(65534)) return 2;
    return setuid(0) == 0 ? 3 : 0;
}

/* Injection into a child: ptrace attach and poke, then process_vm_writev. */
static int inject(void) {
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    usleep(50000);
    long word = 0;
    ptrace(PTRACE_ATTACH, child, NULL, NULL); /* may fail while we are traced: fine */
    ptrace(PTRACE_POKEDATA, child, (void *)&word, (void *)1L);
    struct iovec local = {&word, sizeof word}, remote = {&word, sizeof word};
    process_vm_writev(child, &local, 1, &remote, 1, 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}

/* A "server" that runs a shell command, as a web shell makes it do. */
static int server(const char *cmd) {
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(p, &status, 0);
    return 0;
}

/* A process that is not a shell starts another (a web app running a helper): argv[2..]. */
static int spawn(char **argv) {
    pid_t p = fork();
    if (p == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(p, &status, 0);
    return 0;
}

/* Read a file after `secs` seconds (a server long past its start-up, or a path-traversal
 * bug reading what the request named), then stay a moment so /proc can be read. */
static int late_read(const char *path, const char *secs) {
    struct timespec t = {atoi(secs), 0}, linger = {0, 300 * 1000 * 1000};
    nanosleep(&t, NULL);
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buf, sizeof buf) < 0) buf[0] = 0;
        close(fd);
    }
    nanosleep(&linger, NULL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 1;
    const char *m = argv[1], *a = argc > 2 ? argv[2] : "";
    if (!strcmp(m, "uffd")) return uffd();
    if (!strcmp(m, "traceme")) return traceme();
    if (!strcmp(m, "module")) return module();
    if (!strcmp(m, "procmem")) return procmem();
    if (!strcmp(m, "selfexe")) return selfexe();
    if (!strcmp(m, "release_agent")) return release_agent();
    if (!strcmp(m, "mount")) return do_mount(a);
    if (!strcmp(m, "dlopen")) return do_dlopen(a);
    if (!strcmp(m, "udp")) return udp_connect(a);
    if (!strcmp(m, "unix")) return unix_connect(a);
    if (!strcmp(m, "elevate")) return elevate();
    if (!strcmp(m, "server")) return server(a);
    if (!strcmp(m, "inject")) return inject();
    if (!strcmp(m, "spawn") && argc > 2) return spawn(argv + 2);
    if (!strcmp(m, "read")) return late_read(a, argc > 3 ? argv[3] : "0");
    return 1;
}
