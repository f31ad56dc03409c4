/* 32-bit program that opens a file through int 0x80 (i386 syscall numbers). */
#define SYS_open 5
#define SYS_close 6
#define SYS_exit 1

static long sys32(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

void _start(void) {
    long fd = sys32(SYS_open, (long)"/etc/hostname", 0, 0);
    if (fd >= 0) sys32(SYS_close, fd, 0, 0);
    fd = sys32(SYS_open, (long)"int80-output", 0101 /* O_WRONLY|O_CREAT */, 0600);
    sys32(SYS_exit, fd >= 0 ? 0 : 1, 0, 0);
    for (;;) {}
}
