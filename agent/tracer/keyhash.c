/* Keyed hashing: see keyhash.h. SipHash-2-4 as specified by Aumasson and Bernstein
 * (2012): a 128-bit key, four 64-bit lanes, two rounds per 8-byte word, four at the
 * end; the last word carries the length in its top byte. */
#define _GNU_SOURCE
#include "keyhash.h"

#include <string.h>
#include <sys/random.h>

int hashkey_new(HashKey *k) {
    return getrandom(k, sizeof *k, 0) == (ssize_t)sizeof *k ? 0 : -1;
}

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

typedef struct {
    uint64_t v0, v1, v2, v3;
} Lanes;

static inline void sip_round(Lanes *s) {
    s->v0 += s->v1, s->v1 = rotl(s->v1, 13), s->v1 ^= s->v0, s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3, s->v3 = rotl(s->v3, 16), s->v3 ^= s->v2;
    s->v0 += s->v3, s->v3 = rotl(s->v3, 21), s->v3 ^= s->v0;
    s->v2 += s->v1, s->v1 = rotl(s->v1, 17), s->v1 ^= s->v2, s->v2 = rotl(s->v2, 32);
}

static inline void absorb(Lanes *s, uint64_t m) {
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t keyed_hash(const HashKey *k, const void *data, size_t len) {
    /* the lanes start as the key xored with "somepseudorandomlygeneratedbytes" */
    Lanes s = {k->k0 ^ 0x736f6d6570736575ull, k->k1 ^ 0x646f72616e646f6dull,
               k->k0 ^ 0x6c7967656e657261ull, k->k1 ^ 0x7465646279746573ull};
    const unsigned char *p = data;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m;
        memcpy(&m, p + i, 8); /* little-endian words: x86_64 and arm64 alike */
        absorb(&s, m);
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++) last |= (uint64_t)p[whole + i] << (8 * i);
    absorb(&s, last);
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++) sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
