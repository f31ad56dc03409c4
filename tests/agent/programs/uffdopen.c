/* Gets a userfaultfd, then reads a file: what an attacker does before swapping a
 * claim's page with UFFDIO_MOVE (Linux 6.8) from another process holding the fd.
 * Usage: uffdopen FILE MODE, MODE none (no userfaultfd), syscall (userfaultfd(2)) or
 * dev (USERFAULTFD_IOC_NEW on /dev/userfaultfd, or NODE if given as a third argument:
 * a node made with mknod). Reads FILE 20 times, says "seen", waits for a line on
 * stdin (the verdicts reach the core), gets the userfaultfd, says "uffd OK" (or the
 * error), reads FILE 300 times. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static void reads(const char *file, int n) {
    char buf[64];
    for (int i = 0; i < n; i++) {
        int fd = open(file, O_RDONLY);
        if (fd >= 0) {
            if (read(fd, buf, sizeof buf) < 0) perror("read");
            close(fd);
        }
        usleep(200);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char line[16];
    reads(argv[1], 20);
    printf("seen\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 2;
    int uffd = -2;
    if (!strcmp(argv[2], "syscall")) {
        /* user-mode faults only: allowed without CAP_SYS_PTRACE, which tracehound
         * drops; UFFDIO_MOVE and UFFDIO_COPY need no fault at all */
        uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        if (uffd < 0 && errno == EINVAL) uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC); /* < 5.11 */
    } else if (!strcmp(argv[2], "dev")) {
        int dev = open(argc > 3 ? argv[3] : "/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        uffd = dev < 0 ? -1 : ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
    }
    printf("uffd %s\n", uffd >= 0 ? "OK" : uffd == -2 ? "none" : strerror(errno));
    fflush(stdout);
    reads(argv[1], 300);
    return 0;
}
