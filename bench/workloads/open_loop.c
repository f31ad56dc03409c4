/* W2 and the memory flood: open, read, close in a loop over DIR/f0..f15.
 *   open_loop DIR COUNT        COUNT iterations
 *   open_loop DIR -d SECONDS   as many iterations as fit in SECONDS (the flood) */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

#define NFILES 16

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: open_loop DIR COUNT | open_loop DIR -d SECONDS\n");
        return 2;
    }
    int timed = strcmp(argv[2], "-d") == 0;
    long count = timed ? 0 : arg_long(argc, argv, 2, 0);
    double deadline = timed ? now_s() + (double)arg_long(argc, argv, 3, 1) : 0;
    char paths[NFILES][4096];
    for (int i = 0; i < NFILES; i++)
        snprintf(paths[i], sizeof paths[i], "%s/f%d", argv[1], i);
    char buf[256];
    for (long i = 0; timed || i < count; i++) {
        /* checking the clock every 256 iterations keeps the flood near full speed */
        if (timed && (i & 255) == 0 && now_s() >= deadline) break;
        int fd = open(paths[i % NFILES], O_RDONLY);
        if (fd < 0) die("open");
        if (read(fd, buf, sizeof buf) < 0) die("read");
        close(fd);
    }
    return 0;
}
