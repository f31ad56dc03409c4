/* A claim in private memory the agent has come to trust, then a page another process
 * writes put at the same address, and the path flipped there between a harmless file
 * and /etc/shadow while the task opens it.
 * Usage: remapswap HARMLESS MODE COUNT. MODE says how the page comes:
 *   fixed   mmap(MAP_SHARED | MAP_FIXED) over the claim
 *   hint    munmap, then MAP_SHARED at the freed address without MAP_FIXED
 *   mremap  a shared mapping moved onto it (MREMAP_FIXED)
 *   shmat   SysV shared memory attached there (SHM_REMAP)
 *   file    a private mapping of a file (MAP_FIXED) that the child rewrites
 *   vfork   mmap(MAP_SHARED | MAP_FIXED) over it by a vfork child (its memory is the
 *           task's), which then exits
 * Opens HARMLESS 20 times from a private anonymous page, says "seen", waits for a line
 * on stdin (the verdicts reach the core), opens it 100 times more, remaps, forks the
 * flipper and opens the claim COUNT times (more if no flip landed yet). Prints
 * "shadow N": the opens that really got /etc/shadow (by device and inode), each of
 * which must alert. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seenreads.h"

#define PAGE 4096

/* `pause`: a short sleep between opens, as an application's own work would make (an
 * open's verdict reaches the core some milliseconds after its record). */
static void opens(const char *claim, int n, int pause, const struct stat *shadow, int *hits) {
    for (int i = 0; i < n; i++) {
        if (pause) usleep(200);
        int fd = open(claim, O_RDONLY);
        if (fd < 0) continue;
        struct stat st;
        if (hits && fstat(fd, &st) == 0 && st.st_dev == shadow->st_dev && st.st_ino == shadow->st_ino)
            (*hits)++;
        close(fd);
    }
}

/* The child: flip the path in shared memory (or in the file, at offset 0) forever. */
static void flip(char *shared, int file, const char *harmless) {
    char a[256], b[256];
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    strncpy(a, harmless, sizeof a - 1);
    strcpy(b, "/etc/shadow");
    for (unsigned i = 0;; i++) {
        const char *p = (i & 1) ? b : a;
        if (file >= 0) {
            if (pwrite(file, p, sizeof a, 0) < 0) _exit(1);
        } else {
            memcpy(shared, p, sizeof a);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || strlen(argv[1]) >= 200) return 2;
    const char *mode = argv[2];
    int count = atoi(argv[3]), file = -1;
    struct stat shadow;
    if (stat("/etc/shadow", &shadow) != 0) return 2;
    char *claim = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (claim == MAP_FAILED) return 3;
    strcpy(claim, argv[1]);
    opens(claim, 20, 1, &shadow, NULL);
    if (!seen_then_wait()) return 2;
    opens(claim, 100, 1, &shadow, NULL); /* the trusted claim, as the agent knows it */

    char *shared = MAP_FAILED;
    int rw = PROT_READ | PROT_WRITE;
    if (!strcmp(mode, "fixed")) {
        shared = mmap(claim, PAGE, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    } else if (!strcmp(mode, "hint")) {
        munmap(claim, PAGE);
        shared = mmap(claim, PAGE, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    } else if (!strcmp(mode, "mremap")) {
        char *s = mmap(NULL, PAGE, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s != MAP_FAILED) shared = mremap(s, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, claim);
    } else if (!strcmp(mode, "shmat")) {
        int id = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
        if (id >= 0) {
            shared = shmat(id, claim, SHM_REMAP);
            if (shared == (char *)-1) shared = MAP_FAILED;
            shmctl(id, IPC_RMID, NULL); /* gone when both detach */
        }
    } else if (!strcmp(mode, "vfork")) {
        pid_t child = vfork();
        if (child == 0) {
            void *p = mmap(claim, PAGE, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            _exit(p == claim ? 0 : 1);
        }
        int st = 1;
        if (child > 0 && waitpid(child, &st, 0) == child && WIFEXITED(st) && !WEXITSTATUS(st))
            shared = claim;
    } else if (!strcmp(mode, "file")) {
        char name[] = "/tmp/remapswap.XXXXXX"; /* not beside HARMLESS: its directory is watched */
        file = mkstemp(name);
        if (file >= 0 && pwrite(file, claim, PAGE, 0) == PAGE) {
            unlink(name);
            shared = mmap(claim, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, file, 0);
        }
    }
    if (shared == MAP_FAILED) {
        perror(mode);
        return 4;
    }
    if (file < 0) strcpy(shared, argv[1]);
    printf("%s at %s\n", mode, shared == claim ? "the claim" : "another address");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) flip(shared, file, argv[1]);
    int hits = 0;
    /* COUNT opens at least, and on until a flip landed (a loaded host may starve the child) */
    for (int done = 0; done < count || (!hits && done < 50 * count); done += count)
        opens(shared, count, 0, &shadow, &hits);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("shadow %d\n", hits);
    return 0;
}
