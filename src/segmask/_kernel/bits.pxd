# The bit tricks of bits.h, for the modules that count bits and read bytes eight at a time.

from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef extern from "bits.h" nogil:
    int segmask_ctz64(uint64_t x)
    int segmask_clz64(uint64_t x)
    int segmask_popcount64(uint64_t x)
    void segmask_store4(char* p, uint32_t v)
    uint64_t segmask_load8(const uint8_t* p)
