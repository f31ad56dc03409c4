/* A SIGALRM every millisecond into `handler` (SA_RESTART), to interrupt a program's
 * syscalls, and the timer stopped again (also from the handler). */
#include <signal.h>
#include <string.h>
#include <sys/time.h>

static void alarms_start(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every, NULL);
}

static void alarms_stop(void) {
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
}
