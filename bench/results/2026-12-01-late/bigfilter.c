/* bigfilter PROG.bin CMD...: install the given cBPF program (struct sock_filter array) then exec. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb"); static struct sock_filter ins[4096];
    size_t n = fread(ins, sizeof ins[0], 4096, f);
    struct sock_fprog p = {(unsigned short)n, ins};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &p)) { perror("seccomp"); return 1; }
    execv(argv[2], argv + 2); perror("exec"); return 1;
}
