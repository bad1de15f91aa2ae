package ptlab.hw;

/**
 * The outcome of one translation, filled in place by {@link PageWalker} so that the walk path
 * allocates nothing: one instance per CPU, reused for every access.
 *
 * <p>On success: {@link #pa}, {@link #pageShift}, {@link #leafLevel}, the leaf entry and its
 * address, the combined access rights and the protection key. On a fault: {@link #exception}
 * ({@link #EXC_PF} or {@link #EXC_GP}), {@link #errorCode} and the level where it stopped.
 * The tables walked are not copied here: {@link PageWalker#walkedTable} and
 * {@link PageWalker#restrictionsAbove} derive them from the entries read, for the PSC fill.
 */
public final class WalkResult {

    public static final int EXC_NONE = 0;
    /** #GP(0): non-canonical linear address. */
    public static final int EXC_GP = 13;
    /** #PF: page fault, see {@link PageFaultError}. */
    public static final int EXC_PF = 14;

    /** Combined rights, as restrictions OR-ed over the levels walked (SDM 4.6.1). */
    public static final int NOT_WRITABLE = 1;
    public static final int NOT_USER = 2;
    public static final int EXECUTE_DISABLE = 4;

    public long va;
    public int exception;
    public int errorCode;
    /** Level of the entry that was not present, had a reserved bit, or was the leaf. */
    public int faultLevel;

    public long pa;
    public int pageShift;
    public int leafLevel;
    public long leafEntryAddress;
    /** The leaf entry as it is in memory after this walk (A, and D for a write, set). */
    public long leafEntry;
    public int restrictions;
    public int pkey;
    public boolean global;

    /** Paging-structure entries read from memory by this walk (PDPTE registers not counted). */
    public int memoryRefs;
    /** Times the walk restarted because an entry changed under its A/D compare-and-swap. */
    public int restarts;

    /**
     * Whether {@link #exception}, {@link #errorCode}, {@link #leafEntryAddress}, {@link #leafEntry},
     * {@link #memoryRefs} and {@link #restarts} are all 0, as a TLB hit leaves them: then the next
     * hit need not store them again ({@link #setTlbHit}). Invariant: only the methods here and the
     * hw classes, right after one of them, write the fields; every method but setTlbHit clears it.
     */
    private boolean hitShape;

    public boolean faulted() {
        return exception != EXC_NONE;
    }

    public long pageSize() {
        return 1L << pageShift;
    }

    public boolean writable() {
        return (restrictions & NOT_WRITABLE) == 0;
    }

    public boolean userAccessible() {
        return (restrictions & NOT_USER) == 0;
    }

    public boolean executeDisabled() {
        return (restrictions & EXECUTE_DISABLE) != 0;
    }

    public boolean dirty() {
        return (leafEntry & PteBits.D) != 0;
    }

    /**
     * A successful translation: writes every field but {@link #restarts}, each once (no {@link #reset} first: the TLB-hit and walk paths are hot).
     */
    void setTranslation(long va, long pa, int pageShift, int leafLevel, long leafEntryAddress, long leafEntry,
                        int restrictions, int pkey, boolean global, int memoryRefs) {
        this.hitShape = false;
        this.va = va;
        this.exception = EXC_NONE;
        this.errorCode = 0;
        this.faultLevel = leafLevel;
        this.pa = pa;
        this.pageShift = pageShift;
        this.leafLevel = leafLevel;
        this.leafEntryAddress = leafEntryAddress;
        this.leafEntry = leafEntry;
        this.restrictions = restrictions;
        this.pkey = pkey;
        this.global = global;
        this.memoryRefs = memoryRefs;
    }

    /**
     * A translation from a TLB hit: as {@link #setTranslation} with no leaf entry, no memory
     * reference and no restart, but the fields that are 0 on every hit are stored only if the
     * previous result was not a hit as well (a hit is the hot path: most of its cost was stores).
     */
    void setTlbHit(long va, long pa, int pageShift, int leafLevel, int restrictions, int pkey, boolean global) {
        this.va = va;
        this.faultLevel = leafLevel;
        this.pa = pa;
        this.pageShift = pageShift;
        this.leafLevel = leafLevel;
        this.restrictions = restrictions;
        this.pkey = pkey;
        this.global = global;
        if (!hitShape) {
            exception = EXC_NONE;
            errorCode = 0;
            leafEntryAddress = 0;
            leafEntry = 0;
            memoryRefs = 0;
            restarts = 0;
            hitShape = true;
        }
    }

    void reset(long va) {
        this.hitShape = false;
        this.va = va;
        exception = EXC_NONE;
        errorCode = 0;
        faultLevel = 0;
        pa = 0;
        pageShift = 0;
        leafLevel = 0;
        leafEntryAddress = 0;
        leafEntry = 0;
        restrictions = 0;
        pkey = 0;
        global = false;
        memoryRefs = 0;
    }

    @Override
    public String toString() {
        if (exception == EXC_PF) {
            return String.format("#PF va=0x%x error=0x%x (%s) at level %d", va, errorCode,
                    PageFaultError.describe(errorCode), faultLevel);
        }
        if (exception == EXC_GP) {
            return String.format("#GP va=0x%x", va);
        }
        return String.format("va=0x%x -> pa=0x%x (%d KiB page, leaf level %d)", va, pa, pageSize() >> 10, leafLevel);
    }
}
