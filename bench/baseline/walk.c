/*
 * C baseline for ptlab's walk benchmarks (issues 3 and 15): the same workloads as
 * ptlab.tools.WalkWorkloads, with a walker as tight as C allows WITHOUT dropping any of the
 * checks ptlab's PageWalker makes (SDM vol. 3, ch. 4):
 *
 *   - canonical address (#GP otherwise);
 *   - P and the reserved bits of every entry, by level and PS, for MAXPHYADDR and EFER.NXE
 *     (#PF P=0, or P=1|RSVD);
 *   - PS only where the level may map a page (2 MiB / 1 GiB);
 *   - R/W, U/S and XD combined over all levels (4.6.1), then the access-rights decision of
 *     4.6 with CR0.WP, CR4.SMEP, CR4.SMAP and EFLAGS.AC (one bit of a precomputed table, as
 *     ptlab's CpuRegisters.deniedRights) and protection keys with PKRU when CR4.PKE is on;
 *   - A on every entry used and D on the leaf of a write, each set by compare-and-swap against
 *     the value read, restarting the walk from the top if an entry changed (4.8);
 *   - the page-fault error code (P, W/R, U/S, RSVD, I/D, PK) and the result's fields
 *     (pa, page shift, leaf level, leaf entry and its address, rights, pkey, global, memory
 *     references) as ptlab's WalkResult;
 *   - a table address outside simulated memory is an error, not a wild read.
 *
 * What makes it tight (each is the same thing ptlab's Java walker does, see PageWalker):
 * per-mode masks computed once ("prepare"), one acquire load per level whose offset comes
 * from va alone, the rights accumulated as AND/OR of the raw entries and decided once at the
 * leaf, the A/D test as one AND over all entries with the CAS path out of line, the access
 * type a compile-time constant after inlining (the JIT folds it the same way). The TLB: one
 * 64-bit frame|attrs value per entry, LRU stamp not rewritten for the entry used last.
 *
 *   cc -O2 -o walk walk.c && ./walk          (./walk selftest: the checks above, exercised)
 *
 * Each case: warm-up, then 600 rounds of 8192 translations timed with clock_gettime;
 * reports the best and the median round in ns per translation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define P   (1ull << 0)
#define RW  (1ull << 1)
#define US  (1ull << 2)
#define A   (1ull << 5)
#define D   (1ull << 6)
#define PS  (1ull << 7)
#define G   (1ull << 8)
#define XD  (1ull << 63)

/* WalkResult restrictions */
#define NOT_WRITABLE 1
#define NOT_USER 2
#define EXECUTE_DISABLE 4

/* page-fault error code (SDM 4.7) */
#define PF_P 1
#define PF_WR 2
#define PF_US 4
#define PF_RSVD 8
#define PF_ID 16
#define PF_PK 32

#define EXC_GP 13
#define EXC_PF 14

enum access { READ, WRITE, FETCH };

/* Simulated physical memory: one flat array of 8-byte words. */
static uint64_t *mem;
static uint64_t mem_bytes;

struct walk_result {
    uint64_t va, pa, leaf_entry, leaf_entry_address;
    int exception, error_code, fault_level, page_shift, leaf_level, restrictions, pkey, global;
    int memory_refs, restarts;
};

/* The CPU state a walk depends on, and the per-mode constants derived from it (PageWalker.prepare). */
struct cpu {
    int levels;                 /* 4 or 5 */
    uint64_t top;               /* CR3's table */
    int maxphy;
    int wp, smep, smap, ac, nxe, pke;
    uint32_t pkru;
    /* derived */
    uint64_t usable_table[6], usable_page[6];   /* P | reserved bits: usable iff (e & m) == P */
    unsigned large_levels;                      /* bit l: level l may map a page */
    uint64_t next_mask, leaf_mask[6];
    int canonical_shift;
    int xd_right;
    uint64_t denied;                            /* SDM 4.6 without pkeys: bit 8*kind + restr */
    uint64_t remembered[6];                     /* the table each level read last (in range) */
};

static uint64_t addr_mask(int maxphy, int shift) {
    return ((1ull << maxphy) - 1) & ~((1ull << shift) - 1);
}

/* SDM 4.6 rule by rule (as PageWalker.rightsViolation), to build the table. */
static int rights_violation(const struct cpu *c, int access, int user, int implicit, int restr) {
    int user_addr = !(restr & NOT_USER), writable = !(restr & NOT_WRITABLE), xd = restr & EXECUTE_DISABLE;
    int write = access == WRITE, fetch = access == FETCH;
    if (user && !implicit)
        return !user_addr || (write && !writable) || (fetch && xd);
    if (fetch)
        return xd || (user_addr && c->smep);
    return (user_addr && c->smap && (implicit || !c->ac)) || (write && !writable && c->wp);
}

/* kind: 0..2 user READ/WRITE/FETCH, 3..5 supervisor, 6..7 implicit supervisor READ/WRITE */
static inline int access_kind(int access, int user, int implicit) {
    if (user && !implicit)
        return access;
    return implicit && access != FETCH ? 6 + access : 3 + access;
}

static void prepare(struct cpu *c) {
    int m = c->maxphy;
    uint64_t above = ((1ull << 52) - 1) & ~((1ull << m) - 1);   /* bits 51:M (62:52 are ignored or the pkey) */
    uint64_t xd_rsvd = c->nxe ? 0 : XD;
    memset(c->usable_table, 0, sizeof c->usable_table);
    memset(c->usable_page, 0, sizeof c->usable_page);
    for (int l = 1; l <= c->levels; l++) {
        c->usable_table[l] = P | above | xd_rsvd | (l >= 4 ? PS : 0);
        c->usable_page[l] = P | above | xd_rsvd;
        c->leaf_mask[l] = addr_mask(m, 12 + 9 * (l - 1));
    }
    /* a 2 MiB / 1 GiB page: bits 20:13 / 29:13 reserved (bit 12 is PAT) */
    c->usable_page[2] |= 0x1fe000ull;
    c->usable_page[3] |= 0x3fffe000ull;
    c->large_levels = 1u << 2 | 1u << 3;
    c->next_mask = addr_mask(m, 12);
    c->canonical_shift = c->levels == 5 ? 56 : 47;
    c->xd_right = c->nxe ? EXECUTE_DISABLE : 0;
    c->denied = 0;
    for (int kind = 0; kind < 8; kind++)
        for (int restr = 0; restr < 8; restr++)
            if (rights_violation(c, kind % 3, kind < 3, kind >= 6, restr))
                c->denied |= 1ull << (8 * kind + restr);
}

/* SDM 4.6 with protection keys (CR4.PKE=1): as PageWalker.checkAccess. Out of line. */
static __attribute__((noinline)) int check_pkeys(const struct cpu *c, int access, int user, int implicit,
                                                 int restr, int pkey) {
    int pk = 0;
    if (access != FETCH && !(restr & NOT_USER)) {
        int ad = (c->pkru >> (2 * pkey)) & 1, wd = (c->pkru >> (2 * pkey + 1)) & 1;
        if (ad || (access == WRITE && wd && ((user && !implicit) || c->wp)))
            pk = PF_PK;
    }
    return pk || rights_violation(c, access, user, implicit, restr) ? PF_P | pk : 0;
}

static inline __attribute__((always_inline)) int access_denied(const struct cpu *c, int access, int user, int implicit, int restr, int pkey) {
    if (__builtin_expect(c->pke, 0))
        return check_pkeys(c, access, user, implicit, restr, pkey);
    return (int) (c->denied >> (8 * access_kind(access, user, implicit) + restr)) & PF_P;
}

static __attribute__((noinline)) int fault(const struct cpu *c, uint64_t va, int access, int user, int implicit,
                                           int bits, int refs, int level, struct walk_result *out) {
    int code = bits;
    if (access == WRITE) code |= PF_WR;
    if (user && !implicit) code |= PF_US;
    if (access == FETCH && (c->smep || c->nxe)) code |= PF_ID;
    memset(out, 0, sizeof *out);
    out->va = va;
    out->exception = EXC_PF;
    out->error_code = code;
    out->fault_level = level;
    out->memory_refs = refs;
    return 0;
}

static __attribute__((noinline)) int general_protection(uint64_t va, struct walk_result *out) {
    memset(out, 0, sizeof *out);
    out->va = va;
    out->exception = EXC_GP;
    return 0;
}

static __attribute__((noinline)) void bad_table(uint64_t pa) {
    fprintf(stderr, "page table at physical address %#llx is outside memory\n", (unsigned long long) pa);
    exit(3);
}

static inline uint64_t *word(uint64_t pa) { return &mem[pa >> 3]; }

/* The entry at byte address pa (8-aligned): one add, no shift. */
static inline uint64_t *entry_at(uint64_t pa) { return (uint64_t *) ((char *) mem + pa); }

/* The walk reached `level`'s table at `base`, not the one remembered: check it, remember it, load. */
static inline __attribute__((always_inline)) uint64_t remember(struct cpu *c, int level, uint64_t base, uint64_t off) {
    if (base >= mem_bytes)
        bad_table(base);
    c->remembered[level] = base;
    return __atomic_load_n(entry_at(base + off), __ATOMIC_ACQUIRE);
}

/*
 * SDM 4.8: A in every entry above the leaf, then A (and D) in the leaf, each by CAS against
 * the value the walk read (path[level]); 0 if one changed: the walk restarts. Out of line.
 */
static __attribute__((noinline)) int set_accessed_dirty(const struct cpu *c, uint64_t va, const uint64_t *path,
                                                        int leaf_level, uint64_t want) {
    uint64_t table = c->top;
    for (int l = c->levels; l > leaf_level; l--) {
        uint64_t v = path[l], expected = v;
        uint64_t *ea = word(table + ((va >> (9 * l)) & 0xff8));
        if (!(v & A) && !__atomic_compare_exchange_n(ea, &expected, v | A, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return 0;
        table = v & c->next_mask;
    }
    uint64_t e = path[leaf_level], expected = e;
    return (e & want) == want
        || __atomic_compare_exchange_n(word(table + ((va >> (9 * leaf_level)) & 0xff8)), &expected, e | want, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/*
 * One translation from CR3 with `levels` (4 or 5) a constant after inlining, so that the level
 * loop unrolls with constant shifts and masks (translate() picks the copy by CR4.LA57).
 * Returns 1 when translated, 0 on #PF/#GP (out->exception).
 */
static inline __attribute__((always_inline)) int translate_levels(struct cpu *c, const int levels, uint64_t va,
                                                                  int access, int user, int implicit,
                                                                  struct walk_result *out) {
    int64_t top = (int64_t) va >> (levels == 5 ? 56 : 47);
    if (__builtin_expect(top != 0 && top != -1, 0))
        return general_protection(va, out);
    /* 4/5-level paging: a PDE or PDPTE may map a page (PS); a PML4E/PML5E with PS is reserved. */
    const unsigned large_levels = 1u << 2 | 1u << 3;
    uint64_t path[6];
    for (int restarts = 0;; restarts++) {
        uint64_t base = c->top, all = ~0ull, any = 0, e, ea;
        int level = levels;
#pragma GCC unroll 5
        for (; level >= 1; level--) {
            /* The load goes to the table this level used last time (checked in range when it
               was remembered), so its address does not wait for the entry above; the compare
               with the real base does, but it is predicted. ptlab's walker does the same
               with the frame it remembers per level. */
            uint64_t off = (va >> (9 * level)) & 0xff8;
            e = __atomic_load_n(entry_at(c->remembered[level] + off), __ATOMIC_ACQUIRE);
            if (__builtin_expect(c->remembered[level] != base, 0))
                e = remember(c, level, base, off);
            ea = base + off;
            path[level] = e;
            unsigned ps = (unsigned) (e >> 7) & (large_levels >> level) & 1;
            if (__builtin_expect((e & (ps ? c->usable_page[level] : c->usable_table[level])) != P, 0))
                return fault(c, va, access, user, implicit, (e & P) ? PF_P | PF_RSVD : 0,
                             levels - level + 1, level, out);
            all &= e;
            any |= e;
            if (ps || level == 1)
                break;
            base = e & c->next_mask;
        }
        int restr = ((int) (~all >> 1) & (NOT_WRITABLE | NOT_USER)) | ((int) (any >> 61) & c->xd_right);
        int pkey = (int) (e >> 59) & 15;
        int denied = access_denied(c, access, user, implicit, restr, pkey);
        if (__builtin_expect(denied != 0, 0))
            return fault(c, va, access, user, implicit, denied, levels - level + 1, level, out);
        uint64_t want = access == WRITE ? A | D : A;
        if (__builtin_expect(!(all & A) || (e & want) != want, 0)) {
            if (!set_accessed_dirty(c, va, path, level, want))
                continue;
            e |= want;
        }
        int shift = 12 + 9 * (level - 1);
        out->va = va;
        out->exception = 0;
        out->error_code = 0;
        out->fault_level = level;
        out->pa = (e & c->leaf_mask[level]) | (va & ((1ull << shift) - 1));
        out->page_shift = shift;
        out->leaf_level = level;
        out->leaf_entry_address = ea;
        out->leaf_entry = e;
        out->restrictions = restr;
        out->pkey = pkey;
        out->global = (e & G) != 0;
        out->memory_refs = levels - level + 1;
        out->restarts = restarts;
        return 1;
    }
}

static inline __attribute__((always_inline)) int translate(struct cpu *c, uint64_t va, int access, int user,
                                                           int implicit, struct walk_result *out) {
    return c->levels == 5 ? translate_levels(c, 5, va, access, user, implicit, out)
                          : translate_levels(c, 4, va, access, user, implicit, out);
}

/* ---- TLB: 4 KiB array, 64 entries, 4 ways, LRU, PCID-tagged (as ptlab's Tlb/CacheArray) ---- */
#define TLB_SETS 16
#define TLB_WAYS 4
#define ATTR_GLOBAL 8
#define ATTR_DIRTY 16
#define ATTRS 0xfffull
static uint64_t tlb_tag[TLB_SETS * TLB_WAYS];
static int tlb_pcid[TLB_SETS * TLB_WAYS];
static uint64_t tlb_value[TLB_SETS * TLB_WAYS];   /* frame | attrs */
static int tlb_attrs[TLB_SETS * TLB_WAYS];
static uint64_t tlb_last_use[TLB_SETS * TLB_WAYS];
static uint64_t tlb_clock;
static uint64_t tlb_hits;

/* As Mmu.translate's hit path: lookup, rights (and pkeys), a write to a clean entry re-walks. */
static inline __attribute__((always_inline)) int tlb_translate(struct cpu *c, uint64_t va, int pcid, int access,
                                                               int user, int implicit, struct walk_result *out) {
    uint64_t vpn = va >> 12;
    int first = (int) (vpn & (TLB_SETS - 1)) * TLB_WAYS;
    for (int s = first; s < first + TLB_WAYS; s++) {
        if (tlb_tag[s] == vpn && (tlb_pcid[s] == pcid || (tlb_attrs[s] & ATTR_GLOBAL))) {
            if (tlb_last_use[s] != tlb_clock)
                tlb_last_use[s] = ++tlb_clock;
            uint64_t entry = tlb_value[s];
            tlb_hits++;
            int restr = (int) entry & 7, pkey = (int) (entry >> 8) & 15;
            int denied = access_denied(c, access, user, implicit, restr, pkey);
            if (__builtin_expect(denied != 0, 0))
                return fault(c, va, access, user, implicit, denied, 0, 1, out);
            if (access == WRITE && !(entry & ATTR_DIRTY))
                return translate(c, va, access, user, implicit, out);
            out->va = va;
            out->fault_level = 1;
            out->pa = (entry & ~ATTRS) | (va & 4095);
            out->page_shift = 12;
            out->leaf_level = 1;
            out->restrictions = restr;
            out->pkey = pkey;
            out->global = (entry & ATTR_GLOBAL) != 0;
            return 1;
        }
    }
    return -1;   /* miss: not measured here */
}

static void tlb_fill(uint64_t va, int pcid, uint64_t frame, int attrs) {
    int s = (int) ((va >> 12) & (TLB_SETS - 1)) * TLB_WAYS;
    tlb_tag[s] = va >> 12; tlb_pcid[s] = pcid; tlb_value[s] = frame | attrs; tlb_attrs[s] = attrs;
    tlb_last_use[s] = ++tlb_clock;
}

/* ---- workloads (as WalkWorkloads.build) ---- */
static uint64_t next_frame;
static uint64_t table_limit;

static uint64_t alloc_table(void) {
    if (next_frame >= table_limit) { fprintf(stderr, "out of table frames\n"); exit(1); }
    uint64_t pa = next_frame;
    next_frame += 4096;
    return pa;
}

static void map(struct cpu *c, uint64_t va, uint64_t pa, uint64_t leaf_flags) {
    uint64_t table = c->top;
    for (int level = c->levels; level > 1; level--) {
        uint64_t *ea = word(table + ((va >> (9 * level)) & 0xff8));
        if (!(*ea & P))
            *ea = alloc_table() | P | RW | US | A;
        table = *ea & c->next_mask;
    }
    *word(table + ((va >> 9) & 0xff8)) = pa | leaf_flags;
}

/* Maps `pages` 4 KiB pages from base_va; data frames lie above the tables and are never touched. */
static void setup(struct cpu *c, int levels, uint64_t base_va, uint64_t pages) {
    memset(c, 0, sizeof *c);
    c->levels = levels;
    c->maxphy = 46;                             /* PagingMode.X86_64's default MAXPHYADDR */
    c->wp = 1;
    c->nxe = 1;
    prepare(c);
    uint64_t table_area = ((pages / 256) + 64) << 12;
    uint64_t data_base = (table_area + (1ull << 21) - 1) & ~((1ull << 21) - 1);
    free(mem);
    mem_bytes = data_base;                      /* only the tables are backed */
    mem = aligned_alloc(4096, mem_bytes);
    memset(mem, 0, mem_bytes);
    next_frame = 4096;
    table_limit = data_base;
    c->top = alloc_table();
    for (uint64_t i = 0; i < pages; i++)
        map(c, base_va + (i << 12), data_base + (i << 12), P | RW | US | A | D);
}

/* ---- timing ---- */
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
static volatile uint64_t sink;

static void report(const char *name, struct cpu *c, int tlb) {
    static double t[ROUNDS];
    struct walk_result r;
    memset(&r, 0, sizeof r);
    uint64_t acc = 0;
    unsigned next = 0;
    for (int round = -ROUNDS / 4; round < ROUNDS; round++) {   /* first quarter: warm-up */
        double start = now_ns();
        for (int i = 0; i < ROUND; i++) {
            uint64_t va = vas[next++ & vas_mask];
            int ok = tlb ? tlb_translate(c, va, 0, READ, 0, 0, &r) : translate(c, va, READ, 0, 0, &r);
            if (__builtin_expect(ok != 1, 0)) {
                fprintf(stderr, "%s: unexpected result %d for va %#llx\n", name, ok, (unsigned long long) va);
                exit(1);
            }
            acc += r.pa;
        }
        if (round >= 0)
            t[round] = (now_ns() - start) / ROUND;
    }
    sink = acc;
    qsort(t, ROUNDS, sizeof t[0], cmp_double);
    printf("%-12s best %6.2f ns  median %6.2f ns\n", name, t[0], t[ROUNDS / 2]);
}

/* ---- self-test: every check above changes an outcome ---- */
static int failures;

static void expect(const char *what, int got, int want) {
    if (got != want) {
        fprintf(stderr, "selftest %s: got %#x, want %#x\n", what, got, want);
        failures++;
    }
}

static int selftest(void) {
    struct cpu c;
    struct walk_result r;
    uint64_t va = 0x7f1234000000ull + 0x123;
    setup(&c, 4, 0x7f1234000000ull, 1);
    uint64_t *pgd = word(c.top + ((va >> 36) & 0xff8));
    uint64_t *pud = word((*pgd & c.next_mask) + ((va >> 27) & 0xff8));
    uint64_t *pmd = word((*pud & c.next_mask) + ((va >> 18) & 0xff8));
    uint64_t *pte = word((*pmd & c.next_mask) + ((va >> 9) & 0xff8));
    uint64_t pte0 = *pte;
    expect("read", translate(&c, va, READ, 0, 0, &r), 1);
    expect("pa", (int) (r.pa & 0xfff), 0x123);
    expect("non-canonical", translate(&c, 0x0000800000000000ull, READ, 0, 0, &r) == 0 && r.exception == EXC_GP, 1);
    *pte = pte0 & ~P;
    expect("not present", translate(&c, va, READ, 1, 0, &r) == 0 ? r.error_code : -1, PF_US);
    *pte = pte0 | (1ull << 51);
    expect("reserved", translate(&c, va, WRITE, 0, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_RSVD | PF_WR);
    *pte = pte0 & ~RW;
    expect("write read-only (WP)", translate(&c, va, WRITE, 0, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_WR);
    c.wp = 0; prepare(&c);
    expect("write read-only (WP=0)", translate(&c, va, WRITE, 0, 0, &r), 1);
    c.wp = 1; prepare(&c);
    *pte = pte0 & ~D;
    *pmd &= ~US;
    expect("user to supervisor page", translate(&c, va, READ, 1, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_US);
    *pmd |= US;
    expect("write sets D", translate(&c, va, WRITE, 0, 0, &r) == 1 && (*pte & D), 1);
    *pte = pte0 | XD;
    expect("fetch XD", translate(&c, va, FETCH, 1, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_US | PF_ID);
    *pte = pte0;
    c.smep = 1; prepare(&c);
    expect("SMEP", translate(&c, va, FETCH, 0, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_ID);
    c.smep = 0; c.smap = 1; prepare(&c);
    expect("SMAP", translate(&c, va, READ, 0, 0, &r) == 0 ? r.error_code : -1, PF_P);
    c.ac = 1; prepare(&c);
    expect("SMAP with AC", translate(&c, va, READ, 0, 0, &r), 1);
    c.smap = 0; c.ac = 0; prepare(&c);
    *pte = pte0 | (3ull << 59);
    c.pke = 1; c.pkru = 1u << 6;   /* AD for key 3 */
    expect("PKRU", translate(&c, va, READ, 1, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_US | PF_PK);
    c.pke = 0;
    expect("PKE off", translate(&c, va, READ, 1, 0, &r), 1);
    *pte = pte0;
    *pud &= ~A;
    expect("A set by CAS", translate(&c, va, READ, 0, 0, &r) == 1 && (*pud & A), 1);
    *pmd |= PS;   /* a 2 MiB page whose address has bit 13 set: reserved */
    expect("2M reserved", translate(&c, va, READ, 0, 0, &r) == 0 ? r.error_code : -1, PF_P | PF_RSVD);
    *pmd = (*pmd & ~0x1fffffull & c.next_mask) | P | RW | US | A | D | PS;
    expect("2M page", translate(&c, va, READ, 0, 0, &r) == 1 && r.page_shift == 21, 1);
    tlb_fill(va, 0, 0x200000, 0);
    expect("TLB write to clean entry walks", tlb_translate(&c, va, 0, WRITE, 0, 0, &r) == 1 && r.page_shift == 21, 1);
    if (failures == 0)
        printf("selftest: all checks ok\n");
    return failures != 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "selftest") == 0)
        return selftest();
    if (selftest())
        return 1;
    struct cpu c;
    /* same page, 4-level: WalkWorkloads.samePage(X86_64) */
    uint64_t one[1] = {0x7f1234000000ull + 0x123};
    vas = one; vas_mask = 0;
    setup(&c, 4, 0x7f1234000000ull, 1);
    report("walk4", &c, 0);
    tlb_fill(one[0], 0, 0x200000, ATTR_DIRTY);
    report("tlb_hit", &c, 1);

    uint64_t one5[1] = {0x00abcdef00000000ull + 0x123};
    vas = one5;
    setup(&c, 5, 0x00abcdef00000000ull, 1);
    report("walk5", &c, 0);

    /* random addresses in 1 GiB of 4 KiB pages: WalkWorkloads.random1GiB(X86_64) */
    uint64_t pages = 1 << 18;
    vas_mask = (1 << 16) - 1;
    vas = malloc(sizeof(uint64_t) << 16);
    srand(42);
    for (int i = 0; i < 1 << 16; i++)
        vas[i] = 0x7f1234000000ull + ((uint64_t) (rand() % pages) << 12) + ((rand() % 512) << 3);
    setup(&c, 4, 0x7f1234000000ull, pages);
    report("random_1g", &c, 0);
    return 0;
}
