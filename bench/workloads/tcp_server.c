/* The untraced peer of W4: tcp_server PORT_FILE. Listens on an ephemeral loopback
 * port, writes the port number to PORT_FILE, then answers every connection with
 * "pong" and closes it, until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tcp_server PORT_FILE\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    if (listen(ls, 1024) < 0) die("listen");
    socklen_t len = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &len);
    FILE *f = fopen(argv[1], "w");
    if (!f) die("fopen");
    fprintf(f, "%d\n", ntohs(sa.sin_port));
    fclose(f);
    char buf[64];
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        if (read(c, buf, sizeof buf) > 0 && write(c, "pong", 4) != 4) { /* peer gone */ }
        close(c);
    }
}
