/* A 64-bit process making an x32 syscall and one with an unknown number (nr | 0x40000000): the filter must trace
 * it and the tracer decode it with the x32 table, whether or not the kernel
 * accepts x32 (without CONFIG_X86_X32_ABI it fails with ENOSYS after the stop). */
#define X32 0x40000000L
#define SYS_openat 257
#define SYS_exit_group 231

static long sys3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

void _start(void) {
    sys3(X32 | SYS_openat, -100, (long)"/etc/x32-probe", 0);
    sys3(1000, 1, 2, 3); /* a number no table knows: traced, never silently allowed */
    sys3(SYS_exit_group, 0, 0, 0);
    for (;;) {}
}
