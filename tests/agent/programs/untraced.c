/* An attacker hiding a child from ptrace: clone3, then clone, with CLONE_UNTRACED.
 * Under ptrace such a child would never be attached and its traced syscalls would fail
 * with ENOSYS. The child opens /etc/shadow and changes its uid; the parent prints the
 * child's pid and what each step gave, and exits with the child's status. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(void) {
    char c;
    int fd = open("/etc/shadow", O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1) return 99;
    close(fd);
    if (setresgid(0, 0, 0) != 0) return 98;
    return 0;
}

int main(void) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_UNTRACED;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    printf("clone3=%d\n", pid < 0 ? errno : 0);
    if (pid == 0) _exit(child());
    if (pid < 0) { /* what libcs do when clone3 is not there */
        pid = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) _exit(child());
    }
    if (pid < 0) return 2;
    printf("child=%ld\n", pid);
    int st;
    if (waitpid((pid_t)pid, &st, 0) < 0) return 3;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}
