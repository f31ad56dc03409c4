/* What the exit-skip attack programs share: reads of a file, a short pause between
 * them as an application's own work would make (a verdict reaches the core some
 * milliseconds after its record), and the hand-shake with the test: "seen", then a
 * line on stdin once the verdicts on the first reads are in (test_exit_skips.py,
 * _past_seen). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static inline void reads(const char *file, int n) {
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

/* 1 once the test says go on, 0 if stdin ended. */
static inline int seen_then_wait(void) {
    char line[16];
    printf("seen\n");
    fflush(stdout);
    return fgets(line, sizeof line, stdin) != NULL;
}
