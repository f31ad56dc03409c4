/* A thread's tid taken by a new process: does the agent read the new process's
 * socket, or the one its old pidfd still leads to? A thread connects a TCP socket
 * (fd 100) and exits; the process, still alive with that TCP socket, then forks until
 * a child gets the thread's tid (ns_last_pid; root only), and the child connects a
 * UDP socket it put at fd 100. Prints "reused 1 tid T" (the child got the tid) or
 * "reused 0"; exit status 4 if ns_last_pid cannot be written. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t thread_tid;

static void connect_fd100(int type) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    int s = socket(AF_INET, type, 0);
    if (s < 0 || dup2(s, 100) < 0) _exit(2);
    if (connect(100, (struct sockaddr *)&a, sizeof a) < 0 && type == SOCK_DGRAM) _exit(2);
}

static void *thread_main(void *arg) {
    (void)arg;
    thread_tid = (pid_t)syscall(SYS_gettid);
    connect_fd100(SOCK_STREAM); /* refused: nothing listens on port 9 */
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) || pthread_join(t, NULL)) return 2;
    for (int attempt = 0; attempt < 200; attempt++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f) return 4;
        int ok = fprintf(f, "%d", thread_tid - 1) > 0;
        if (fclose(f) != 0 || !ok) return 4;
        pid_t child = fork();
        if (child < 0) return 2;
        if (child == 0) {
            if (getpid() != thread_tid) _exit(3); /* still held (the agent reaps it) */
            connect_fd100(SOCK_DGRAM);
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) < 0) return 2;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("reused 1 tid %d\n", thread_tid);
            return 0;
        }
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    printf("reused 0\n");
    return 0;
}
