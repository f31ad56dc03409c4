/* W4: tcp_client PORT COUNT: COUNT short TCP connections to 127.0.0.1:PORT, each
 * connect, send "ping", read the reply, close. SO_LINGER 0 closes with RST so tens
 * of thousands of runs leave no TIME_WAIT sockets behind to exhaust local ports. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tcp_client PORT COUNT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_port = htons((unsigned short)arg_long(argc, argv, 1, 0));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long count = arg_long(argc, argv, 2, 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    char buf[64];
    for (long i = 0; i < count; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) die("socket");
        setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
        if (write(s, "ping", 4) != 4) die("write");
        if (read(s, buf, sizeof buf) <= 0) die("read");
        close(s);
    }
    return 0;
}
