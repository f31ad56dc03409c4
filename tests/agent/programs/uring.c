/* An attacker stepping around the tracer with io_uring: set up a ring (its reads,
 * opens and connections would never pass a traced syscall). Prints "uring=ERRNO"
 * (0: the ring was made). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    unsigned char params[120]; /* struct io_uring_params */
    memset(params, 0, sizeof params);
    long fd = syscall(425 /* io_uring_setup */, 8, params);
    printf("uring=%d\n", fd < 0 ? errno : 0);
    if (fd >= 0) close((int)fd);
    return 0;
}
