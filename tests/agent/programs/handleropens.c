/* A signal handler that opens /etc/shadow while the program itself opens other files
 * through the same libc wrapper (one syscall instruction for both), so a tracer that
 * holds one open's record across a restart may be handed the handler's open instead:
 *   handleropens N [MAX]  N rounds of open("/etc/hostname") and open("/etc/shadow/x")
 *                         (fails: ENOTDIR) under a 1 ms timer whose handler
 *                         (SA_RESTART) opens /etc/shadow, MAX times at most (default
 *                         50): then it stops the timer, so a host where a traced open
 *                         takes longer than the timer's period (an emulated VM) ends too
 * Prints "handler H main M failed F alarms A": H successful opens of /etc/shadow. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alarms.h"

static volatile sig_atomic_t handler_opens, alarms, max_opens = 50;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
    int fd = open("/etc/shadow", O_RDONLY);
    if (fd >= 0) {
        handler_opens++;
        close(fd);
    }
    if (alarms >= max_opens) alarms_stop();
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100, ok = 0, failed = 0;
    if (argc > 2) max_opens = atoi(argv[2]);
    alarms_start(on_alarm);
    for (int i = 0; i < n; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd >= 0) {
            ok++;
            close(fd);
        }
        if (open("/etc/shadow/x", O_RDONLY) < 0) failed++;
    }
    alarms_stop();
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL); /* no handler runs while the counts are read */
    printf("handler %d main %d failed %d alarms %d\n", (int)handler_opens, ok, failed, (int)alarms);
    return 0;
}
