/* exec from a non-leader thread while the leader keeps making traced syscalls:
 * the leader's stops that come before the kernel has replaced the program must
 * not settle the exec (without ptrace they show the old program in /proc). */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static char *const echo_argv[] = {"/bin/echo", "from-busy-thread", NULL};

static void *worker(void *arg) {
    (void)arg;
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL); /* let the leader's open loop get going */
    execv(echo_argv[0], echo_argv);
    return NULL;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    for (;;) { /* until the thread's exec ends this process's program */
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) close(fd);
    }
}
