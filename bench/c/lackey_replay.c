/*
 * A plain C baseline for `ptlab trace replay`: parses a valgrind lackey trace and counts
 * accesses (split at 4 KiB boundaries), distinct 4 KiB pages and hits/misses of a 64-entry
 * 4-way LRU TLB. No page-table walk, no kernel: only the parsing and the TLB bookkeeping, to
 * show what a simple native program does per line on the same machine.
 *   cc -O2 -o /tmp/lackey_replay bench/c/lackey_replay.c && /tmp/lackey_replay TRACE
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETS 16
#define WAYS 4
static uint64_t tlb[SETS][WAYS];  /* page + 1, 0 = empty; index 0 = most recently used */
static uint64_t *pages;           /* open-addressing set of page + 1 */
static uint64_t pages_cap = 1 << 22, pages_n;
static uint64_t accesses, hits, misses, faults, lines, records, malformed;

static void touch(uint64_t va) {
    uint64_t p = va >> 12, key = p + 1;
    accesses++;
    uint64_t *set = tlb[p & (SETS - 1)];
    int w;
    for (w = 0; w < WAYS && set[w] != key; w++)
        ;
    if (w < WAYS) {
        hits++;
    } else {
        misses++;
        w = WAYS - 1;
        uint64_t h = (key * 0x9E3779B97F4A7C15ull) & (pages_cap - 1);
        while (pages[h] && pages[h] != key) h = (h + 1) & (pages_cap - 1);
        if (!pages[h]) { pages[h] = key; pages_n++; faults++; }
    }
    memmove(set + 1, set, w * sizeof *set);
    set[0] = key;
}

static void access_(uint64_t a, uint64_t size) {
    touch(a);
    for (uint64_t p = (a >> 12) + 1; p <= (a + size - 1) >> 12; p++) touch(p << 12);
}

int main(int argc, char **argv) {
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
    if (!f) { perror(argv[1]); return 2; }
    pages = calloc(pages_cap, sizeof *pages);
    static char buf[1 << 20];
    size_t have = 0, n;
    while ((n = fread(buf + have, 1, sizeof buf - have, f)) > 0) {
        have += n;
        char *p = buf, *end = buf + have, *nl;
        while ((nl = memchr(p, '\n', end - p))) {
            lines++;
            char *q = p;
            while (*q == ' ') q++;
            char op = *q++;
            if (op == '=') { p = nl + 1; continue; }
            while (*q == ' ') q++;
            uint64_t a = 0; int d = 0;
            for (;; q++, d++) {
                char c = *q;
                if (c >= '0' && c <= '9') a = a << 4 | (c - '0');
                else if (c >= 'a' && c <= 'f') a = a << 4 | (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F') a = a << 4 | (c - 'A' + 10);
                else break;
            }
            uint64_t size = 0;
            if (*q == ',') for (q++; *q >= '0' && *q <= '9'; q++) size = size * 10 + (*q - '0');
            if (!d || !size || q != nl) { malformed++; p = nl + 1; continue; }
            records++;
            if (op == 'M') { access_(a, size); access_(a, size); }
            else if (op == 'I' || op == 'L' || op == 'S') access_(a, size);
            else malformed++;
            p = nl + 1;
        }
        have = end - p;
        memmove(buf, p, have);
    }
    printf("lines %llu records %llu malformed %llu accesses %llu pages %llu tlb_hits %llu tlb_misses %llu\n",
           (unsigned long long)lines, (unsigned long long)records, (unsigned long long)malformed,
           (unsigned long long)accesses, (unsigned long long)pages_n, (unsigned long long)hits,
           (unsigned long long)misses);
    return 0;
}
