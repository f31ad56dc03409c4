/* An attacker hiding a read of /etc/shadow and a write-open of /etc/passwd behind a
 * file name that is not UTF-8 (and holds control characters): before, one such name
 * made the router drop the whole batch. argv[1]: a directory to create the name in;
 * argv[2] (optional): text carried in our own cmdline, such as a forged log line. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char c;
    int fd = open("/etc/shadow", O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1) return 3;
    close(fd);
    fd = open("/etc/passwd", O_WRONLY | O_APPEND); /* opened for writing, nothing written */
    if (fd < 0) return 4;
    close(fd);
    char path[4096];
    snprintf(path, sizeof path, "%s/bad\xff\xfe\x1b[2Jname\nforged", argv[1]);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 5;
    close(fd);
    if (unlink(path) != 0) return 6;
    puts("done");
    return 0;
}
