/* Test helper for the attack script: each mode performs one suspicious action.
 * Everything stays on this machine: loopback sockets, our own child processes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int memfd_exec(void) {
    int src = open("/bin/true", O_RDONLY);
    struct stat st;
    if (src < 0 || fstat(src, &st) < 0) return 2;
    int mfd = memfd_create("payload", MFD_CLOEXEC);
    if (mfd < 0) return 3;
    if (sendfile(mfd, src, NULL, st.st_size) != st.st_size) return 4;
    char *argv[] = {"payload", NULL};
    fexecve(mfd, argv, environ);
    return 5;
}

static int dup_socket(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        return 2;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) return 3;
    dup2(c, 0); /* what a reverse shell does with its connection */
    return 0;
}

static int ptrace_other(void) {
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    usleep(100000);
    ptrace(PTRACE_ATTACH, child, NULL, NULL); /* fails while we are traced: fine */
    long word = 0;
    ptrace(PTRACE_POKEDATA, child, (void *)&word, (void *)1L);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}

static int setuid_root(void) {
    if (setgid(65534) || setuid(65534)) return 2;
    if (setuid(0) == 0) return 3; /* must fail: we dropped root */
    return 0;
}

static int spawn_shell(void) {
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(p, &status, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 1;
    if (!strcmp(argv[1], "memfd")) return memfd_exec();
    if (!strcmp(argv[1], "dup")) return dup_socket();
    if (!strcmp(argv[1], "ptrace")) return ptrace_other();
    if (!strcmp(argv[1], "setuid")) return setuid_root();
    if (!strcmp(argv[1], "shell")) return spawn_shell();
    return 1;
}
