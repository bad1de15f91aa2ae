package ptlab.kernel.vmalloc;

import java.util.Arrays;

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
    private int generation;

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
        long p = pt.pgd_offset(mm, va);
        for (int l = Pgtable.PGD; l > syncLevel; l--) {
            p = pt.offset(l - 1, p, va);
        }
        return p;
    }

    /** vmalloc_sync_one(): copy init_mm's entry for {@code va} into {@code mm} if it has none. Returns 1 if copied. */
    public int copyEntry(MmStruct mm, long va) {
        return copyEntryAt(mm, syncEntryPtr(mm, va), va);
    }

    /** copyEntry() with the mm's entry pointer already known. */
    private int copyEntryAt(MmStruct mm, long dst, long va) {
        if (!pt.none(syncLevel, pt.get(dst))) {
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
        for (int i = generation - 1; i >= 0; i--) {
            if (populated[i] == (va & -span)) {
                return;                                  // two CPUs raced to populate it; one table won
            }
        }
        if (generation == populated.length) {
            populated = Arrays.copyOf(populated, generation * 2);
        }
        populated[generation++] = va & -span;
    }

    /** The number of sync-level entries init_mm has populated since boot. */
    public int generation() {
        return generation;
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
        var lock = k.arch().pgd_lock;
        lock.lock();
        walkObserver.walkBegin();
        long first = start & -span;
        long n = entriesIn(start, end);
        if (syncLevel == topLevel) {
            // The sync level is the pgd itself: the entry sits at a fixed offset in every pgd page.
            long off = pt.pgd_offset_pgd(0, first);
            int eb = pt.entryBytes();
            k.arch().forEachOnPgdList(mm -> {
                for (long i = 0; i < n; i++) {
                    copyEntryAt(mm, mm.pgd() + off + i * eb, first + i * span);
                }
            });
        } else {
            k.arch().forEachOnPgdList(mm -> {
                for (long i = 0; i < n; i++) {
                    copyEntry(mm, first + i * span);
                }
            });
        }
        mmsWalked += k.arch().pgdListLength();
        fullSyncs++;
        walkObserver.walkEnd();
        lock.unlock();
    }

    /** Sync-level entries that [start, end) touches. */
    public long entriesIn(long start, long end) {
        return ((end - 1 - (start & -span)) >>> Long.numberOfTrailingZeros(span)) + 1;
    }

    /** sync_global_pgds() for the populated entries {@code from} .. generation-1 only. */
    public void syncGenerations(int from) {
        var lock = k.arch().pgd_lock;
        lock.lock();
        walkObserver.walkBegin();
        k.arch().forEachOnPgdList(mm -> {
            for (int i = from; i < generation; i++) {
                copyEntry(mm, populated[i]);
            }
        });
        mmsWalked += k.arch().pgdListLength();
        fullSyncs++;
        walkObserver.walkEnd();
        lock.unlock();
    }

    /** Brings {@code mm} up to the current generation; returns entries copied. */
    public int catchUp(MmStruct mm) {
        int copied = 0;
        for (long i = mm.kernelSyncGen; i < generation; i++) {
            copied += copyEntry(mm, populated[(int) i]);
        }
        mm.kernelSyncGen = generation;
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
