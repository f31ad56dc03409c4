/* Opens /etc/shadow (succeeds) and /etc/shadow/x (fails: ENOTDIR) N times each while
 * a timer interrupts it every millisecond, as a program would to disturb a tracer that
 * finishes its record at an exit stop:
 *   sigopens N          signals delivered (SA_RESTART handler)
 *   sigopens N block    every signal blocked: nothing is ever delivered
 * Prints "shadow OK failed F alarms A". */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alarms.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100, ok = 0, failed = 0;
    if (argc > 2 && strcmp(argv[2], "block") == 0) {
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
    }
    alarms_start(on_alarm);
    for (int i = 0; i < n; i++) {
        int fd = open("/etc/shadow", O_RDONLY);
        if (fd >= 0) {
            ok++;
            close(fd);
        }
        if (open("/etc/shadow/x", O_RDONLY) < 0) failed++;
    }
    alarms_stop();
    printf("shadow %d failed %d alarms %d\n", ok, failed, (int)alarms);
    return 0;
}
