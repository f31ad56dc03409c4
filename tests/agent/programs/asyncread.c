/* Gets the kernel to write its memory later, on its behalf, then reads a file: an
 * io_uring read or an AIO read, still running while the task waits in an open, can
 * change the open's claim after the agent read it (another process feeds the data).
 * Usage: asyncread FILE MODE, MODE none, uring (io_uring_setup) or aio (io_setup and
 * io_submit of one read of FILE). Reads FILE 20 times, says "seen", waits for a line
 * on stdin (the verdicts reach the core), sets MODE up, says "async OK" (or the
 * error), reads FILE 300 times. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seenreads.h"

static int aio_read_once(const char *file) {
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 1, &ctx) < 0) return -1;
    static char buf[64];
    int fd = open(file, O_RDONLY);
    struct iocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = (uint32_t)fd;
    cb.aio_lio_opcode = IOCB_CMD_PREAD;
    cb.aio_buf = (uint64_t)(uintptr_t)buf;
    cb.aio_nbytes = sizeof buf;
    struct iocb *list[1] = {&cb};
    long n = syscall(SYS_io_submit, ctx, 1, list);
    struct io_event ev;
    if (n == 1) syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL);
    syscall(SYS_io_destroy, ctx);
    close(fd);
    return n == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    reads(argv[1], 20);
    if (!seen_then_wait()) return 2;
    int r = -2;
    if (!strcmp(argv[2], "uring")) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        r = (int)syscall(SYS_io_uring_setup, 4, &p);
    } else if (!strcmp(argv[2], "aio")) {
        r = aio_read_once(argv[1]);
    }
    printf("async %s\n", r >= 0 ? "OK" : r == -2 ? "none" : strerror(errno));
    fflush(stdout);
    reads(argv[1], 300);
    return 0;
}
