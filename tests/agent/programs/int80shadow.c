/* 32-bit program (int 0x80): opens /etc/shadow (succeeds as root) and /etc/shadow/x
 * (fails: ENOTDIR). Exits 0 when both did as expected: exactly one read of shadow. */
#include "sys32.h"

void _start(void) {
    long fd = sys32(SYS_open, (long)"/etc/shadow", 0, 0);
    if (fd >= 0) sys32(SYS_close, fd, 0, 0);
    long bad = sys32(SYS_open, (long)"/etc/shadow/x", 0, 0);
    sys32(SYS_exit, fd >= 0 && bad == -20 ? 0 : 1, 0, 0);
    for (;;) {}
}
