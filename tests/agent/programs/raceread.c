/* Victim of a rename race, attacked from outside: reads PATH (a harmless file)
 * WARM times, says "warm", waits for a line on stdin (meanwhile the test starts
 * `flipper` on PATH's directory, untraced), then reads PATH N times more. Every
 * read that got something else than "harmless" is a read of /etc/shadow: its
 * interval (CLOCK_REALTIME ns before and after the open) goes to OUT, one per line,
 * so the test can find the alert of that very open. Prints "shadow S harmless H". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int read_once(const char *path, long long *t0, long long *t1) {
    char b[8];
    *t0 = now_ns();
    int fd = open(path, O_RDONLY);
    *t1 = now_ns();
    if (fd < 0) return -1;
    ssize_t r = read(fd, b, sizeof b);
    close(fd);
    return r == 8 && memcmp(b, "harmless", 8) == 0 ? 0 : r > 0 ? 1 : -1;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    const char *path = argv[1];
    long warm = atol(argv[2]), n = atol(argv[3]), shadow = 0, harmless = 0;
    FILE *out = fopen(argv[4], "w");
    if (!out) return 2;
    long long t0, t1;
    for (long i = 0; i < warm; i++) read_once(path, &t0, &t1);
    printf("warm\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 2;
    for (long i = 0; i < n; i++) {
        int got = read_once(path, &t0, &t1);
        if (got == 0) harmless++;
        if (got == 1) {
            shadow++;
            fprintf(out, "%lld %lld\n", t0, t1);
        }
    }
    fclose(out);
    printf("shadow %ld harmless %ld\n", shadow, harmless);
    return 0;
}
