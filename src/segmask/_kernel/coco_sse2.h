/* COCO counts strings read eight characters at a time with SSE2 (every x86-64 has it).

   SEGMASK_VECTOR is 1 where segmask_values8 reads; elsewhere it reads nothing and the caller reads
   one character at a time. */
#ifndef SEGMASK_COCO_SSE2_H
#define SEGMASK_COCO_SSE2_H

#include <Python.h>
#include <stdint.h>
#include "bits.h"

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define SEGMASK_SSE2 1
#define SEGMASK_VECTOR 1
#else
#define SEGMASK_VECTOR 0
#endif

/* COCO string values of up to three characters, eight characters at a time (SSE2).

   Starting at a value boundary p, each block of eight characters is read whole: a 16-bit lane
   a character holds the value it would end, its own group sign-extended above the groups of
   the one or two characters before it (from this block or the one before) that belong to the
   same value. The lanes that end a value are written out in order. Returns the count of
   values; *p is left at the boundary after the last one, *stopped where reading stopped: at
   the text's last (length % 8) characters, or at a block where a value of four characters or
   more ends. A character outside '0'..'o' sets bit 7 of *bad. Without SSE2 nothing is read. */
static Py_ssize_t segmask_values8(const char* text, Py_ssize_t length, Py_ssize_t* p_io,
                                  Py_ssize_t* stopped, int64_t* values, Py_ssize_t k, uint64_t* bad) {
    Py_ssize_t p = *p_io, boundary = *p_io;
#if defined(SEGMASK_SSE2)
    const __m128i zero = _mm_setzero_si128(), c48 = _mm_set1_epi8(48), c63 = _mm_set1_epi8(63);
    const __m128i c1f = _mm_set1_epi8(0x1f), c20 = _mm_set1_epi8(0x20), c16 = _mm_set1_epi16(16);
    const __m128i lanebit = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
    __m128i before = zero;  /* the groups of the block before */
    unsigned ends_before = 0x80;  /* as if the character before p ended a value */
    int16_t lane[8];
    int j;
    while (p + 8 <= length) {
        __m128i c = _mm_sub_epi8(_mm_loadl_epi64((const __m128i*)(text + p)), c48);
        __m128i g, s, g1, g2, m, cand;
        unsigned ends, starts, one, two, three;
        if ((_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(c, c63), zero)) & 0xff) != 0xff) {
            *bad |= 0x80;
            break;
        }
        ends = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, c20), zero)) & 0xff;
        /* over both blocks' 16 characters: which begin a value, which are 1, 2, 3+ into one */
        starts = (ends_before | (ends << 8)) << 1;
        one = ~starts;
        two = one & ~(starts << 1);
        three = two & ~(starts << 2);
        if ((three >> 8) & ends)
            break;
        g = _mm_unpacklo_epi8(_mm_and_si128(c, c1f), zero);
        s = _mm_sub_epi16(_mm_xor_si128(g, c16), c16);  /* the group, sign-extended */
        g1 = _mm_or_si128(_mm_slli_si128(g, 2), _mm_srli_si128(before, 14));  /* one character back */
        g2 = _mm_or_si128(_mm_slli_si128(g, 4), _mm_srli_si128(before, 12));  /* two back */
        cand = s;
        m = _mm_set1_epi16((short)((one >> 8) & 0xff));
        m = _mm_cmpeq_epi16(_mm_and_si128(m, lanebit), lanebit);
        cand = _mm_or_si128(_mm_and_si128(m, _mm_or_si128(g1, _mm_slli_epi16(s, 5))), _mm_andnot_si128(m, cand));
        m = _mm_set1_epi16((short)((two >> 8) & 0xff));
        m = _mm_cmpeq_epi16(_mm_and_si128(m, lanebit), lanebit);
        cand = _mm_or_si128(_mm_and_si128(m, _mm_or_si128(_mm_or_si128(g2, _mm_slli_epi16(g1, 5)),
                                                        _mm_slli_epi16(s, 10))),
                            _mm_andnot_si128(m, cand));
        _mm_storeu_si128((__m128i*)lane, cand);
        for (j = 0; j < 8; j++) {  /* a lane that ends no value is overwritten by the next */
            values[k] = lane[j];
            k += (ends >> j) & 1;
        }
        if (ends)
            boundary = p + 64 - segmask_clz64((uint64_t)ends);
        ends_before = ends;
        before = g;
        p += 8;
    }
#endif
    *p_io = boundary;
    *stopped = p;
    return k;
}

#endif
