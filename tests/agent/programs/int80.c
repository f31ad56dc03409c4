/* 32-bit program that opens a file through int 0x80 (i386 syscall numbers). */
#include "sys32.h"

void _start(void) {
    long fd = sys32(SYS_open, (long)"/etc/hostname", 0, 0);
    if (fd >= 0) sys32(SYS_close, fd, 0, 0);
    fd = sys32(SYS_open, (long)"int80-output", 0101 /* O_WRONLY|O_CREAT */, 0600);
    sys32(SYS_exit, fd >= 0 ? 0 : 1, 0, 0);
    for (;;) {}
}
