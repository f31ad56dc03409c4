/* A server that builds each path in a fresh buffer (a per-request pool) and leaves
 * whatever it had in the registers the syscall does not read: every open of the same
 * file has another pointer and other unread arguments. freshbuffers FILE N: reads FILE
 * a few times, "seen", waits for a line, then reads it N times. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seenreads.h"

static void fresh_reads(const char *file, int n) {
    char buf[64];
    for (int i = 0; i < n; i++) {
        char *copy = strdup(file); /* never freed: no address comes back */
        long fd = syscall(SYS_openat, AT_FDCWD, copy, O_RDONLY, 0600 + i, 7L * i, 13L * i);
        if (fd >= 0) {
            if (read((int)fd, buf, sizeof buf) < 0) perror("read");
            close((int)fd);
        }
        usleep(200);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    fresh_reads(argv[1], 20);
    if (!seen_then_wait()) return 1;
    fresh_reads(argv[1], atoi(argv[2]));
    return 0;
}
