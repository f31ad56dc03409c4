/* An attacker silencing the agent (its parent): read /etc/shadow, then every way to
 * kill, stop, attach to or patch the agent. Prints "name=ERRNO" per attempt (0: it
 * worked) and "survived" at the end. The agent must refuse each one and live on. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void said(const char *what, long r) { printf("%s=%d\n", what, r < 0 ? errno : 0); }

/* A thread of the agent other than its main one (a tid kill(2) would not name). */
static pid_t agent_thread(pid_t agent) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", agent);
    DIR *d = opendir(path);
    pid_t found = agent;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (atoi(de->d_name) > 0 && atoi(de->d_name) != agent) found = atoi(de->d_name);
    if (d) closedir(d);
    return found;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0); /* each line out before the next attempt */
    char c;
    int fd = open("/etc/shadow", O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1) return 3;
    close(fd);
    pid_t agent = getppid(), thread = agent_thread(agent);
    printf("thread_is_other=%d\n", thread != agent);
    said("kill_KILL", kill(agent, SIGKILL));
    said("kill_STOP", kill(agent, SIGSTOP));
    pid_t group = getpgid(agent);
    if (group > 1) /* some VMs run everything in group 0: kill(-0) would be kill(0) */
        said("kill_group", kill(-group, SIGKILL));
    said("kill_all", kill(-1, 0)); /* signal 0: a test must not take the machine down */
    said("tkill_thread", syscall(SYS_tkill, thread, SIGKILL));
    said("tgkill", syscall(SYS_tgkill, agent, agent, SIGSTOP));
    said("pidfd_open", syscall(SYS_pidfd_open, agent, 0));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", agent);
    int dir = open(path, O_DIRECTORY | O_RDONLY);
    said("pidfd_send_signal", syscall(SYS_pidfd_send_signal, dir, SIGKILL, NULL, 0));
    said("ptrace_attach", ptrace(PTRACE_ATTACH, agent, 0, 0));
    said("ptrace_seize_thread", ptrace(PTRACE_SEIZE, thread, 0, 0));
    char buf[8];
    struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
    said("vm_readv", process_vm_readv(agent, &local, 1, &remote, 1, 0));
    said("vm_writev", process_vm_writev(thread, &local, 1, &remote, 1, 0));
    snprintf(path, sizeof path, "/proc/%d/mem", agent);
    said("open_mem", open(path, O_RDWR));
    said("read_mem", open(path, O_RDONLY)); /* the agent's secrets */
    printf("own_group=%d\n", getpgrp() != getpgid(agent));
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st))
        if (strncmp(line, "CapEff:", 7) == 0)
            printf("sys_ptrace=%d\n", (int)((strtoull(line + 8, NULL, 16) >> 19) & 1));
    if (st) fclose(st);
    usleep(200000);
    puts("survived");
    return 0;
}
