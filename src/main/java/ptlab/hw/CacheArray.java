package ptlab.hw;

/**
 * One set-associative array of tagged entries with LRU replacement within a set: the storage
 * of a TLB for one page size and of one paging-structure cache (SDM vol. 3, 4.10.2, 4.10.3).
 *
 * <pre>
 *   tag (VA page number or VA prefix) ──► set = tag & (sets - 1)
 *
 *   set s:  way 0 .. way W-1, each entry (slot = s * W + way):
 *   +-----------+--------+-------------------------------+----------+----------+
 *   | tag long  | pcid   | value long (frame / table PA) | attrs int| lastUse  |
 *   +-----------+--------+-------------------------------+----------+----------+
 *   tag = -1 marks an invalid entry (a VA shifted right by >= 12 is never -1)
 * </pre>
 *
 * {@code attrs} is opaque here except for {@link #ATTR_GLOBAL}: a global entry matches any PCID.
 * Everything lives in primitive arrays; lookup, insert and invalidation allocate nothing.
 * Not thread-safe: one array per simulated CPU.
 */
final class CacheArray {

    /** Attribute bit: the entry matches every PCID (a global TLB entry with CR4.PGE=1). */
    static final int ATTR_GLOBAL = 1 << 3;

    private static final long INVALID = -1;

    private final int sets;
    private final int ways;
    private final long[] tag;
    private final int[] pcid;
    private final long[] value;
    private final int[] attrs;
    private final long[] lastUse;
    private long clock;

    CacheArray(int entries, int ways, String name) {
        if (ways < 1 || entries < ways || entries % ways != 0) {
            throw new IllegalArgumentException(name + ": " + entries + " entries cannot be split into sets of "
                    + ways + " ways");
        }
        int s = entries / ways;
        if (Integer.bitCount(s) != 1) {
            throw new IllegalArgumentException(name + ": " + entries + " entries / " + ways + " ways = " + s
                    + " sets, which is not a power of two");
        }
        this.sets = s;
        this.ways = ways;
        this.tag = new long[entries];
        this.pcid = new int[entries];
        this.value = new long[entries];
        this.attrs = new int[entries];
        this.lastUse = new long[entries];
        java.util.Arrays.fill(tag, INVALID);
    }

    int entries() {
        return tag.length;
    }

    int ways() {
        return ways;
    }

    int sets() {
        return sets;
    }

    private int firstSlot(long t) {
        return (int) (t & (sets - 1)) * ways;
    }

    private boolean matches(int slot, long t, int p) {
        return tag[slot] == t && (pcid[slot] == p || (attrs[slot] & ATTR_GLOBAL) != 0);
    }

    /** The slot holding {@code t} for PCID {@code p} (or a global entry), marked most recently used; -1 on a miss. */
    int lookup(long t, int p) {
        int first = firstSlot(t);
        for (int slot = first; slot < first + ways; slot++) {
            if (matches(slot, t, p)) {
                markUsed(slot);
                return slot;
            }
        }
        return -1;
    }

    /**
     * Makes {@code slot} the most recently used entry. Only the order of the lastUse values
     * matters (victim() takes the smallest of a set), so a slot that already holds the
     * latest clock value, the entry used last (a run of accesses to one page), keeps it: the
     * order is the same and a hit stores nothing.
     */
    private void markUsed(int slot) {
        long now = clock;
        if (lastUse[slot] != now) {
            clock = now + 1;
            lastUse[slot] = now + 1;
        }
    }

    /** Like {@link #lookup} but leaves the LRU order alone: for invariant checkers, which must not perturb the model. */
    int probe(long t, int p) {
        int first = firstSlot(t);
        for (int slot = first; slot < first + ways; slot++) {
            if (matches(slot, t, p)) {
                return slot;
            }
        }
        return -1;
    }

    /** The first valid slot whose value is {@code v}, or -1 (no LRU update). */
    int findValue(long v) {
        for (int slot = 0; slot < tag.length; slot++) {
            if (tag[slot] != INVALID && value[slot] == v) {
                return slot;
            }
        }
        return -1;
    }

    /**
     * Fills an entry: replaces an entry with the same tag and PCID (or a global one) in place, else the first invalid
     * way, else the least recently used way of the set. Returns the slot.
     */
    int insert(long t, int p, long v, int a) {
        int slot = victim(t, p);
        tag[slot] = t;
        pcid[slot] = p;
        value[slot] = v;
        attrs[slot] = a;
        lastUse[slot] = ++clock;
        return slot;
    }

    private int victim(long t, int p) {
        int first = firstSlot(t);
        int lru = first;
        int free = -1;
        for (int slot = first; slot < first + ways; slot++) {
            if (matches(slot, t, p)) {
                return slot;   // refill in place (e.g. after the re-walk that set D), never a duplicate
            }
            if (tag[slot] == INVALID) {
                if (free < 0) {
                    free = slot;
                }
            } else if (lastUse[slot] < lastUse[lru]) {
                lru = slot;
            }
        }
        return free >= 0 ? free : lru;
    }

    long tag(int slot) {
        return tag[slot];
    }

    long value(int slot) {
        return value[slot];
    }

    int attrs(int slot) {
        return attrs[slot];
    }

    int pcid(int slot) {
        return pcid[slot];
    }

    boolean valid(int slot) {
        return tag[slot] != INVALID;
    }

    /** Valid entries. */
    int count() {
        int n = 0;
        for (long t : tag) {
            if (t != INVALID) {
                n++;
            }
        }
        return n;
    }

    // ---- invalidation (SDM 4.10.4) --------------------------------------------------------

    /** Invalidates the entries for {@code t} of PCID {@code p}, and global ones for {@code t} too if asked. */
    void invalidateTag(long t, int p, boolean includeGlobal) {
        int first = firstSlot(t);
        for (int slot = first; slot < first + ways; slot++) {
            boolean global = (attrs[slot] & ATTR_GLOBAL) != 0;
            if (tag[slot] == t && (global ? includeGlobal : pcid[slot] == p)) {
                tag[slot] = INVALID;
            }
        }
    }

    /** Invalidates the non-global entries of PCID {@code p}. */
    void invalidatePcid(int p) {
        for (int slot = 0; slot < tag.length; slot++) {
            if (pcid[slot] == p && (attrs[slot] & ATTR_GLOBAL) == 0) {
                tag[slot] = INVALID;
            }
        }
    }

    /** Invalidates every entry, global ones too if asked. */
    void invalidateAll(boolean includeGlobal) {
        for (int slot = 0; slot < tag.length; slot++) {
            if (includeGlobal || (attrs[slot] & ATTR_GLOBAL) == 0) {
                tag[slot] = INVALID;
            }
        }
    }
}
