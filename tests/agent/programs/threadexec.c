/* exec from a non-leader thread, and a vfork child that execs: both must be
 * followed, and the process must keep its pid across the thread's exec. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static char *const echo_argv[] = {"/bin/echo", "from-thread", NULL};

static void *worker(void *arg) {
    (void)arg;
    execv(echo_argv[0], echo_argv);
    return NULL;
}

int main(void) {
    pid_t child = vfork();
    if (child == 0) {
        execl("/bin/true", "true", "vforked", (char *)NULL);
        _exit(127);
    }
    waitpid(child, NULL, 0);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return 1; /* not reached: the thread's exec replaces us */
}
