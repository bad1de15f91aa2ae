package ptlab.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * struct mm_struct (Linux v6.6 include/linux/mm_types.h): one address space. Its page tables live only in physical memory, reached
 * from {@link #pgd()}; this object holds what Linux's mm_struct holds beside them.
 *
 * <p>Locking, as in Linux:
 * <ul>
 * <li>{@link #mmap_lock}: the VMA tree and vm_flags; read for faults, write for mmap/munmap/
 *     mprotect/brk/fork (of the parent) and exit. munmap (and a shrinking brk) hold it for
 *     write only while detaching the vmas, then downgrade to read for the zap, free_pgtables
 *     and the flush (Linux v6.6 mm/mmap.c do_vmi_align_munmap), so faults run alongside.</li>
 * <li>{@link #page_table_lock}: populating p4d/pud/pmd entries (and pmds on 2-level paging).</li>
 * <li>split page-table locks ({@link Pgtable#ptlock}): a pte table's entries under its page's
 *     lock, a pmd table's entries under the pmd page's lock.</li>
 * </ul>
 * Invariant: a page-table page is freed only after every vma that could reach it was
 * detached from the tree under mmap_lock for write — the freeing itself may run with the lock
 * downgraded to read, concurrently with faults in other vmas, which never populate a table
 * inside free_pgtables' [floor, ceiling) — or at exit, when no other user exists; and only after
 * the TLB flush that follows its unlinking (MmuGather).
 */
public final class MmStruct {

    private final Interleaving il;
    private final int id;
    private final boolean initMm;
    /**
     * mm->pgd: physical address of the top-level table (32 bytes on PAE, a page otherwise).
     * Shared: CPUs loading CR3 and software walkers read it while a page-table migrator may
     * replace it.
     */
    final SharedLong pgd;
    /**
     * PAE with PTI: the user copy of the pgd (kernel_to_user_pgdp, the second page of Linux's
     * order-1 pgd allocation) holding the preallocated user pmds; 0 otherwise. Written only by
     * pgd_alloc and pgd_free, when no other CPU can reach the mm.
     */
    long user_pgd;

    /** The PAE PTI user pgd (0 when there is none), for checkers that run when no CPU does. */
    public long userPgd() {
        return user_pgd;
    }

    public final RwSemaphore mmap_lock;
    public final SpinLock page_table_lock;
    final VmaTree mm_mt;
    /** mm_seq and the vmas' lock words in simulated memory ({@link VmaLocks}); null without a FaultLocking. */
    VmaLocks.MmShared shared;

    /**
     * mm_cpumask(mm): CPUs that may hold TLB entries of this mm, a {@link Cpumask} laid out in
     * words (CPU i is bit i % 64 of word i / 64). Each word is shared: set by a CPU switching to
     * the mm (set_bit on its word), read by flushers without a lock one word at a time, as
     * for_each_cpu() does. With 64 CPUs or fewer there is one word, named mm_cpumask(mmN).
     */
    private final SharedLong[] cpumask;
    /** context.tlb_gen: bumped by every flush request (arch/x86 inc_mm_tlb_gen); shared. */
    final SharedLong tlb_gen;
    /** The last anon_vma id handed out by this mm (anon_vma identities are mm id and this). */
    private int anonVmas;
    /**
     * tlb_flush_pending: mmu_gathers running on this mm (inc in tlb_gather_mmu, dec in
     * tlb_finish_mmu); above one, tlb_finish_mmu flushes everything (mm_tlb_flush_nested).
     * Shared: read by another CPU's tlb_finish_mmu without a lock.
     */
    final SharedLong tlb_flush_pending;
    /** context.ctx_id: unique within the kernel, never reused, for the per-CPU ASID cache. */
    final long ctx_id;

    /** mm_users: tasks using the address space. */
    final AtomicInteger mm_users = new AtomicInteger(1);
    /** mm_count: references to the struct (one for all users, one per CPU holding it as active_mm). */
    final AtomicInteger mm_count = new AtomicInteger(1);

    /** pgtables_bytes split per hardware level: page-table pages of this mm (index = Linux level). */
    private final AtomicLongArray pgtables = new AtomicLongArray(6);
    /** MM_ANONPAGES (rss_stat), in 4 KiB pages. */
    private final AtomicLong anonRss = new AtomicLong();

    long mmap_base;
    long task_size;
    long start_brk;
    long brk;
    long start_stack;

    /** pgd_list linkage (arch/x86/mm/pgtable.c), guarded by pgd_lock: this mm's slot in ArchPgtable's pgd_list array. */
    int pgdListSlot = -1;
    boolean onPgdList;

    /**
     * How many of init_mm's populated kernel sync-level entries this mm has been brought up to
     * (the per-mm count of mail 000 that the {@code switch-check} strategy of
     * {@code ptlab.kernel.vmalloc} compares at context switch). Unused by other strategies.
     */
    public long kernelSyncGen;

    /**
     * {@code id} is unique within one {@link Kernel} (init_mm is 0), so that names in messages
     * and traces ("mm3.mmap_lock") depend only on the run, not on what else ran in this JVM.
     */
    MmStruct(int id, boolean initMm, Interleaving il, int nrCpus) {
        this.il = il;
        this.id = id;
        this.ctx_id = id + 1L;
        this.initMm = initMm;
        String n = initMm ? "init_mm" : "mm" + id;
        this.mmap_lock = new RwSemaphore(n, ".mmap_lock", il);
        this.page_table_lock = new SpinLock(n, ".page_table_lock", il);
        this.pgd = new SharedLong(il, n, "->pgd", 0);
        this.cpumask = new SharedLong[Cpumask.words(nrCpus)];
        for (int w = 0; w < cpumask.length; w++) {
            cpumask[w] = new SharedLong(il, "mm_cpumask(" + n + ")" + (w == 0 ? "" : "[" + w + "]"), 0);
        }
        this.tlb_gen = new SharedLong(il, n, "->context.tlb_gen", 1);
        this.tlb_flush_pending = new SharedLong(il, n, "->tlb_flush_pending", 0);
        this.mm_mt = new VmaTree(il, n);
    }

    Interleaving interleaving() {
        return il;
    }

    /** A new anon_vma identity, unique within the kernel (mm ids are). */
    long newAnonVma() {
        return ((long) id << 32) | ++anonVmas;
    }

    public int id() {
        return id;
    }

    public boolean isInitMm() {
        return initMm;
    }

    /** mm->pgd, read as a shared variable (a scheduling point on a simulated CPU). */
    public long pgd() {
        return pgd.get();
    }

    /** mm->pgd without a scheduling point: checkers, traces, and code holding pgd_lock or mmap_lock for write. */
    public long pgdLocked() {
        return pgd.plainGet();
    }

    /** The shared variable behind mm->pgd (for scenarios that replace it: page-table migration). */
    public SharedLong pgdVar() {
        return pgd;
    }

    public VmaTree vmas() {
        return mm_mt;
    }

    /** find_vma(mm, addr). */
    public VmArea find_vma(long addr) {
        return mm_mt.find_vma(addr);
    }

    public long mmapBase() {
        return mmap_base;
    }

    public long taskSize() {
        return task_size;
    }

    public long startBrk() {
        return start_brk;
    }

    public long brk() {
        return brk;
    }

    public long startStack() {
        return start_stack;
    }

    // ---- mm_cpumask -------------------------------------------------------------------------

    /** Words in mm_cpumask (BITS_TO_LONGS(nr_cpu_ids)). */
    public int cpumaskWords() {
        return cpumask.length;
    }

    /** Word {@code w} of mm_cpumask (CPUs 64w..64w+63), read as a shared variable (a scheduling point). */
    public long cpumaskWord(int w) {
        return cpumask[w].get();
    }

    /** mm_cpumask(mm) copied into {@code into}, one shared read per word (cpumask_copy). */
    public void cpumask(Cpumask into) {
        for (int w = 0; w < cpumask.length; w++) {
            into.setWord(w, cpumask[w].get());
        }
    }

    public boolean cpumaskTest(int cpu) {
        return (cpumask[cpu >>> 6].plainGet() & (1L << cpu)) != 0;
    }

    /** cpumask_set_cpu(): atomic, as set_bit() on the CPU's word. */
    void cpumaskSet(int cpu) {
        cpumask[cpu >>> 6].getAndOr(1L << cpu);
    }

    /** cpumask_clear_cpu(). */
    void cpumaskClear(int cpu) {
        cpumask[cpu >>> 6].getAndAndNot(1L << cpu);
    }

    /** context.tlb_gen without a scheduling point (checkers, tests). */
    public long tlbGen() {
        return tlb_gen.plainGet();
    }

    // ---- counters -----------------------------------------------------------------------------

    /** mm_inc_nr_ptes / mm_inc_nr_pmds / mm_inc_nr_puds / mm_inc_nr_p4ds (and the pgd itself). */
    void incPgtables(int level) {
        pgtables.incrementAndGet(level);
    }

    void decPgtables(int level) {
        if (pgtables.decrementAndGet(level) < 0) {
            throw new IllegalStateException("mm" + id + ": negative page-table count at level " + level);
        }
    }

    /** The page-table counts of every level, PTE=1 .. PGD=5 (index 0 unused), for {@link KernelImage}. */
    long[] pgtablesByLevel() {
        long[] out = new long[pgtables.length()];
        for (int l = 0; l < out.length; l++) {
            out[l] = pgtables.get(l);
        }
        return out;
    }

    /** Sets every level's page-table count: init_mm restored from a {@link KernelImage}. */
    void setPgtablesByLevel(long[] counts) {
        for (int l = 0; l < counts.length; l++) {
            pgtables.set(l, counts[l]);
        }
    }

    /** Page-table pages of this mm at Linux level {@code level} (PTE=1 .. PGD=5). */
    public long pgtables(int level) {
        return pgtables.get(level);
    }

    /** mm_pgtables_bytes() in pages, all levels below the pgd. */
    public long pgtablesTotal() {
        long n = 0;
        for (int l = 1; l <= 4; l++) {
            n += pgtables.get(l);
        }
        return n;
    }

    void addRss(long pages) {
        anonRss.addAndGet(pages);
    }

    /** get_mm_counter(mm, MM_ANONPAGES). */
    public long rss() {
        return anonRss.get();
    }

    public int users() {
        return mm_users.get();
    }

    public int count() {
        return mm_count.get();
    }

    /** check_mm() at __mmdrop: every counter back to zero. */
    void check_mm() {
        long rss = anonRss.get();
        if (rss != 0) {
            throw new IllegalStateException("BUG: Bad rss-counter state mm" + id + " type:MM_ANONPAGES val:" + rss);
        }
        long tables = pgtablesTotal();
        if (tables != 0) {
            throw new IllegalStateException("BUG: non-zero pgtables_bytes on freeing mm" + id + ": " + tables + " pages");
        }
    }

    @Override
    public String toString() {
        return initMm ? "init_mm" : String.format("mm%d(pgd=0x%x)", id, pgd.plainGet());
    }
}
