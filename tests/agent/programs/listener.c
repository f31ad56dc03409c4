/* An attacker blinding the agent with a seccomp listener of its own: a filter that
 * sends openat, connect and execve to its own supervisor thread, which lets them
 * run (SECCOMP_USER_NOTIF_FLAG_CONTINUE). A listener's answer outranks ptrace's
 * RET_TRACE, so once installed, the agent would see none of them. The kernel allows
 * one listener per filter chain: the agent holds it, so this must fail with EBUSY.
 * Prints "listener=ERRNO" (0: installed), then opens /etc/shadow. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *supervise(void *arg) {
    int fd = *(int *)arg;
    for (;;) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) continue;
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    return NULL;
}

int main(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    static int fd;
    fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    printf("listener=%d\n", fd < 0 ? errno : 0);
    fflush(stdout);
    pthread_t t;
    if (fd >= 0) pthread_create(&t, NULL, supervise, &fd);
    char c;
    int sh = open("/etc/shadow", O_RDONLY);
    if (sh < 0 || read(sh, &c, 1) != 1) return 3;
    close(sh);
    puts("read");
    return 0;
}
