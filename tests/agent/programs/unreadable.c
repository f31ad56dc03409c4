#define _GNU_SOURCE
/* An attacker making itself unreadable to an agent without SYS_PTRACE: argv[1] is
 * "dumpable" (prctl(PR_SET_DUMPABLE, 0)) or "uid" (a real-uid change that keeps root
 * as the effective uid), then it opens /etc/shadow; then it becomes uid 1000
 * everywhere and opens argv[2], so the record shows whether user.uid followed. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (strcmp(argv[1], "dumpable") == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return 3;
    if (strcmp(argv[1], "uid") == 0 && setresuid(65534, 0, 0) != 0) return 4;
    char c;
    int fd = open("/etc/shadow", O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1) return 5;
    close(fd);
    if (setresuid(1000, 1000, 1000) != 0) return 6;
    fd = open(argv[2], O_RDONLY);
    if (fd >= 0) close(fd);
    puts("done");
    return 0;
}
