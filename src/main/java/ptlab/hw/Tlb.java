package ptlab.hw;

/**
 * A per-CPU translation lookaside buffer (SDM vol. 3, 4.10.2): one set-associative array per
 * page size, LRU within a set, entries tagged by PCID (4.10.1).
 *
 * <pre>
 *   array   page    tag                       value
 *   4K      4 KiB   VA >>> 12                 PA of the 4 KiB frame
 *   large   2/4 MiB VA >>> 21 (22 in x86-32)  PA of the 2 MiB / 4 MiB page
 *   1G      1 GiB   VA >>> 30                 PA of the 1 GiB page
 *
 *   attrs:  11    8 7 6   5  4   3   2   1   0
 *          +-------+-+-------+---+---+---+---+---+
 *          | pkey  |0| level | D | G |XD |!U |!W |     bits 2:0 = WalkResult restrictions
 *          +-------+-+-------+---+---+---+---+---+     level = leaf level - 1: 0 4K, 1 large, 2 1G
 *
 *   entry (what lookupEntry() returns):  frame | attrs   (the frame is 4 KiB aligned)
 * </pre>
 * An entry caches the combined rights of the whole walk (4.10.2.2), the protection key, whether
 * the page is global, and whether the leaf's dirty flag was already 1 when it was cached.
 * The array stores {@code frame | attrs} as its value, so that a hit is one load
 * ({@link #lookupEntry}): the Mmu's TLB-hit path needs nothing else.
 *
 * <p>The TLB is not coherent with memory: an entry stays until it is evicted or invalidated
 * (INVLPG, INVPCID, a CR3 or CR4 write, a page fault on its address), however the PTE it
 * came from has changed since. A global entry matches every PCID and survives CR3 writes.
 *
 * <p>A hit is reported as a slot number ({@code array << 24 | entry}); the accessors read the
 * entry. No method allocates.
 */
public final class Tlb {

    static final int DIRTY = 1 << 4;
    static final int LEVEL_SHIFT = 5;
    static final int PKEY_SHIFT = 8;
    static final int ATTRS = 0xFFF;
    static final int RIGHTS = WalkResult.NOT_WRITABLE | WalkResult.NOT_USER | WalkResult.EXECUTE_DISABLE;
    private static final int SLOT_BITS = 24;

    private final TlbConfig config;
    /** arrays[0] = 4K, arrays[1] = large, arrays[2] = 1G (also as fields, for the lookup). */
    private final CacheArray[] arrays;
    private final CacheArray small;
    private final CacheArray large;
    private final CacheArray huge;
    private final int largeShift;
    private final int[] shift;

    /** A TLB whose large-page array holds 2 MiB pages. */
    public Tlb(TlbConfig config) {
        this(config, 21);
    }

    /** {@code largeShift}: 21 for 2 MiB pages, 22 for the 4 MiB pages of 32-bit paging. */
    public Tlb(TlbConfig config, int largeShift) {
        if (largeShift != 21 && largeShift != 22) {
            throw new IllegalArgumentException("large-page shift must be 21 (2 MiB) or 22 (4 MiB), got " + largeShift);
        }
        this.config = config;
        this.small = new CacheArray(config.entries4k(), config.ways4k(), "4K TLB");
        this.large = new CacheArray(config.entriesLarge(), config.waysLarge(), "large-page TLB");
        this.huge = new CacheArray(config.entries1g(), config.ways1g(), "1G TLB");
        this.arrays = new CacheArray[] {small, large, huge};
        this.largeShift = largeShift;
        this.shift = new int[] {12, largeShift, 30};
    }

    public TlbConfig config() {
        return config;
    }

    private int arrayFor(int pageShift) {
        if (pageShift == 12) {
            return 0;
        }
        if (pageShift == shift[1]) {
            return 1;
        }
        if (pageShift == 30) {
            return 2;
        }
        throw new IllegalArgumentException("page shift " + pageShift + " has no TLB array (expected 12, "
                + shift[1] + " or 30)");
    }

    // ---- lookup and fill ----------------------------------------------------------------------

    /**
     * Looks {@code va} up for PCID {@code pcid}: 4 KiB array first, then large, then 1 GiB.
     * Returns the slot of the hit (marked most recently used) or -1.
     */
    public int lookup(long va, int pcid) {
        for (int a = 0; a < arrays.length; a++) {
            int slot = arrays[a].lookup(va >>> shift[a], pcid);
            if (slot >= 0) {
                return a << SLOT_BITS | slot;
            }
        }
        return -1;
    }

    /** Like {@link #lookup} but without marking the entry used: for invariant checkers and traces. */
    public int probe(long va, int pcid) {
        for (int a = 0; a < arrays.length; a++) {
            int slot = arrays[a].probe(va >>> shift[a], pcid);
            if (slot >= 0) {
                return a << SLOT_BITS | slot;
            }
        }
        return -1;
    }

    /**
     * {@link #lookup} for the translation path: the hit entry itself, {@code frame | attrs}
     * (see the class comment; decode with {@link #entryFrame}, {@link #entryRestrictions},
     * {@link #entryPkey}, {@link #entryDirty}, {@link #entryLeafLevel}), or -1 on a miss.
     */
    public long lookupEntry(long va, int pcid) {
        int slot = small.lookup(va >>> 12, pcid);
        if (slot >= 0) {
            return small.value(slot);
        }
        slot = large.lookup(va >>> largeShift, pcid);
        if (slot >= 0) {
            return large.value(slot);
        }
        slot = huge.lookup(va >>> 30, pcid);
        return slot >= 0 ? huge.value(slot) : -1;
    }

    public static long entryFrame(long entry) {
        return entry & ~(long) ATTRS;
    }

    public static int entryRestrictions(long entry) {
        return (int) entry & RIGHTS;
    }

    public static int entryPkey(long entry) {
        return (int) entry >>> PKEY_SHIFT & 0xF;
    }

    public static boolean entryGlobal(long entry) {
        return ((int) entry & CacheArray.ATTR_GLOBAL) != 0;
    }

    public static boolean entryDirty(long entry) {
        return ((int) entry & DIRTY) != 0;
    }

    /** Paging level of the leaf: 1 (4 KiB), 2 (2/4 MiB) or 3 (1 GiB). */
    public static int entryLeafLevel(long entry) {
        return ((int) entry >>> LEVEL_SHIFT & 3) + 1;
    }

    /**
     * Caches a translation. {@code global} should already take CR4.PGE into account: the G flag
     * means nothing with PGE=0 (4.10.2.4). Replaces an entry for the same page and PCID.
     */
    public void insert(long va, int pcid, int pageShift, long frame, int restrictions, int pkey, boolean global,
                       boolean dirty) {
        int a = arrayFor(pageShift);
        if ((frame & ATTRS) != 0) {
            throw new IllegalArgumentException(String.format("frame 0x%x is not 4 KiB aligned", frame));
        }
        int attrs = (restrictions & RIGHTS) | (global ? CacheArray.ATTR_GLOBAL : 0) | (dirty ? DIRTY : 0)
                | a << LEVEL_SHIFT | (pkey & 0xF) << PKEY_SHIFT;
        arrays[a].insert(va >>> pageShift, pcid, frame | attrs, attrs);
    }

    private CacheArray array(int slot) {
        return arrays[slot >>> SLOT_BITS];
    }

    private static int index(int slot) {
        return slot & ((1 << SLOT_BITS) - 1);
    }

    public int pageShift(int slot) {
        return shift[slot >>> SLOT_BITS];
    }

    /** Physical base of the page. */
    public long frame(int slot) {
        return entryFrame(array(slot).value(index(slot)));
    }

    /** Combined rights as {@link WalkResult} restriction bits. */
    public int restrictions(int slot) {
        return array(slot).attrs(index(slot)) & RIGHTS;
    }

    public int pkey(int slot) {
        return array(slot).attrs(index(slot)) >>> PKEY_SHIFT & 0xF;
    }

    public boolean global(int slot) {
        return (array(slot).attrs(index(slot)) & CacheArray.ATTR_GLOBAL) != 0;
    }

    /** Whether the leaf's D flag was 1 when this entry was cached. */
    public boolean dirty(int slot) {
        return (array(slot).attrs(index(slot)) & DIRTY) != 0;
    }

    public int pcid(int slot) {
        return array(slot).pcid(index(slot));
    }

    /** Valid entries over all arrays. */
    public int size() {
        return arrays[0].count() + arrays[1].count() + arrays[2].count();
    }

    // ---- invalidation (SDM 4.10.4.1) ---------------------------------------------------------

    /** Entries for the page containing {@code va}, of PCID {@code pcid}; global ones too if asked. */
    public void invalidatePage(long va, int pcid, boolean includeGlobal) {
        for (int a = 0; a < arrays.length; a++) {
            arrays[a].invalidateTag(va >>> shift[a], pcid, includeGlobal);
        }
    }

    /** Non-global entries of {@code pcid}. */
    public void invalidatePcid(int pcid) {
        for (CacheArray array : arrays) {
            array.invalidatePcid(pcid);
        }
    }

    /** Every non-global entry of every PCID. */
    public void invalidateNonGlobal() {
        for (CacheArray array : arrays) {
            array.invalidateAll(false);
        }
    }

    /** Every entry, global ones included. */
    public void invalidateAll() {
        for (CacheArray array : arrays) {
            array.invalidateAll(true);
        }
    }
}
