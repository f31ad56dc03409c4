/* W7: threads_open DIR THREADS PER_THREAD: THREADS threads start together (barrier)
 * and each opens, reads and closes DIR/f<i % 16> PER_THREAD times. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "common.h"

static const char *dir;
static long per_thread;
static pthread_barrier_t start;

static void *worker(void *arg) {
    long id = (long)arg;
    char path[4096], buf[128];
    pthread_barrier_wait(&start);
    for (long i = 0; i < per_thread; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, (id + i) % 16);
        int fd = open(path, O_RDONLY);
        if (fd < 0) die("open");
        if (read(fd, buf, sizeof buf) < 0) die("read");
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: threads_open DIR THREADS PER_THREAD\n");
        return 2;
    }
    dir = argv[1];
    long n = arg_long(argc, argv, 2, 8);
    per_thread = arg_long(argc, argv, 3, 1000);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!tids) die("calloc");
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (long i = 0; i < n; i++)
        if (pthread_create(&tids[i], NULL, worker, (void *)i) != 0) die("pthread_create");
    for (long i = 0; i < n; i++) pthread_join(tids[i], NULL);
    return 0;
}
