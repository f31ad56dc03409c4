/* The racing helper of raceread.c, run untraced (as a sidecar sharing a volume):
 * in DIR, rebinds the name "f" back and forth between the harmless file "h" (a
 * hard link: always the same inode) and a symlink to /etc/shadow, until killed.
 * With "exchange", one renameat2(RENAME_EXCHANGE) of "f" and the symlink "s" per
 * flip instead of a rename over "f". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXCHANGE (1 << 1) /* RENAME_EXCHANGE */

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) < 0) return 2;
    if (argc > 2 && !strcmp(argv[2], "exchange")) {
        link("h", "f.hard");
        rename("f.hard", "f");
        symlink("/etc/shadow", "s");
        for (;;) syscall(SYS_renameat2, AT_FDCWD, "s", AT_FDCWD, "f", EXCHANGE);
    }
    for (;;) {
        symlink("/etc/shadow", "f.link");
        rename("f.link", "f");
        link("h", "f.hard");
        rename("f.hard", "f");
    }
}
