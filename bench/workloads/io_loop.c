/* W1: io_loop FILE OPS: OPS small (64-byte) pwrite/pread calls, alternating, on one file.
 * Opened once, so a profile that traces opens sees a single event; the point is that
 * untraced syscalls must run at native speed. */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: io_loop FILE OPS\n");
        return 2;
    }
    long ops = arg_long(argc, argv, 2, 0);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("open");
    char buf[64];
    memset(buf, 'x', sizeof buf);
    const long slots = 1024; /* 64 KiB file: stays in the page cache */
    for (long i = 0; i < ops; i += 2) {
        off_t off = (off_t)((i / 2) % slots) * (off_t)sizeof buf;
        if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf) die("pwrite");
        if (pread(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf) die("pread");
    }
    close(fd);
    return 0;
}
