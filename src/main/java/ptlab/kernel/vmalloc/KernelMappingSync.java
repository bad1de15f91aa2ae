package ptlab.kernel.vmalloc;

import java.util.Arrays;

import ptlab.kernel.ArchPgtable;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;

/**
 * What every vmalloc-sync strategy shares: where a kernel address's entry at the sync level
 * lives in an mm, copying one such entry from init_mm (vmalloc_sync_one() in
 * arch/x86/mm/fault.c), walking pgd_list under pgd_lock (sync_global_pgds() in
 * arch/x86/mm/init_64.c and the x86-32 arch_sync_kernel_mappings() in fault.c, both as in Linux
 * v6.6, with their per-entry pgd_lock and per-mm page_table_lock), and the record of which
 * sync-level entries init_mm has populated.
 *
 * <p>The sync level is the Linux level whose entries each mm has its own copy of, while the
 * tables below it are shared by pointer ({@link KernelLayout#syncLevel()}): the p4d (the pgd
 * entry) on 4-level x86-64, the pgd on la57, the pmd on x86-32 (folded into the pgd without
 * PAE; the mm's own kernel pmd pages with PAE and PTI).
 *
 * <p>Invariant (x86-64's rule, mail 001): a kernel sync-level entry goes from none to a table
 * pointer once and never changes again; vmalloc never frees kernel page tables. So the
 * populated entries form an append-only list, and its length is init_mm's generation (mail
 * 000's "generation counter"): an mm that has copied the first n entries of the list is
 * complete iff n equals the generation.
 */
public final class KernelMappingSync {

    private final Kernel k;
    private final Pgtable pt;
    private final int syncLevel;
    private final long span;
    /** The Linux level whose entries live in the pgd page itself (P4D on 4-level: folded into the pgd). */
    private final int topLevel;
    private long[] populated = new long[64];
    /**
     * The generation: how many entries of {@link #populated} are valid. Appended under
     * init_mm.page_table_lock, read without it (switch-check, eager-generation): a shared
     * variable, stored after the entry it counts (so a reader that sees n sees n entries).
     */
    private final ptlab.kernel.SharedLong generation;

    long fullSyncs;
    long listWalks;
    long lockPairs;
    long entriesCopied;
    long mmsWalked;
    long vmallocFaults;
    long ipis;

    /** Told when a pgd_list walk starts and ends (under pgd_lock), e.g. to time how long it holds the lock. */
    public interface WalkObserver {
        void walkBegin();

        void walkEnd();
    }

    private WalkObserver walkObserver = new WalkObserver() {
        @Override
        public void walkBegin() {
        }

        @Override
        public void walkEnd() {
        }
    };

    public void setWalkObserver(WalkObserver o) {
        this.walkObserver = o;
    }

    /**
     * smp_call_function_single(target, fn, wait=1) for the sync strategies: runs {@code fn} as
     * {@code target}'s IPI handler. The default runs it at once on the caller's thread (no
     * engine: nothing can run in between); a timed run installs one that charges the handler
     * to the target CPU's time and makes the sender wait for its acknowledgement.
     */
    public interface CrossCall {
        void call(Cpu target, Runnable fn);
    }

    private CrossCall crossCall = (target, fn) -> fn.run();

    public void setCrossCall(CrossCall c) {
        this.crossCall = c;
    }

    /** Sends {@code fn} to {@code target} as an IPI ({@link CrossCall}) and counts it. */
    public void smpCallFunctionSingle(Cpu target, Runnable fn) {
        ipis++;
        crossCall.call(target, fn);
    }

    KernelMappingSync(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
        this.syncLevel = k.layout().syncLevelNumber();
        this.span = k.layout().syncEntrySpan();
        this.topLevel = k.mode().levels();
        this.generation = new ptlab.kernel.SharedLong(k.interleaving(), "kernel_sync_generation", 0);
    }

    public Kernel kernel() {
        return k;
    }

    /** The Linux level (Pgtable.PGD .. PMD) of the entries every mm keeps its own copy of. */
    public int syncLevel() {
        return syncLevel;
    }

    /** Bytes one sync-level entry maps. */
    public long span() {
        return span;
    }

    /** PGTBL_*_MODIFIED bit of the sync level: ARCH_PAGE_TABLE_SYNC_MASK. */
    public int archPageTableSyncMask() {
        return 1 << syncLevel;
    }

    /** The pointer to {@code va}'s sync-level entry in {@code mm} (pgd_offset, then pXd_offset down, folding). */
    public long syncEntryPtr(MmStruct mm, long va) {
        return syncEntryPtrIn(mm.pgd(), va);
    }

    /** syncEntryPtr() in the pgd page at physical address {@code pgd} (pgd_offset_pgd, then pXd_offset down). */
    private long syncEntryPtrIn(long pgd, long va) {
        long p = pt.pgd_offset_pgd(pgd, va);
        for (int l = Pgtable.PGD; l > syncLevel; l--) {
            p = pt.offset(l - 1, p, va);
        }
        return p;
    }

    /** vmalloc_sync_one(): copy init_mm's entry for {@code va} into {@code mm} if it has none. Returns 1 if copied. */
    public int copyEntry(MmStruct mm, long va) {
        return copyEntryAt(syncEntryPtr(mm, va), va);
    }

    /** copyEntry() with the mm's entry pointer already known. */
    private int copyEntryAt(long dst, long va) {
        return copyEntryIfNone(dst, pt.get(dst), va);
    }

    /** The rest of copyEntryAt() once the mm's entry {@code cur} at {@code dst} was read. */
    private int copyEntryIfNone(long dst, long cur, long va) {
        if (!pt.none(syncLevel, cur)) {
            return 0;
        }
        long e = pt.get(syncEntryPtr(k.initMm(), va));
        if (pt.none(syncLevel, e)) {
            return 0;
        }
        pt.set(dst, e);
        entriesCopied++;
        return 1;
    }

    /** Whether {@code mm}'s sync-level entry for {@code va} equals init_mm's. */
    public boolean inSync(MmStruct mm, long va) {
        return pt.get(syncEntryPtr(mm, va)) == pt.get(syncEntryPtr(k.initMm(), va));
    }

    /** Whether init_mm has a table at the sync level for {@code va}. */
    public boolean populatedInInitMm(long va) {
        return !pt.none(syncLevel, pt.get(syncEntryPtr(k.initMm(), va)));
    }

    // ---- the generation: init_mm's populated sync-level entries, in order ---------------------

    /** Vmalloc code populated init_mm's sync-level entry covering {@code va}. */
    void notePopulated(long va) {
        var lock = k.initMm().page_table_lock;
        lock.lock();
        int g = (int) generation.plainGet();             // every writer holds the lock
        for (int i = g - 1; i >= 0; i--) {
            if (populated[i] == (va & -span)) {
                lock.unlock();
                return;                                  // two CPUs raced to populate it; one table won
            }
        }
        if (g == populated.length) {
            populated = Arrays.copyOf(populated, g * 2);
        }
        populated[g] = va & -span;
        generation.set(g + 1);                           // publish after the entry
        lock.unlock();
    }

    /** The number of sync-level entries init_mm has populated since boot (a shared read). */
    public int generation() {
        return (int) generation.get();
    }

    /** The start address of the {@code i}-th populated sync-level entry. */
    public long populatedEntry(int i) {
        return populated[i];
    }

    // ---- sync_global_pgds / arch_sync_kernel_mappings -------------------------------------------

    /**
     * sync_global_pgds(start, end - 1), Linux v6.6 arch/x86/mm/init_64.c:sync_global_pgds_l4():
     * for each sync-level entry of [start, end), skip it when init_mm's is none (read before
     * pgd_lock is taken: "if (p4d_none(*p4d_ref)) continue;"), else take pgd_lock, and for every
     * pgd on pgd_list take that mm's page_table_lock ("the pgt_lock only for Xen") and copy
     * init_mm's entry where the mm's is none. pgd_lock is dropped between entries ("PGDIR
     * steps"), so a fork may take it in between. One call that walked at least once is one full
     * sync. Used by eager-walk on every mode (sync_global_pgds as vmalloc_sync_all() called it)
     * and by arch_sync_kernel_mappings() on x86-64 (the 2025 fix).
     */
    public void syncRange(long start, long end) {
        long first = start & -span;
        long n = entriesIn(start, end);
        boolean walked = false;
        for (long i = 0; i < n; i++) {
            long va = first + i * span;
            if (!populatedInInitMm(va)) {
                continue;
            }
            walkPgdList(va, n == 1);   // gathered or one by one: the same reads, copies and counts
            walked = true;
        }
        if (walked) {
            fullSyncs++;
        }
    }

    /**
     * arch_sync_kernel_mappings(start, end). On x86-32 (2-level and PAE, sync level pmd), Linux
     * v6.6 arch/x86/mm/fault.c: "for (addr = start &amp; PMD_MASK; addr &gt;= TASK_SIZE_MAX &amp;&amp;
     * addr &lt; VMALLOC_END; addr += PMD_SIZE)" - every pmd from the start of the range up to
     * VMALLOC_END, not only those of [start, end), each under its own pgd_lock hold with each
     * mm's page_table_lock around vmalloc_sync_one(), which copies init_mm's pmd when the two
     * differ in presence (since "x86/mm: Sync also unmappings in vmalloc_sync_all()", v5.3; here
     * kernel pmds under vmalloc never go back to none, so only none-to-present copies happen).
     * There is no skip of entries init_mm lacks. On x86-64 it is sync_global_pgds(start, end - 1)
     * ({@link #syncRange}).
     */
    public void archSyncKernelMappings(long start, long end) {
        if (k.mode().isLongMode()) {
            syncRange(start, end);
            return;
        }
        long last = k.layout().vmallocEnd();                 // VMALLOC_END - 1
        long taskSizeMax = k.layout().pageOffset();          // TASK_SIZE_MAX = PAGE_OFFSET on x86-32
        // addr <= last and addr < last agree: addr is pmd aligned, last (VMALLOC_END - 1) never is
        for (long addr = start & -span; addr >= taskSizeMax && addr <= last; addr += span) {
            walkPgdList(addr, false);
        }
        fullSyncs++;
    }

    /**
     * One walk of pgd_list for the sync-level entry of {@code va}: pgd_lock held for the whole
     * list, each mm's page_table_lock around its copy. When no hook acts at memory accesses (the
     * timed experiment: nobody can run between them), the uncontended page_table_locks are
     * counted (and charged by the caller from {@link #lockPairs()}) rather than taken, and a
     * walk of one top-level entry reads the pgds GATHER at a time: the same reads and copies.
     */
    private void walkPgdList(long va, boolean mayGather) {
        var arch = k.arch();
        arch.pgd_lock.lock();
        walkObserver.walkBegin();
        lockPairs++;
        listWalks++;
        long[] pgds = arch.pgdListPgds();
        boolean counted = k.memory().accessesOnlyCounted();
        if (syncLevel == topLevel && mayGather) {   // mayGather or not: the same reads, copies and counts
            syncTopEntryGathered(pgds, pt.pgd_offset_pgd(0, va), va);
            lockPairs += arch.pgdListLength();               // the page_table_locks: see the method comment
        } else {
            for (int slot = arch.pgdListSlots() - 1; slot >= 0; slot--) {   // newest first
                long pgd = pgds[slot];
                if (pgd == ArchPgtable.NO_PGD) {
                    continue;
                }
                lockPairs++;
                if (counted) {   // taking the uncontended locks or not: only the engine sees a difference
                    copyEntryAt(syncEntryPtrIn(pgd, va), va);
                } else {
                    var pgtLock = arch.pgdListMm(slot).page_table_lock;   // pgd_page_get_mm(page)->page_table_lock
                    pgtLock.lock();
                    copyEntryAt(syncEntryPtrIn(pgd, va), va);
                    pgtLock.unlock();
                }
            }
        }
        mmsWalked += arch.pgdListLength();
        walkObserver.walkEnd();
        arch.pgd_lock.unlock();
    }

    private static final int GATHER = 64;
    private final long[] gatherPtrs = new long[GATHER];
    private final long[] gatherEntries = new long[GATHER];

    /**
     * walkPgdList()'s walk for one top-level entry at byte {@code off} of every pgd: the same
     * reads, charged the same, and the same copies in pgd_list order, but the entries are read
     * GATHER pgds at a time ({@link Pgtable#getEach}), so that the host CPU can have many of these
     * cache misses in flight instead of one per visit. Under pgd_lock, reading ahead is what the
     * kernel may do too; under the engine each read is still its own scheduling point. The
     * per-mm page_table_locks are counted here, not taken: Xen is the only reason Linux takes
     * them ("the pgt_lock only for Xen"), nothing else orders against them in this walk.
     */
    private void syncTopEntryGathered(long[] pgds, long off, long va) {
        int g = 0;
        for (int slot = k.arch().pgdListSlots() - 1; slot >= 0; slot--) {   // newest first
            long pgd = pgds[slot];
            if (pgd != ArchPgtable.NO_PGD) {
                gatherPtrs[g++] = pgd + off;
                if (g == GATHER) {                       // the batch size: only the host's speed depends on it
                    copyGathered(g, va);
                    g = 0;
                }
            }
        }
        copyGathered(g, va);
    }

    private void copyGathered(int g, long va) {
        pt.getEach(gatherPtrs, g, gatherEntries);
        for (int j = 0; j < g; j++) {
            copyEntryIfNone(gatherPtrs[j], gatherEntries[j], va);
        }
    }

    /** Sync-level entries that [start, end) touches. */
    public long entriesIn(long start, long end) {
        return ((end - 1 - (start & -span)) >>> Long.numberOfTrailingZeros(span)) + 1;
    }

    /**
     * sync_global_pgds() for the populated entries {@code from} .. generation-1 only: one
     * pgd_lock hold per entry, as sync_global_pgds_l4() steps (entries in the list are populated
     * in init_mm by definition, so none is skipped).
     */
    public void syncGenerations(int from) {
        int to = generation();
        for (int i = from; i < to; i++) {
            walkPgdList(populated[i], true);
        }
        fullSyncs++;
    }

    /** Brings {@code mm} up to the current generation; returns entries copied. */
    public int catchUp(MmStruct mm) {
        int copied = 0;
        int g = generation();
        for (long i = mm.kernelSyncGen; i < g; i++) {
            copied += copyEntry(mm, populated[(int) i]);
        }
        mm.kernelSyncGen = g;
        return copied;
    }

    /** Allocates init_mm's next-level table under the sync-level entry for {@code va} if missing; 1 if allocated. */
    int preallocate(long va) {
        long p = syncEntryPtr(k.initMm(), va);
        if (!pt.none(syncLevel, pt.get(p))) {
            return 0;
        }
        if (pt.allocTable(syncLevel - 1, k.initMm(), p, 0) != 0) {
            throw new IllegalStateException("out of memory preallocating vmalloc page tables");
        }
        notePopulated(va);
        return 1;
    }

    // ---- counters -------------------------------------------------------------------------

    /** pgd_lock holds that walked pgd_list, one per sync-level entry synced. */
    public long listWalks() {
        return listWalks;
    }

    /**
     * spin_lock/spin_unlock pairs the syncs took (or, with no hook acting, counted): pgd_lock
     * once per list walk and each mm's page_table_lock once per visit. The timed experiment
     * charges them from the cost table.
     */
    public long lockPairs() {
        return lockPairs;
    }

    /** sync_global_pgds / arch_sync_kernel_mappings calls that walked pgd_list at least once. */
    public long fullSyncs() {
        return fullSyncs;
    }

    public long entriesCopied() {
        return entriesCopied;
    }

    /** mms visited by those walks. */
    public long mmsWalked() {
        return mmsWalked;
    }

    public long vmallocFaults() {
        return vmallocFaults;
    }

    /** IPIs sent to bring other CPUs' loaded mms up to date (switch-check). */
    public long ipis() {
        return ipis;
    }
}
