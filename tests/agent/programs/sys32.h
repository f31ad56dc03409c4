/* i386 system calls through int 0x80, for the static 32-bit test programs. */
#define SYS_exit 1
#define SYS_open 5
#define SYS_close 6

static long sys32(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}
