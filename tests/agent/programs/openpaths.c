/* Opens the way an attacker would, one line of output per attempt ("PATH res"):
 *   openpaths PATH...          open and read each path (aliases: symlink, hardlink,
 *                              /proc/self/root/...)
 *   openpaths -u UID PATH...   the same after dropping to UID (EACCES on /etc/shadow)
 *   openpaths -f PATH          PATH unterminated at the end of a mapping, the next page
 *                              unmapped: the kernel fails it with EFAULT, while a
 *                              reader that stops at the page end sees PATH */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int try_open(const char *shown, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s -%d\n", shown, errno);
        return 1;
    }
    char c;
    if (read(fd, &c, 1) < 0) return 3;
    close(fd);
    printf("%s %d\n", shown, fd);
    return 0;
}

int main(int argc, char **argv) {
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "-f") == 0) {
        size_t len = strlen(argv[2]);
        char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED || munmap(page + 4096, 4096)) return 2;
        char *p = page + 4096 - len; /* no NUL: the string runs into the unmapped page */
        memcpy(p, argv[2], len);
        try_open(argv[2], p);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "-u") == 0) {
        int uid = atoi(argv[2]);
        if (setgid(uid) || setuid(uid)) return 2;
        i = 3;
    }
    for (; i < argc; i++) try_open(argv[i], argv[i]);
    return 0;
}
