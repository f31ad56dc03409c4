/* Reports the signals it receives on stdout, one line each, then exits 0 on SIGTERM.
 * The signals stay blocked except inside sigsuspend, so one that arrives while
 * the previous line is being written waits instead of being lost. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t last;

static void on_signal(int sig) { last = sig; }

int main(void) {
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTERM};
    struct sigaction sa;
    sigset_t blocked, during_wait;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&blocked);
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&blocked, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &blocked, &during_wait);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        sigsuspend(&during_wait);
        printf("got %d\n", (int)last);
        fflush(stdout);
        if (last == SIGTERM) return 0;
    }
}
