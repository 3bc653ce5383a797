/* Bit tricks for segmask's kernel: counting zeros and ones in 64-bit words, unaligned loads and stores.

   GCC and Clang builtins, MSVC intrinsics; on x86-64 without POPCNT in its baseline a bit-parallel
   popcount instead of libgcc's call. All static inline: each module that includes this inlines them. */
#ifndef SEGMASK_BITS_H
#define SEGMASK_BITS_H

#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER)
#include <intrin.h>
static inline int segmask_ctz64(uint64_t x) { unsigned long i; _BitScanForward64(&i, x); return (int)i; }
static inline int segmask_clz64(uint64_t x) { unsigned long i; _BitScanReverse64(&i, x); return 63 - (int)i; }
static inline int segmask_popcount64(uint64_t x) { return (int)__popcnt64(x); }
#else
static inline int segmask_ctz64(uint64_t x) { return __builtin_ctzll(x); }
static inline int segmask_clz64(uint64_t x) { return __builtin_clzll(x); }
#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
static inline int segmask_popcount64(uint64_t x) { return __builtin_popcountll(x); }
#else
static inline int segmask_popcount64(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
#endif
#endif

/* Four bytes, the lowest first, at any address. */
static inline void segmask_store4(char* p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

/* Eight bytes at any address, in memory order (for XOR and compare only: their order does not matter). */
static inline uint64_t segmask_load8(const uint8_t* p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#endif
