/* Many threads opening files at once: the tracer must follow clone(CLONE_THREAD). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define THREADS 8
#define OPENS 50

static const char *dir;

static void *worker(void *arg) {
    char path[4096];
    snprintf(path, sizeof path, "%s/thread-%ld", dir, (long)arg);
    for (int i = 0; i < OPENS; i++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t t[THREADS];
    dir = argc > 1 ? argv[1] : ".";
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}
