/* 32-bit program (int 0x80): opens /etc/shadow (succeeds as root) and /etc/shadow/x
 * (fails: ENOTDIR). Exits 0 when both did as expected: exactly one read of shadow. */
#define SYS_exit 1
#define SYS_open 5
#define SYS_close 6

static long sys32(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

void _start(void) {
    long fd = sys32(SYS_open, (long)"/etc/shadow", 0, 0);
    if (fd >= 0) sys32(SYS_close, fd, 0, 0);
    long bad = sys32(SYS_open, (long)"/etc/shadow/x", 0, 0);
    sys32(SYS_exit, fd >= 0 && bad == -20 ? 0 : 1, 0, 0);
    for (;;) {}
}
