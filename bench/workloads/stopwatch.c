/* stopwatch CMD ARGS...: run CMD, print "bench-elapsed SECONDS" on stderr, exit with its status.
 *
 * It is the root of the traced tree, so the time it reports is what the application
 * itself experiences: the tracer's or strace's own start-up and final flush are
 * outside it (the harness reports those separately as wall time). */
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: stopwatch CMD [ARGS...]\n");
        return 2;
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        die("execvp");
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid");
    fprintf(stderr, "bench-elapsed %.6f\n", now_s() - t0);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
