package ptlab.kernel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;

/**
 * arch/x86/mm/pgtable.c and the boot-time kernel mapping of arch/x86/mm/init*.c (Linux v6.6): swapper_pg_dir
 * (init_mm) with the direct map, pgd_alloc/pgd_free with pgd_ctor's copy of the kernel half,
 * PAE's preallocated pmds and 32-byte pgds, and pgd_list under pgd_lock.
 *
 * <pre>
 *   KERNEL_PGD_BOUNDARY = pgd_index(PAGE_OFFSET)
 *   pgd_alloc:  _pgd_alloc (page, or 32-byte slab object on PAE with SHARED_KERNEL_PMD)
 *               preallocate_pmds (PAE: user pmds, plus kernel pmds when !SHARED_KERNEL_PMD)
 *               PTI on PAE (= !SHARED_KERNEL_PMD): a second pgd page (the user copy) and
 *                 PREALLOCATED_USER_PMDS pmds for its kernel part
 *               spin_lock(pgd_lock)
 *                 pgd_ctor:  clone_pgd_range(kernel entries of swapper_pg_dir)   (not PAE-unshared)
 *                            pgd_list_add when !SHARED_KERNEL_PMD
 *                 pgd_prepopulate_pmd: kernel pmds copied from swapper's, every PDPTE present
 *                 pgd_prepopulate_user_pmd: the user copy's kernel pmds (PTI)
 *               spin_unlock(pgd_lock)
 * </pre>
 * SHARED_KERNEL_PMD is 1 only on PAE without PTI ({@link KernelConfig#sharedKernelPmd()});
 * 2-level and 64-bit kernels define it 0, so all their pgds are on pgd_list.
 */
public final class ArchPgtable {

    private final Kernel k;
    private final Pgtable pt;
    private final PagingMode mode;
    private final FrameAllocator alloc;
    private final PgdSlab pgdCache;
    private final boolean sharedKernelPmd;
    private final int kernelPgdBoundary;

    /** pgd_lock: guards pgd_list and makes pgd_ctor atomic against its walkers (vmalloc sync). */
    public final SpinLock pgd_lock;
    /**
     * pgd_list, oldest first: slot i holds an mm and its pgd's physical address, or
     * {@link #NO_PGD} and null once pgd_list_del took that mm out. The kernel's list_head becomes
     * an array here so that sync_global_pgds' walk over tens of thousands of pgds reads the pgd
     * addresses in sequence rather than chasing one mm_struct after another (the simulator's
     * cost, not the model's: every visit still reads the pgd entry from simulated memory).
     * Deletion leaves a hole and compaction keeps the order, so walks see the list exactly as
     * the linked list would: newest first when walked from the top slot down.
     */
    private long[] pgdListPgds = new long[64];
    private MmStruct[] pgdListMms = new MmStruct[64];
    private int pgdListSlots;
    private int pgdListLength;

    /** A pgd_list slot whose mm was deleted (a physical address is never negative). */
    public static final long NO_PGD = -1;

    ArchPgtable(Kernel k) {
        this.k = k;
        this.pgd_lock = new SpinLock("pgd_lock", k.interleaving());
        this.pt = k.pgtable();
        this.mode = k.mode();
        this.alloc = k.allocator();
        this.sharedKernelPmd = mode.isPae() && k.config().sharedKernelPmd();
        this.pgdCache = sharedKernelPmd ? new PgdSlab(alloc) : null;
        this.kernelPgdBoundary = mode.index(k.layout().pageOffset(), mode.levels());
    }

    /** SHARED_KERNEL_PMD. */
    public boolean sharedKernelPmd() {
        return sharedKernelPmd;
    }

    /** KERNEL_PGD_BOUNDARY: the first top-level entry of the kernel half. */
    public int kernelPgdBoundary() {
        return kernelPgdBoundary;
    }

    /** PTRS_PER_PGD. */
    public int ptrsPerPgd() {
        return mode.entries(mode.levels());
    }

    /** PREALLOCATED_PMDS: PAE only; UNSHARED_PTRS_PER_PGD. */
    private int preallocatedPmds() {
        if (!mode.isPae()) {
            return 0;
        }
        return sharedKernelPmd ? kernelPgdBoundary : ptrsPerPgd();
    }

    // ---- boot: swapper_pg_dir and the direct map ---------------------------------------------

    /**
     * Builds init_mm: a page for swapper_pg_dir, then the direct map of lowmem at PAGE_OFFSET
     * (kernel_physical_mapping_init) with the largest pages the mode allows: 1 GiB where
     * {@code gbpages} and 4/5-level paging, else 2 MiB (4 MiB on 2-level), else 4 KiB. On PAE
     * every kernel PDPTE gets its pmd page even when empty, as the boot code does, so that the
     * pmds can be shared (or copied) into every pgd.
     */
    MmStruct bootInitMm(int node) {
        MmStruct init = new MmStruct(0, true, k.interleaving(), k.cpuCount());
        long pgd = alloc.allocPageTable(node, mode.levels());
        if (pgd < 0) {
            throw new IllegalStateException("out of memory allocating swapper_pg_dir");
        }
        init.pgd.plainSet(pgd);
        init.incPgtables(Pgtable.PGD);
        if (mode.isPae()) {
            for (int i = kernelPgdBoundary; i < ptrsPerPgd(); i++) {
                long pudp = pgd + 8L * i;
                if (pt.allocTable(Pgtable.PMD, init, pudp, node) != 0) {
                    throw new IllegalStateException("out of memory allocating kernel pmds");
                }
            }
        }
        mapDirect(init, k.layout().pageOffset(), 0, k.layout().directMapBytes(), node);
        return init;
    }

    /**
     * init_mm as {@link #bootInitMm} left it, over tables already in memory (a kernel restored
     * from a {@link KernelImage}): the same object, made at the same point of the boot.
     */
    MmStruct restoreInitMm(long pgd, long[] pgtables) {
        MmStruct init = new MmStruct(0, true, k.interleaving(), k.cpuCount());
        init.pgd.plainSet(pgd);
        init.setPgtablesByLevel(pgtables);
        return init;
    }

    /** PAGE_KERNEL: present, writable, accessed, dirty, global, NX. */
    long pageKernel() {
        return PteBits.P | PteBits.RW | PteBits.A | PteBits.D | PteBits.G | pt.nx();
    }

    private void mapDirect(MmStruct init, long va, long pa, long size, int node) {
        long prot = pageKernel();
        boolean gb = mode.isLongMode() && k.config().gbpages();
        long pudSize = pt.size(Pgtable.PUD);
        long pmdSize = pt.size(Pgtable.PMD);
        while (size > 0) {
            long pgdp = pt.pgd_offset(init, va);
            long p4dp = pt.p4d_alloc(init, pgdp, va, node);
            long pudp = pt.pud_alloc(init, p4dp, va, node);
            if (p4dp < 0 || pudp < 0) {
                throw new IllegalStateException("out of memory building the direct map");
            }
            if (gb && ((va | pa) & (pudSize - 1)) == 0 && size >= pudSize) {
                pt.set(pudp, pt.pfn_pmd_huge(pa, prot));
                va += pudSize;
                pa += pudSize;
                size -= pudSize;
                continue;
            }
            long pmdp = pt.pmd_alloc(init, pudp, va, node);
            if (pmdp < 0) {
                throw new IllegalStateException("out of memory building the direct map");
            }
            if (((va | pa) & (pmdSize - 1)) == 0 && size >= pmdSize) {
                pt.set(pmdp, pt.pfn_pmd_huge(pa, prot));
                va += pmdSize;
                pa += pmdSize;
                size -= pmdSize;
                continue;
            }
            if (pt.pte_alloc(init, pmdp, node) != 0) {
                throw new IllegalStateException("out of memory building the direct map");
            }
            pt.set(pt.pte_offset(pmdp, va), pt.pfn_pte(pa, prot));
            va += 4096;
            pa += 4096;
            size -= 4096;
        }
    }

    // ---- pgd_alloc / pgd_free ------------------------------------------------------------------

    /**
     * PREALLOCATED_USER_PMDS (Linux v6.6 arch/x86/mm/pgtable.c): with PTI on PAE — which is
     * exactly when SHARED_KERNEL_PMD is 0 ({@code !static_cpu_has(X86_FEATURE_PTI)}) — each pgd
     * also gets the user-side copy's kernel pmds, KERNEL_PGD_PTRS of them, "to map the
     * per-process LDT into the user-space page-table".
     */
    private int preallocatedUserPmds() {
        return mode.isPae() && !sharedKernelPmd ? ptrsPerPgd() - kernelPgdBoundary : 0;
    }

    /** pgd_alloc(mm): 0, or -ENOMEM with nothing left allocated. */
    int pgd_alloc(MmStruct mm, int node) {
        long pgd = _pgd_alloc(node);
        if (pgd < 0) {
            return -Errno.ENOMEM;
        }
        mm.pgd.plainSet(pgd);                  // before the mm is visible to any other CPU
        mm.incPgtables(Pgtable.PGD);
        long[] pmds = preallocate_pmds(mm, preallocatedPmds(), node);
        long[] userPmds = pmds == null ? null : preallocate_pmds(mm, preallocatedUserPmds(), node);
        long userPgd = 0;
        if (userPmds != null && userPmds.length > 0) {
            userPgd = alloc.allocPageTable(node, mode.levels());   // PGD_ALLOCATION_ORDER 1: the second page
        }
        if (pmds == null || userPmds == null || userPgd < 0) {
            free_pmds(mm, pmds);
            free_pmds(mm, userPmds);
            _pgd_free(pgd);
            mm.decPgtables(Pgtable.PGD);
            mm.pgd.plainSet(0);
            return -Errno.ENOMEM;
        }
        if (userPgd != 0) {
            mm.user_pgd = userPgd;
            mm.incPgtables(Pgtable.PGD);
        }
        pgd_lock.lock();
        pgd_ctor(mm, pgd);
        pgd_prepopulate_pmd(mm, pgd, pmds);
        pgd_prepopulate_user_pmd(mm, userPmds);
        pgd_lock.unlock();
        withPgd.add(mm);
        return 0;
    }

    /** preallocate_pmds(): {@code n} pmd pages, or null (nothing left allocated) when out of memory. */
    private long[] preallocate_pmds(MmStruct mm, int n, int node) {
        long[] pmds = new long[n];
        for (int i = 0; i < n; i++) {
            pmds[i] = pt.alloc_one(Pgtable.PMD, node);
            if (pmds[i] < 0) {
                free_pmds(mm, Arrays.copyOf(pmds, i));
                return null;
            }
            mm.incPgtables(Pgtable.PMD);
        }
        return pmds;
    }

    /** free_pmds(). */
    private void free_pmds(MmStruct mm, long[] pmds) {
        if (pmds == null) {
            return;
        }
        for (long pmd : pmds) {
            alloc.freeFrame(pmd);
            mm.decPgtables(Pgtable.PMD);
        }
    }

    /**
     * pgd_prepopulate_user_pmd(): each preallocated user pmd gets a copy of the matching kernel
     * pmd and goes into the user pgd's PDPTE (pud_populate, with its flush_tlb_mm). Linux copies
     * from the PTI user copy of swapper_pg_dir (entry text, cpu_entry_area, LDT slot); ptlab has
     * no such copy and copies swapper's kernel pmd, the same 4 KiB of work. The user pgd is
     * never loaded into CR3 here (user code runs on the kernel-side tables): it is fork/exit work
     * and page-table memory, not translation.
     */
    private void pgd_prepopulate_user_pmd(MmStruct mm, long[] userPmds) {
        long swapper = k.initMm().pgdLocked();
        for (int i = 0; i < userPmds.length; i++) {
            int index = kernelPgdBoundary + i;
            long kernelPmd = pt.table(pt.get(swapper + 8L * index));
            k.memory().copyFrame(kernelPmd, userPmds[i]);
            pt.populate(mm, Pgtable.PUD, mm.user_pgd + 8L * index, userPmds[i]);
        }
    }

    /**
     * Every mm with a pgd, whether on pgd_list or not (PAE with SHARED_KERNEL_PMD keeps none
     * there): bookkeeping of the model for checkers, not a kernel list. Mms are created and torn
     * down by one CPU, under no lock another CPU reads this under: read it only when no CPU runs.
     */
    private final java.util.Set<MmStruct> withPgd = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    /** The mms that have a pgd now, for a checker that runs when no CPU does. */
    public List<MmStruct> mmsQuiescent() {
        return new ArrayList<>(withPgd);
    }

    private long _pgd_alloc(int node) {
        if (sharedKernelPmd) {
            return pgdCache.alloc(node);
        }
        return alloc.allocPageTable(node, mode.levels());
    }

    private void _pgd_free(long pgd) {
        if (sharedKernelPmd) {
            pgdCache.free(pgd);
        } else {
            alloc.freeFrame(pgd);
        }
    }

    /**
     * pgd_ctor(): copy the kernel part of swapper_pg_dir (clone_pgd_range), except on PAE without
     * shared kernel pmds, whose kernel pmds are copied by pgd_prepopulate_pmd instead; put the pgd
     * on pgd_list when kernel mappings must be synced into it (!SHARED_KERNEL_PMD).
     */
    private void pgd_ctor(MmStruct mm, long pgd) {
        if (mode.levels() == 2 || (mode.levels() == 3 && sharedKernelPmd) || mode.levels() >= 4) {
            clone_pgd_range(pgd, k.initMm().pgdLocked(), kernelPgdBoundary, ptrsPerPgd() - kernelPgdBoundary);
        }
        if (!sharedKernelPmd) {
            pgd_list_add(mm, pgd);
        }
    }

    /** clone_pgd_range(dst + i, src + i, count): a memcpy of top-level entries. */
    public void clone_pgd_range(long dstPgd, long srcPgd, int first, int count) {
        int eb = pt.entryBytes();
        pt.copyEntries(dstPgd + (long) first * eb, srcPgd + (long) first * eb, count);
    }

    /**
     * pgd_prepopulate_pmd(): install the preallocated pmds in the PDPTEs; the kernel ones get a
     * copy of swapper's kernel pmd (so later kernel pmd entries must be synced into them).
     */
    private void pgd_prepopulate_pmd(MmStruct mm, long pgd, long[] pmds) {
        long swapper = k.initMm().pgdLocked();
        for (int i = 0; i < pmds.length; i++) {
            long pudp = pgd + 8L * i;
            if (i >= kernelPgdBoundary) {
                long kernelPmd = pt.table(pt.get(swapper + 8L * i));
                k.memory().copyFrame(kernelPmd, pmds[i]);
            }
            pt.populate(mm, Pgtable.PUD, pudp, pmds[i]);
        }
    }

    /** pgd_free(mm, pgd): pgd_mop_up_pmds, pgd_dtor, _pgd_free. */
    void pgd_free(MmStruct mm) {
        long pgd = mm.pgdLocked();
        int n = preallocatedPmds();
        for (int i = 0; i < n; i++) {                // pgd_mop_up_pmds()
            long pudp = pgd + 8L * i;
            long e = pt.get(pudp);
            if (e != 0) {
                pt.set(pudp, 0);
                alloc.freeFrame(pt.table(e));
                mm.decPgtables(Pgtable.PMD);
            }
        }
        if (mm.user_pgd != 0) {                      // pgd_mop_up_pmds() of the user side
            for (int i = kernelPgdBoundary; i < ptrsPerPgd(); i++) {
                long pudp = mm.user_pgd + 8L * i;
                long e = pt.get(pudp);
                if (e != 0) {
                    pt.set(pudp, 0);
                    alloc.freeFrame(pt.table(e));
                    mm.decPgtables(Pgtable.PMD);
                }
            }
            alloc.freeFrame(mm.user_pgd);
            mm.decPgtables(Pgtable.PGD);
            mm.user_pgd = 0;
        }
        if (mm.onPgdList) {                          // pgd_dtor()
            pgd_lock.lock();
            pgd_list_del(mm);
            pgd_lock.unlock();
        }
        _pgd_free(pgd);
        mm.decPgtables(Pgtable.PGD);
        mm.pgd.set(0);
        withPgd.remove(mm);
    }

    /**
     * Makes {@code newPgd} (a page-table page holding a copy of {@code mm}'s pgd) the mm's
     * top-level table: {@code mm->pgd} and its pgd_list slot, under pgd_lock so that a
     * sync_global_pgds() walk sees one pgd or the other, never neither. The old pgd is the
     * caller's to free once no CPU's CR3 points at it. Only for pgds that are pages (not the
     * 32-byte PAE pgd: Fitzhardinge 2008, "a pgd isn't necessarily a page size").
     */
    public void pgd_replace(MmStruct mm, long newPgd) {
        if (sharedKernelPmd && mode.isPae()) {
            throw new IllegalArgumentException("the PAE pgd is a 32-byte slab object, not a page: not replaceable");
        }
        pgd_lock.lock();
        mm.pgd.set(newPgd);                   // a shared store: CR3 loads and walkers read it without pgd_lock
        if (mm.onPgdList) {
            pgdListPgds[mm.pgdListSlot] = newPgd;
        }
        pgd_lock.unlock();
    }

    // ---- pgd_list ----------------------------------------------------------------------------------

    private void pgd_list_add(MmStruct mm, long pgd) {
        if (pgdListSlots == pgdListPgds.length) {
            compactPgdList();
            if (pgdListSlots * 2 > pgdListPgds.length) {
                pgdListPgds = Arrays.copyOf(pgdListPgds, pgdListPgds.length * 2);
                pgdListMms = Arrays.copyOf(pgdListMms, pgdListMms.length * 2);
            }
        }
        mm.pgdListSlot = pgdListSlots;
        pgdListPgds[pgdListSlots] = pgd;
        pgdListMms[pgdListSlots] = mm;
        pgdListSlots++;
        mm.onPgdList = true;
        pgdListLength++;
    }

    private void pgd_list_del(MmStruct mm) {
        int slot = mm.pgdListSlot;
        pgdListPgds[slot] = NO_PGD;
        pgdListMms[slot] = null;
        while (pgdListSlots > 0 && pgdListMms[pgdListSlots - 1] == null) {
            pgdListSlots--;                          // holes at the top are free slots again
        }
        mm.pgdListSlot = -1;
        mm.onPgdList = false;
        pgdListLength--;
    }

    /** Squeezes out the holes pgd_list_del left, keeping the order (so walks are unchanged). */
    private void compactPgdList() {
        int to = 0;
        for (int from = 0; from < pgdListSlots; from++) {
            MmStruct mm = pgdListMms[from];
            if (mm != null) {
                mm.pgdListSlot = to;
                pgdListMms[to] = mm;
                pgdListPgds[to] = pgdListPgds[from];
                to++;
            }
        }
        Arrays.fill(pgdListMms, to, pgdListSlots, null);
        Arrays.fill(pgdListPgds, to, pgdListSlots, NO_PGD);
        pgdListSlots = to;
    }

    private void checkPgdLockHeld() {
        if (!pgd_lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("pgd_list walked without pgd_lock");
        }
    }

    /**
     * The mms on pgd_list, newest first, for a checker that runs when no CPU does (between the
     * steps of a simulation, after the last): nothing can change the list meanwhile, so
     * pgd_lock is not needed.
     */
    public List<MmStruct> pgdListQuiescent() {
        List<MmStruct> out = new ArrayList<>(pgdListLength);
        for (int s = pgdListSlots - 1; s >= 0; s--) {
            if (pgdListMms[s] != null) {
                out.add(pgdListMms[s]);
            }
        }
        return out;
    }

    /** The mms on pgd_list, newest first; the caller must hold {@link #pgd_lock}. */
    public List<MmStruct> pgdList() {
        checkPgdLockHeld();
        List<MmStruct> out = new ArrayList<>(pgdListLength);
        for (int s = pgdListSlots - 1; s >= 0; s--) {
            if (pgdListMms[s] != null) {
                out.add(pgdListMms[s]);
            }
        }
        return out;
    }

    /**
     * The pgd physical addresses on pgd_list by slot, {@link #NO_PGD} in the holes: walk slots
     * {@link #pgdListSlots()}-1 down to 0 for the list's order, newest first. The array is
     * pgd_list itself, valid only while the caller holds {@link #pgd_lock}; read it, never keep it.
     */
    public long[] pgdListPgds() {
        checkPgdLockHeld();
        return pgdListPgds;
    }

    /**
     * pgd_page_get_mm(): the mm whose pgd sits in pgd_list slot {@code slot} (null in a hole);
     * the caller must hold {@link #pgd_lock}. The vmalloc sync takes its page_table_lock.
     */
    public MmStruct pgdListMm(int slot) {
        checkPgdLockHeld();
        return pgdListMms[slot];
    }

    /** Slots in use in {@link #pgdListPgds()}: pgdListLength() plus the holes. */
    public int pgdListSlots() {
        return pgdListSlots;
    }

    public int pgdListLength() {
        return pgdListLength;
    }

    /** PAE pgd slab objects and pages (0 when pgds are pages). */
    public long pgdSlabObjects() {
        return pgdCache == null ? 0 : pgdCache.objects();
    }

    public int pgdSlabPages() {
        return pgdCache == null ? 0 : pgdCache.pages();
    }
}
