/*
 * Keyed hashing for the skip verdicts' entry keys (_core.c, "exit stops nobody
 * needs"). A verdict is found by a 64-bit hash of the open's record: with a public
 * unkeyed hash (FNV), an attacker could compute offline a path to /etc/shadow whose
 * record hashes like a harmless one the agent learned to skip. SipHash-2-4 with a key
 * drawn at start (getrandom) leaves only online guessing, one open at a time.
 */
#ifndef TRACEHOUND_KEYHASH_H
#define TRACEHOUND_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t k0, k1;
} HashKey;

/* A fresh random key; 0 on success, -1 if the kernel gave no randomness. */
int hashkey_new(HashKey *k);

/* SipHash-2-4 of `len` bytes at `data` under `k`. */
uint64_t keyed_hash(const HashKey *k, const void *data, size_t len);

#endif
