package ptlab.hw;

/**
 * The paging-structure caches of one CPU (SDM vol. 3, 4.10.3): entries of the upper levels
 * that point to a table, so that a TLB miss can skip the top of the walk.
 *
 * <pre>
 *   cache at level L     entry cached         tag (VA prefix)        value
 *   5  PML5E cache       PML5E -> PML4 table  VA 56:48 (VA >>> 48)   PML4 base  + rights of PML5E
 *   4  PML4E cache       PML4E -> PDPT        VA 56:39 (VA >>> 39)   PDPT base  + rights above
 *   3  PDPTE cache       PDPTE -> PD          VA 56:30 (VA >>> 30)   PD base    + rights above
 *   2  PDE cache         PDE   -> PT          VA 56:21 (VA >>> 21)   PT base    + rights above
 * </pre>
 * (32-bit paging: only the PDE cache, tag VA 31:22. PAE: the PDPTE registers loaded at CR3
 * time play the part of the PDPTE cache (4.10.3.1), so only the PDE cache exists.)
 * Every entry is tagged with a PCID; none is global. A hit at level L gives the base of the
 * table at level L-1 and the rights (R/W, U/S, XD) accumulated from level L upward; the walk
 * continues from there ({@link PageWalker#translateFrom}). Entries are filled only from walks
 * that produced a translation, and, like TLB entries, stay when memory changes until invalidated.
 */
public final class PagingStructureCaches {

    /** Entries and ways of each level's cache: small and fully reachable in a few probes. */
    public static final int ENTRIES = 16;
    public static final int WAYS = 4;

    private final PagingMode mode;
    /** caches[L] for L = 2..levels; null where the mode has no such cache. */
    private final CacheArray[] caches = new CacheArray[6];
    /**
     * Per slot of caches[L]: the generation of the table the entry points to, as the walk that
     * filled it saw it ({@link FrameGenerations}; UNKNOWN when no checker keeps generations).
     */
    private final long[][] generations = new long[6][];

    public PagingStructureCaches(PagingMode mode) {
        this.mode = mode;
        for (int level = 2; level <= mode.levels(); level++) {
            if (!(mode.isPae() && level == 3)) {
                caches[level] = new CacheArray(ENTRIES, WAYS, mode.hardwareName(level) + " cache");
                generations[level] = new long[ENTRIES];
                // equivalent mutant (PIT: fill removed): fill() writes a slot's generation before any hit reads it
                java.util.Arrays.fill(generations[level], FrameGenerations.UNKNOWN);
            }
        }
    }

    public boolean has(int level) {
        // (caches[0] is always null, so PIT's "level > 0" for "level >= 0" is an equivalent mutant)
        return level >= 0 && level < caches.length && caches[level] != null;
    }

    private long tag(long va, int level) {
        return va >>> mode.shift(level);
    }

    /** The cache and slot of the last hit found by {@link #deepestHit}. */
    private int hitLevel;
    private int hitSlot;

    /**
     * Probes the caches from the PDE cache upward and returns the level L of the deepest hit
     * for {@code va} (the walk continues at level L-1), or 0 if every cache misses.
     */
    public int deepestHit(long va, int pcid) {
        for (int level = 2; level <= mode.levels(); level++) {
            if (caches[level] != null) {
                int slot = caches[level].lookup(tag(va, level), pcid);
                if (slot >= 0) {
                    hitLevel = level;
                    hitSlot = slot;
                    return level;
                }
            }
        }
        return 0;
    }

    /** Base of the next table, from the last hit. */
    public long hitTable() {
        return caches[hitLevel].value(hitSlot);
    }

    /** Rights accumulated through the cached level, from the last hit. */
    public int hitRestrictions() {
        return caches[hitLevel].attrs(hitSlot);
    }

    /** Caches the level-{@code level} entry for {@code va}: next table base and rights through this level. */
    public void fill(long va, int pcid, int level, long nextTable, int restrictions) {
        fill(va, pcid, level, nextTable, restrictions, FrameGenerations.UNKNOWN);
    }

    /** {@link #fill}, remembering the generation {@code generation} of the next table ({@link FrameGenerations}). */
    public void fill(long va, int pcid, int level, long nextTable, int restrictions, long generation) {
        if (caches[level] != null) {
            generations[level][caches[level].insert(tag(va, level), pcid, nextTable, restrictions)] = generation;
        }
    }

    /** Every entry forgets its generation (a new checker counts them): none is compared again. */
    public void forgetGenerations() {
        for (long[] g : generations) {
            if (g != null) {
                java.util.Arrays.fill(g, FrameGenerations.UNKNOWN);
            }
        }
    }

    /** The generation the last hit's entry recorded for its table (UNKNOWN if none). */
    public long hitGeneration() {
        return generations[hitLevel][hitSlot];
    }

    /** Entries that would be used to translate {@code va} for {@code pcid} (the page-fault invalidation of 4.10.4.1). */
    public void invalidateAddress(long va, int pcid) {
        for (int level = 2; level <= mode.levels(); level++) {
            if (caches[level] != null) {
                caches[level].invalidateTag(tag(va, level), pcid, false);
            }
        }
    }

    public void invalidatePcid(int pcid) {
        for (CacheArray c : caches) {
            if (c != null) {
                c.invalidatePcid(pcid);
            }
        }
    }

    public void invalidateAll() {
        for (CacheArray c : caches) {
            if (c != null) {
                c.invalidateAll(true);
            }
        }
    }

    /**
     * The level of a cached entry that points to the table at physical address {@code table}
     * (so a walk may still start in it), or 0 if none does. No LRU update: for invariant checkers.
     */
    public int levelCaching(long table) {
        for (int level = 2; level < caches.length; level++) {
            if (caches[level] != null && caches[level].findValue(table) >= 0) {
                return level;
            }
        }
        return 0;
    }

    /** Valid entries in the cache of {@code level}. */
    public int size(int level) {
        return caches[level] == null ? 0 : caches[level].count();
    }
}
