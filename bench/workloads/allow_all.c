/* allow_all CMD [ARGS...]: run CMD under a seccomp filter that allows every syscall
 * (with SPEC_ALLOW, as tracehound's filters). Nothing stops and nobody supervises: this
 * is the price of having a filter at all, the floor of any seccomp-based tracer on
 * syscalls it does not stop (W1). One nr the kernel never issues returns TRACE, so the
 * program is not a constant ALLOW. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: allow_all CMD [ARGS...]\n");
        return 2;
    }
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffff, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("prctl");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog))
        die("seccomp");
    execvp(argv[1], argv + 1);
    die("exec");
}
