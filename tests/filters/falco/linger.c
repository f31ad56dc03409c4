/* Stays alive for a moment whatever its arguments, so the agent can read its /proc
 * entries (they vanish with the process). Used as "nc" and as a dropped binary. */
#include <time.h>

int main(void) {
    struct timespec t = {0, 300 * 1000 * 1000};
    nanosleep(&t, 0);
    return 0;
}
