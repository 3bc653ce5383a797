/* Memory pages for segmask's kernel: asking for small pages where a large answer is written sparsely. */
#ifndef SEGMASK_PAGES_H
#define SEGMASK_PAGES_H

#include <stddef.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* Ask for small pages on [p, p + n): a sparse answer then only commits the pages it writes. */
static void segmask_small_pages(char* p, size_t n) {
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
    long page = sysconf(_SC_PAGESIZE);
    size_t start, stop;
    if (page <= 0) return;
    start = ((size_t)p + (size_t)page - 1) & ~((size_t)page - 1);
    stop = ((size_t)p + n) & ~((size_t)page - 1);
    if (stop > start) madvise((void*)start, stop - start, MADV_NOHUGEPAGE);
#else
    (void)p; (void)n;
#endif
}

#endif
