/* Reports the signals it receives on stdout, one line each, then exits 0 on SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t last;

static void on_signal(int sig) { last = sig; }

int main(void) {
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTERM};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        pause();
        printf("got %d\n", (int)last);
        fflush(stdout);
        if (last == SIGTERM) return 0;
    }
}
