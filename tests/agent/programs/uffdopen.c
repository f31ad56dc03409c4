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

#include "seenreads.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    reads(argv[1], 20);
    if (!seen_then_wait()) return 2;
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
