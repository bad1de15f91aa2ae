package ptlab.kernel.vmalloc;

import java.util.Arrays;

import ptlab.kernel.ArchPgtable;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;

/**
 * What every vmalloc-sync strategy shares: where a kernel address's entry at the sync level
 * lives in an mm, copying one such entry from init_mm (vmalloc_sync_one() in
 * arch/x86/mm/fault.c), walking pgd_list under pgd_lock (sync_global_pgds() in
 * arch/x86/mm/init_64.c), and the record of which sync-level entries init_mm has populated.
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

    // ---- sync_global_pgds ---------------------------------------------------------------------

    /**
     * sync_global_pgds(start, end) / arch_sync_kernel_mappings(): under pgd_lock, for every mm
     * on pgd_list, copy each sync-level entry of [start, end) it lacks. One full sync.
     */
    public void syncRange(long start, long end) {
        var arch = k.arch();
        arch.pgd_lock.lock();
        walkObserver.walkBegin();
        long first = start & -span;
        long n = entriesIn(start, end);
        long[] pgds = arch.pgdListPgds();
        if (syncLevel == topLevel) {
            // The sync level is the pgd itself: the entry sits at a fixed offset in every pgd page.
            long off = pt.pgd_offset_pgd(0, first);
            int eb = pt.entryBytes();
            if (n == 1) {
                syncTopEntryGathered(pgds, off, first);
            } else {
                for (int slot = arch.pgdListSlots() - 1; slot >= 0; slot--) {   // newest first
                    long pgd = pgds[slot];
                    if (pgd != ArchPgtable.NO_PGD) {
                        for (long i = 0; i < n; i++) {
                            copyEntryAt(pgd + off + i * eb, first + i * span);
                        }
                    }
                }
            }
        } else {
            for (int slot = arch.pgdListSlots() - 1; slot >= 0; slot--) {
                long pgd = pgds[slot];
                if (pgd != ArchPgtable.NO_PGD) {
                    for (long i = 0; i < n; i++) {
                        long va = first + i * span;
                        copyEntryAt(syncEntryPtrIn(pgd, va), va);
                    }
                }
            }
        }
        mmsWalked += arch.pgdListLength();
        fullSyncs++;
        walkObserver.walkEnd();
        arch.pgd_lock.unlock();
    }

    private static final int GATHER = 64;
    private final long[] gatherPtrs = new long[GATHER];
    private final long[] gatherEntries = new long[GATHER];

    /**
     * syncRange()'s walk for one top-level entry at byte {@code off} of every pgd: the same reads,
     * charged the same, and the same copies in pgd_list order, but the entries are read GATHER
     * pgds at a time ({@link Pgtable#getEach}), so that the host CPU can have many of these cache
     * misses in flight instead of one per visit. Under pgd_lock, reading ahead is what the
     * kernel may do too; under the engine each read is still its own scheduling point.
     */
    private void syncTopEntryGathered(long[] pgds, long off, long va) {
        int g = 0;
        for (int slot = k.arch().pgdListSlots() - 1; slot >= 0; slot--) {   // newest first
            long pgd = pgds[slot];
            if (pgd != ArchPgtable.NO_PGD) {
                gatherPtrs[g++] = pgd + off;
                if (g == GATHER) {
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

    /** sync_global_pgds() for the populated entries {@code from} .. generation-1 only. */
    public void syncGenerations(int from) {
        var arch = k.arch();
        arch.pgd_lock.lock();
        walkObserver.walkBegin();
        long[] pgds = arch.pgdListPgds();
        int g = generation();
        for (int slot = arch.pgdListSlots() - 1; slot >= 0; slot--) {           // newest first
            long pgd = pgds[slot];
            if (pgd != ArchPgtable.NO_PGD) {
                for (int i = from; i < g; i++) {
                    copyEntryAt(syncEntryPtrIn(pgd, populated[i]), populated[i]);
                }
            }
        }
        mmsWalked += arch.pgdListLength();
        fullSyncs++;
        walkObserver.walkEnd();
        arch.pgd_lock.unlock();
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

    /** Walks of pgd_list (sync_global_pgds calls that did walk). */
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
