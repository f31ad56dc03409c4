/* A library an attacker drops and preloads: it only says it was loaded. */
#include <unistd.h>

__attribute__((constructor)) static void loaded(void) {
    static const char msg[] = "hook loaded\n";
    (void)!write(2, msg, sizeof msg - 1);
}
