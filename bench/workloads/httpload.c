/* W5's load client (never traced): httpload PORT REQUESTS CONNS NFILES
 * CONNS threads, one keep-alive connection each, share a fixed budget of REQUESTS
 * GETs for /f<i % NFILES>.html on 127.0.0.1:PORT. Prints one line on stdout:
 *   requests=N errors=E seconds=S rps=R
 * A fixed request count (not wrk's fixed duration) makes every configuration do the
 * same work, so event counts compare between runs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

static struct sockaddr_in addr;
static long total, nfiles;
static atomic_long next_req, errors;

static int dial(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* One request/response on s; returns 0 on a complete 200 response. */
static int exchange(int s, long n) {
    char req[128], buf[65536];
    int len = snprintf(req, sizeof req, "GET /f%ld.html HTTP/1.1\r\nHost: bench\r\n\r\n", n % nfiles);
    if (write(s, req, (size_t)len) != len) return -1;
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof buf - 1) return -1;
        ssize_t r = read(s, buf + have, sizeof buf - 1 - have);
        if (r <= 0) return -1;
        have += (size_t)r;
        buf[have] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    char *cl = strcasestr(buf, "Content-Length:");
    if (!cl || strncmp(buf + 9, "200", 3) != 0) return -1;
    long body = strtol(cl + 15, NULL, 10);
    long got = (long)(have - (size_t)(end + 4 - buf));
    while (got < body) {
        ssize_t r = read(s, buf, sizeof buf);
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

static void *worker(void *arg) {
    (void)arg;
    int s = dial();
    for (long n; (n = atomic_fetch_add(&next_req, 1)) < total;) {
        if (s < 0 || exchange(s, n) != 0) {
            atomic_fetch_add(&errors, 1);
            if (s >= 0) close(s);
            s = dial(); /* the server may close idle keep-alive connections */
        }
    }
    if (s >= 0) close(s);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: httpload PORT REQUESTS CONNS NFILES\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)arg_long(argc, argv, 1, 80));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    total = arg_long(argc, argv, 2, 1000);
    long conns = arg_long(argc, argv, 3, 4);
    nfiles = arg_long(argc, argv, 4, 1);
    pthread_t *tids = calloc((size_t)conns, sizeof *tids);
    double t0 = now_s();
    for (long i = 0; i < conns; i++) pthread_create(&tids[i], NULL, worker, NULL);
    for (long i = 0; i < conns; i++) pthread_join(tids[i], NULL);
    double dt = now_s() - t0;
    long err = atomic_load(&errors);
    printf("requests=%ld errors=%ld seconds=%.6f rps=%.1f\n", total, err, dt, (double)(total - err) / dt);
    return err ? 1 : 0;
}
