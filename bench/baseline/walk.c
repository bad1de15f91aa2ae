/*
 * C baseline for ptlab's walk benchmarks (issue 3): the same workloads as
 * ptlab.tools.WalkWorkloads, written the obvious way in C.
 *
 *   cc -O2 -o walk walk.c && ./walk
 *
 * Physical memory is one array of 4 KiB frames (uint64_t[512] each); an entry holds
 * pa | flags as on x86-64. The walk reads each entry with an acquire load (a plain mov on
 * x86, but the compiler may not hoist it out of the loop, like ptlab's VarHandle.getAcquire
 * and the kernel's READ_ONCE), checks P and the reserved bits, accumulates R/W, U/S, XD,
 * stops at PS=1 or level 1, and checks A (and the rights) at the leaf. The TLB is a
 * 64-entry 4-way set-associative array (tag, pcid, frame, attrs, LRU stamp) as in ptlab.
 *
 * Each case: warm-up, then rounds of 8192 translations timed with clock_gettime;
 * reports the best and the median round in ns per translation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define P  (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define A  (1ull << 5)
#define D  (1ull << 6)
#define PS (1ull << 7)
#define XD (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull   /* MAXPHYADDR 52 */

static uint64_t *mem;          /* physical memory: frame f at mem[f * 512] */
static uint64_t next_frame = 1;
static uint64_t nr_frames;

static uint64_t alloc_table(void) {
    if (next_frame >= nr_frames) { fprintf(stderr, "out of frames\n"); exit(1); }
    return (next_frame++) << 12;
}

static inline uint64_t *entry_ptr(uint64_t pa) { return &mem[pa >> 3]; }

static inline uint64_t load_entry(uint64_t pa) {
    return __atomic_load_n(entry_ptr(pa), __ATOMIC_ACQUIRE);
}

static int levels;
static uint64_t reserved[6][2];   /* [level][PS]: reserved bits of a present entry (NXE=1, M=52) */

static void map(uint64_t root, uint64_t va, uint64_t pa) {
    uint64_t table = root;
    for (int level = levels; level > 1; level--) {
        uint64_t ea = table + (((va >> (12 + 9 * (level - 1))) & 511) << 3);
        uint64_t e = *entry_ptr(ea);
        if (!(e & P)) {
            e = alloc_table() | P | RW | US | A;
            *entry_ptr(ea) = e;
        }
        table = e & ADDR_MASK;
    }
    *entry_ptr(table + (((va >> 12) & 511) << 3)) = pa | P | RW | US | A | D;
}

/* The result, filled in place as ptlab's WalkResult. */
struct walk_result { uint64_t pa; int page_shift; int restr; uint64_t leaf; };

/* Denied-rights bit table as ptlab's CpuRegisters.deniedRights(): row 3 = supervisor read. */
static uint64_t denied_rights = 0;

/* SDM 4.5 walk, A/D already set (a missing A returns -2 where ptlab would compare-and-swap). */
static __attribute__((noinline)) int walk(uint64_t cr3, uint64_t va, struct walk_result *out) {
    uint64_t table = cr3;
    int restr = 0;
    uint64_t all = ~0ull;
    for (int level = levels; ; level--) {
        int shift = 12 + 9 * (level - 1);
        uint64_t ea = table + (((va >> shift) & 511) << 3);
        uint64_t e = load_entry(ea);
        int ps = (e & PS) && (level == 2 || level == 3);
        if (!(e & P) || (e & reserved[level][ps]))
            return -1;                                  /* #PF */
        restr |= (int) ((~e >> 1) & 3) | (int) ((e >> 61) & 4);
        all &= e;
        if (ps || level == 1) {
            if ((denied_rights >> (8 * 3 + restr)) & 1)
                return -1;                              /* #PF P=1 */
            if (!(all & A))
                return -2;                              /* would set A */
            out->pa = (e & ADDR_MASK & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
            out->page_shift = shift;
            out->restr = restr;
            out->leaf = e;
            return 0;
        }
        table = e & ADDR_MASK;
    }
}

/* 4 KiB TLB: 64 entries, 4 ways, LRU, PCID-tagged. */
#define TLB_SETS 16
#define TLB_WAYS 4
static uint64_t tlb_tag[TLB_SETS * TLB_WAYS];
static int tlb_pcid[TLB_SETS * TLB_WAYS];
static uint64_t tlb_frame[TLB_SETS * TLB_WAYS];
static int tlb_attrs[TLB_SETS * TLB_WAYS];
static uint64_t tlb_lru[TLB_SETS * TLB_WAYS];
static uint64_t tlb_clock;
#define GLOBAL 8

static __attribute__((noinline)) int tlb_translate(uint64_t va, int pcid, struct walk_result *out) {
    uint64_t vpn = va >> 12;
    int first = (int) (vpn & (TLB_SETS - 1)) * TLB_WAYS;
    for (int s = first; s < first + TLB_WAYS; s++) {
        if (tlb_tag[s] == vpn && (tlb_pcid[s] == pcid || (tlb_attrs[s] & GLOBAL))) {
            tlb_lru[s] = ++tlb_clock;
            int restr = tlb_attrs[s] & 7;
            if ((denied_rights >> (8 * 3 + restr)) & 1)
                return -1;
            out->pa = tlb_frame[s] | (va & 4095);
            out->page_shift = 12;
            out->restr = restr;
            return 0;
        }
    }
    return -3;   /* miss: not measured here */
}

static void tlb_fill(uint64_t va, int pcid, uint64_t frame, int attrs) {
    int s = (int) ((va >> 12) & (TLB_SETS - 1)) * TLB_WAYS;
    tlb_tag[s] = va >> 12; tlb_pcid[s] = pcid; tlb_frame[s] = frame; tlb_attrs[s] = attrs;
    tlb_lru[s] = ++tlb_clock;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

#define ROUND 8192
#define ROUNDS 600

static uint64_t *vas;
static unsigned vas_mask;
static uint64_t cr3;
static volatile uint64_t sink;

static void report(const char *name, int tlb) {
    static double t[ROUNDS];
    struct walk_result r;
    uint64_t acc = 0;
    unsigned next = 0;
    for (int round = -ROUNDS / 4; round < ROUNDS; round++) {   /* first quarter: warm-up */
        double start = now_ns();
        for (int i = 0; i < ROUND; i++) {
            uint64_t va = vas[next++ & vas_mask];
            int rc = tlb ? tlb_translate(va, 0, &r) : walk(cr3, va, &r);
            if (rc != 0) { fprintf(stderr, "%s: unexpected rc %d for va %#llx\n", name, rc, (unsigned long long) va); exit(1); }
            acc += r.pa;
        }
        if (round >= 0)
            t[round] = (now_ns() - start) / ROUND;
    }
    sink = acc;
    qsort(t, ROUNDS, sizeof t[0], cmp_double);
    printf("%-12s best %6.2f ns  median %6.2f ns\n", name, t[0], t[ROUNDS / 2]);
}

/* Maps `pages` 4 KiB pages from base_va (as WalkWorkloads.build) in fresh memory. */
static void setup(int nlevels, uint64_t base_va, uint64_t pages) {
    levels = nlevels;
    nr_frames = pages / 256 + 64;
    free(mem);
    mem = aligned_alloc(4096, nr_frames * 4096);
    memset(mem, 0, nr_frames * 4096);
    next_frame = 1;
    /* MAXPHYADDR 52, NXE=1: a table entry has no reserved bits but PS in a PML4E/PML5E;
       a 2 MiB / 1 GiB page has bits 20:13 / 29:13 reserved (PS is possible only there). */
    memset(reserved, 0, sizeof reserved);
    reserved[4][0] = reserved[5][0] = PS;
    reserved[2][1] = 0x1fe000ull;
    reserved[3][1] = 0x3fffe000ull;
    cr3 = alloc_table();
    uint64_t data = (nr_frames + 512) << 12;
    for (uint64_t i = 0; i < pages; i++)
        map(cr3, base_va + (i << 12), data + (i << 12));
}

int main(void) {
    /* same page, 4-level: WalkWorkloads.samePage(X86_64) */
    uint64_t one[1] = {0x7f1234000000ull + 0x123};
    vas = one; vas_mask = 0;
    setup(4, 0x7f1234000000ull, 1);
    report("walk4", 0);
    tlb_fill(one[0], 0, 0x200000, 0);
    report("tlb_hit", 1);

    uint64_t one5[1] = {0x00abcdef00000000ull + 0x123};
    vas = one5;
    setup(5, 0x00abcdef00000000ull, 1);
    report("walk5", 0);

    /* random addresses in 1 GiB of 4 KiB pages: WalkWorkloads.random1GiB(X86_64) */
    uint64_t pages = 1 << 18;
    vas_mask = (1 << 16) - 1;
    vas = malloc(sizeof(uint64_t) << 16);
    srand(42);
    for (int i = 0; i < 1 << 16; i++)
        vas[i] = 0x7f1234000000ull + ((uint64_t) (rand() % pages) << 12) + ((rand() % 512) << 3);
    setup(4, 0x7f1234000000ull, pages);
    report("random_1g", 0);
    return 0;
}
