package ptlab.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.Pte32;
import ptlab.hw.Pte64;
import ptlab.hw.PteBits;

/**
 * The generic page-table operations (Linux v6.6) of include/linux/pgtable.h, mm/memory.c and the x86
 * pgtable headers, written once for all four paging modes with Linux's level folding.
 *
 * <p>Linux always walks five levels: pgd, p4d, pud, pmd, pte. A mode with fewer hardware levels
 * folds the missing ones into the level above (asm-generic/pgtable-nop4d.h, -nopud.h, -nopmd.h):
 * a folded level's {@code pXd_offset} returns the pointer it was given, and the level above it
 * becomes trivially present ({@code pgd_none() == 0}, {@code pgd_present() == 1}), so the real
 * entry is tested under the lowest name that refers to it:
 *
 * <pre>
 *   mode        hw levels  pgd      p4d        pud        pmd        pte
 *   x86-32         2       (pmd)    =pgd       =pgd       real(PDE)  real
 *   x86-32-pae     3       (pud)    =pgd       real(PDPTE) real      real
 *   x86-64         4       (p4d)    real(PML4E) real      real       real
 *   x86-64-la57    5       real     real       real       real       real
 * </pre>
 *
 * Levels are named by Linux level ({@link #PGD} .. {@link #PTE}); {@link #hwLevel} maps one to
 * the hardware level whose entry it denotes. A "pointer" to an entry ({@code pgdp, pmdp, ptep})
 * is the entry's physical address; entries are read and written only in {@link PhysicalMemory},
 * never cached in Java objects. Entry values are the hardware format of the mode.
 */
public final class Pgtable {

    public static final int PTE = 1;
    public static final int PMD = 2;
    public static final int PUD = 3;
    public static final int P4D = 4;
    public static final int PGD = 5;

    /** _PAGE_BIT_SOFTW1 (bit 9): _PAGE_SPECIAL, a PTE with no struct page behind it (the zero page). */
    public static final long _PAGE_SPECIAL = 1L << 9;
    /** _PAGE_PROTNONE: the global bit of a non-present PTE means PROT_NONE (arch/x86/include/asm/pgtable_types.h). */
    public static final long _PAGE_PROTNONE = PteBits.G;
    /** _PAGE_TABLE: a user page-table entry pointing at a table. */
    public static final long _PAGE_TABLE = PteBits.P | PteBits.RW | PteBits.US | PteBits.A | PteBits.D;
    /** _KERNPG_TABLE: a kernel page-table entry pointing at a table. */
    public static final long _KERNPG_TABLE = PteBits.P | PteBits.RW | PteBits.A | PteBits.D;

    private final PhysicalMemory mem;
    private final PagingMode mode;
    private final int levels;
    private final int eb;
    private final int maxPhyAddr;
    private final long nxMask;          // __supported_pte_mask & _PAGE_NX
    private final long addrMask4k;      // PTE_PFN_MASK
    private final FrameAllocator alloc;
    /**
     * Split page-table locks by pfn of the PMD/PTE page, in chunks of {@link #PTLOCK_CHUNK}
     * frames made on first use: a kernel booted for one explore schedule has a handful of
     * page tables, and an array over all of RAM was a sizeable part of that boot.
     */
    private final SpinLock[][] ptlocks;
    private static final int PTLOCK_SHIFT = 9;
    private static final int PTLOCK_CHUNK = 1 << PTLOCK_SHIFT;
    private static final VarHandle PTLOCK_CHUNKS = MethodHandles.arrayElementVarHandle(SpinLock[][].class);
    private static final VarHandle PTLOCKS = MethodHandles.arrayElementVarHandle(SpinLock[].class);
    private PdptChangeListener pdptListener = mm -> { };
    /** KernelVariant.Bug.PLAIN_PTE_CLEAR, fixed at construction. */
    private final boolean plainClear;
    private final Interleaving interleaving;
    /** paravirt page-table ops, or null on native hardware (the plain accesses below). */
    private PvMmuOps pv;

    /** PAE: pud_populate() must make every CPU reload CR3, which caches the PDPTEs. */
    @FunctionalInterface
    public interface PdptChangeListener {
        void pdptChanged(MmStruct mm);
    }

    /** Page-table operations of a correct kernel no scheduler sees (tests, tools). */
    public Pgtable(PhysicalMemory mem, PagingMode mode, int maxPhyAddr, FrameAllocator alloc) {
        this(mem, mode, maxPhyAddr, alloc, Interleaving.NONE, KernelVariant.CORRECT);
    }

    public Pgtable(PhysicalMemory mem, PagingMode mode, int maxPhyAddr, FrameAllocator alloc, Interleaving interleaving,
                   KernelVariant variant) {
        this.interleaving = interleaving;
        this.plainClear = variant.has(KernelVariant.Bug.PLAIN_PTE_CLEAR);
        this.mem = mem;
        this.mode = mode;
        this.levels = mode.levels();
        this.eb = mode.entryBytes();
        this.maxPhyAddr = maxPhyAddr;
        this.nxMask = mode.hasNx() ? Pte64.NX : 0;
        this.addrMask4k = mode == PagingMode.X86_32 ? Pte32.TABLE_ADDR_MASK : Pte64.addressMask(maxPhyAddr, 12);
        this.alloc = alloc;
        this.ptlocks = new SpinLock[(int) ((alloc.totalFrames() + PTLOCK_CHUNK - 1) >>> PTLOCK_SHIFT)][];
    }

    /** Installs paravirt page-table ops (null: native); every entry write, read and exchange goes through them. */
    public void setPvOps(PvMmuOps ops) {
        this.pv = ops;
    }

    public PvMmuOps pvOps() {
        return pv;
    }

    public void setPdptChangeListener(PdptChangeListener l) {
        this.pdptListener = l;
    }

    public PagingMode mode() {
        return mode;
    }

    public PhysicalMemory memory() {
        return mem;
    }

    public FrameAllocator allocator() {
        return alloc;
    }

    public int entryBytes() {
        return eb;
    }

    // ---- levels and folding ---------------------------------------------------------------

    /** The hardware level (1..levels) whose entry Linux level {@code l} denotes. */
    public int hwLevel(int l) {
        return Math.min(l, levels);
    }

    /** Whether Linux level {@code l} is folded into the level above (no table of its own). */
    public boolean folded(int l) {
        return l != PGD && l != PTE && l >= levels;
    }

    /** Whether the level below {@code l} is folded into it, making pXd_none/present/bad trivial. */
    private boolean trivial(int l) {
        return l > levels;
    }

    /** PXD_SHIFT: PAGE_SHIFT, PMD_SHIFT, PUD_SHIFT, P4D_SHIFT, PGDIR_SHIFT (folded = the level above's). */
    public int shift(int l) {
        return mode.shift(hwLevel(l));
    }

    /** PXD_SIZE. */
    public long size(int l) {
        return 1L << shift(l);
    }

    /** PXD_MASK. */
    public long mask(int l) {
        return -size(l);
    }

    /** pXd_addr_end(): the end of the level-{@code l} entry containing {@code addr}, capped at {@code end}. */
    public long addrEnd(int l, long addr, long end) {
        long boundary = (addr + size(l)) & mask(l);
        return Long.compareUnsigned(boundary - 1, end - 1) < 0 ? boundary : end;
    }

    public String name(int l) {
        return switch (l) {
            case PTE -> "pte";
            case PMD -> "pmd";
            case PUD -> "pud";
            case P4D -> "p4d";
            case PGD -> "pgd";
            default -> throw new IllegalArgumentException("no page-table level " + l);
        };
    }

    // ---- offsets ----------------------------------------------------------------------------

    /** pgd_offset(mm, addr). */
    public long pgd_offset(MmStruct mm, long addr) {
        return pgd_offset_pgd(mm.pgd(), addr);
    }

    /** pgd_offset_pgd(pgd, addr): the entry in the top-level table at {@code pgd}. */
    public long pgd_offset_pgd(long pgd, long addr) {
        return pgd + (long) mode.index(addr, levels) * eb;
    }

    /**
     * pXd_offset(parent, addr) for {@code l} in P4D..PTE: the level-{@code l} entry for
     * {@code addr} in the table the entry at {@code parentp} points to; for a folded level,
     * {@code parentp} itself.
     */
    public long offset(int l, long parentp, long addr) {
        if (folded(l)) {
            return parentp;
        }
        return table(get(parentp)) + (long) mode.index(addr, l) * eb;
    }

    public long p4d_offset(long pgdp, long addr) {
        return offset(P4D, pgdp, addr);
    }

    public long pud_offset(long p4dp, long addr) {
        return offset(PUD, p4dp, addr);
    }

    public long pmd_offset(long pudp, long addr) {
        return offset(PMD, pudp, addr);
    }

    /** pte_offset_kernel() / pte_offset_map() (no kmap: the model reads tables physically). */
    public long pte_offset(long pmdp, long addr) {
        return offset(PTE, pmdp, addr);
    }

    /** pXd_pgtable / pXd_page_vaddr: physical address of the table an entry points to. */
    public long table(long e) {
        return e & addrMask4k;
    }

    // ---- entry tests ---------------------------------------------------------------------------

    /** pXd_none(): empty (A and D ignored, as the KNL erratum mask in Linux). Trivially false above a folded level. */
    public boolean none(int l, long e) {
        return !trivial(l) && (e & ~(PteBits.A | PteBits.D)) == 0;
    }

    /** pXd_present(); pte_present and pmd_present count PROT_NONE (and a huge pmd) as present. */
    public boolean present(int l, long e) {
        if (trivial(l)) {
            return true;
        }
        if (l == PTE) {
            return (e & (PteBits.P | _PAGE_PROTNONE)) != 0;
        }
        if (l == PMD && !folded(PMD)) {
            return (e & (PteBits.P | _PAGE_PROTNONE | PteBits.PS)) != 0;
        }
        return (e & PteBits.P) != 0;
    }

    /** pXd_leaf(): the entry maps a page (a pte, or PS=1 where the mode allows large pages). */
    public boolean leaf(int l, long e) {
        if (trivial(l)) {
            return false;
        }
        if (l == PTE) {
            return present(PTE, e);
        }
        return mode.largePageAllowed(hwLevel(l)) && (e & PteBits.PS) != 0 && present(l, e);
    }

    /** pXd_bad(): a non-empty, non-leaf entry that is not a valid table pointer. */
    public boolean bad(int l, long e) {
        if (trivial(l) || l == PTE || none(l, e) || leaf(l, e)) {
            return false;
        }
        return (e & PteBits.P) == 0;
    }

    /** pXd_none_or_clear_bad(): true when there is nothing to walk; a bad entry is reported and cleared. */
    public boolean noneOrClearBad(int l, long p) {
        long e = get(p);
        if (none(l, e)) {
            return true;
        }
        if (bad(l, e)) {
            set(p, 0);   // pXd_clear_bad(): Linux prints "bad pXd" and clears it
            return true;
        }
        return false;
    }

    // ---- entry values: pte_* helpers (pure functions) ------------------------------------------------

    public static boolean pte_write(long e) {
        return (e & PteBits.RW) != 0;
    }

    public static boolean pte_dirty(long e) {
        return (e & PteBits.D) != 0;
    }

    public static boolean pte_young(long e) {
        return (e & PteBits.A) != 0;
    }

    public static boolean pte_special(long e) {
        return (e & _PAGE_SPECIAL) != 0;
    }

    public static long pte_mkwrite(long e) {
        return e | PteBits.RW;
    }

    public static long pte_wrprotect(long e) {
        return e & ~PteBits.RW;
    }

    public static long pte_mkdirty(long e) {
        return e | PteBits.D;
    }

    public static long pte_mkclean(long e) {
        return e & ~PteBits.D;
    }

    public static long pte_mkyoung(long e) {
        return e | PteBits.A;
    }

    public static long pte_mkold(long e) {
        return e & ~PteBits.A;
    }

    public static long pte_mkspecial(long e) {
        return e | _PAGE_SPECIAL;
    }

    /** pte_pfn() << PAGE_SHIFT: the frame a 4 KiB pte maps. */
    public long pte_page(long e) {
        return e & addrMask4k;
    }

    /** pfn_pte(): a 4 KiB pte mapping {@code pa} with protection {@code prot}. */
    public long pfn_pte(long pa, long prot) {
        return (pa & addrMask4k) | (prot & protMask());
    }

    /** pfn_pmd() of a huge page (pmd_mkhuge): PS set, the address in the large-page format. */
    public long pfn_pmd_huge(long pa, long prot) {
        long addr = mode == PagingMode.X86_32 ? Pte32.encodeLargeAddress(pa) : pa;
        return addr | (prot & protMask()) | PteBits.PS;
    }

    /** The page a huge pmd maps (pmd_pfn << PAGE_SHIFT). */
    public long pmd_huge_page(long e) {
        return mode == PagingMode.X86_32 ? Pte32.largeAddress(e)
                : Pte64.address(e, maxPhyAddr, mode.shift(PMD));
    }

    /** The page any leaf at Linux level {@code l} maps. */
    public long leaf_page(int l, long e) {
        return l == PTE ? pte_page(e)
                : mode == PagingMode.X86_32 ? Pte32.largeAddress(e)
                : Pte64.address(e, maxPhyAddr, shift(l));
    }

    /** The protection bits of a leaf: flags 11:0 without PS, NX and the protection key; no address, no PAT_LARGE. */
    public long leaf_prot(int l, long e) {
        return e & (0xFFFL | Pte64.NX | Pte64.PKEY_MASK) & ~PteBits.PS & protMask();
    }

    /**
     * pte_modify(): new protection, keeping _PAGE_CHG_MASK (address, PCD/PWT, special, A, D).
     */
    public long pte_modify(long e, long newprot) {
        long keep = addrMask4k | PteBits.PCD | PteBits.PWT | _PAGE_SPECIAL | PteBits.A | PteBits.D;
        return (e & keep) | (newprot & ~keep & protMask());
    }

    /** pmd_modify() of a huge pmd: _HPAGE_CHG_MASK also keeps PS and the large address. */
    public long pmd_modify_huge(long e, long newprot) {
        long keep = ~(PteBits.P | PteBits.RW | PteBits.US | _PAGE_PROTNONE | Pte64.NX);
        return (e & keep) | (newprot & ~keep & protMask());
    }

    /** __supported_pte_mask: no NX bit in 32-bit paging. */
    public long protMask() {
        return nxMask != 0 ? -1L : 0xFFFF_FFFFL;
    }

    public long nx() {
        return nxMask;
    }

    // ---- entry accesses (the only way the kernel touches an entry) ---------------------------------

    /** READ_ONCE(*p): ptep_get(), pmdp_get(), pgdp_get()... */
    public long get(long p) {
        return pv != null ? pv.read(p) : mem.loadEntry(p, eb);
    }

    /**
     * {@code set(dst + i, get(src + i))} for the {@code count} entries from {@code srcp} to
     * {@code dstp}, in order (a memcpy of entries within one table): through the paravirt ops if
     * installed, else {@link PhysicalMemory#copyEntries}, which makes the same loads and stores
     * (in bulk when nothing watches them).
     */
    public void copyEntries(long dstp, long srcp, int count) {
        if (pv != null) {
            for (int i = 0; i < count; i++) {
                pv.write(dstp + (long) i * eb, pv.read(srcp + (long) i * eb));
            }
            return;
        }
        mem.copyEntries(srcp, dstp, count, eb);
    }

    /** {@code out[i] = get(ptrs[i])} for i in [0, n): READ_ONCE of n entries in different tables. */
    public void getEach(long[] ptrs, int n, long[] out) {
        if (pv != null) {
            for (int i = 0; i < n; i++) {
                out[i] = pv.read(ptrs[i]);
            }
            return;
        }
        mem.loadEntries(ptrs, n, eb, out);
    }

    /** set_pte(), set_pmd(), set_pud(), set_p4d(), set_pgd(): a single atomic store. */
    public void set(long p, long e) {
        if (pv != null) {
            pv.write(p, e);
            return;
        }
        mem.storeEntry(p, eb, e);
    }

    /**
     * set_pte() as the kernel writes a pte: one atomic store, except on PAE, where a 32-bit
     * kernel writes the 8-byte entry in two halves, high first, then a write barrier, then the
     * low half holding the present bit (Linux v6.6 arch/x86/include/asm/pgtable-3level.h:
     * native_set_pte: "WRITE_ONCE(ptep->pte_high, ...); smp_wmb(); WRITE_ONCE(ptep->pte_low, ...)").
     * A walker never sees a present half-written entry (P is in the low half, written last),
     * but a reader that reads the two halves without the page-table lock can see a torn one.
     */
    public void set_pte(long p, long e) {
        if (!mode.isPae() || pv != null) {
            set(p, e);
            return;
        }
        mem.storeInt(p + 4, (int) (e >>> 32));     // pte_high
        mem.storeInt(p, (int) e);                  // smp_wmb(); pte_low (release store: ordered after)
    }

    /** ptep_get_and_clear() / pmdp_huge_get_and_clear(): atomic exchange with 0 (xchg), so no A/D update by a walker is lost. */
    public long getAndClear(long p) {
        if (plainClear) {
            long old = mem.loadEntry(p, eb);   // pte = *ptep; pte_clear(ptep): a walker's D can land in between
            mem.storeEntry(p, eb, 0);
            return old;
        }
        return pv != null ? pv.exchange(p, 0) : mem.exchangeEntry(p, eb, 0);
    }

    /** cmpxchg on an entry. */
    public boolean cmpxchg(long p, long expected, long value) {
        return pv != null ? pv.compareAndSet(p, expected, value) : mem.compareAndSetEntry(p, eb, expected, value);
    }

    /** ptep_set_wrprotect() / pmdp_set_wrprotect(): clear RW atomically (clear_bit), a CAS loop that keeps A/D set meanwhile. */
    public void setWrprotect(long p) {
        while (true) {
            long old = get(p);
            if ((old & PteBits.RW) == 0 || cmpxchg(p, old, old & ~PteBits.RW)) {
                return;
            }
        }
    }

    /** ptep_test_and_clear_young(). */
    public boolean testAndClearYoung(long p) {
        while (true) {
            long old = get(p);
            if ((old & PteBits.A) == 0) {
                return false;
            }
            if (cmpxchg(p, old, old & ~PteBits.A)) {
                return true;
            }
        }
    }

    /**
     * ptep_set_access_flags() (arch/x86/mm/pgtable.c): installs {@code entry} only on a write
     * fault ({@code dirty}) and only if it differs; returns whether it differed. Caller holds the PTL.
     */
    public boolean setAccessFlags(long p, long entry, boolean dirty) {
        boolean changed = get(p) != entry;
        if (changed && dirty) {
            set(p, entry);
        }
        return changed;
    }

    /** pXd_clear(): a no-op above a folded level, as pgd_clear() in pgtable-nop4d.h. */
    public void clear(int l, long p) {
        if (!trivial(l)) {
            set(p, 0);
        }
    }

    /**
     * The entry a level-{@code l} pointer gets to point at a table: _PAGE_TABLE for user mms,
     * _KERNPG_TABLE for init_mm, and only _PAGE_PRESENT in a PAE PDPTE, where everything else is
     * reserved (arch/x86/mm/pgtable.c, pud_populate for PAE).
     */
    public long mk_table(int l, long table, boolean user) {
        if (mode.isPae() && hwLevel(l) == 3) {
            return table | PteBits.P;
        }
        return table | (user ? _PAGE_TABLE : _KERNPG_TABLE);
    }

    /** pgd_populate / p4d_populate / pud_populate / pmd_populate: point the entry at {@code table}. */
    public void populate(MmStruct mm, int l, long p, long table) {
        set(p, mk_table(l, table, !mm.isInitMm()));
        if (mode.isPae() && hwLevel(l) == 3) {
            pdptListener.pdptChanged(mm);   // "in PAE mode we explicitly have to flush the TLB via cr3"
        }
    }

    // ---- split page-table locks ------------------------------------------------------------------

    /**
     * pagetable_pte_ctor / pagetable_pmd_ctor: give the page its ptlock (kept for reuse). CPUs on
     * several Java threads allocate page tables without a common lock (pte_alloc_one runs before
     * the pmd lock is taken), so a chunk is published by compare-and-exchange: with a plain store,
     * two threads making the same chunk lost one's ptlock, and the two then locked different
     * locks for one table (HotPathTest.threadsFaultingTheSameTablesConcurrently).
     */
    public void pagetableCtor(long table) {
        int pfn = (int) (table >>> PhysicalMemory.PAGE_SHIFT);
        int c = pfn >>> PTLOCK_SHIFT;
        SpinLock[] chunk = (SpinLock[]) PTLOCK_CHUNKS.getAcquire(ptlocks, c);
        if (chunk == null) {
            SpinLock[] fresh = new SpinLock[PTLOCK_CHUNK];
            SpinLock[] there = (SpinLock[]) PTLOCK_CHUNKS.compareAndExchange(ptlocks, c, null, fresh);
            chunk = there == null ? fresh : there;
        }
        if (chunk[pfn & (PTLOCK_CHUNK - 1)] == null) {   // only the thread that allocated the frame gets here
            PTLOCKS.setRelease(chunk, pfn & (PTLOCK_CHUNK - 1),
                    new SpinLock("ptl@0x" + Long.toHexString(table), interleaving));
        }
    }

    /** The page-table pages that have a ptlock, in address order (for {@link KernelImage}). */
    long[] ptlockTables() {
        long[] out = new long[8];
        int n = 0;
        for (int c = 0; c < ptlocks.length; c++) {
            SpinLock[] chunk = ptlocks[c];
            for (int i = 0; chunk != null && i < chunk.length; i++) {
                if (chunk[i] != null) {
                    if (n == out.length) {
                        out = java.util.Arrays.copyOf(out, 2 * n);
                    }
                    out[n++] = ((long) c << PTLOCK_SHIFT | i) << PhysicalMemory.PAGE_SHIFT;
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** ptlock_ptr(page): the split lock of the page-table page containing {@code p}. */
    public SpinLock ptlock(long p) {
        int pfn = (int) (p >>> PhysicalMemory.PAGE_SHIFT);
        SpinLock[] chunk = ptlocks[pfn >>> PTLOCK_SHIFT];
        SpinLock l = chunk == null ? null : chunk[pfn & (PTLOCK_CHUNK - 1)];
        if (l == null) {
            throw new IllegalStateException(String.format("no ptlock for page-table page 0x%x", p & -4096L));
        }
        return l;
    }

    /** pte_lockptr(mm, pmd): the split PTE lock of the pte page {@code *pmdp} points to. */
    public SpinLock pte_lockptr(MmStruct mm, long pmdp) {
        return ptlock(table(get(pmdp)));
    }

    /**
     * pmd_lockptr(mm, pmd): with USE_SPLIT_PMD_PTLOCKS (more than two levels) the lock of the
     * pmd page; on 2-level paging, where the pmd is the pgd, mm->page_table_lock.
     */
    public SpinLock pmd_lockptr(MmStruct mm, long pmdp) {
        return folded(PMD) || mm.isInitMm() ? mm.page_table_lock : ptlock(pmdp);
    }

    /** pud_lockptr(): always mm->page_table_lock. */
    public SpinLock pud_lockptr(MmStruct mm) {
        return mm.page_table_lock;
    }

    // ---- page-table page allocation (mm/memory.c __p4d_alloc .. __pte_alloc) ----------------------

    /** pXd_alloc(mm, parent, addr): the level-{@code l} entry for addr, allocating its table if missing; -1 on OOM. */
    public long alloc(int l, MmStruct mm, long parentp, long addr, int node) {
        if (none(l + 1, get(parentp)) && allocTable(l, mm, parentp, node) != 0) {
            return -1;
        }
        return offset(l, parentp, addr);
    }

    public long p4d_alloc(MmStruct mm, long pgdp, long addr, int node) {
        return alloc(P4D, mm, pgdp, addr, node);
    }

    public long pud_alloc(MmStruct mm, long p4dp, long addr, int node) {
        return alloc(PUD, mm, p4dp, addr, node);
    }

    public long pmd_alloc(MmStruct mm, long pudp, long addr, int node) {
        return alloc(PMD, mm, pudp, addr, node);
    }

    /** pte_alloc(mm, pmd): 0 on success (the pte table exists or was installed), -ENOMEM. */
    public int pte_alloc(MmStruct mm, long pmdp, int node) {
        if (none(PMD, get(pmdp))) {
            return allocTable(PTE, mm, pmdp, node);
        }
        return 0;
    }

    /**
     * __p4d_alloc / __pud_alloc / __pmd_alloc / __pte_alloc: allocate a zeroed table of level
     * {@code l}, and publish it in the parent entry under the lock that serialises that entry
     * (page_table_lock for p4d/pud/pmd tables; the pmd's split lock for pte tables, as
     * pmd_install()). Whoever loses the race frees its page. The table is zeroed before the
     * store that publishes it (smp_wmb() in Linux; here the release store), so a walker never
     * sees garbage through the new entry. Returns 0 or -ENOMEM.
     */
    public int allocTable(int l, MmStruct mm, long parentp, int node) {
        long table = alloc.allocPageTable(node, l);
        if (table < 0) {
            return -Errno.ENOMEM;
        }
        if (l <= PMD) {
            pagetableCtor(table);
        }
        SpinLock ptl = l == PTE ? pmd_lockptr(mm, parentp) : mm.page_table_lock;
        ptl.lock();
        boolean installed = false;
        if (l == PTE ? none(PMD, get(parentp)) : !present(l + 1, get(parentp))) {
            mm.incPgtables(l);
            populate(mm, l + 1, parentp, table);
            installed = true;
        }
        ptl.unlock();
        if (!installed) {
            alloc.freeFrame(table);   // pte_free(): another thread populated it first
        }
        return 0;
    }

    /** pte_alloc_one() / pmd_alloc_one(): a table of level {@code l} with its ptlock, not yet published; -1 on OOM. */
    public long alloc_one(int l, int node) {
        long table = alloc.allocPageTable(node, l);
        if (table >= 0 && l <= PMD) {
            pagetableCtor(table);
        }
        return table;
    }

    /** pte_alloc_one(). */
    public long pte_alloc_one(int node) {
        return alloc_one(PTE, node);
    }

    // ---- lookup without allocation (follow_page-style) -------------------------------------------

    /**
     * Walks {@code mm}'s tables for {@code addr} without allocating. Returns the address of the
     * leaf entry (a pte, or a huge pmd/pud), or -1 if a level is empty; {@code levelOut[0]} gets the
     * Linux level of that entry.
     */
    public long walk(MmStruct mm, long addr, int[] levelOut) {
        long p = pgd_offset(mm, addr);
        for (int l = PGD; l > PTE; l--) {
            long e = get(p);
            if (none(l, e)) {
                return -1;
            }
            if (leaf(l, e)) {
                levelOut[0] = l;
                return p;
            }
            p = offset(l - 1, p, addr);
        }
        levelOut[0] = PTE;
        return p;
    }
}
